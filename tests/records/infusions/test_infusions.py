"""At the chair: the check, the override rule, the infusion, reactions, the observation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import (
    Conflict,
    Forbidden,
    HardLimit,
    InvalidInput,
    InvalidTime,
    OutOfRange,
    OverrideRequired,
)
from ivig.records.models import Order
from ivig.records.services import courses, infusions, outcomes

# 18:00 local today: the infusions below start hours earlier, within the order's day.
NOW = dt.datetime.combine(timezone.localdate(), dt.time(18), tzinfo=timezone.get_current_timezone())


ONE_MIN, TWO_MIN = dt.timedelta(minutes=1), dt.timedelta(minutes=2)

WELL = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)
WELL_VITALS = {"pulse_per_min": 74, "systolic_mm_hg": 124}
FEVER = infusions.CheckAnswers(infection=False, fever=True, feeling_unwell=False, hydrated=True)


def _start(users: dict[str, Any], order: Order, at: dt.datetime) -> None:
    """Baseline vital signs at ``at`` (issue 16 item 7), then the start at ``at``."""
    vitals = infusions.VitalsInput(pulse_per_min=72)
    infusions.record_vitals(users["nurse"], order.pk, at, vitals, now=NOW)
    infusions.start_infusion(
        users["nurse"],
        order.pk,
        Order.objects.get(pk=order.pk).version,
        at,
        visual_inspection_ok=True,
        now=NOW,
    )


def _version(order: Order) -> int:
    """The infusion session's version now."""
    return Order.objects.get(pk=order.pk).session.version


def test_no_start_without_the_check(users: dict[str, Any], dispensed: Order) -> None:
    with pytest.raises(Conflict, match="check"):
        _start(users, dispensed, NOW)


def test_a_blocking_finding_needs_a_prescribers_override(
    users: dict[str, Any], dispensed: Order
) -> None:
    session = infusions.pre_check(users["nurse"], dispensed.pk, FEVER, now=NOW - TWO_MIN)
    assert "fever" in {f["code"] for f in session.check_findings if f["severity"] == "block"}
    with pytest.raises(Conflict, match="override"):
        _start(users, dispensed, NOW)
    with pytest.raises(Forbidden):  # a nurse cannot override
        infusions.override(users["nurse"], dispensed.pk, "looks fine", now=NOW)
    with pytest.raises(InvalidInput):  # no reason, no override
        infusions.override(users["prescriber"], dispensed.pk, " ", now=NOW)
    infusions.override(
        users["prescriber"],
        dispensed.pk,
        "37.9 after paracetamol; benefit outweighs risk, reviewed at the chair",
        now=NOW - ONE_MIN,
    )
    with pytest.raises(InvalidTime, match="before the prescriber's override"):
        _start(users, dispensed, NOW - TWO_MIN)  # issue 14 item 7: never before the override
    _start(users, dispensed, NOW - ONE_MIN)
    assert Order.objects.get(pk=dispensed.pk).status == "in-progress"


def test_first_infusion_is_a_warning_not_a_block(users: dict[str, Any], dispensed: Order) -> None:
    session = infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=NOW)
    codes = {f["code"]: f["severity"] for f in session.check_findings}
    assert codes["first-infusion"] == "warn"
    assert "block" not in codes.values()


def test_the_infusion(users: dict[str, Any], dispensed: Order) -> None:
    nurse = users["nurse"]
    start = NOW - dt.timedelta(hours=5)
    infusions.pre_check(nurse, dispensed.pk, WELL, now=start)
    _start(users, dispensed, start)
    at30 = start + dt.timedelta(minutes=30)
    with pytest.raises(HardLimit):  # above the label maximum (408 mL/h): hard stop
        infusions.record_rate(nurse, dispensed.pk, _version(dispensed), at30, 500, now=NOW)
    with pytest.raises(InvalidTime):  # in the future
        infusions.record_rate(
            nurse, dispensed.pk, _version(dispensed), NOW + dt.timedelta(hours=1), 51, now=NOW
        )
    infusions.record_vitals(
        nurse, dispensed.pk, at30, infusions.VitalsInput(pulse_per_min=72), now=NOW
    )
    infusions.record_rate(nurse, dispensed.pk, _version(dispensed), at30, 51, now=NOW)
    with pytest.raises(OutOfRange):  # impossible: refused
        infusions.record_vitals(
            nurse, dispensed.pk, start, infusions.VitalsInput(spo2_percent=120), now=NOW
        )
    flagged = infusions.record_vitals(  # abnormal: kept and flagged
        nurse,
        dispensed.pk,
        start + dt.timedelta(minutes=31),
        infusions.VitalsInput(temperature_c=38.4, pulse_per_min=88),
        now=NOW,
    )
    assert [f["field"] for f in flagged.flags] == ["temperature_c"]
    reaction = infusions.record_reaction(
        nurse,
        dispensed.pk,
        _version(dispensed),
        start + dt.timedelta(minutes=35),
        ["headache"],
        "paused; to restart at 25.5 mL/h",
        now=NOW,
    )
    assert reaction.severity == "mild"
    assert reaction.recommended["basis"] == "protocol"
    assert reaction.recommended["restart_max_ml_per_h"] == 25.5  # the last tolerated rate
    at50 = start + dt.timedelta(minutes=50)
    after = infusions.VitalsInput(**WELL_VITALS)
    infusions.record_vitals(nurse, dispensed.pk, at50, after, now=NOW)
    infusions.resume_infusion(
        nurse, dispensed.pk, _version(dispensed), at50, 25.5, symptoms_resolved=True, now=NOW
    )
    infusions.end_infusion(
        nurse, dispensed.pk, start + dt.timedelta(hours=4), short_confirmed=True,
        short_reason="slow after the reaction: the session ended", now=NOW,
    )  # fmt: skip
    session = Order.objects.get(pk=dispensed.pk).session
    assert session.observation_minutes == 60  # first infusion
    version = Order.objects.get(pk=dispensed.pk).version
    with pytest.raises(Conflict, match="60 minutes"):
        infusions.finish_observation(
            nurse, dispensed.pk, version, start + dt.timedelta(hours=4, minutes=20), "", now=NOW
        )
    infusions.finish_observation(
        nurse,
        dispensed.pk,
        version,
        start + dt.timedelta(hours=5),
        "well, home with a friend",
        now=NOW,
    )
    assert Order.objects.get(pk=dispensed.pk).status == "completed"
    state = infusions.session_state(Order.objects.get(pk=dispensed.pk), now=NOW)
    assert state.state == "closed"
    assert state.checkpoints[0].reason == "baseline"
    # the end of the observation (5 h after the start) is now: due; nothing is still to come
    assert {c.status for c in state.checkpoints} <= {"done", "due", "overdue"}


