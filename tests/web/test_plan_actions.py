"""Defer, cancel and re-plan in the pages (issue 16 item 1) and "re-plan needed" shown where the
dose is checked and given (item 3): the patient page, the run sheet, the pharmacist's
verification page and the re-plan page."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ivig.records.models import AuditEvent, Course, Order, OrderStatus
from ivig.records.services import corrections, courses, patients

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    """What the page says: tags dropped (each as a space), entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", response.content.decode())).split())


@pytest.fixture
def course(users: dict[str, Any], patient: Any, today: dt.date) -> Course:
    """A 2-day LEMS induction from tomorrow (85 g a day on 85.0 kg)."""
    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today + dt.timedelta(days=1), days=2,
        ),
    )  # fmt: skip


def _first(course: Course) -> Order:
    order = course.orders.order_by("sequence").first()
    assert order is not None
    return order


def test_the_patient_page_offers_each_role_its_buttons(
    client_for: Callable[[str | None], Client], patient: Any, course: Course
) -> None:
    order = _first(course)
    page = client_for("prescriber").get(f"/patients/{patient.pk}/").content.decode()
    assert f'href="/orders/{order.pk}/defer/"' in page
    assert f'href="/orders/{order.pk}/cancel/"' in page
    assert f'href="/courses/{course.pk}/replan/"' in page
    assert f'href="/courses/{course.pk}/cancel/"' in page
    nurse = client_for("nurse").get(f"/patients/{patient.pk}/").content.decode()
    assert f'href="/orders/{order.pk}/defer/"' in nurse
    assert f'href="/orders/{order.pk}/cancel/"' not in nurse
    assert f'href="/courses/{course.pk}/cancel/"' not in nurse
    pharmacist = client_for("pharmacist").get(f"/patients/{patient.pk}/").content.decode()
    assert "/defer/" not in pharmacist
    assert 'style="' not in page


def test_a_nurse_defers_a_dose_with_a_coded_reason_after_confirming(
    client_for: Callable[[str | None], Client], patient: Any, course: Course
) -> None:
    order = _first(course)
    nurse = client_for("nurse")
    confirm = nurse.get(f"/orders/{order.pk}/defer/")
    assert confirm.status_code == 200
    words = text(confirm)
    assert f"Defer dose 1 of {order.date.isoformat()}" in words
    assert "85 g" in words
    assert "Infection or fever" in words
    assert Order.objects.get(pk=order.pk).status == OrderStatus.planned  # nothing yet

    blank = nurse.post(f"/orders/{order.pk}/defer/", {"version": order.version})
    assert 'id="id_reason_code_error"' in blank.content.decode()
    other = nurse.post(
        f"/orders/{order.pk}/defer/", {"version": order.version, "reason_code": "other"}
    )
    assert "say what the reason is" in text(other)

    done = nurse.post(
        f"/orders/{order.pk}/defer/",
        {"version": order.version, "reason_code": "fever", "note": "38.4 °C this morning"},
    )
    assert done.status_code == 302
    assert done["Location"] == f"/patients/{patient.pk}/#timeline"
    order.refresh_from_db()
    assert order.status == OrderStatus.deferred
    assert order.status_reason == "Infection or fever: 38.4 °C this morning"
    event = AuditEvent.objects.get(action="deferred", entity="order")
    assert event.reason == order.status_reason
    page = text(nurse.get(done["Location"]))
    assert f"Dose 1 of {order.date.isoformat()} deferred." in page
    assert f"dose 1 ({order.date.isoformat()}) deferred: Infection or fever: 38.4 °C" in page


def test_a_stale_confirmation_changes_nothing(
    client_for: Callable[[str | None], Client], course: Course
) -> None:
    order = _first(course)
    stale = client_for("prescriber").post(
        f"/orders/{order.pk}/cancel/", {"version": order.version + 5, "reason_code": "supply"}
    )
    assert stale.status_code == 409
    assert "has changed since you read it" in text(stale)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.planned


def test_only_a_prescriber_cancels(
    client_for: Callable[[str | None], Client], course: Course
) -> None:
    order = _first(course)
    for role in ("nurse", "pharmacist", "admin"):
        assert client_for(role).get(f"/orders/{order.pk}/cancel/").status_code == 403
        assert client_for(role).get(f"/courses/{course.pk}/cancel/").status_code == 403
    assert client_for("pharmacist").get(f"/orders/{order.pk}/defer/").status_code == 403


def test_a_prescriber_cancels_the_course_and_the_reason_is_in_its_history(
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    patient: Any,
    course: Course,
) -> None:
    from ivig.records.services import orders

    first = _first(course)
    orders.defer(users["nurse"], first.pk, first.version, "Patient unwell")
    course.refresh_from_db()
    prescriber = client_for("prescriber")
    confirm = text(prescriber.get(f"/courses/{course.pk}/cancel/"))
    assert "The dose this changes" in confirm  # dose 2: dose 1 is deferred already
    done = prescriber.post(
        f"/courses/{course.pk}/cancel/",
        {"version": course.version, "reason_code": "no-response", "note": "no change in QMG"},
    )
    assert done.status_code == 302
    statuses = dict(course.orders.values_list("sequence", "status"))
    assert statuses == {1: OrderStatus.deferred, 2: OrderStatus.cancelled}
    page = prescriber.get(f"/patients/{patient.pk}/")
    words = text(page)
    assert "Course cancelled: 1 dose not yet started cancelled." in words
    assert "course cancelled: No response: no change in QMG" in words
    assert f"dose 1 ({first.date.isoformat()}) deferred: Patient unwell" in words
    assert f'href="/courses/{course.pk}/cancel/"' not in page.content.decode()
    assert f'href="/orders/{first.pk}/cancel/"' not in page.content.decode()


