"""At the chair, guarded rate entry (issue 5; requirements 47-50, 60): hard limits counted, the
plan's ceiling behind a signed override, an increase after the step's minimum time and the
checkpoint's vital signs; one transition per race (32)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from at_the_chair import PASSWORD, WELL, Chair, audit_count, baseline, hard_events
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, HardLimit, InvalidInput, OverrideRequired, StaleVersion
from ivig.records import audit
from ivig.records.models import LimitEvent, Order, RateChange, Reaction, Vitals
from ivig.records.services import corrections, courses, infusions, orders, patients
from ivig.records.services.accounts import create_user
from ivig.records.services.limits import Override


@pytest.mark.parametrize(
    ("minute", "rate", "rule"),
    [
        # 48: above the label maximum of 8 mg/kg/min = 408 mL/h at 85 kg
        (30, 500, "label-maximum"),
        # 48 before 49: twice the top step is above the label maximum too
        (30, 816, "label-maximum"),
        # 49: five and ten times the planned step due in the first 30 minutes (25.5 mL/h)
        (10, 127.5, "fold-5x"),
        (10, 255, "fold-10x"),
        # 49: five times the planned step due at minute 30 (51 mL/h)
        (30, 255, "fold-5x"),
        # 49: five times the rate before it (25.5 mL/h), at minute 30
        (30, 127.5, "fold-5x"),
        # 49: ten times the planned step due at minute 30 is above the label maximum
        (30, 510, "label-maximum"),
        # 50: the top step's 4.8 mL/kg/h (8 mg/kg/min x 60 / 100 mg/mL) typed as mL/h
        (30, 4.8, "wrong-field"),
        # 50: the first step's 0.5 mg/kg/min typed as mL/h
        (30, 0.5, "wrong-field"),
    ],
)
def test_implausible_rates_are_hard_stops_and_counted(
    chair: Chair, minute: float, rate: float, rule: str
) -> None:
    """Requirements 48, 49, 50: a rate above the label maximum, a 5x/10x slip or a per-kg number
    in the mL/h field is refused for every role; the attempt is counted (a hard LimitEvent and
    a "hard-stop" audit row) and nothing else is written."""
    chair.vitals(30)
    version, rows = chair.version(), chair.rows()
    with pytest.raises(HardLimit) as caught:
        chair.rate(minute, rate)
    assert (caught.value.rule, caught.value.field, caught.value.http_status) == (
        rule,
        "rate_ml_per_h",
        422,
    )
    [event] = hard_events()
    assert (event.rule, event.entity, event.order_id, event.attempted_value) == (
        rule,
        "rate-change",
        chair.order.pk,
        rate,
    )
    assert event.patient_id == chair.order.patient_id
    assert audit_count("hard-stop") == 1
    assert (chair.version(), chair.rows()) == (version, rows)
    assert chair.rate(30, 51).rate_ml_per_h == 51  # the planned step is accepted


def test_a_legitimate_doubling_to_the_next_planned_step_is_accepted(chair: Chair) -> None:
    """Requirement 49: each planned step doubles the one before; a doubling to a planned step
    is not a slip."""
    for minute, rate in ((30, 51), (60, 102), (90, 204), (120, 408)):
        chair.up(minute, rate)
    assert [r for _, r in chair.rows()] == [25.5, 51, 102, 204, 408]
    assert not hard_events()


@pytest.fixture
def at_risk(
    users: dict[str, Any], chair_now: dt.datetime, start_chair: Callable[..., Any]
) -> Chair:
    """A diabetic patient (renal risk): Privigen capped at 3.3 mg/kg/min, so the plan's steps
    are 25.5, 51, 102 and 168.3 mL/h (85 kg) under a label maximum of 408 mL/h; started at
    13:00."""
    prescriber, pharmacist = users["prescriber"], users["pharmacist"]
    today = timezone.localdate()
    person = patients.create_patient(
        prescriber,
        patients.PatientInput(mrn="RISK1", family_name="Sugar", given_name="Sam",
                              date_of_birth=dt.date(1966, 5, 1), sex="male", height_cm=180,
                              risk_codes=("diabetes",)),
        today=today,
    )  # fmt: skip
    patients.add_weight(prescriber, person.pk, today, 100, today=today)
    course = courses.prescribe(
        prescriber, person.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today, days=2),
    )  # fmt: skip
    order = course.orders.order_by("sequence")[0]
    order = orders.verify(pharmacist, order.pk, order.version)
    lots = [orders.LotInput(f"R{i}", dt.date(2099, 1, 1), float(v["size_g"]), int(v["count"]))
            for i, v in enumerate(order.vials)]  # fmt: skip
    order = orders.dispense(pharmacist, order.pk, order.version, lots)
    assert [s["rate_ml_per_h"] for s in order.steps] == [25.5, 51, 102, 168.3]
    assert order.label_max_ml_per_h == 408
    start = chair_now - dt.timedelta(hours=5)
    start_chair(order, start)
    return Chair(users, order, start, chair_now)


def test_above_the_plans_ceiling_needs_an_allowed_signed_override(
    at_risk: Chair, users: dict[str, Any]
) -> None:
    """Requirement 47: a rate above the plan's ceiling (the at-risk maximum) but within the
    label's is saved only with a coded reason, a note and the password, by a user allowed to
    override; the override is audited with the limit, the value and the library version."""
    for minute, rate in ((30, 51), (60, 102), (90, 168.3)):
        at_risk.up(minute, rate)
    at_risk.vitals(120)
    with pytest.raises(OverrideRequired) as caught:
        at_risk.rate(120, 200)
    [limit] = caught.value.details["limits"]  # type: ignore[union-attr]
    assert (limit["code"], limit["limit"], limit["value"]) == ("above-planned-maximum", 168.3, 200)
    signed = Override("clinical-need", "tolerated 200 mL/h last month; consultant agrees", PASSWORD)
    with pytest.raises(Forbidden):  # a nurse without the permission
        at_risk.rate(120, 200, override=signed)
    senior = create_user(None, "senior", PASSWORD, ["nurse"], system=True)
    senior.user_permissions.add(Permission.objects.get(codename="override_soft_limit"))
    senior = User.objects.get(pk=senior.pk)
    for wrong, field in (
        (Override("clinical-need", "agreed", "not-my-password"), "password"),
        (Override("because", "agreed", PASSWORD), "reason_code"),
        (Override("clinical-need", " ", PASSWORD), "reason_text"),
    ):
        with pytest.raises(InvalidInput) as refused:
            at_risk.rate(120, 200, actor=senior, override=wrong)
        assert refused.value.field == field
    assert not LimitEvent.objects.filter(kind="soft").exists()
    row = at_risk.rate(120, 200, actor=senior, override=signed)
    assert row.rate_ml_per_h == 200
    [event] = LimitEvent.objects.filter(kind="soft")
    assert (event.rule, event.limit_value, event.attempted_value, event.reason_code) == (
        "above-planned-maximum",
        168.3,
        200,
        "clinical-need",
    )
    assert event.catalogue_version == at_risk.order.catalogue_version
    assert audit_count("override") == 1


def test_twice_the_top_step_is_a_slip_even_below_the_label(at_risk: Chair) -> None:
    """Requirement 49: twice the planned step (168.3 -> 336.6 mL/h) is below the label maximum
    but is not a planned step: a hard stop, which no override can pass."""
    for minute, rate in ((30, 51), (60, 102), (90, 168.3)):
        at_risk.up(minute, rate)
    at_risk.vitals(120)
    signed = Override("clinical-need", "as ordered", PASSWORD)
    # a prescriber who is also a nurse: allowed to override soft limits, and still refused
    both = create_user(None, "both", PASSWORD, ["nurse", "prescriber"], system=True)
    assert both.has_perm("records.override_soft_limit")
    with pytest.raises(HardLimit) as caught:
        at_risk.rate(120, 336.6, actor=both, override=signed)
    assert caught.value.rule == "fold-2x"
    with pytest.raises(HardLimit):
        at_risk.rate(120, 336.6, override=signed)
    assert len(hard_events("fold-2x")) == 2


def test_an_increase_waits_for_the_steps_minimum_time(chair: Chair) -> None:
    """Requirement 60 and issue 14 item 7: the rate in effect runs its step's whole planned time
    (no clock leeway) before it may increase; the refusal says when it may."""
    chair.vitals(20)
    with pytest.raises(Conflict, match="may increase from") as caught:
        chair.rate(20, 51)
    assert caught.value.field == "at"
    assert timezone.localtime(chair.at(30)).strftime("%H:%M") in caught.value.message
    chair.vitals(29)
    with pytest.raises(Conflict, match="has run 29 of the 30 minutes"):
        chair.rate(29, 51)  # was allowed with a minute's leeway before issue 14
    chair.rate(30, 51)
    chair.vitals(50)
    with pytest.raises(Conflict, match="may increase"):
        chair.rate(50, 102)  # 51 mL/h has run 21 of its 30 minutes


def test_a_decrease_needs_neither_time_nor_vitals(chair: Chair) -> None:
    """Requirement 60 covers increases only: slowing down is always possible."""
    assert chair.rate(5, 20).rate_ml_per_h == 20


def test_an_increase_needs_the_checkpoints_vital_signs_or_a_reason(chair: Chair) -> None:
    """Requirement 60: an increase needs standing vital signs from the 15 minutes before it (not
    older ones, not ones entered in error or superseded), or a documented reason for missing
    them, kept with the change."""
    with pytest.raises(Conflict) as caught:
        chair.rate(30, 51)
    assert caught.value.field == "vitals"
    chair.vitals(14)  # 16 minutes before: too old
    with pytest.raises(Conflict, match="vital signs"):
        chair.rate(30, 51)
    wrong = chair.vitals(28)
    corrections.void(chair.users["nurse"], "vitals", wrong.pk, "another patient's readings",
                     now=chair.now)  # fmt: skip
    with pytest.raises(Conflict, match="vital signs"):
        chair.rate(30, 51)
    row = chair.rate(30, 51, vitals_missing_reason="patient asleep; observed, colour good")
    assert row.note == "patient asleep; observed, colour good"
    chair.vitals(60)
    assert chair.rate(60, 102).note == ""


def test_voided_vitals_do_not_do_a_checkpoint(chair: Chair) -> None:
    """Requirements 11-13 with 61: a checkpoint done only by vitals entered in error is not
    done."""
    first = Vitals.objects.get(at=chair.start)  # the baseline taken before the start
    baseline = chair.vitals(0)

    def status() -> str:
        state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
        return state.checkpoints[0].status

    assert status() == "done"
    corrections.void(chair.users["nurse"], "vitals", baseline.pk, "wrong chair", now=chair.now)
    assert status() == "done"  # the baseline taken before the start (issue 16 item 7) stands
    corrections.void(chair.users["nurse"], "vitals", first.pk, "wrong chair", now=chair.now)
    assert status() == "overdue"


# --- one transition per race (32) --------------------------------------------------------------


def test_two_changes_read_at_one_version_make_one_transition(chair: Chair) -> None:
    """Requirement 32: a second change sent with the version the first one used is refused as
    stale (409), whatever it is: nothing is written."""
    chair.vitals(30)
    version = chair.version()
    chair.rate(30, 51, version=version)
    with pytest.raises(StaleVersion) as caught:
        chair.rate(31, 51, version=version)
    assert caught.value.http_status == 409
    with pytest.raises(StaleVersion):
        chair.reaction(31, version=version)
    assert chair.rows() == [("start", 25.5), ("change", 51)]
    assert chair.session().state == "running"
    assert not Reaction.objects.exists()


def _live_chair() -> Chair:
    """A running infusion committed to the database (users, patient, course, lots, start)."""
    users = {r: create_user(None, r, PASSWORD, [r], system=True)
             for r in ("prescriber", "pharmacist", "nurse")}  # fmt: skip
    today = timezone.localdate()
    person = patients.create_patient(
        users["prescriber"],
        patients.PatientInput(mrn="RACE2", family_name="Race", given_name="Rita",
                              date_of_birth=dt.date(1960, 1, 1), sex="female", height_cm=165),
        today=today,
    )  # fmt: skip
    patients.add_weight(users["prescriber"], person.pk, today, 70, today=today)
    course = courses.prescribe(
        users["prescriber"], person.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today, days=2),
    )  # fmt: skip
    order = course.orders.order_by("sequence")[0]
    order = orders.verify(users["pharmacist"], order.pk, order.version)
    lots = [orders.LotInput(f"Q{i}", dt.date(2099, 1, 1), float(v["size_g"]), int(v["count"]))
            for i, v in enumerate(order.vials)]  # fmt: skip
    order = orders.dispense(users["pharmacist"], order.pk, order.version, lots)
    now = dt.datetime.combine(today, dt.time(18), tzinfo=timezone.get_current_timezone())
    start = now - dt.timedelta(hours=2)
    infusions.pre_check(users["nurse"], order.pk, WELL, now=start)
    baseline(users["nurse"], order, start)
    order.refresh_from_db()
    infusions.start_infusion(
        users["nurse"], order.pk, order.version, start, visual_inspection_ok=True, now=now
    )
    chair = Chair(users, order, start, now)
    chair.vitals(30)
    return chair


def test_pause_and_increase_at_the_same_moment_make_one_transition(
    live_records: None, race: Callable[..., list[Any]]
) -> None:
    """Requirement 32 (real commits, two connections, SQLite and PostgreSQL): a reaction (pause)
    and a rate increase sent at once on one infusion: exactly one is recorded, the other gets
    409 stale_version; the infusion is never "increased while paused"."""
    chair = _live_chair()
    version = chair.version()
    step = float(chair.order.steps[1]["rate_ml_per_h"])
    results = race(
        lambda: chair.rate(31, step, version=version),
        lambda: chair.reaction(31, version=version),
    )
    done = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(done) == 1, results
    assert len(refused) == 1, results
    assert isinstance(refused[0], StaleVersion), refused[0]
    session = chair.session()
    assert session.version == version + 1
    if isinstance(done[0], Reaction):
        assert session.state == "paused"
        assert [a for a, _ in chair.rows()] == ["start", "pause"]
    else:
        assert session.state == "running"
        assert not Reaction.objects.exists()
        assert [a for a, _ in chair.rows()] == ["start", "change"]
    assert audit.verify_chain().ok


def test_two_increases_at_the_same_moment_make_one(
    live_records: None, race: Callable[..., list[Any]]
) -> None:
    """Requirement 32: two nurses record the same increase at once: one row, one 409."""
    chair = _live_chair()
    version = chair.version()
    step = float(chair.order.steps[1]["rate_ml_per_h"])
    results = race(
        lambda: chair.rate(31, step, version=version),
        lambda: chair.rate(31, step, version=version),
    )
    assert sum(isinstance(r, RateChange) for r in results) == 1, results
    assert sum(isinstance(r, StaleVersion) for r in results) == 1, results
    assert [a for a, _ in chair.rows()] == ["start", "change"]
    assert audit.verify_chain().ok
