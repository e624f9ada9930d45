"""The patient page lists the infusions a page at a time (issue 8, scale): a long history shows
the count and a link to the next page; every infusion is on exactly one page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import Order
from ivig.records.services import courses
from ivig.web.views.patients import INFUSIONS_PER_PAGE

TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = TODAY + dt.timedelta(days=5)


def _course(users: dict[str, Any], patient: Any, start: dt.date, count: int) -> Any:
    data = courses.CourseInput(
        indication="lems",
        phase="maintenance",
        product="privigen-us",
        place="hospital",
        start=start,
        dose_g_per_kg=0.4,
        every_weeks=2,
        count=count,
    )
    return courses.prescribe(users["prescriber"], patient.pk, data)


def _runsheets(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/orders/(\d+)/[^"]*">Run sheet<', html)]


def test_a_long_history_is_paginated_with_the_count(
    users: dict[str, Any], patient: Any, client_for: Callable[[str | None], Client]
) -> None:
    older = _course(users, patient, START, 20)  # every 2 weeks: its last dose 266 days later
    newer = _course(users, patient, START + dt.timedelta(days=336), 12)
    total = Order.objects.filter(patient=patient).count()
    assert total == 32 > INFUSIONS_PER_PAGE
    prescriber = client_for("prescriber")

    first = prescriber.get(f"/patients/{patient.pk}/").content.decode()
    assert f"Infusions 1\N{EN DASH}{INFUSIONS_PER_PAGE} of {total} (page 1 of 2)." in first
    assert '<a href="?page=2#timeline" rel="next">Next page</a>' in first
    assert "Previous page" not in first
    second = prescriber.get(f"/patients/{patient.pk}/?page=2").content.decode()
    shown = f"{INFUSIONS_PER_PAGE + 1}\N{EN DASH}{total} of {total}"
    assert f"Infusions {shown} (page 2 of 2)." in second
    assert '<a href="?page=1#timeline" rel="prev">Previous page</a>' in second
    assert "Next page" not in second

    # the newest course first; each infusion on one page only, in date order within a course
    on_first, on_second = _runsheets(first), _runsheets(second)
    assert len(on_first) == INFUSIONS_PER_PAGE
    expected = [o.pk for o in newer.orders.order_by("date")] + [
        o.pk for o in older.orders.order_by("date")
    ]
    assert on_first + on_second == expected
    assert first.index(newer.start.isoformat()) < first.index(older.start.isoformat())
    # a page number out of range shows the last page; a word, the first
    assert _runsheets(prescriber.get(f"/patients/{patient.pk}/?page=9").content.decode()) == (
        on_second
    )
    assert _runsheets(prescriber.get(f"/patients/{patient.pk}/?page=x").content.decode()) == (
        on_first
    )


def test_a_short_history_has_no_page_links(
    dispensed: Any, patient: Any, client_for: Callable[[str | None], Client]
) -> None:
    page = client_for("nurse").get(f"/patients/{patient.pk}/").content.decode()
    assert len(_runsheets(page)) == 2  # the 2-day induction
    assert "Pages of infusions" not in page
    assert "Next page" not in page


def test_the_search_shows_each_next_infusion_by_a_fixed_number_of_queries(
    users: dict[str, Any], dispensed: Any, client_for: Callable[[str | None], Client]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ivig.records.services.patients import PatientInput, create_patient

    data = PatientInput("MRN0002", "Lamb", "Alice", dt.date(1970, 1, 1), "female", 165)
    create_patient(users["prescriber"], data, today=TODAY)
    nurse = client_for("nurse")
    with CaptureQueriesContext(connection) as one:
        nurse.get("/patients/?q=lambert", headers={"HX-Request": "true"})
    with CaptureQueriesContext(connection) as two:
        html = nurse.get("/patients/?q=lamb", headers={"HX-Request": "true"}).content.decode()
    assert len(one.captured_queries) == len(two.captured_queries)  # not one per patient
    rows = re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1], re.S)
    assert len(rows) == 2
    assert "Lamb, Alice" in rows[0]
    assert "none planned" in rows[0]
    # day 1 of the induction, dispensed today (day 2 is planned for tomorrow)
    assert "Lambert, Edward" in rows[1]
    assert f"{dispensed.date:%Y-%m-%d} · 85 g" in rows[1]
    assert '<span class="badge">dispensed</span>' in rows[1]
