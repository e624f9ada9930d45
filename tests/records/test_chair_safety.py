"""The safety layer at the chair (issue 5): the start (65, 16, 35, 9), guarded rate entry (47-50,
60), the reaction state machine (62), one transition per race (32), observation and closing
(63), vitals (34).

The order is the ``dispensed`` fixture's: Privigen (US) 10 %, dosing weight 85 kg, steps 25.5,
51, 102, 204 and 408 mL/h (30 minutes each, the last to the end), label maximum 408 mL/h. The
clock is ``chair_now`` (18:00 local today); the infusion starts at 13:00.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from ivig.core.catalogue import load_catalogue
from ivig.core.monitoring import Severity, check_vitals, read_monitoring_protocol
from ivig.errors import (
    Conflict,
    Forbidden,
    HardLimit,
    InvalidInput,
    InvalidTime,
    OutOfRange,
    OverrideRequired,
    StaleVersion,
)
from ivig.records import audit
from ivig.records.models import (
    AuditEvent,
    LimitEvent,
    Order,
    PrescriberTask,
    RateChange,
    Reaction,
    Vitals,
)
from ivig.records.services import accounts, corrections, courses, infusions, orders, patients
from ivig.records.services.accounts import create_user
from ivig.records.services.limits import Override

PASSWORD = "infusion-chair-42-Xq"
WELL = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)
HOURS_2 = dt.timedelta(hours=2)  # the check, before a start an hour before the clock
NORMAL = {"pulse_per_min": 74, "systolic_mm_hg": 124, "diastolic_mm_hg": 76, "spo2_percent": 98}


@dataclass
class Chair:
    """One running infusion and the nurse's hands on it: times are minutes after the start."""

    users: dict[str, Any]
    order: Order
    start: dt.datetime
    now: dt.datetime

    def at(self, minute: float) -> dt.datetime:
        return self.start + dt.timedelta(minutes=minute)

    def session(self) -> Any:
        return Order.objects.get(pk=self.order.pk).session

    def version(self) -> int:
        return int(self.session().version)

    def vitals(self, minute: float, **values: Any) -> Vitals:
        given = infusions.VitalsInput(**(values or NORMAL))
        return infusions.record_vitals(
            self.users["nurse"], self.order.pk, self.at(minute), given, now=self.now
        )

    def rate(self, minute: float, value: float, **options: Any) -> RateChange:
        return infusions.record_rate(
            options.pop("actor", self.users["nurse"]),
            self.order.pk,
            options.pop("version", None) or self.version(),
            self.at(minute),
            value,
            now=self.now,
            **options,
        )

    def up(self, minute: float, value: float) -> RateChange:
        """The checkpoint's vital signs, then the increase, at the same minute."""
        self.vitals(minute)
        return self.rate(minute, value)

    def reaction(self, minute: float, *symptoms: str, **options: Any) -> Reaction:
        return infusions.record_reaction(
            self.users["nurse"],
            self.order.pk,
            options.pop("version", None) or self.version(),
            self.at(minute),
            list(symptoms or ("headache",)),
            options.pop("action_taken", "pump paused, patient reviewed"),
            now=self.now,
            **options,
        )

    def resume(self, minute: float, value: float) -> RateChange:
        return infusions.resume_infusion(
            self.users["nurse"], self.order.pk, self.version(), self.at(minute), value, now=self.now
        )

    def restart_order(self, value: float, reason: str = "reviewed: settled, restart") -> Any:
        return infusions.order_restart(
            self.users["prescriber"], self.order.pk, self.version(), reason, value, now=self.now
        )

    def end(self, minute: float) -> Any:
        return infusions.end_infusion(
            self.users["nurse"], self.order.pk, self.at(minute), now=self.now
        )

    def rows(self) -> list[tuple[str, float]]:
        return [(r.action, r.rate_ml_per_h) for r in self.session().rate_changes.all()]


@pytest.fixture
def chair(
    users: dict[str, Any],
    dispensed: Order,
    start_chair: Callable[..., Any],
    chair_now: dt.datetime,
) -> Chair:
    start = chair_now - dt.timedelta(hours=5)
    start_chair(dispensed, start)
    return Chair(users, dispensed, start, chair_now)