def test_the_run_sheet_defers_this_dose_and_comes_back(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    sheet = nurse.get(f"/orders/{dispensed.pk}/runsheet/").content.decode()
    assert f'href="/orders/{dispensed.pk}/defer/?from=runsheet"' in sheet
    done = nurse.post(
        f"/orders/{dispensed.pk}/defer/?from=runsheet",
        {"version": dispensed.version, "reason_code": "unwell"},
    )
    assert done["Location"] == f"/orders/{dispensed.pk}/runsheet/"
    after = text(nurse.get(done["Location"]))
    assert "This order is deferred : Patient unwell." in after
    assert "/defer/" not in nurse.get(done["Location"]).content.decode()


def test_re_plan_needed_is_shown_on_every_page_with_the_difference(
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    patient: Any,
    course: Course,
) -> None:
    weight = patient.weights.get()
    corrections.correct(users["nurse"], "weight", weight.pk, {"weight_kg": 80}, "typed 86.4")
    order = _first(course)
    why = "Re-plan needed: weight corrected from 86.4 kg to 80 kg."
    weights = "Dosing weight 85.0 kg adjusted in the plan; now 80.0 kg actual."
    row = (
        f"Dose 1, {order.date.isoformat()}: 85 g (2 x 40 g + 1 x 5 g) in the plan, 80 g (2 x 40 g) "
        "now (volume 800 mL, not 850 mL; rate steps 24, 48, 96, 192, 384 mL/h, not 25.5, 51, 102, "
        "204, 408 mL/h)."
    )
    prescriber = client_for("prescriber")
    for url in (
        f"/patients/{patient.pk}/",
        f"/orders/{order.pk}/runsheet/",
        f"/pharmacy/orders/{order.pk}/verify/",
        f"/courses/{course.pk}/replan/",
    ):
        client = client_for("pharmacist") if "pharmacy" in url else prescriber
        words = text(client.get(url))
        assert why in words, url
        assert weights in words, url
        assert row in words, url
    verify = client_for("pharmacist").get(f"/pharmacy/orders/{order.pk}/verify/")
    assert "A prescriber must re-plan the course" in text(verify)


def test_re_plan_needed_is_on_the_print_view_and_the_pdf(
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    patient: Any,
    course: Course,
) -> None:
    """The printed run sheet says "re-plan needed" as the live one does (smallfix item 2),
    without a link on paper."""
    import io

    import pypdf

    weight = patient.weights.get()
    corrections.correct(users["nurse"], "weight", weight.pk, {"weight_kg": 80}, "typed 86.4")
    order = _first(course)
    why = "Re-plan needed: weight corrected from 86.4 kg to 80 kg."
    cannot = "This dose cannot be verified or started until the course is re-planned."
    nurse = client_for("nurse")
    printed = nurse.get(f"/orders/{order.pk}/runsheet/print/")
    words = text(printed)
    assert why in words
    assert cannot in words
    assert "A prescriber must re-plan the course." in words
    assert f"/courses/{course.pk}/replan/" not in printed.content.decode()
    pdf = nurse.get(f"/orders/{order.pk}/runsheet.pdf").content
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    in_pdf = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert why in in_pdf
    assert cannot in in_pdf
    other = course.orders.order_by("sequence").last()
    assert other is not None
    assert other.pk != order.pk
    assert "Re-plan needed" in text(nurse.get(f"/orders/{other.pk}/runsheet/print/"))


def test_no_re_plan_needed_on_a_clean_print_view(
    client_for: Callable[[str | None], Client], course: Course
) -> None:
    printed = text(client_for("nurse").get(f"/orders/{_first(course).pk}/runsheet/print/"))
    assert "Re-plan needed" not in printed


def test_the_pharmacist_cannot_verify_a_marked_order_on_the_page(
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    patient: Any,
    course: Course,
    today: dt.date,
) -> None:
    patients.add_weight(users["nurse"], patient.pk, today, 80, today=today)
    order = _first(course)
    posted = client_for("pharmacist").post(
        f"/pharmacy/orders/{order.pk}/verify/",
        {"version": order.version, "dose_g": order.dose_g, "volume_ml": order.volume_ml},
    )
    assert "re-plan needed: weight recorded: 80 kg" in text(posted)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.planned


def test_the_re_plan_page_takes_a_coded_reason_and_clears_the_mark(
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    patient: Any,
    course: Course,
    today: dt.date,
) -> None:
    patients.add_weight(users["nurse"], patient.pk, today, 80, today=today)
    course.refresh_from_db()
    prescriber = client_for("prescriber")
    done = prescriber.post(
        f"/courses/{course.pk}/replan/",
        {"version": course.version, "reason_code": "record-changed", "reason": "weighed today"},
    )
    assert done.status_code == 302
    course.refresh_from_db()
    assert course.replan_needed == {}
    assert course.dosing_weight_kg == 80
    event = AuditEvent.objects.get(action="replan", entity="course")
    assert event.reason == "Weight, height, risks or renal function changed: weighed today"
    page = text(prescriber.get(f"/patients/{patient.pk}/"))
    assert "Re-plan needed" not in page.replace("re-plan needed: weight", "")
    assert "course re-planned: Weight, height, risks or renal function changed" in page
    assert f"Course {course.pk} re-planned on the patient's record as it is now: 2 orders" in page
