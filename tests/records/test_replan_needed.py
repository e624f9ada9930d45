"""A change of the record that changes a planned dose marks the course "re-plan needed" (issue 16
item 3): Peter's weight corrected from 90.5 to 70.5 kg no longer doses on 80.1 kg adjusted.

Worked example (Devine IBW, the adjusted weight IBW + 0.4 x (actual - IBW); the packaged
weight rule): a man of 178 cm has an IBW of 50 + 2.3 x (178 / 2.54 - 60) = 73.2 kg; at 90.5 kg
(BMI 28.6, over 120 % of the IBW) he doses on 73.2 + 0.4 x 17.3 = 80.1 kg adjusted; at 70.5 kg,
under his IBW, on his actual 70.5 kg. A LEMS induction of 2 g/kg over 5 days is 0.4 g/kg a day:
32.04 g, rounded as a course to whole vials (core.dosing), 30 g a dose then; 28.2 g, 25 g
now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from ivig.errors import Conflict, InvalidInput
from ivig.records.models import AuditEvent, Course, Order, OrderStatus
from ivig.records.services import corrections, courses, orders, patients, renal
from ivig.records.services.change_reasons import REASONS, reason_text
from ivig.records.services.replan_needed import refuse_if_needed

pytestmark = pytest.mark.django_db


def _induction(start: dt.date) -> courses.CourseInput:
    return courses.CourseInput(
        indication="lems", phase="induction", product="privigen-us", place="hospital",
        start=start, total_g_per_kg=2.0, days=5,
    )  # fmt: skip


@pytest.fixture
def peter(make_patient: Callable[..., Any]) -> Any:
    return make_patient(178, 90.5, mrn="MRN0016", family_name="Hale", given_name="Peter")


@pytest.fixture
def course(users: dict[str, Any], peter: Any, today: dt.date) -> Course:
    return courses.prescribe(users["prescriber"], peter.pk, _induction(today + dt.timedelta(1)))


def _fresh(course: Course) -> Course:
    return Course.objects.get(pk=course.pk)


def test_peter_doses_on_80_1_kg_adjusted_before_the_correction(course: Course) -> None:
    assert course.dosing_weight_kg == pytest.approx(80.1)
    assert course.weight_basis == "adjusted"
    assert course.replan_needed == {}


def test_a_corrected_weight_marks_the_course_with_the_difference(
    users: dict[str, Any], peter: Any, course: Course
) -> None:
    weight = peter.weights.get()
    corrections.correct(users["nurse"], "weight", weight.pk, {"weight_kg": 70.5}, "typed 90.5")
    mark = _fresh(course).replan_needed
    assert mark["why"] == "weight corrected from 90.5 kg to 70.5 kg"
    assert mark["old_weight"] == {"kg": pytest.approx(80.1), "basis": "adjusted"}
    assert mark["new_weight"] == {"kg": pytest.approx(70.5), "basis": "actual"}
    assert [r["sequence"] for r in mark["orders"]] == [1, 2, 3, 4, 5]
    first = mark["orders"][0]
    assert (first["old_g"], first["new_g"]) == ("30", "25")
    event = AuditEvent.objects.filter(action="replan-needed", entity="course").get()
    assert event.entity_id == str(course.pk)
    assert event.reason == mark["why"]


def test_a_marked_order_is_not_verified(
    users: dict[str, Any], peter: Any, course: Course, today: dt.date
) -> None:
    patients.add_weight(users["nurse"], peter.pk, today, 85, today=today)
    order = _fresh(course).orders.order_by("sequence").first()
    assert order is not None
    with pytest.raises(Conflict) as refused:
        orders.verify(users["pharmacist"], order.pk, order.version)
    assert refused.value.field == "replan"
    assert "re-plan needed: weight recorded: 85 kg" in refused.value.message
    assert "a prescriber must re-plan the course first" in refused.value.message
    assert Order.objects.get(pk=order.pk).status == OrderStatus.planned


def test_a_verified_order_marked_afterwards_is_not_dispensed(
    users: dict[str, Any], peter: Any, course: Course, today: dt.date
) -> None:
    """Verified on 30 g, then a weight of 85 kg: its vials would be made up on the old
    numbers, so dispensing waits for the re-plan (nothing recorded)."""
    order = course.orders.order_by("sequence").first()
    assert order is not None
    order = orders.verify(users["pharmacist"], order.pk, order.version)
    patients.add_weight(users["nurse"], peter.pk, today, 85, today=today)
    with pytest.raises(Conflict) as refused:
        orders.dispense(users["pharmacist"], order.pk, order.version, [])
    assert refused.value.field == "replan"
    assert "It cannot be dispensed: a prescriber must re-plan" in refused.value.message
    assert Order.objects.get(pk=order.pk).status == OrderStatus.verified
    assert not Order.objects.get(pk=order.pk).lots.exists()


def test_the_re_plan_clears_the_mark_and_the_order_verifies(
    users: dict[str, Any], peter: Any, course: Course
) -> None:
    weight = peter.weights.get()
    corrections.correct(users["nurse"], "weight", weight.pk, {"weight_kg": 70.5}, "typed 90.5")
    course = _fresh(course)
    done = courses.replan(users["prescriber"], course.pk, course.version, "weight corrected")
    assert _fresh(course).replan_needed == {}
    assert _fresh(course).dosing_weight_kg == pytest.approx(70.5)
    assert len(done.replanned) == 5
    order = Order.objects.get(pk=done.replanned[0].pk)
    assert order.dose_g == 25
    verified = orders.verify(users["pharmacist"], order.pk, order.version)
    assert verified.status == OrderStatus.verified


def test_the_same_plan_again_clears_the_mark(
    users: dict[str, Any], peter: Any, course: Course
) -> None:
    weight = peter.weights.get()
    wrong = corrections.correct(users["nurse"], "weight", weight.pk, {"weight_kg": 70.5}, "typo")
    assert _fresh(course).replan_needed
    corrections.correct(users["nurse"], "weight", wrong.pk, {"weight_kg": 90.5}, "it was right")
    assert _fresh(course).replan_needed == {}
    cleared = AuditEvent.objects.get(action="replan-not-needed")
    assert cleared.reason.endswith("the plan is the same again")


def test_a_change_that_changes_no_dose_marks_nothing(
    users: dict[str, Any], peter: Any, course: Course, today: dt.date
) -> None:
    patients.add_weight(users["nurse"], peter.pk, today, 90.5, today=today)
    renal.add_creatinine(users["nurse"], peter.pk, today, 0.9, "mg/dL", today=today)
    assert _fresh(course).replan_needed == {}
    assert not AuditEvent.objects.filter(action__startswith="replan-").exists()


def test_the_height_changes_the_ideal_weight_and_marks_the_course(
    users: dict[str, Any], peter: Any, course: Course, today: dt.date
) -> None:
    data = patients.PatientInput(
        mrn=peter.mrn, family_name=peter.family_name, given_name=peter.given_name,
        date_of_birth=peter.date_of_birth, sex=peter.sex, height_cm=165,
    )  # fmt: skip
    patients.update_patient(users["prescriber"], peter.pk, peter.version, data, today=today)
    mark = _fresh(course).replan_needed
    assert mark["why"] == "height changed from 178 cm to 165 cm"
    assert mark["new_weight"]["kg"] < mark["old_weight"]["kg"]


def test_a_risk_that_slows_the_ramp_marks_the_course(
    users: dict[str, Any], peter: Any, course: Course, today: dt.date
) -> None:
    """Diabetes is a renal risk: the plan's ceiling falls below the label's maximum, so the
    rate steps change though the dose does not."""
    data = patients.PatientInput(
        mrn=peter.mrn, family_name=peter.family_name, given_name=peter.given_name,
        date_of_birth=peter.date_of_birth, sex=peter.sex, height_cm=peter.height_cm,
        risk_codes=("diabetes",),
    )  # fmt: skip
    patients.update_patient(users["prescriber"], peter.pk, peter.version, data, today=today)
    mark = _fresh(course).replan_needed
    assert mark["why"] == "risks changed from none to diabetes"
    first = mark["orders"][0]
    assert first["old_g"] == first["new_g"]
    assert any(d.startswith("rate steps") for d in first["differences"])


def test_a_weight_awaiting_confirmation_marks_only_once_confirmed(
    users: dict[str, Any], peter: Any, course: Course, today: dt.date, now: dt.datetime
) -> None:
    record = patients.add_weight(users["nurse"], peter.pk, today, 70.5, today=today)
    assert record.awaiting_confirmation
    assert _fresh(course).replan_needed == {}
    patients.confirm_weight(users["prescriber"], record.pk, "re-weighed on the ward", now=now)
    assert _fresh(course).replan_needed["why"] == f"weight confirmed: 70.5 kg on {today}"


def test_a_dispensed_order_stays_marked_after_the_re_plan_and_is_not_started(
    users: dict[str, Any],
    patient: Any,
    dispensed: Order,
    today: dt.date,
    start_chair: Callable[..., Any],
    chair_now: dt.datetime,
) -> None:
    patients.add_weight(users["nurse"], patient.pk, today, 94, today=today)  # 88 kg adjusted
    course = _fresh(dispensed.course)
    assert [r["id"] for r in course.replan_needed["orders"]] == [
        o.pk for o in course.orders.order_by("sequence")
    ]
    courses.replan(users["prescriber"], course.pk, course.version, "weight 94 kg")
    mark = _fresh(course).replan_needed
    assert [r["id"] for r in mark["orders"]] == [dispensed.pk]
    with pytest.raises(Conflict, match="dispensed on the old numbers: defer or cancel it"):
        start_chair(dispensed, chair_now - dt.timedelta(hours=1))
    order = Order.objects.get(pk=dispensed.pk)
    orders.defer(users["nurse"], order.pk, order.version, reason_text("fever", "38.4 °C"))
    assert _fresh(course).replan_needed == {}


def test_cancelling_the_course_clears_the_mark(
    users: dict[str, Any], peter: Any, course: Course, today: dt.date
) -> None:
    patients.add_weight(users["nurse"], peter.pk, today, 85, today=today)
    course = _fresh(course)
    courses.cancel_course(users["prescriber"], course.pk, course.version, "Prescriber decision")
    assert _fresh(course).replan_needed == {}
    assert set(course.orders.values_list("status", flat=True)) == {OrderStatus.cancelled}


def test_refuse_if_needed_passes_an_order_not_marked(course: Course) -> None:
    order = course.orders.order_by("sequence").first()
    assert order is not None
    refuse_if_needed(order, "verified")  # nothing raised


def test_a_coded_reason_is_stored_in_words_with_the_note() -> None:
    assert reason_text("fever", " 38.4  °C ") == "Infection or fever: 38.4 °C"
    assert reason_text("supply", "") == "Supply"
    assert "other" in REASONS
    with pytest.raises(InvalidInput) as unknown:
        reason_text("flu", "")
    assert unknown.value.field == "reason_code"
    with pytest.raises(InvalidInput) as bare:
        reason_text("other", "  ")
    assert bare.value.field == "note"


def test_a_re_plan_counts_the_grams_given_of_a_dose_stopped_short(
    users: dict[str, Any], make_patient: Callable[..., Any], today: dt.date
) -> None:
    """Day 1 of a 2-day induction stopped after 30 of 85 g (issue 16 item 4), then the weight
    corrected from 100 to 80 kg: day 2 is re-planned at 75 g (77.0 kg adjusted). Counted at its
    full 85 g, day 1 would take the course to 160 g / 77 kg = 2.08 g/kg, over the 2 g/kg cap;
    at the 30 g given it is 105 g, 1.36 g/kg: the re-plan stands."""
    from ivig.records.models import InfusionSession

    person = make_patient(180, 100)
    course = courses.prescribe(
        users["prescriber"],
        person.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today, days=2),
    )  # fmt: skip
    day1, day2 = course.orders.order_by("sequence")
    assert (day1.dose_g, day2.dose_g) == (85, 85)
    Order.objects.filter(pk=day1.pk).update(status=OrderStatus.completed)
    InfusionSession.objects.create(order=day1, state="closed", given_g=30, volume_given_ml=300)
    weight = person.weights.get()
    corrections.correct(users["nurse"], "weight", weight.pk, {"weight_kg": 80}, "typed 100")
    course = _fresh(course)
    assert course.replan_needed["why"] == "weight corrected from 100 kg to 80 kg"
    done = courses.replan(users["prescriber"], course.pk, course.version, "weight corrected")
    assert [o.dose_g for o in done.replanned] == [75]
    assert _fresh(course).replan_needed == {}
