"""A course marked "re-plan needed" when the patient's record changes its doses (issue 16 item 3).

A course is planned once, on the record of the day (the weight, height, risks and creatinine);
a later change of the record (a weight recorded, corrected or confirmed, the height, the risks,
a creatinine result) does not alter its orders. :func:`check_patient`, called by the services
that make those changes in their own transaction, plans every open course again with the core
(``courses.preview``, the same planner as prescribing) and compares each order not yet started
with the dose of the same date (:func:`dose_differences`: dose, vials, volume, step rates). A
course with a difference is marked (``Course.replan_needed``: what changed, the old and the new
dosing weight, the old and new numbers per order) and audited (``replan-needed``); one whose
plan is the same again is cleared (``replan-not-needed``). While an order is marked it is not
verified (``orders.verify``) and not started (``infusions.start``): :func:`refuse_if_needed`.
The prescriber's re-plan (``courses.replan``) clears the orders it plans again; a dispensed order
stays marked (its vials are made up on the old numbers) until it is deferred or cancelled, unless
only its rate steps change where a prescriber's cap after a reaction ends the ramp
(``steps_only``; ``ceiling.capped_only``): the re-plan gives it the new steps, its vials stand.

A weight awaiting a prescriber's confirmation plans nothing (``patients.weight_for_dosing``):
the check waits for the confirmation or the correction, which runs it again.
"""

from __future__ import annotations

import math
from typing import Any

from django.db import transaction

from ivig.core.dosing import vial_counts, vial_label
from ivig.core.units import plain_number
from ivig.errors import Conflict, IvigError
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import Course, Order, OrderStatus
from ivig.records.services import ceiling, courses
from ivig.records.services.common import save_versioned

__all__ = [
    "CHECKED",
    "check_patient",
    "dose_differences",
    "drop_order",
    "refuse_if_needed",
    "row_for",
]

# The orders a change of the record can still change: not yet started.
CHECKED = (OrderStatus.planned, OrderStatus.verified, OrderStatus.dispensed)


def dose_differences(order: Order, dose: dict[str, Any] | None) -> list[str]:
    """What differs between an order and the dose of the same date of a new plan
    (``Plan.as_dict()["doses"]``; ``None``: the plan has no dose that day): the dose, the
    vials, the volume, the step rates. Empty when nothing does."""
    if dose is None:
        return [f"no dose on {order.date.isoformat()}"]
    out = []
    if not math.isclose(dose["dose_g"], order.dose_g, abs_tol=1e-6):
        out.append(f"dose {dose['dose_g']:g} g, not {order.dose_g:g} g")
    if vial_counts(dose["vials"]) != vial_counts(order.vials):
        out.append(f"vials {vial_label(dose['vials'])}, not {vial_label(order.vials)}")
    if not math.isclose(dose["volume_ml"], order.volume_ml, abs_tol=0.01):
        out.append(f"volume {dose['volume_ml']:g} mL, not {order.volume_ml:g} mL")
    new = [(s["rate_ml_per_h"], s["volume_ml"]) for s in dose["steps"]]
    old = [(s["rate_ml_per_h"], s["volume_ml"]) for s in order.steps]
    if len(new) != len(old) or any(
        not (math.isclose(a, c, abs_tol=0.05) and math.isclose(b, d, abs_tol=0.01))
        for (a, b), (c, d) in zip(new, old, strict=False)
    ):
        out.append(
            "rate steps "
            + ", ".join(f"{r:g}" for r, _ in new)
            + " mL/h, not "
            + ", ".join(f"{r:g}" for r, _ in old)
            + " mL/h"
        )
    return out


def _row(order: Order, dose: dict[str, Any] | None, differences: list[str]) -> dict[str, Any]:
    """One order's old and new numbers, as stored in the mark."""
    return {
        "id": order.pk,
        "sequence": order.sequence,
        "date": order.date.isoformat(),
        "status": str(order.status),
        "dispensed": order.status == OrderStatus.dispensed,
        "old_g": plain_number(order.dose_g, 2),
        "new_g": plain_number(dose["dose_g"], 2) if dose else "",
        "old_vials": vial_label(order.vials),
        "new_vials": vial_label(dose["vials"]) if dose else "",
        "differences": differences,
        "steps_only": bool(differences) and all(d.startswith("rate steps ") for d in differences),
    }


def _weight(plan: dict[str, Any]) -> dict[str, Any]:
    weight = plan.get("dosing_weight") or {}
    return {"kg": weight.get("kg"), "basis": weight.get("basis", "")}


