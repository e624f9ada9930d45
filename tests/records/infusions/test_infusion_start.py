"""At the chair, the start (issue 5; requirements 65, 16, 35, 9): the vials' visual inspection,
the administering nurse, the double check, times within the order's day, and a backdated or
late start (issue 14 item 7)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from at_the_chair import HOURS_2, NORMAL, PASSWORD, WELL, baseline
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from ivig.errors import Conflict, Forbidden, InvalidInput, InvalidTime
from ivig.records.models import AuditEvent, Order, RateChange
from ivig.records.services import accounts, infusions
from ivig.records.services.accounts import create_user


def test_vials_that_fail_the_visual_inspection_are_not_used(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    """Requirement 65: the visual inspection is a required field at the start; vials that fail
    it are refused, and a start records the inspection and its notes."""
    nurse = users["nurse"]
    infusions.pre_check(nurse, dispensed.pk, WELL, now=chair_now - HOURS_2)
    baseline(nurse, dispensed, chair_now - HOURS_2)
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
    baseline(users["nurse"], dispensed, chair_now - HOURS_2)
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
    baseline(users["nurse"], dispensed, chair_now - HOURS_2)
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
        baseline(users["nurse"], dispensed, midnight)
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
    baseline(nurse, dispensed, _local(day, 5, 50))
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
    baseline(users["nurse"], dispensed, _local(day, *checked))
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
    baseline(users["nurse"], dispensed, at)
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
