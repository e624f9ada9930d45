"""Prescribing: a course is planned by the clinical core and saved with its dated orders.

The 28-day cap is checked against every recorded and planned dose of the patient in the same
transaction as the write, with the patient row locked (PostgreSQL ``FOR UPDATE``; SQLite's
IMMEDIATE transactions take the write lock at BEGIN), so two concurrent prescriptions can
never together break it: the second sees the first's orders and is refused.

The drug library's limits hold at prescribing (issue 5): a hard limit (the cap) is refused for
every role and counted (requirement 48); a soft limit (a dose outside the indication's usual
range, a product switch, a blocking finding) is saved only with an audited override
(requirement 47). Every course and order stores the library version it was planned with; a
library change never alters them: :func:`replan` (a prescriber, with a reason) plans the orders
not yet dispensed again with the library in service, audited per order (requirement 46).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, NamedTuple

from django.db import transaction

from ivig.core.dosing import GivenDose, check_under_cap, vial_counts
from ivig.core.infused import grams_counted
from ivig.core.library import Library
from ivig.core.limits import SoftLimit, course_soft_limits, label_maximum_ml_per_h
from ivig.core.plan import Patient as PlanPatient
from ivig.core.plan import Phase, Plan, Regimen, plan_course
from ivig.core.renal import creatinine_unit
from ivig.core.units import floor_to
from ivig.core.weights import Sex, WeightBasis
from ivig.errors import Conflict, InvalidInput, StaleVersion
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import (
    AuditEvent,
    Course,
    InfusionSession,
    Order,
    OrderStatus,
    Patient,
    Place,
    Reaction,
    Role,
)
from ivig.records.services import ceiling, renal
from ivig.records.services.access import require
from ivig.records.services.bookings import flag_unfit, release_for
from ivig.records.services.common import get, locked, save_versioned
from ivig.records.services.limits import Override, hard_stops, require_override
from ivig.records.services.patients import age_on, screening_codes, weight_for_dosing
from ivig.records.services.renal import latest_creatinine

__all__ = [
    "Change",
    "CourseInput",
    "Planned",
    "Replan",
    "cancel_course",
    "changes",
    "counted_statuses",
    "course_input",
    "in_force",
    "plan_for",
    "plan_with_limits",
    "prescribe",
    "preview",
    "replan",
    "steps_only",
]

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
    weight_basis_reason: str = ""  # why the prescriber insists on an excluded basis
    pregnant: bool = False
    egfr: float | None = None
    creatinine: float | None = None  # with its unit, never assumed (issue 14 item 2)
    creatinine_unit: str | None = None
    # The prescriber's cap after a reaction, as planned (``ceiling.in_force``: read from the
    # decisions, never typed in; stored so that the verification's recomputation agrees)
    rate_ceiling_ml_per_h: float | None = None
    rate_ceiling_after: dt.date | None = None  # the reaction's day: the doses after it
    rate_ceiling_decision: int | None = None


def in_force(patient: Patient, data: CourseInput) -> CourseInput:
    """``data`` with the prescriber's rate ceiling in force for the patient (or none): what a
    new course, a re-plan and the "re-plan needed" check plan with (issue 16's closing note)."""
    found = ceiling.in_force(patient.pk)
    return replace(
        data,
        rate_ceiling_ml_per_h=found.max_ml_per_h if found else None,
        rate_ceiling_after=found.after if found else None,
        rate_ceiling_decision=found.decision if found else None,
    )


def course_input(regimen: Mapping[str, Any]) -> CourseInput:
    """The prescriber's inputs as stored with a course (``Course.regimen``), back as a
    :class:`CourseInput`: what a re-plan and the pharmacist's verification plan again from
    (requirements 46, 56)."""
    names = {f.name for f in fields(CourseInput)}
    data = {k: v for k, v in regimen.items() if k in names}
    for name in ("start", "until", "rate_ceiling_after"):
        if isinstance(data.get(name), str):
            data[name] = dt.date.fromisoformat(data[name])
    return CourseInput(**data)


def _plan_inputs(
    patient: Patient, data: CourseInput, exclude_course: int | None, library: Library | None = None
) -> tuple[PlanPatient, Regimen]:
    """The core's inputs for a recorded patient: latest weight, age at the start, recorded
    risks, every counted order of the patient's other courses, and the infusion history: the
    first-infusion flag, the previous product, the last infusion and whether it was tolerated
    (no reaction recorded) are read from the infusions given before the start, never typed in
    (issue 14, items 6 and 9); the prescriber's rate ceiling is ``data``'s (:func:`in_force`)."""
    if data.phase not in Phase.__members__:
        raise InvalidInput("phase must be induction or maintenance", field="phase")
    if data.place not in Place.values:
        raise InvalidInput(f"place must be one of {', '.join(Place.values)}", field="place")
    if data.weight_basis not in WeightBasis.__members__:
        raise InvalidInput("weight basis must be auto, actual or adjusted", field="weight_basis")
    weight = weight_for_dosing(patient)  # refused while a changed weight awaits confirmation
    if weight is None:
        raise InvalidInput("record the patient's weight before prescribing", field="weight_kg")
    counted = Order.objects.filter(patient=patient, status__in=COUNTED)
    if exclude_course is not None:
        counted = counted.exclude(course_id=exclude_course)
    # One read of what the cap and the history need (never a course's plan or an order's steps).
    read = counted.order_by("-date").values_list(*_Counted.columns())
    rows = [_Counted._make(row) for row in read]
    given = [r for r in rows if r.status in GIVEN]  # the latest first
    before = [r for r in given if r.date < data.start]
    last = before[0] if before else None
    earlier = [GivenDose(r.date, r.counted_g) for r in before]
    planned = sorted((r for r in rows if r.status not in GIVEN), key=lambda r: (r.date, r.sequence))
    others = [GivenDose(r.date, r.dose_g) for r in planned]
    others += [GivenDose(r.date, r.counted_g) for r in given if r.date >= data.start]
    person = PlanPatient(
        sex=Sex(patient.sex),
        height_cm=patient.height_cm,
        weight_kg=weight.weight_kg,
        age=age_on(patient.date_of_birth, data.start),
        pregnant=data.pregnant,
        risks=frozenset(screening_codes(patient)),
        **_renal_inputs(patient, data),
    )
    regimen = Regimen(
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
        weight_basis_reason=data.weight_basis_reason,
        first_infusion=last is None,
        history=tuple(earlier),
        other_doses=tuple(others),
        previous_product=last.product if last else None,
        last_infusion=last.date if last else None,
        last_infusion_tolerated=_tolerated(last),
        rate_ceiling=ceiling.rate_ceiling(
            data.rate_ceiling_ml_per_h,
            data.rate_ceiling_after,
            data.rate_ceiling_decision,
            (library or current_library()).catalogue.sources.get(ceiling.RULE_SOURCE),
        ),
    )
    return person, regimen


class _Counted(NamedTuple):
    """An order counted toward the cap, as ``_plan_inputs`` reads it (the columns' names)."""

    pk: int
    date: dt.date
    sequence: int
    dose_g: float
    status: str
    given_g: float | None  # recorded at the end (issue 16 item 4); None: the full dose
    product: str  # the course's product

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return (*cls._fields[:-2], "session__given_g", "course__product_id")

    @property
    def counted_g(self) -> float:
        """The grams it counts: those given when recorded, else the dose (issue 16 item 4)."""
        return grams_counted(self.given_g, self.dose_g)


def _tolerated(order: _Counted | None) -> bool | None:
    """Whether an infusion was tolerated: False when a reaction was recorded at it, True when it
    was completed without one, None when not known (none given, or still running)."""
    if order is None:
        return None
    reactions = Reaction.objects.filter(
        session__order_id=order.pk, superseded_by__isnull=True, entered_in_error=False
    )
    if reactions.exists():
        return False
    return True if order.status == OrderStatus.completed else None


def _renal_inputs(patient: Patient, data: CourseInput) -> dict[str, Any]:
    """The plan's renal function: an eGFR or a creatinine (with its unit) given with the course,
    else the patient's latest creatinine result in force, with its date (issue 14 item 5)."""
    if data.egfr is not None or data.creatinine is not None or data.creatinine_unit:
        unit = creatinine_unit(data.creatinine_unit) if data.creatinine_unit else None
        return {"egfr": data.egfr, "creatinine": data.creatinine, "creatinine_unit": unit}
    latest = latest_creatinine(patient)
    if latest is None:
        return {}
    return {
        "creatinine": latest.value,
        "creatinine_unit": creatinine_unit(latest.unit),
        "renal_measured_on": latest.measured_on,
    }


@dataclass(frozen=True, eq=False)
class Planned:
    """A course planned for a recorded patient: the core's plan, the soft limits it crosses,
    and what the core was given (the patient's facts, the regimen with the recorded history,
    the drug library in service, the renal age limit). Its JSON (``document``) is made once.

    ``prescribe`` takes the preview a page or a client has just shown and saves it without
    planning again when the inputs it reads under the patient lock are the same and the library
    in service is the same one (so the same version): the core is a pure function of them.
    Anything else (a weight recorded, another course prescribed, the library changed) and it
    plans again. Not slotted: ``document`` is cached on the instance; compared by identity."""

    plan: Plan
    limits: tuple[SoftLimit, ...]
    patient: PlanPatient
    regimen: Regimen
    library: Library
    renal_max_age_days: int | None

    @functools.cached_property
    def document(self) -> dict[str, Any]:
        """``plan.as_dict()``, the stored JSON contract, made once (never change it: the
        course saves it and its orders take their doses from it)."""
        return self.plan.as_dict()

    def made_from(
        self,
        patient: PlanPatient,
        regimen: Regimen,
        library: Library,
        renal_max_age_days: int | None,
    ) -> bool:
        """Whether the core, given these, would plan exactly this (the same library object: one
        re-read after any change of a site's file is another object)."""
        return (
            library is self.library
            and self.plan.catalogue_version == library.version
            and renal_max_age_days == self.renal_max_age_days
            and patient == self.patient
            and regimen == self.regimen
        )


def _planned(
    patient: Patient,
    data: CourseInput,
    *,
    exclude_course: int | None = None,
    shown: Planned | None = None,
) -> Planned:
    """Plan with the drug library in service, or take ``shown`` when made from the same inputs
    (:meth:`Planned.made_from`)."""
    library = current_library()
    person, regimen = _plan_inputs(patient, data, exclude_course, library)
    max_age = renal.max_age_days()
    if shown is not None and shown.made_from(person, regimen, library, max_age):
        return shown
    plan = plan_course(person, regimen, library, renal_max_age_days=max_age)
    limits = course_soft_limits(plan, regimen, library.limits)
    return Planned(plan, limits, person, regimen, library, max_age)


def preview(patient: Patient, data: CourseInput, *, exclude_course: int | None = None) -> Planned:
    """The course as it would be planned now, saving nothing: the plan with the drug library in
    service, the rate ceiling in force (:func:`in_force`) and the soft limits it crosses (a dose
    outside the usual range, a product switch, a blocking finding: requirement 47). Give it to
    :func:`prescribe` to save what was shown."""
    return _planned(patient, in_force(patient, data), exclude_course=exclude_course)


def plan_with_limits(
    patient: Patient, data: CourseInput, *, exclude_course: int | None = None
) -> tuple[Plan, tuple[SoftLimit, ...]]:
    """The plan and the soft limits it crosses (see :func:`preview`)."""
    shown = preview(patient, data, exclude_course=exclude_course)
    return shown.plan, shown.limits


def plan_for(patient: Patient, data: CourseInput, *, exclude_course: int | None = None) -> Plan:
    """Plan a course for a recorded patient from ``data`` as given (a course's stored regimen,
    its rate ceiling included: the verification's recomputation); see :func:`preview`."""
    return _planned(patient, data, exclude_course=exclude_course).plan


def _order_numbers(plan: Plan, dose: Mapping[str, Any]) -> dict[str, Any]:
    """An order's numbers from one dose of ``plan.as_dict()``, with the library version and the
    label's maximum rate (the hard limit at the chair)."""
    return {
        "prescribed_g": dose["prescribed_g"],
        "dose_g": dose["dose_g"],
        "vials": dose["vials"],
        "volume_ml": dose["volume_ml"],
        "steps": dose["steps"],
        "catalogue_version": plan.catalogue_version,
        "label_max_ml_per_h": floor_to(label_maximum_ml_per_h(plan)),
    }


def prescribe(
    actor: Actor,
    patient_id: int,
    data: CourseInput,
    *,
    override: Override | None = None,
    shown: Planned | None = None,
) -> Course:
    """Plan and save a course with its orders.

    The plan is made from the inputs read under the patient lock (its weight, its other
    courses, its history) with the library in service; ``shown``, the :func:`preview` of the
    same request, is saved as it is when it was made from exactly those (else the course is
    planned again), so that a page plans once per request.

    A hard limit (the course or rolling cap: ``CapExceeded``) refuses it for every role and is
    counted (requirement 48); a soft limit (requirement 47) is saved only with ``override``
    (a coded reason, a note and the prescriber's password: ``OverrideRequired`` without one),
    and the override is audited with the limit and the library version."""
    actor = require(actor, "prescribing", Role.prescriber)
    with hard_stops(actor, "course", patient_id=patient_id), transaction.atomic():
        patient = locked(Patient, patient_id, "patient")
        data = in_force(patient, data)
        planned = _planned(patient, data, shown=shown)
        plan, document = planned.plan, planned.document
        require_override(
            actor,
            planned.limits,
            override,
            entity="course",
            patient_id=patient.pk,
            catalogue_version=plan.catalogue_version,
        )
        course = Course.objects.create(
            patient=patient,
            indication=data.indication,
            phase=data.phase,
            product_id=data.product,
            place=data.place,
            start=data.start,
            regimen=audit.snapshot_value(asdict(data)),
            catalogue_version=plan.catalogue_version,
            plan=document,
            prescribed_by=actor,
        )
        for i, dose in enumerate(document["doses"], start=1):
            Order.objects.create(
                course=course,
                patient=patient,
                sequence=i,
                date=dt.date.fromisoformat(dose["date"]),
                planned_by=actor,
                **_order_numbers(plan, dose),
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


# --- re-planning with the library in service (requirement 46) ------------------------------------

REPLANNED = (OrderStatus.planned, OrderStatus.verified)
LEFT_ALONE = (OrderStatus.dispensed, OrderStatus.in_progress, OrderStatus.completed)


@dataclass(frozen=True, slots=True)
class Replan:
    """What a re-plan did: the orders planned again (verified ones are planned again: their
    verification no longer stands) and the orders it left as they were (dispensed, in progress
    or completed: the vials are made up or given)."""

    course: Course
    replanned: tuple[Order, ...]
    kept: tuple[Order, ...]
    old_version: str
    new_version: str
    # dispensed orders whose rate steps alone changed (a rate ceiling): new steps, same vials
    restepped: tuple[Order, ...] = ()

    @property
    def summary(self) -> str:
        made = f"{len(self.replanned)} order{'s' if len(self.replanned) != 1 else ''}"
        basis = (
            f"with drug library {self.new_version} (was {self.old_version})"
            if self.new_version != self.old_version
            else "on the patient's record as it is now"
        )
        text = f"course {self.course.pk} re-planned {basis}: {made} planned again"
        if self.restepped:
            dates = ", ".join(o.date.isoformat() for o in self.restepped)
            doses = "doses" if len(self.restepped) > 1 else "dose"
            text += f"; new rate steps for the dispensed {doses} of {dates} (the vials stand)"
        left_alone = [o for o in self.kept if o not in self.restepped]
        if left_alone:
            left = ", ".join(f"{o.date.isoformat()} ({o.status})" for o in left_alone)
            text += f"; left as they were (dispensed, in progress or completed): {left}"
        return text


def _check_cap_with_kept(plan: Plan, kept: list[Order]) -> None:
    """The cap holds with the doses the re-plan leaves alone as they are (an ended one counts
    the grams given: issue 16 item 4), not as re-planned (requirement 48)."""
    new = {d.date: d.vials.total_g for d in plan.doses}
    given: dict[int, float] = {
        order_id: grams
        for order_id, grams in InfusionSession.objects.filter(
            order__in=kept, given_g__isnull=False
        ).values_list("order_id", "given_g")
        if grams is not None
    }
    counted = {o.pk: grams_counted(given.get(o.pk), o.dose_g) for o in kept}
    if all(math.isclose(new.get(o.date, counted[o.pk]), counted[o.pk], abs_tol=1e-6) for o in kept):
        return
    kept_dates = {o.date for o in kept}
    final = [GivenDose(o.date, counted[o.pk]) for o in kept]
    final += [GivenDose(d, g) for d, g in new.items() if d not in kept_dates]
    check_under_cap(
        sorted(final, key=lambda g: g.date),
        plan.history,
        cap_g=plan.cap_g,
        weight_kg=plan.dosing_weight.kg,
        window_days=plan.indication.cap_window_days.value,
        field="start",
        indication=plan.indication.short_name,
        suggest_date=False,
        start_movable=False,  # a re-plan keeps the course's dates
    )


def steps_only(order: Order, plan: Plan, doses: Mapping[str, Any]) -> bool:
    """A dispensed order the new plan changes in its rate steps alone, where a prescriber's cap
    after a reaction ends the ramp (the dose, the vials, the volume, the library version and
    the steps below the cap the same: ``ceiling.capped_only``)."""
    dose = doses.get(order.date.isoformat())
    if dose is None or order.catalogue_version != plan.catalogue_version:
        return False
    same = (
        math.isclose(dose["dose_g"], order.dose_g, abs_tol=1e-6)
        and vial_counts(dose["vials"]) == vial_counts(order.vials)
        and math.isclose(dose["volume_ml"], order.volume_ml, abs_tol=0.01)
    )
    return same and dose["steps"] != order.steps and ceiling.capped_only(order.steps, dose["steps"])


def replan(
    actor: Actor, course_id: int, version: int, reason: str, *, override: Override | None = None
) -> Replan:
    """Plan a course again with the drug library in service and the rate ceiling in force
    (requirement 46; issue 16's closing note): every order still planned or verified gets the
    new numbers and the new library version (a verified one goes back to planned); a dispensed
    order whose rate steps alone change (a prescriber's cap after a reaction) gets the new
    steps and keeps its vials; other dispensed, in-progress and completed orders are left
    alone. Audited per order (before, after, the reason, the old and new library version); the
    limits hold as at prescribing (hard: refused and counted; soft: an override)."""
    actor = require(actor, "re-planning a course", Role.prescriber)
    why = reason.strip()
    if not why:
        raise InvalidInput("a reason is required", field="reason")
    patient_id = get(Course, course_id, "course").patient_id
    with hard_stops(actor, "course", patient_id=patient_id), transaction.atomic():
        patient = locked(Patient, patient_id, "patient")
        course = locked(Course, course_id, "course")
        if course.cancelled_reason:
            raise Conflict(f"course {course.pk} is cancelled: there is nothing to re-plan")
        if course.version != version:
            raise StaleVersion(f"course {course.pk}", version, course.version)
        orders = course.orders.order_by("sequence")
        open_orders = list(orders.filter(status__in=REPLANNED))
        kept = list(orders.filter(status__in=LEFT_ALONE))
        data = in_force(patient, course_input(course.regimen))
        planned = _planned(patient, data, exclude_course=course.pk)
        plan, document = planned.plan, planned.document
        doses = {dose["date"]: dose for dose in document["doses"]}
        restepped = [
            o for o in kept if o.status == OrderStatus.dispensed and steps_only(o, plan, doses)
        ]
        if not open_orders and not restepped:
            raise Conflict(
                f"no order of course {course.pk} is planned or verified: there is nothing to "
                "re-plan (dispensed, in-progress and completed orders are never changed)"
            )
        _check_cap_with_kept(plan, kept)
        require_override(
            actor,
            planned.limits,
            override,
            entity="course",
            patient_id=patient.pk,
            catalogue_version=plan.catalogue_version,
        )
        old_version = course.catalogue_version
        note = (
            f"{why} (drug library {old_version} -> {plan.catalogue_version})"
            if old_version != plan.catalogue_version
            else why  # the same library: planned again on the patient's record as it is now
        )
        for order in open_orders:
            _replan_order(actor, order, plan, doses, why, note)
        for order in restepped:
            _restep_order(actor, order, doses[order.date.isoformat()], note)
        before = audit.snapshot(course)
        save_versioned(
            course,
            version,
            f"course {course.pk}",
            catalogue_version=plan.catalogue_version,
            plan=document,
            regimen=audit.snapshot_value(asdict(data)),
            replan_needed=_still_marked(course, [o for o in kept if o not in restepped]),
        )
        audit.record(
            actor,
            "replan",
            "course",
            course.pk,
            patient_id=patient.pk,
            before=before,
            after={**audit.snapshot(course), "kept": [o.pk for o in kept]},
            reason=note,
        )
    return Replan(
        course,
        tuple(open_orders),
        tuple(kept),
        old_version,
        plan.catalogue_version,
        tuple(restepped),
    )


def _still_marked(course: Course, kept: list[Order]) -> dict[str, Any]:
    """The "re-plan needed" mark after a re-plan (issue 16 item 3): the orders planned again
    leave it; a dispensed order it leaves alone stays marked (cleared when none is left)."""
    mark = course.replan_needed or {}
    ids = {o.pk for o in kept}
    rows = [r for r in mark.get("orders", []) if r.get("id") in ids]
    return {**mark, "orders": rows} if rows else {}


def _replan_order(
    actor: Actor, order: Order, plan: Plan, doses: Mapping[str, Any], why: str, note: str
) -> None:
    """One order planned again from the dose of the same date; audited with before and after."""
    dose = doses.get(order.date.isoformat())
    if dose is None:
        raise Conflict(
            f"the new plan has no dose on {order.date.isoformat()} (order {order.pk}): cancel "
            "the course and prescribe it again"
        )
    before = audit.snapshot(order)
    withdrawn = order.status == OrderStatus.verified
    save_versioned(
        order,
        None,
        f"order {order.pk}",
        status=OrderStatus.planned,
        status_reason=f"re-planned, verify again: {why}" if withdrawn else order.status_reason,
        verified_by=None,
        verified_at=None,
        planned_by=actor,
        **_order_numbers(plan, dose),
    )
    _replanned(
        actor, order, before, note + ("; the verification no longer stands" if withdrawn else "")
    )


def _restep_order(actor: Actor, order: Order, dose: Mapping[str, Any], note: str) -> None:
    """A dispensed order's new rate steps (its dose, vials and volume unchanged: the vials made
    up stand); audited with before and after; its booking flagged if it no longer fits."""
    before = audit.snapshot(order)
    save_versioned(order, None, f"order {order.pk}", steps=dose["steps"], planned_by=actor)
    _replanned(actor, order, before, f"{note}; new rate steps, the vials dispensed stand")


def _replanned(actor: Actor, order: Order, before: dict[str, Any], reason: str) -> None:
    """The re-plan of one order audited (before and after), and its booking flagged when the
    new length no longer fits (issue 18)."""
    audit.record(
        actor,
        "replan",
        "order",
        order.pk,
        patient_id=order.patient_id,
        before=before,
        after=audit.snapshot(order),
        reason=reason,
    )
    flag_unfit(actor, order)


def cancel_course(actor: Actor, course_id: int, version: int, reason: str) -> Course:
    """Cancel a course and every order of it not yet started (and their bookings)."""
    actor = require(actor, "cancelling a course", Role.prescriber)
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    with transaction.atomic():
        course = get(Course, course_id, "course")
        locked(Patient, course.patient_id, "patient")
        if course.cancelled_reason:
            raise Conflict(f"course {course.pk} is cancelled already")
        before = audit.snapshot(course)
        save_versioned(
            course, version, f"course {course.pk}", cancelled_reason=reason.strip(),
            replan_needed={},
        )  # fmt: skip
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
            release_for(actor, order, reason.strip())  # its booking, if any (issue 18)
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


# --- the course's history of changes (issue 16 item 1) -------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One change of a course after it was prescribed, as the audit recorded it."""

    at: dt.datetime
    by: str
    what: str
    reason: str


# (entity, audited action) -> the words; the orders a course's cancellation cancels are told
# by the course's own event.
_CHANGES = {
    ("course", "cancel"): "course cancelled",
    ("course", "replan"): "course re-planned",
    ("course", "replan-needed"): "re-plan needed",
    ("course", "replan-not-needed"): "re-plan no longer needed",
    ("order", str(OrderStatus.deferred)): "deferred",
    ("order", str(OrderStatus.cancelled)): "cancelled",
}


def changes(patient_id: int) -> dict[int, list[Change]]:
    """Each course's changes after prescribing (doses deferred or cancelled, the course
    cancelled or re-planned, a re-plan needed), oldest first, with who, when and the reason:
    read from the audit (one query), by course id."""
    orders = {
        str(pk): (course_id, sequence, date)
        for pk, course_id, sequence, date in Order.objects.filter(
            patient_id=patient_id
        ).values_list("pk", "course_id", "sequence", "date")
    }
    events = AuditEvent.objects.filter(
        patient_id=patient_id,
        entity__in=("course", "order"),
        action__in={action for _, action in _CHANGES},
    ).order_by("seq")
    out: dict[int, list[Change]] = {}
    for event in events:
        words = _CHANGES.get((event.entity, event.action))
        if words is None:
            continue
        if event.entity == "order":
            if event.entity_id not in orders:
                continue
            course_id, sequence, date = orders[event.entity_id]
            words = f"dose {sequence} ({date.isoformat()}) {words}"
        else:
            course_id = int(event.entity_id)
        out.setdefault(course_id, []).append(Change(event.at, event.actor, words, event.reason))
    return out