def test_a_second_reaction_stops_for_the_day(users: dict[str, Any], dispensed: Order) -> None:
    nurse = users["nurse"]
    start = NOW - dt.timedelta(hours=1)
    infusions.pre_check(nurse, dispensed.pk, WELL, now=start)
    _start(users, dispensed, start)
    at = start + dt.timedelta(minutes=10)
    infusions.record_reaction(
        nurse, dispensed.pk, _version(dispensed), at, ["nausea"], "paused", now=NOW
    )
    second = infusions.record_reaction(
        nurse,
        dispensed.pk,
        _version(dispensed),
        start + dt.timedelta(minutes=20),
        ["headache"],
        "stopped",
        now=NOW,
    )
    assert second.recommended["action"] == "stop-no-restart"
    assert Order.objects.get(pk=dispensed.pk).session.state == "stopped"


def test_outcomes_against_baseline(users: dict[str, Any], patient: Any) -> None:
    today = timezone.localdate()
    baseline, later = today - dt.timedelta(days=85), today - dt.timedelta(days=55)
    outcomes.record_outcome(users["prescriber"], patient.pk, "3TUG", 30, baseline, today=today)
    outcomes.record_outcome(users["nurse"], patient.pk, "3tug", 23, later, today=today)
    series = outcomes.outcome_series(patient)
    assert series[0]["change"] is None  # the baseline
    assert series[1]["change"]["direction"] == "improved"  # 23 % faster, past the 20 % band
    with pytest.raises(Forbidden):
        outcomes.record_outcome(users["pharmacist"], patient.pk, "qmg", 10, today, today=today)
    with pytest.raises(OutOfRange):
        outcomes.record_outcome(users["prescriber"], patient.pk, "mrc-sum", 70, today, today=today)


@pytest.mark.parametrize(
    ("measure", "baseline", "later", "direction"),
    [
        # MG-ADL: "A 2-point improvement in the MG-ADL best predicted clinical improvement"
        # (Muppidi et al., Muscle Nerve 2011;44:727-31).
        ("mg-adl", 10, 8, "improved"),
        # 3TUG: exactly 20 % is test-retest noise (Sanders 2019: a difference <= 0.2).
        ("3tug", 45.5, 36.4, "no meaningful change"),
        ("3tug", 30, 23.9, "improved"),
    ],
)
def test_outcome_thresholds_in_the_series(
    users: dict[str, Any], patient: Any, today: dt.date,
    measure: str, baseline: float, later: float, direction: str,
) -> None:  # fmt: skip
    first, second = today - dt.timedelta(days=60), today - dt.timedelta(days=30)
    outcomes.record_outcome(users["nurse"], patient.pk, measure, baseline, first, today=today)
    outcomes.record_outcome(users["nurse"], patient.pk, measure, later, second, today=today)
    assert outcomes.outcome_series(patient)[1]["change"]["direction"] == direction


def test_iga_status_feeds_the_screening(users: dict[str, Any], patient: Any) -> None:
    from ivig.records.services.patients import PatientInput, update_patient

    update_patient(
        users["prescriber"], patient.pk, patient.version,
        PatientInput(mrn=patient.mrn, family_name=patient.family_name,
                     given_name=patient.given_name, date_of_birth=patient.date_of_birth,
                     sex=patient.sex, height_cm=patient.height_cm,
                     iga_status="deficient-with-antibodies"),
        today=timezone.localdate(),
    )  # fmt: skip
    with pytest.raises(OverrideRequired) as caught:  # a blocking finding is a soft limit
        courses.prescribe(
            users["prescriber"], patient.pk,
            courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                                place="hospital", start=timezone.localdate(), days=2),
        )  # fmt: skip
    assert "blocking-iga-deficiency" in {limit["code"] for limit in caught.value.limits}


def test_checkpoints_follow_the_real_end(users: dict[str, Any], dispensed: Order) -> None:
    # planned 216.9 min; the pump stopped after 150 min: the end-of-infusion check is at 150
    nurse = users["nurse"]
    start = NOW - dt.timedelta(hours=5)
    infusions.pre_check(nurse, dispensed.pk, WELL, now=start)
    _start(users, dispensed, start)
    infusions.end_infusion(
        nurse, dispensed.pk, start + dt.timedelta(minutes=150), short_confirmed=True,
        short_reason="cannula lost", now=NOW,
    )  # fmt: skip
    state = infusions.session_state(Order.objects.get(pk=dispensed.pk), now=NOW)
    ends = [c for c in state.checkpoints if c.reason == "end of infusion"]
    assert [c.minute for c in ends] == [150]
    assert max(c.minute for c in state.checkpoints) == 150 + 60  # first infusion: 60 min