def _hard_events(rule: str | None = None) -> list[LimitEvent]:
    events = LimitEvent.objects.filter(kind="hard")
    return list(events.filter(rule=rule) if rule else events)


def _audit(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


# --- the start (65, 16, 35, 9) -----------------------------------------------------------------


def test_vials_that_fail_the_visual_inspection_are_not_used(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    """Requirement 65: the visual inspection is a required field at the start; vials that fail
    it are refused, and a start records the inspection and its notes."""
    nurse = users["nurse"]
    infusions.pre_check(nurse, dispensed.pk, WELL, now=chair_now - HOURS_2)
    version = Order.objects.get(pk=dispensed.pk).version
    at = chair_now - dt.timedelta(hours=1)
    with pytest.raises(InvalidInput, match="visual inspection") as caught:
        infusions.start_infusion(
            nurse, dispensed.pk, version, at, visual_inspection_ok=False,
            visual_inspection_notes="particles in one 40 g vial", now=chair_now,
        )  # fmt: skip
    assert caught.value.field == "visual_inspection_ok"
    assert Order.objects.get(pk=dispensed.pk).status == "dispensed"
    assert not RateChange.objects.exists()
    session = infusions.start_infusion(
        nurse, dispensed.pk, version, at, visual_inspection_ok=True,
        visual_inspection_notes="clear, colourless, no particles", now=chair_now,
    )  # fmt: skip
    assert session.visual_inspection_ok is True
    assert session.visual_inspection_notes == "clear, colourless, no particles"
    assert session.administered_by_id == nurse.pk  # by default, the nurse who starts
    assert session.state == "running"
    assert [(r.action, r.rate_ml_per_h) for r in session.rate_changes.all()] == [("start", 25.5)]


def test_the_administering_nurse_is_recorded(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    """Requirement 65: the nurse who gives the infusion is recorded; only an active nurse."""
    other = create_user(None, "nurse2", PASSWORD, ["nurse"], system=True)
    gone = create_user(None, "nurse3", PASSWORD, ["nurse"], system=True)
    accounts.set_active(users["admin"], gone.pk, False)
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=chair_now - HOURS_2)
    version = Order.objects.get(pk=dispensed.pk).version
    at = chair_now - dt.timedelta(hours=1)
    for wrong in (users["pharmacist"].pk, gone.pk, 999999):
        with pytest.raises(InvalidInput) as caught:
            infusions.start_infusion(
                users["nurse"], dispensed.pk, version, at, visual_inspection_ok=True,
                administered_by=wrong, now=chair_now,
            )  # fmt: skip
        assert caught.value.field == "administered_by"
    session = infusions.start_infusion(
        users["nurse"], dispensed.pk, version, at, visual_inspection_ok=True,
        administered_by=other.pk, now=chair_now,
    )  # fmt: skip
    assert (session.started_by_id, session.administered_by_id) == (users["nurse"].pk, other.pk)


def test_the_verifying_pharmacist_neither_starts_nor_gives_the_infusion(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    """Requirement 16 (third bullet): with the independent double check on, the pharmacist who
    verified the order cannot start it nor be named as the nurse giving it, even when they
    also hold the nurse role; with the policy off they may."""
    verifier = users["pharmacist"]
    accounts.set_roles(users["admin"], verifier.pk, ["pharmacist", "nurse"])
    verifier = User.objects.get(pk=verifier.pk)
    assert Order.objects.get(pk=dispensed.pk).verified_by_id == verifier.pk
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=chair_now - HOURS_2)
    version = Order.objects.get(pk=dispensed.pk).version
    at = chair_now - dt.timedelta(hours=1)
    with override_settings(IVIG_DOUBLE_CHECK=True):
        with pytest.raises(Forbidden, match="verified order"):
            infusions.start_infusion(
                verifier, dispensed.pk, version, at, visual_inspection_ok=True, now=chair_now
            )
        with pytest.raises(Forbidden, match="administering nurse"):
            infusions.start_infusion(
                users["nurse"], dispensed.pk, version, at, visual_inspection_ok=True,
                administered_by=verifier.pk, now=chair_now,
            )  # fmt: skip
    assert Order.objects.get(pk=dispensed.pk).status == "dispensed"
    with override_settings(IVIG_DOUBLE_CHECK=False):
        session = infusions.start_infusion(
            verifier, dispensed.pk, version, at, visual_inspection_ok=True, now=chair_now
        )
    assert session.started_by_id == verifier.pk


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland", "America/Los_Angeles"])
def test_the_start_lies_within_the_orders_day_and_not_in_the_future(
    users: dict[str, Any], dispensed: Order, zone: str
) -> None:
    """Requirements 35 and 9: a start in the future beyond 2 minutes of skew, or before the
    order's day (local midnight in the site's zone), is refused with 400; exactly midnight is
    accepted; the clinical time is stored (in UTC) apart from the recording time."""
    with override_settings(TIME_ZONE=zone):
        midnight = dt.datetime.combine(
            dispensed.date, dt.time(0), tzinfo=timezone.get_default_timezone()
        )
        now = midnight + dt.timedelta(hours=10)
        # prepared and checked the evening before (a start is never before them: issue 14)
        Order.objects.filter(pk=dispensed.pk).update(
            verified_at=midnight - dt.timedelta(hours=2),
            dispensed_at=midnight - dt.timedelta(hours=1),
        )
        infusions.pre_check(
            users["nurse"], dispensed.pk, WELL, now=midnight - dt.timedelta(minutes=10)
        )
        version = Order.objects.get(pk=dispensed.pk).version

        def start(at: dt.datetime) -> Any:
            return infusions.start_infusion(
                users["nurse"], dispensed.pk, version, at, visual_inspection_ok=True, now=now
            )

        for wrong in (now + dt.timedelta(minutes=3), midnight - dt.timedelta(seconds=1)):
            with pytest.raises(InvalidTime, match=r"in the future|order's day") as caught:
                start(wrong)
            assert (caught.value.http_status, caught.value.field) == (400, "at")
        start(midnight)
    session = Order.objects.get(pk=dispensed.pk).session
    assert session.started_at == midnight
    assert session.started_at.utcoffset() == dt.timedelta(0)  # stored in UTC
    first = session.rate_changes.get()
    assert first.at == midnight
    assert first.recorded_at != first.at  # the nurse's time and the server's, apart


# --- a backdated start (issue 14 item 7) --------------------------------------------------------


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


def _prepared(order: Order, verified: dt.datetime, dispensed: dt.datetime) -> None:
    """The order's verification and dispensing at these times (the fixture's are the clock's)."""
    Order.objects.filter(pk=order.pk).update(verified_at=verified, dispensed_at=dispensed)


def test_a_backdated_start_is_refused_and_the_ramp_counts_from_the_real_start(
    users: dict[str, Any], dispensed: Order
) -> None:
    """Issue 14 item 7, as reported (the check at 01:50, a start typed as 00:00 was accepted and
    the next increase allowed seven seconds later), four hours later so that every time exists
    on the days the clocks change: 04:00 is refused (before the check at 05:50); the real start,
    05:50, entered at 06:00, is a late entry; an increase seven seconds after the entry is
    refused: 25.5 mL/h has run 10 of its 30 minutes."""
    day = dispensed.date
    _prepared(dispensed, _local(day, 4, 0) - dt.timedelta(hours=2), _local(day, 4, 30))
    nurse = users["nurse"]
    infusions.pre_check(nurse, dispensed.pk, WELL, now=_local(day, 5, 50))
    version = Order.objects.get(pk=dispensed.pk).version
    entered = _local(day, 6, 0)

    def start(at: dt.datetime) -> Any:
        return infusions.start_infusion(
            nurse, dispensed.pk, version, at, visual_inspection_ok=True, now=entered
        )

    with pytest.raises(InvalidTime, match=r"04:00 is before the pre-infusion check \(05:50\)"):
        start(_local(day, 4, 0))
    session = start(_local(day, 5, 50))
    assert (session.start_late_entry, session.start_recorded_at) == (True, entered)
    event = AuditEvent.objects.filter(action="start", entity="infusion").get()
    assert event.reason == "late entry: started 05:50, recorded 06:00 (10 min later)"
    later = entered + dt.timedelta(seconds=7)
    infusions.record_vitals(nurse, dispensed.pk, later, infusions.VitalsInput(**NORMAL), now=later)
    with pytest.raises(Conflict, match="has run 10 of the 30 minutes") as caught:
        infusions.record_rate(nurse, dispensed.pk, session.version, later, 51, now=later)
    assert "may increase from 06:20" in caught.value.message


@pytest.mark.parametrize(
    ("verified", "dispensed_at", "checked", "what"),
    [
        # requirement 35 with issue 14 item 7: the latest of the three bounds the start
        ((6, 0), (7, 0), (8, 0), "the pre-infusion check (08:00)"),
        ((6, 0), (8, 0), (7, 0), "the dispensing (08:00)"),
        ((8, 0), (8, 0), (7, 0), "the pharmacist's verification (08:00)"),
    ],
)
def test_a_start_is_never_before_the_verification_the_dispensing_or_the_check(
    users: dict[str, Any],
    dispensed: Order,
    verified: tuple[int, int],
    dispensed_at: tuple[int, int],
    checked: tuple[int, int],
    what: str,
) -> None:
    day = dispensed.date
    _prepared(dispensed, _local(day, *verified), _local(day, *dispensed_at))
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=_local(day, *checked))
    version = Order.objects.get(pk=dispensed.pk).version

    def start(at: dt.datetime) -> Any:
        return infusions.start_infusion(
            users["nurse"], dispensed.pk, version, at, visual_inspection_ok=True,
            now=_local(day, 8, 1),
        )  # fmt: skip

    with pytest.raises(InvalidTime) as caught:
        start(_local(day, 7, 59))
    assert caught.value.message == f"07:59 is before {what}"
    assert (caught.value.http_status, caught.value.field) == (400, "at")
    assert start(_local(day, 8, 0)).start_late_entry is False  # exactly at it: accepted


@pytest.mark.parametrize(
    ("seconds_after", "late"),
    [
        # requirement 35: clocks may differ by 2 minutes; entered later than that is late
        (0, False),
        (120, False),
        (121, True),
        (3600, True),
    ],
)
def test_a_start_entered_more_than_the_clock_skew_after_it_is_a_late_entry(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime, seconds_after: int, late: bool
) -> None:
    at = chair_now - dt.timedelta(hours=1)
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=at)
    version = Order.objects.get(pk=dispensed.pk).version
    entered = at + dt.timedelta(seconds=seconds_after)
    session = infusions.start_infusion(
        users["nurse"], dispensed.pk, version, at, visual_inspection_ok=True, now=entered
    )
    assert (session.start_late_entry, session.start_recorded_at) == (late, entered)
    state = infusions.session_state(Order.objects.get(pk=dispensed.pk), now=entered)
    assert state.session is not None
    assert state.session["start_late_entry"] is late  # the API's and the run sheet's view


