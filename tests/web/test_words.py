"""The pages' words (issue 16 item 21): names instead of codes, "maintenance, dose 1 of 3"
wherever an order is named, an infusion that ended today is not "next", the app's words for a
missing value, and the app's own 404 page (the API's stays JSON)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import InfusionSession, Order, OrderStatus
from ivig.records.services import courses, outcomes
from ivig.web.renderer import DJANGO_REQUIRED, required_words


def text(response: Any) -> str:
    """The page's text, tags dropped and white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def maintenance(users: dict[str, Any], patient: Any, today: dt.date) -> Any:
    """A maintenance course of 3 doses, 4 weeks apart, from in 5 weeks."""
    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="maintenance", product="privigen-us", place="hospital",
            start=today + dt.timedelta(weeks=5), dose_g_per_kg=1, every_weeks=4, count=3,
        ),
    )  # fmt: skip


def test_the_patient_page_names_the_product_and_each_dose(
    client_for: Callable[[str | None], Client], dispensed: Order, maintenance: Any
) -> None:
    page = text(client_for("nurse").get(f"/patients/{dispensed.patient_id}/"))
    assert "LEMS induction, Privigen (US) (hospital)" in page
    assert "LEMS maintenance, Privigen (US) (hospital)" in page
    assert "privigen-us" not in page
    for name in ("induction, dose 1 of 2", "induction, dose 2 of 2"):
        assert name in page
    for n in (1, 2, 3):
        assert f"maintenance, dose {n} of 3" in page


def test_the_run_sheet_header_names_the_dose(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    page = text(client_for("nurse").get(f"/orders/{dispensed.pk}/runsheet/"))
    assert "induction, dose 1 of 2" in page
    assert "day 1 of 2" not in page


def test_the_pharmacy_and_the_chairs_name_the_dose(
    client_for: Callable[[str | None], Client], dispensed: Order, maintenance: Any
) -> None:
    queue = text(client_for("pharmacist").get("/pharmacy/"))
    assert "induction, dose 2 of 2" in queue  # day 2, to verify
    assert "maintenance, dose 1 of 3" in queue
    second = dispensed.course.orders.get(sequence=2)
    verify = text(client_for("pharmacist").get(f"/pharmacy/orders/{second.pk}/verify/"))
    assert "LEMS induction, dose 2 of 2" in verify
    chairs = text(client_for("nurse").get("/chairs/"))
    assert "induction, dose 1 of 2" in chairs


def test_outcome_measures_are_named_in_words(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    outcomes.record_outcome(users["nurse"], patient.pk, "3tug", 30, today, today=today)
    page = client_for("nurse").get(f"/patients/{patient.pk}/").content.decode()
    assert "<td>Triple timed up-and-go (3TUG)</td>" in page
    assert "<td>3tug</td>" not in page


def _ended_today(order: Order) -> None:
    """The pump stopped an hour ago; the observation runs (the order is still in progress)."""
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.in_progress)
    now = timezone.now()
    InfusionSession.objects.update_or_create(
        order=order,
        defaults={
            "state": "ended",
            "started_at": now - dt.timedelta(hours=4),
            "ended_at": now - dt.timedelta(hours=1),
        },
    )


def test_an_infusion_that_ended_today_is_not_next(
    client_for: Callable[[str | None], Client], dispensed: Order, me: Any
) -> None:
    tomorrow = dispensed.course.orders.get(sequence=2)
    listed = client_for("nurse").get("/patients/?q=Lambert").content.decode()
    assert dispensed.date.isoformat() in listed  # before it ends, today's is next
    _ended_today(dispensed)
    listed = client_for("nurse").get("/patients/?q=Lambert").content.decode()
    assert tomorrow.date.isoformat() in listed
    assert dispensed.date.isoformat() not in listed
    portal = Client()
    portal.force_login(me)
    mine = text(portal.get("/me/"))
    said = mine.split("Your next infusion", 1)[1]
    assert f"{tomorrow.date:%-d %B}" in said[:300]
    assert f"{dispensed.date:%-d %B}" not in said[:300]


def test_a_missing_value_is_said_in_the_apps_words(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    response = client_for("nurse").post(f"/patients/{patient.pk}/weights/", {})
    page = response.content.decode()
    assert DJANGO_REQUIRED not in page
    assert "Required: Weight (kg)." in page
    new = client_for("prescriber").post("/patients/new/", {})
    assert DJANGO_REQUIRED not in new.content.decode()
    assert "Enter the family name." in new.content.decode()  # the form's own words


def test_required_words() -> None:
    assert required_words("Weight (kg)") == "Required: Weight (kg)."
    assert required_words("Unit:") == "Required: Unit."


def test_a_page_not_found_is_the_apps_page(
    client_for: Callable[[str | None], Client], me: Any
) -> None:
    staff = client_for("nurse").get("/no/such/page/")
    assert staff.status_code == 404
    page = staff.content.decode()
    assert "<h1>Page not found</h1>" in page
    assert 'aria-label="Main"' in page  # in the pages' layout, with the menu
    assert 'href="/patients/"' in page
    patient = Client()
    patient.force_login(me)
    theirs = patient.get("/patients/")  # a staff page: not there for a patient
    assert theirs.status_code == 404
    assert "<h1>Page not found</h1>" in theirs.content.decode()
    assert 'aria-label="My pages"' in theirs.content.decode()  # the patient's layout
    anonymous = Client().get("/no/such/page/")
    assert anonymous.status_code == 404
    assert "the sign-in page" in text(anonymous)


def test_the_api_keeps_its_json_404(client_for: Callable[[str | None], Client]) -> None:
    response = client_for("nurse").get("/api/no/such/route")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_risks_are_named_in_words(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    from ivig.records.models import Patient

    Patient.objects.filter(pk=dispensed.patient_id).update(risk_codes=["diabetes", "egfr-below-60"])
    for url in (f"/patients/{dispensed.patient_id}/", f"/orders/{dispensed.pk}/runsheet/"):
        page = client_for("nurse").get(url).content.decode()
        assert '<span class="badge">Diabetes mellitus</span>' in page, url
        assert '<span class="badge">eGFR below 60 mL/min/1.73 m2</span>' in page, url
        assert '<span class="badge">diabetes</span>' not in page, url
