"""Times across a daylight-saving change (requirement 9): stored in UTC, the clinical time apart
from the recording time, shown in the site's local time, and kept in the order they happened
even when the wall clock goes back; an ambiguous local time typed on a form is refused, never
guessed.

The day: Sunday 5 April 2026 in Sydney, when daylight saving ends: at 03:00 AEDT (UTC+11) the
clocks go back to 02:00 AEST (UTC+10), so 02:00-02:59 happens twice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from ivig.records.models import Order
from ivig.records.services import courses, infusions, orders
from ivig.web.views.runsheet.forms import RateForm

SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")
DAY = dt.date(2026, 4, 5)


def sydney(hour: int, minute: int, *, fold: int = 0) -> dt.datetime:
    return dt.datetime(2026, 4, 5, hour, minute, tzinfo=SYDNEY, fold=fold)


@pytest.fixture
def changeover_order(users: dict[str, Any], patient: Any, settings: Any) -> Iterator[Order]:
    """Day 1 of an induction on the changeover day, verified and dispensed, the site in
    Sydney."""
    settings.TIME_ZONE = "Australia/Sydney"
    timezone.activate(SYDNEY)
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=DAY, days=2,
        ),
    )  # fmt: skip
    order = course.orders.order_by("sequence").first()
    assert order is not None
    # prepared the evening before (a start is never before its verification or dispensing)
    order = orders.verify(users["pharmacist"], order.pk, order.version, now=sydney(0, 0))
    lots = [
        orders.LotInput(f"DST{i}", dt.date(2099, 1, 1), float(v["size_g"]), int(v["count"]))
        for i, v in enumerate(order.vials, start=1)
    ]
    order = orders.dispense(users["pharmacist"], order.pk, order.version, lots, now=sydney(0, 0))
    yield order
    timezone.deactivate()


def test_entries_across_the_clock_change_keep_their_real_order(
    users: dict[str, Any], changeover_order: Order, start_chair: Callable[..., Any]
) -> None:
    """Vital signs at 02:40 AEDT, then 30 minutes later at 02:10 AEST (the wall clock went
    back): stored in UTC, listed in the order they happened, each with its own offset."""
    now = sydney(12, 0)
    start_chair(changeover_order, sydney(1, 30), now=now)
    first = sydney(2, 40)  # 15:40 UTC on 4 April
    second = sydney(2, 10, fold=1)  # 16:10 UTC: later, though the wall clock reads earlier
    assert second.astimezone(dt.UTC) - first.astimezone(dt.UTC) == dt.timedelta(minutes=30)
    for at, pulse in ((second, 80), (first, 72)):  # recorded out of order
        infusions.record_vitals(
            users["nurse"], changeover_order.pk, at, infusions.VitalsInput(pulse_per_min=pulse),
            now=now,
        )  # fmt: skip
    state = infusions.session_state(changeover_order, now=now)
    listed = [
        (dt.datetime.fromisoformat(v["at"]), v["pulse_per_min"])
        for v in (state.session or {})["vitals"]
    ][1:]  # after the baseline taken before the start (issue 16 item 7)
    assert [pulse for _, pulse in listed] == [72, 80]
    assert [at.utcoffset() for at, _ in listed] == [dt.timedelta(0)] * 2  # stored in UTC
    assert [timezone.localtime(at).utcoffset() for at, _ in listed] == [
        dt.timedelta(hours=11),
        dt.timedelta(hours=10),
    ]
    # the clinical time is the nurse's; the recording time is the server's, kept apart
    row = Order.objects.get(pk=changeover_order.pk).session.vitals.get(pulse_per_min=80)
    assert row.at == second.astimezone(dt.UTC)
    assert row.recorded_at != row.at


def test_an_ambiguous_local_time_is_refused_on_the_form(changeover_order: Order) -> None:
    """02:10 on the changeover day happened twice: the form says so instead of guessing."""
    form = RateForm(
        data={"at": "2026-04-05T02:10", "rate_ml_per_h": "51", "session_version": "1"},
        now=sydney(12, 0),
    )
    assert not form.is_valid()
    assert "at" in form.errors
    assert "ambiguous" in str(form.errors["at"])
    clear = RateForm(
        data={"at": "2026-04-05T04:10", "rate_ml_per_h": "51", "session_version": "1"},
        now=sydney(12, 0),
    )
    assert clear.is_valid(), clear.errors
    assert clear.cleaned_data["at"] == sydney(4, 10)