@given(
    delay=st.integers(min_value=0, max_value=6 * 3600),
    offset=st.integers(min_value=0, max_value=3600),
)
def test_late_entries_property(delay: int, offset: int) -> None:
    """Property: late exactly when entered more than 2 minutes after the time; the words name
    both times only then."""
    at = dt.datetime(2030, 1, 1, 8, tzinfo=dt.UTC) + dt.timedelta(seconds=offset)
    now = at + dt.timedelta(seconds=delay)
    assert infusions.is_late_entry(at, now) is (delay > 120)
    assert bool(infusions.late_entry_text(at, now)) is (delay > 120)


# --- guarded rate entry (47-50, 60) ------------------------------------------------------------


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
    [event] = _hard_events()
    assert (event.rule, event.entity, event.order_id, event.attempted_value) == (
        rule,
        "rate-change",
        chair.order.pk,
        rate,
    )
    assert event.patient_id == chair.order.patient_id
    assert _audit("hard-stop") == 1
    assert (chair.version(), chair.rows()) == (version, rows)
    assert chair.rate(30, 51).rate_ml_per_h == 51  # the planned step is accepted


def test_a_legitimate_doubling_to_the_next_planned_step_is_accepted(chair: Chair) -> None:
    """Requirement 49: each planned step doubles the one before; a doubling to a planned step
    is not a slip."""
    for minute, rate in ((30, 51), (60, 102), (90, 204), (120, 408)):
        chair.up(minute, rate)
    assert [r for _, r in chair.rows()] == [25.5, 51, 102, 204, 408]
    assert not _hard_events()


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
    assert _audit("override") == 1


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
    assert len(_hard_events("fold-2x")) == 2


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
    baseline = chair.vitals(0)

    def status() -> str:
        state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
        return state.checkpoints[0].status

    assert status() == "done"
    corrections.void(chair.users["nurse"], "vitals", baseline.pk, "wrong chair", now=chair.now)
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


