"""The pharmacy pages of issue 16: what the pharmacist verifies beside the arithmetic (item
10), dispensing without a default product, every row's problem at once and the scanned code
(item 12), and a course's doses verified and dispensed together (item 15)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ivig.core.barcode import GS
from ivig.records.models import AuditEvent, Course, DayBeforeCheck, Eligibility, Lot, Order, Patient
from ivig.records.services import courses, orders

GTIN = "09506000134352"  # GS1's example GTIN (check digit 2)


@pytest.fixture
def course(users: dict[str, Any], patient: Patient, today: dt.date) -> Course:
    """A 5-day LEMS induction from 3 days after the suite's date: 30 g, then 4 x 35 g."""
    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today + dt.timedelta(days=3), days=5),
    )  # fmt: skip


def _first(course: Course) -> Order:
    first = course.orders.order_by("date").first()
    assert first is not None
    return first


def _verify_post(course: Course) -> dict[str, Any]:
    data: dict[str, Any] = {"order": []}
    for o in course.orders.order_by("date"):
        data["order"].append(o.pk)
        data.update({f"version-{o.pk}": o.version, f"dose-{o.pk}": repr(o.dose_g),
                     f"volume-{o.pk}": repr(o.volume_ml)})  # fmt: skip
    return data


def _verified(users: dict[str, Any], course: Course) -> Course:
    shown = [orders.Shown(o.pk, o.version, o.dose_g, o.volume_ml) for o in course.orders.all()]
    orders.verify_course(users["pharmacist"], course.pk, shown)
    return course


def test_the_verification_page_shows_allergies_iga_risks_findings_and_answers(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Patient,
    course: Course,
    now: dt.datetime,
) -> None:
    Patient.objects.filter(pk=patient.pk).update(
        allergies="penicillin (rash)", iga_status="deficient", risk_codes=["diabetes"]
    )
    Eligibility.objects.create(
        patient=patient, indication="lems", diagnosed_by_neurologist=True,
        answers={"vgcc_antibodies": "positive"}, alternative_therapy_failed=True,
        review_date=now.date(), recorded_by=users["prescriber"],
    )  # fmt: skip
    order = _first(course)
    DayBeforeCheck.objects.create(
        patient=patient, order=order, answers={"fever": True, "new_medicines": False},
        flags=["fever"], needs_review=True, submitted_by=users["prescriber"], submitted_at=now,
    )  # fmt: skip
    html = client_for("pharmacist").get(f"/pharmacy/orders/{order.pk}/verify/").content.decode()
    assert "penicillin (rash)" in html
    assert re.search(r"IgA status</dt><dd><strong class=\"error\">Deficient", html)
    assert "Diabetes mellitus" in html
    assert "Screening findings of the plan" in html
    assert "Antibodies to voltage-gated calcium channels (VGCC) <strong>positive" in html
    assert "Do you have a fever, or feel hot and shivery? <strong>yes" in html
    assert "needs a review before starting" in html


def test_the_verification_page_says_when_nothing_is_recorded(
    client_for: Callable[[str | None], Client], course: Course
) -> None:
    html = client_for("pharmacist").get(f"/pharmacy/orders/{_first(course).pk}/verify/")
    text = html.content.decode()
    assert "Allergies</dt><dd>none recorded" in text
    assert "No eligibility recorded for LEMS" in text
    assert "has not answered the day-before check" in text


def test_the_queue_offers_the_whole_course(
    client_for: Callable[[str | None], Client], course: Course
) -> None:
    html = client_for("pharmacist").get("/pharmacy/").content.decode()
    assert html.count("Verify all 5 doses of this course") == 1
    assert f'href="/pharmacy/courses/{course.pk}/verify/"' in html


def test_verify_all_five_doses_in_one_action(
    client_for: Callable[[str | None], Client], course: Course
) -> None:
    pharmacist = client_for("pharmacist")
    page = pharmacist.get(f"/pharmacy/courses/{course.pk}/verify/").content.decode()
    assert "Verify all 5 doses of this course" in page
    assert page.count("the server's plan agrees") == 5
    assert "<strong>30 g</strong>" in page  # each order's numbers
    assert page.count("<strong>35 g</strong>") == 4
    done = pharmacist.post(f"/pharmacy/courses/{course.pk}/verify/", _verify_post(course))
    assert done.status_code == 302
    assert set(course.orders.values_list("status", flat=True)) == {"verified"}
    assert AuditEvent.objects.filter(entity="order", action="verified").count() == 5
    queue = pharmacist.get("/pharmacy/").content.decode()
    assert "Dispense all 5 doses of this course" in queue


