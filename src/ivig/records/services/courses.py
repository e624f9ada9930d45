"""Prescribing: a course is planned by the clinical core and saved with its dated orders.

The 28-day cap is checked against every recorded and planned dose of the patient in the same
transaction as the write, with the patient row locked (PostgreSQL ``FOR UPDATE``; SQLite's
IMMEDIATE transactions take the write lock at BEGIN), so two concurrent prescriptions can
never together break it: the second sees the first's orders and is refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction

from ivig.core.dosing import GivenDose
from ivig.core.limits import label_maximum_ml_per_h
from ivig.core.plan import Patient as PlanPatient
from ivig.core.plan import Phase, Plan, Regimen, plan_course
from ivig.core.weights import Sex, WeightBasis
from ivig.errors import Conflict, InvalidInput
from ivig.records import audit
from ivig.records.library import current_catalogue
from ivig.records.models import Course, Order, OrderStatus, Patient, Place, Role
from ivig.records.services.access import require
from ivig.records.services.common import get, locked, save_versioned
from ivig.records.services.patients import age_on, latest_weight, screening_codes

__all__ = ["CourseInput", "cancel_course", "counted_statuses", "plan_for", "prescribe"]

# Orders that count toward the cap: everything not cancelled or deferred.
COUNTED = (
    OrderStatus.planned,
    OrderStatus.verified,
    OrderStatus.dispensed,
    OrderStatus.in_progress,
    OrderStatus.completed,
)
GIVEN = (OrderStatus.in_progress, OrderStatus.completed)


def counted_statuses() -> tuple[str, ...]:
    return tuple(str(s) for s in COUNTED)


@dataclass(frozen=True, slots=True)
class CourseInput:
    """What the prescriber asks for (the plan's inputs, as stored with the course)."""

    indication: str
    phase: str
    product: str
    place: str
    start: dt.date
    total_g_per_kg: float | None = None
    days: int | None = None
    dose_g_per_kg: float | None = None
    every_weeks: int | None = None
    count: int | None = None
    until: dt.date | None = None
    weight_basis: str = WeightBasis.auto
    pregnant: bool = False
    egfr: float | None = None


def plan_for(patient: Patient, data: CourseInput, *, exclude_course: int | None = None) -> Plan:
    """Plan a course for a recorded patient: latest weight, age at the start, recorded risks,
    every counted order of the patient's other courses, and the infusion history."""
    if data.phase not in Phase.__members__:
        raise InvalidInput("phase must be induction or maintenance", field="phase")
    if data.place not in Place.values:
        raise InvalidInput(f"place must be one of {', '.join(Place.values)}", field="place")
    if data.weight_basis not in WeightBasis.__members__:
        raise InvalidInput("weight basis must be auto, actual or adjusted", field="weight_basis")
    weight = latest_weight(patient)
    if weight is None:
        raise InvalidInput("record the patient's weight before prescribing", field="weight_kg")
    orders = Order.objects.filter(patient=patient, status__in=COUNTED)
    if exclude_course is not None:
        orders = orders.exclude(course_id=exclude_course)
    given = orders.filter(status__in=GIVEN).order_by("-date").select_related("course")
    last = given.first()
    earlier = [GivenDose(o.date, o.dose_g) for o in given if o.date < data.start]
    others = [GivenDose(o.date, o.dose_g) for o in orders.exclude(status__in=GIVEN)]
    others += [GivenDose(o.date, o.dose_g) for o in given if o.date >= data.start]
    return plan_course(
        PlanPatient(
            sex=Sex(patient.sex),
            height_cm=patient.height_cm,
            weight_kg=weight.weight_kg,
            age=age_on(patient.date_of_birth, data.start),
            pregnant=data.pregnant,
            risks=frozenset(screening_codes(patient)),
            egfr=data.egfr,
        ),
        Regimen(
            indication=data.indication,
            product=data.product,
            phase=Phase(data.phase),
            start=data.start,
            total_g_per_kg=data.total_g_per_kg,
            days=data.days,
            dose_g_per_kg=data.dose_g_per_kg,
            every_weeks=data.every_weeks,
            count=data.count,
            until=data.until,
            weight_basis=WeightBasis(data.weight_basis),
            first_infusion=last is None,
            history=tuple(earlier),
            other_doses=tuple(others),
            previous_product=last.course.product_id if last else None,
            last_infusion=last.date if last and last.date < data.start else None,
        ),
        current_catalogue(),
    )


def prescribe(actor: Any, patient_id: int, data: CourseInput) -> Course:
    """Plan and save a course with its orders; refuse (CapExceeded) a course over the cap."""
    require(actor, "prescribing", Role.prescriber)
    with transaction.atomic():
        patient = locked(Patient, patient_id, "patient")
        plan = plan_for(patient, data)
        course = Course.objects.create(
            patient=patient,
            indication=data.indication,
            phase=data.phase,
            product_id=data.product,
            place=data.place,
            start=data.start,
            regimen=audit.snapshot_value(asdict(data)),
            catalogue_version=plan.catalogue_version,
            dosing_weight_kg=plan.dosing_weight.kg,
            weight_basis=plan.dosing_weight.basis.value,
            plan=plan.as_dict(),
            prescribed_by=actor,
        )
        for i, dose in enumerate(plan.as_dict()["doses"], start=1):
            Order.objects.create(
                course=course,
                patient=patient,
                sequence=i,
                date=dt.date.fromisoformat(dose["date"]),
                prescribed_g=dose["prescribed_g"],
                dose_g=dose["dose_g"],
                vials=dose["vials"],
                volume_ml=dose["volume_ml"],
                steps=dose["steps"],
                catalogue_version=plan.catalogue_version,
                label_max_ml_per_h=round(label_maximum_ml_per_h(plan), 1),
            )
        audit.record(
            actor,
            "create",
            "course",
            course.pk,
            patient_id=patient.pk,
            after={**audit.snapshot(course), "orders": len(plan.doses)},
        )
    return course


def cancel_course(actor: Any, course_id: int, version: int, reason: str) -> Course:
    """Cancel a course and every order of it not yet started."""
    require(actor, "cancelling a course", Role.prescriber)
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    with transaction.atomic():
        course = get(Course, course_id, "course")
        locked(Patient, course.patient_id, "patient")
        if course.cancelled_reason:
            raise Conflict(f"course {course.pk} is cancelled already")
        before = audit.snapshot(course)
        save_versioned(course, version, f"course {course.pk}", cancelled_reason=reason.strip())
        open_orders = course.orders.filter(
            status__in=(OrderStatus.planned, OrderStatus.verified, OrderStatus.dispensed)
        )
        for order in open_orders:
            order_before = audit.snapshot(order)
            save_versioned(
                order,
                None,
                f"order {order.pk}",
                status=OrderStatus.cancelled,
                status_reason=reason.strip(),
            )
            audit.record(
                actor,
                "cancel",
                "order",
                order.pk,
                patient_id=course.patient_id,
                before=order_before,
                after=audit.snapshot(order),
                reason=reason.strip(),
            )
        audit.record(
            actor,
            "cancel",
            "course",
            course.pk,
            patient_id=course.patient_id,
            before=before,
            after=audit.snapshot(course),
            reason=reason.strip(),
        )
    return course