# --- the reaction state machine (62) -----------------------------------------------------------


def test_any_reaction_pauses_the_pump(chair: Chair) -> None:
    """Requirement 62: a suspected reaction, even a mild one, pauses the infusion (a row at
    0 mL/h at the reaction's time); a rate change is then refused until it resumes. The rate
    the pump ran at is still known (pause rows are skipped)."""
    chair.up(30, 51)
    version = chair.version()
    reaction = chair.reaction(40, "headache")
    session = chair.session()
    assert (session.state, session.version) == ("paused", version + 1)
    assert chair.rows()[-1] == ("pause", 0)
    assert session.rate_changes.last().at == reaction.at
    assert reaction.recommended["last_tolerated_ml_per_h"] == 25.5
    with pytest.raises(Conflict, match="paused"):
        chair.rate(45, 25.5)
    assert infusions.current_rate(session) == 51
    assert infusions.last_tolerated_rate(session) == 25.5
    advice = infusions.reaction_advice(session, Severity.mild)  # a second one: stop
    assert advice.action.value == "stop-no-restart"
    state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
    assert (state.state, state.restart_max_ml_per_h) == ("paused", 25.5)


def test_a_restart_is_only_at_or_below_the_last_tolerated_rate(chair: Chair) -> None:
    """Requirement 62: after a pause, the pump restarts at or below the last tolerated rate; a
    higher restart is a hard stop (counted), and so is a later increase above it."""
    chair.up(30, 51)
    chair.reaction(40)
    with pytest.raises(HardLimit) as caught:
        chair.resume(50, 51)
    assert caught.value.rule == "above-last-tolerated"
    assert [e.rule for e in _hard_events()] == ["above-last-tolerated"]
    assert chair.session().state == "paused"
    row = chair.resume(50, 25.5)
    assert (row.action, row.rate_ml_per_h, chair.session().state) == ("resume", 25.5, "running")
    chair.vitals(80)
    with pytest.raises(HardLimit, match="last tolerated"):
        chair.rate(80, 51)
    assert len(_hard_events("above-last-tolerated")) == 2