def test_verify_course_refuses_numbers_not_the_orders(
    client_for: Callable[[str | None], Client], course: Course
) -> None:
    data = _verify_post(course)
    last = course.orders.order_by("date").last()
    assert last is not None
    data[f"dose-{last.pk}"] = "36"
    page = client_for("pharmacist").post(f"/pharmacy/courses/{course.pk}/verify/", data)
    assert page.status_code == 409
    assert f"{last.date.isoformat()} (order {last.pk}): your screen showed 36 g" in (
        page.content.decode()
    )
    assert not course.orders.filter(status="verified").exists()
    missing = client_for("pharmacist").post(f"/pharmacy/courses/{course.pk}/verify/", {})
    assert missing.status_code == 400


def _course_lots(course: Course, today: dt.date, **changes: str) -> dict[str, Any]:
    expiry = str(today + dt.timedelta(days=400))
    data: dict[str, Any] = {
        "order": [],
        "lots-TOTAL_FORMS": 3,
        "lots-INITIAL_FORMS": 3,
        "lots-MIN_NUM_FORMS": 0,
        "lots-MAX_NUM_FORMS": 12,
    }
    for o in course.orders.order_by("date"):
        data["order"].append(o.pk)
        data[f"version-{o.pk}"] = o.version
    for i, size in enumerate((20, 10, 5)):
        data.update({f"lots-{i}-vial_size_g": str(size), f"lots-{i}-lot_number": f"P{size}",
                     f"lots-{i}-expiry": expiry, f"lots-{i}-product_id": "privigen-us",
                     f"lots-{i}-scan": ""})  # fmt: skip
    return {**data, **changes}


def test_dispense_all_five_doses_from_one_lot_list(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    course: Course,
    today: dt.date,
) -> None:
    _verified(users, course)
    pharmacist = client_for("pharmacist")
    page = pharmacist.get(f"/pharmacy/courses/{course.pk}/dispense/").content.decode()
    assert "Dispense all 5 doses of this course" in page
    # one row per vial size, and a spare row for a second lot of a size (smallfix item 4)
    assert page.count('name="lots-TOTAL_FORMS" value="4"') == 1
    assert "One size from two lots:" in page
    assert page.count('class="lot-row spare-row"') == 1
    assert "Lot 4: a second lot of a size (optional)" in page
    assert "a lot until it runs out" in page
    done = pharmacist.post(f"/pharmacy/courses/{course.pk}/dispense/", _course_lots(course, today))
    assert done.status_code == 302
    assert set(course.orders.values_list("status", flat=True)) == {"dispensed"}
    assert Lot.objects.filter(order__course=course).count() == 2 + 4 * 3


def test_dispense_course_shows_every_problem_and_saves_nothing(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    course: Course,
    today: dt.date,
) -> None:
    _verified(users, course)
    early = str(today + dt.timedelta(days=4))  # before days 3-5 of the course
    data = _course_lots(course, today, **{"lots-0-product_id": "octagam-5", "lots-2-expiry": early})
    page = client_for("pharmacist").post(f"/pharmacy/courses/{course.pk}/dispense/", data)
    html = page.content.decode()
    assert 'id="id_lots-0-product_id_error"' in html
    assert 'id="id_lots-2-expiry_error"' in html
    assert html.count("concentration mismatch") >= 5  # each dose names it
    assert not course.orders.filter(status="dispensed").exists()