def _mark_for(course: Course, why: str) -> dict[str, Any] | None:
    """The course's mark from a new plan with the record as it is now: ``{}`` when every open
    order is as the new plan has it; ``None`` when no plan can be judged yet (a weight awaits
    a prescriber's confirmation)."""
    open_orders = list(course.orders.filter(status__in=CHECKED).order_by("sequence"))
    if not open_orders:
        return {}
    try:
        planned = courses.preview(
            course.patient, courses.course_input(course.regimen), exclude_course=course.pk
        )
    except IvigError as exc:
        if exc.field == "weight_kg" and isinstance(exc, Conflict):
            return None  # a weight awaiting confirmation: its confirmation checks again
        return {
            "why": why,
            "error": exc.message,
            "old_weight": _weight(course.plan),
            "new_weight": None,
            "orders": [_row(o, None, ["the plan cannot be made again"]) for o in open_orders],
        }
    doses = {d["date"]: d for d in planned.document["doses"]}
    rows = []
    for order in open_orders:
        dose = doses.get(order.date.isoformat())
        differences = dose_differences(order, dose)
        if differences:
            # the dose and the vials are in the row's numbers: the rest (volume, rates) in words
            rest = [d for d in differences if not d.startswith(("dose ", "vials "))]
            row = _row(order, dose, rest)
            row["steps_only"] = (
                row["steps_only"]
                and len(rest) == len(differences)
                and dose is not None
                and ceiling.capped_only(order.steps, dose["steps"])
            )
            rows.append(row)
    if not rows:
        return {}
    return {
        "why": why,
        "error": "",
        "old_weight": _weight(course.plan),
        "new_weight": _weight(planned.document),
        "orders": rows,
    }


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """The same orders with the same numbers (what changed may be worded otherwise)."""
    keep = ("error", "new_weight", "orders")
    return {k: old.get(k) for k in keep} == {k: new.get(k) for k in keep}


def _save(actor: Actor | None, course: Course, mark: dict[str, Any], reason: str) -> None:
    before = {"replan_needed": course.replan_needed}
    save_versioned(course, None, f"course {course.pk}", replan_needed=mark)
    audit.record(
        actor,
        "replan-needed" if mark else "replan-not-needed",
        "course",
        course.pk,
        patient_id=course.patient_id,
        before=before,
        after={"replan_needed": mark},
        reason=reason,
    )


def check_patient(actor: Actor | None, patient_id: int, why: str) -> list[Course]:
    """Plan each open course of the patient again with the record as it is now and mark (or
    clear) "re-plan needed" on it; ``why`` says what changed (kept with the mark). Runs in the
    caller's transaction (the change's). The courses whose mark changed."""
    changed = []
    with transaction.atomic():
        waiting = Order.objects.filter(patient_id=patient_id, status__in=CHECKED)
        found = (
            Course.objects.filter(
                patient_id=patient_id, cancelled_reason="", pk__in=waiting.values("course_id")
            )
            .select_related("patient")
            .order_by("start", "id")
        )
        for course in found:
            mark = _mark_for(course, why)
            if mark is None or _same(course.replan_needed, mark):
                continue
            _save(actor, course, mark, why if mark else f"{why}: the plan is the same again")
            changed.append(course)
    return changed


def row_for(course: Course, order_id: int) -> dict[str, Any] | None:
    """The mark's row of one order (``None``: the order is not marked)."""
    rows = (course.replan_needed or {}).get("orders", [])
    return next((r for r in rows if r.get("id") == order_id), None)


def refuse_if_needed(order: Order, doing: str) -> None:
    """Refuse ``doing`` (verifying, dispensing, starting) an order its course marks "re-plan
    needed": a Conflict with what changed and the old and new numbers."""
    row = row_for(order.course, order.pk)
    if row is None:
        return
    mark = order.course.replan_needed
    if row.get("steps_only"):
        numbers = f"dose {row['sequence']}: {'; '.join(row['differences'])}"
    elif row["new_g"]:
        numbers = f"dose {row['sequence']} would be {row['new_g']} g, not {row['old_g']} g"
    else:
        numbers = f"no plan can be made ({mark.get('error') or 'see the patient page'})"
    then = (
        "it was dispensed on the old numbers: defer or cancel it and prescribe the dose again"
        if row.get("dispensed") and not row.get("steps_only")
        else "a prescriber must re-plan the course first"
    )
    raise Conflict(
        f"re-plan needed: {mark.get('why', 'the record changed')}; {numbers}. It cannot be "
        f"{doing}: {then}",
        field="replan",
    )


def drop_order(actor: Actor | None, order: Order, reason: str) -> None:
    """An order deferred or cancelled leaves the mark (it will not be given); the mark is
    cleared with its last order. Runs in the caller's transaction."""
    course = Course.objects.get(pk=order.course_id)
    if row_for(course, order.pk) is None:
        return
    mark = dict(course.replan_needed)
    mark["orders"] = [r for r in mark["orders"] if r.get("id") != order.pk]
    _save(actor, course, mark if mark["orders"] else {}, reason)