def test_a_second_reaction_stops_the_day_until_a_prescriber_orders_a_restart(
    chair: Chair, users: dict[str, Any]
) -> None:
    """Requirement 62: a second reaction stops the infusion; it cannot restart the same day
    without a new prescriber order made after the stop, at or below the last tolerated rate,
    and the restart stays at or below that order's maximum."""
    chair.up(30, 51)
    chair.up(60, 102)
    chair.reaction(70)  # at 102: tolerated 51
    chair.resume(80, 51)
    second = chair.reaction(90, "nausea")  # at 51: now 25.5 is the last tolerated
    assert second.recommended["action"] == "stop-no-restart"
    assert second.recommended["last_tolerated_ml_per_h"] == 25.5
    assert chair.session().state == "stopped"
    assert chair.rows()[-1] == ("stop", 0)
    with pytest.raises(Conflict, match="new prescriber order"):
        chair.resume(100, 25.5)
    version = chair.version()
    with pytest.raises(Forbidden):
        infusions.order_restart(users["nurse"], chair.order.pk, version, "ok", 25.5, now=chair.now)
    with pytest.raises(InvalidInput):
        chair.restart_order(25.5, reason=" ")
    with pytest.raises(HardLimit) as caught:
        chair.restart_order(51)
    assert (caught.value.rule, caught.value.field) == ("above-last-tolerated", "max_rate_ml_per_h")
    session = chair.restart_order(25.5)
    assert (session.restart_order_by_id, session.restart_max_ml_per_h) == (
        users["prescriber"].pk,
        25.5,
    )
    state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
    assert (state.state, state.restart_max_ml_per_h) == ("stopped", 25.5)
    with pytest.raises(HardLimit):
        chair.resume(100, 30)
    chair.resume(100, 25.5)
    assert chair.session().state == "running"
    chair.reaction(110)  # a third: stopped again; the earlier restart order no longer stands
    with pytest.raises(Conflict, match="new prescriber order"):
        chair.resume(120, 12)