def test_no_default_product_and_every_row_error_at_once(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    course: Course,
    today: dt.date,
) -> None:
    order = _first(_verified(users, course))
    pharmacist = client_for("pharmacist")
    url = f"/pharmacy/orders/{order.pk}/dispense/"
    form = pharmacist.get(url).content.decode()
    assert '<option value="" selected>Choose the product on the label</option>' in form
    expiry = str(today + dt.timedelta(days=400))
    data = {
        "version": order.version,
        "lots-TOTAL_FORMS": 2, "lots-INITIAL_FORMS": 2,
        "lots-MIN_NUM_FORMS": 0, "lots-MAX_NUM_FORMS": 12,
        "lots-0-vial_size_g": "20", "lots-0-lot_number": "P20", "lots-0-count": "1",
        "lots-0-expiry": str(today), "lots-0-product_id": "privigen-us",
        "lots-1-vial_size_g": "10", "lots-1-lot_number": "P10", "lots-1-count": "1",
        "lots-1-expiry": expiry, "lots-1-product_id": "octagam-5",
    }  # fmt: skip
    html = pharmacist.post(url, data).content.decode()
    assert 'id="id_lots-0-expiry_error"' in html  # expired: row 1
    assert 'id="id_lots-1-product_id_error"' in html  # another product: row 2, at once
    unchosen = pharmacist.post(url, {**data, "lots-1-product_id": ""}).content.decode()
    assert 'id="id_lots-1-product_id_error"' in unchosen
    assert "Choose the product printed on the vial label" in unchosen
    assert order.lots.count() == 0


def test_a_scanned_code_fills_the_lot_and_expiry(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    course: Course,
    today: dt.date,
) -> None:
    order = _first(_verified(users, course))
    url = f"/pharmacy/orders/{order.pk}/dispense/"
    form = client_for("pharmacist").get(url).content.decode()
    assert "data-gs1-scan" in form
    assert "web/scan.js" in form
    data = {
        "version": order.version,
        "lots-TOTAL_FORMS": 2, "lots-INITIAL_FORMS": 2,
        "lots-MIN_NUM_FORMS": 0, "lots-MAX_NUM_FORMS": 12,
        "lots-0-vial_size_g": "20", "lots-0-count": "1", "lots-0-product_id": "privigen-us",
        "lots-0-scan": f"]d201{GTIN}17291200" + "10LOT-A1",
        "lots-1-vial_size_g": "10", "lots-1-count": "1", "lots-1-product_id": "privigen-us",
        "lots-1-scan": f"]C110LOT-B2{GS}01{GTIN}17290615",
    }  # fmt: skip
    bad = client_for("pharmacist").post(url, {**data, "lots-1-scan": "0112345"})
    assert 'id="id_lots-1-scan_error"' in bad.content.decode()
    done = client_for("pharmacist").post(url, data)
    assert done.status_code == 302
    lots = {lot.lot_number: lot.expiry for lot in order.lots.all()}
    assert lots == {"LOT-A1": dt.date(2029, 12, 31), "LOT-B2": dt.date(2029, 6, 15)}


def test_one_size_from_two_lots_on_the_page(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    course: Course,
    today: dt.date,
) -> None:
    """Smallfix item 4: the spare row holds a second 20 g lot; the first gives 2 vials (its
    count), the second the other 3; without the first's count, the row says what is missing."""
    _verified(users, course)
    pharmacist = client_for("pharmacist")
    url = f"/pharmacy/courses/{course.pk}/dispense/"
    expiry = str(today + dt.timedelta(days=400))
    spare = {"lots-3-vial_size_g": "20", "lots-3-lot_number": "Q20", "lots-3-expiry": expiry,
             "lots-3-product_id": "privigen-us", "lots-3-scan": ""}  # fmt: skip
    data = {**_course_lots(course, today), "lots-TOTAL_FORMS": 4, **spare}
    refused = pharmacist.post(url, data)
    assert refused.status_code == 200
    page = refused.content.decode()
    assert "lot 1: say how many 20 g vials it gives the course" in page
    assert page.index("has-error") < page.index('name="lots-1-lot_number"')  # on row 1
    assert set(course.orders.values_list("status", flat=True)) == {"verified"}
    done = pharmacist.post(url, {**data, "lots-0-count": "2"})
    assert done.status_code == 302
    twenties = [
        list(o.lots.filter(vial_size_g=20).values_list("lot_number", flat=True))
        for o in course.orders.order_by("date")
    ]
    assert twenties == [["P20"], ["P20"], ["Q20"], ["Q20"], ["Q20"]]