def test_a_reaction_after_the_restart_order_voids_it(chair: Chair) -> None:
    """Requirement 62: a restart order stands only for the stop it answers: a reaction recorded
    after it (still stopped) needs a new order."""
    chair.reaction(10, "anaphylaxis")
    chair.restart_order(12)
    chair.reaction(20, "hives")
    assert chair.session().state == "stopped"
    with pytest.raises(Conflict, match="new prescriber order"):
        chair.resume(30, 12)
    chair.restart_order(12)
    assert chair.resume(30, 12).action == "resume"


def test_a_severe_reaction_stops_at_once(chair: Chair) -> None:
    """Requirement 62: a severe reaction, even the first, stops the infusion for the day."""
    reaction = chair.reaction(10, "wheeze")
    assert reaction.severity == "severe"
    assert chair.session().state == "stopped"
    assert chair.rows() == [("start", 25.5), ("stop", 0)]
    with pytest.raises(Conflict, match="new prescriber order"):
        chair.resume(20, 10)


def test_protocol_medicines_make_a_task_for_the_prescriber(
    chair: Chair, users: dict[str, Any]
) -> None:
    """Requirement 62: reaction medicines given under protocol create a task the prescriber
    must acknowledge, with a note, once; audited."""
    chair.reaction(10, "headache")
    assert not PrescriberTask.objects.exists()  # no medicines, no task
    chair.resume(20, 12)
    reaction = chair.reaction(25, "headache", medicines_given="paracetamol 1 g orally")
    [task] = infusions.open_tasks(users["prescriber"])
    assert (task.kind, task.reaction_id, task.patient_id) == (
        "reaction-medicines",
        reaction.pk,
        chair.order.patient_id,
    )
    assert "paracetamol 1 g orally" in task.message
    with pytest.raises(Forbidden):
        infusions.open_tasks(users["nurse"])
    with pytest.raises(Forbidden):
        infusions.acknowledge_task(users["nurse"], task.pk, "seen", now=chair.now)
    with pytest.raises(InvalidInput):
        infusions.acknowledge_task(users["prescriber"], task.pk, "  ", now=chair.now)
    done = infusions.acknowledge_task(
        users["prescriber"], task.pk, "seen; continue paracetamol as needed", now=chair.now
    )
    assert (done.acknowledged_by_id, done.acknowledged_at) == (users["prescriber"].pk, chair.now)
    assert _audit("acknowledge") == 1
    with pytest.raises(Conflict):
        infusions.acknowledge_task(users["prescriber"], task.pk, "again", now=chair.now)
    assert infusions.open_tasks(users["prescriber"]) == []
    state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
    assert [(t.id, t.acknowledged_at) for t in state.tasks] == [(task.pk, chair.now)]


def test_a_voided_reaction_does_not_count(chair: Chair) -> None:
    """Requirements 62 with 11-13: a reaction entered in error is not the day's first."""
    chair.up(30, 51)
    first = chair.reaction(40)
    corrections.void(chair.users["nurse"], "reaction", first.pk, "another patient", now=chair.now)
    session = chair.session()
    assert infusions.last_tolerated_rate(session) is None
    assert infusions.reaction_advice(session, Severity.mild).action.value != "stop-no-restart"


# --- observation and closing (63) --------------------------------------------------------------


@pytest.mark.parametrize("state", ["running", "paused", "stopped"])
def test_the_infusion_ends_from_running_paused_or_stopped(chair: Chair, state: str) -> None:
    """Requirement 63: the pump stops at the end (a stop row when it was running) and the
    observation starts."""
    if state == "paused":
        chair.reaction(10)
    elif state == "stopped":
        chair.reaction(10, "anaphylaxis")
    before = chair.rows()
    session = chair.end(60)
    assert (session.state, session.ended_at) == ("ended", chair.at(60))
    added = chair.rows()[len(before) :]
    assert added == ([("stop", 0)] if state == "running" else [])
    with pytest.raises(Conflict):
        chair.rate(70, 25.5)


def _history(order: Order, users: dict[str, Any], *, days_ago: int, product: str) -> None:
    """A completed induction for the same patient ``days_ago`` days before the order (2 days:
    the last infusion ``days_ago - 1`` days before), given with ``product``."""
    course = courses.prescribe(
        users["prescriber"], order.patient_id,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=order.date - dt.timedelta(days=days_ago),
                            days=2),
    )  # fmt: skip
    course.orders.update(status="completed")  # the history, as given
    type(course).objects.filter(pk=course.pk).update(product_id=product)


def _close(chair: Chair, minute: float, notes: str = "") -> Any:
    version = Order.objects.get(pk=chair.order.pk).version
    return infusions.finish_observation(
        chair.users["nurse"], chair.order.pk, version, chair.at(minute), notes, now=chair.now
    )


@pytest.mark.parametrize(
    ("history", "minutes", "reason"),
    [
        (None, 60, "first infusion"),
        ((30, "gamunex-c"), 60, "product switch"),
        ((64, "privigen-us"), 60, "63 days since the last infusion"),
        ((30, "privigen-us"), 20, "after every infusion"),
    ],
    ids=["first-infusion", "product-switch", "nine-week-gap", "usual"],
)
def test_the_observation_length_comes_from_the_history(
    users: dict[str, Any],
    dispensed: Order,
    start_chair: Callable[..., Any],
    chair_now: dt.datetime,
    history: tuple[int, str] | None,
    minutes: int,
    reason: str,
) -> None:
    """Requirement 63: 60 minutes after a first infusion, a product switch or a gap of more than
    8 weeks (here 9), 20 otherwise, computed from the recorded history; the day closes only
    after the full period."""
    if history is not None:
        _history(dispensed, users, days_ago=history[0], product=history[1])
    assert reason in infusions.observation_for(Order.objects.get(pk=dispensed.pk)).reason
    start = chair_now - dt.timedelta(hours=5)
    start_chair(dispensed, start)
    chair = Chair(users, dispensed, start, chair_now)
    assert chair.end(200).observation_minutes == minutes
    with pytest.raises(Conflict, match=f"{minutes} minutes"):
        _close(chair, 200 + minutes - 1, "well")
    closed = _close(chair, 200 + minutes, "well; cannula out")
    assert closed.state == "closed"
    assert Order.objects.get(pk=dispensed.pk).status == "completed"


def test_the_observation_must_be_documented(chair: Chair) -> None:
    """Requirement 63: the day closes only once the observation is documented: a note, or vital
    signs recorded after the end (standing ones)."""
    chair.end(200)
    with pytest.raises(Conflict) as caught:
        _close(chair, 260, "  ")
    assert caught.value.field == "notes"
    chair.vitals(199)  # before the end: not the observation's
    with pytest.raises(Conflict, match="document"):
        _close(chair, 260)
    chair.vitals(255)
    assert _close(chair, 260).state == "closed"


# --- vitals (34, 35) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "error", "field"),
    [
        ({"spo2_percent": 101}, OutOfRange, "spo2_percent"),
        ({"systolic_mm_hg": 110, "diastolic_mm_hg": 110}, InvalidInput, "diastolic_mm_hg"),
        ({"systolic_mm_hg": 110, "diastolic_mm_hg": 125}, InvalidInput, "diastolic_mm_hg"),
        ({"temperature_c": 60}, OutOfRange, "temperature_c"),
    ],
)
def test_impossible_vitals_are_refused(
    chair: Chair, values: dict[str, Any], error: type[Exception], field: str
) -> None:
    """Requirement 34: an impossible value is refused (422) naming the field; nothing saved."""
    with pytest.raises(error) as caught:
        chair.vitals(10, **values)
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert caught.value.http_status == 422  # type: ignore[attr-defined]
    assert not Vitals.objects.exists()


def test_abnormal_vitals_are_kept_and_flagged(chair: Chair) -> None:
    """Requirement 34: systolic 210 mm Hg is abnormal, not impossible: saved, flagged against
    monitoring.toml's limit (above 180)."""
    row = chair.vitals(10, systolic_mm_hg=210, diastolic_mm_hg=95)
    assert [f["field"] for f in row.flags] == ["systolic_mm_hg"]
    assert "above 180" in row.flags[0]["message"]


def test_vital_sign_ranges_are_configuration() -> None:
    """Requirement 34: the ranges are monitoring.toml's; a site that edits them changes the
    verdict without code."""
    with resources.files("ivig").joinpath("data", "monitoring.toml").open("rb") as f:
        data = tomllib.load(f)
    catalogue = load_catalogue()

    def protocol() -> Any:
        return read_monitoring_protocol(
            data, sources=catalogue.sources, long_gap_weeks=catalogue.protocol.long_gap_weeks
        )

    assert [f.field for f in check_vitals(systolic_mm_hg=190)] == ["systolic_mm_hg"]
    data["vitals"]["systolic_mm_hg"]["abnormal_above"]["value"] = 200.0
    assert check_vitals(systolic_mm_hg=190, protocol=protocol()) == []
    with pytest.raises(OutOfRange):
        check_vitals(spo2_percent=101)
    data["vitals"]["spo2_percent"]["possible"]["value"] = [0.0, 105.0]
    assert check_vitals(spo2_percent=101, protocol=protocol()) is not None


def test_vital_sign_times(chair: Chair) -> None:
    """Requirement 35: vital signs in the future beyond 2 minutes of skew, or before the start,
    are refused with 400; within the skew, and exactly at the start, accepted."""
    nurse, now = chair.users["nurse"], chair.now
    for wrong in (now + dt.timedelta(minutes=3), chair.start - dt.timedelta(seconds=1)):
        with pytest.raises(InvalidTime) as caught:
            infusions.record_vitals(
                nurse, chair.order.pk, wrong, infusions.VitalsInput(**NORMAL), now=now
            )
        assert caught.value.http_status == 400
    for right in (now + dt.timedelta(minutes=1), chair.start):
        infusions.record_vitals(
            nurse, chair.order.pk, right, infusions.VitalsInput(**NORMAL), now=now
        )
    assert Vitals.objects.count() == 2


def test_rate_times(chair: Chair) -> None:
    """Requirement 35: a rate change before the start or before the pump's last change is
    refused (400); exactly at the start is accepted."""
    with pytest.raises(InvalidTime):
        chair.rate(-1, 20)
    chair.rate(0, 20)  # exactly the start: a decrease, accepted
    chair.rate(10, 15)
    with pytest.raises(InvalidTime, match="last change"):
        chair.rate(5, 12)


# --- the state the run sheet reads ------------------------------------------------------------


def test_the_session_state_says_what_is_allowed(chair: Chair) -> None:
    """The run sheet's hints: the state, the session version, the label maximum and the plan's
    ceiling, from when the rate may increase."""
    state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
    assert state.state == "running"
    assert state.version == chair.version()
    assert (state.label_max_ml_per_h, state.ceiling_ml_per_h) == (408, 408)
    assert state.restart_max_ml_per_h is None
    assert state.may_increase is not None
    assert state.may_increase.since == chair.at(30)  # the whole step (issue 14 item 7)
    assert state.may_increase.vitals_within_minutes == 15
