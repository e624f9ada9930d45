"""The basis of every number on the run sheet (requirement 55; FDA CDS criterion 4, NL "DOUBLE
CHECK"): each pump rate with its inputs and formula, the dose from the ordered g/kg to the
vials and the volume, the label's maximum and the plan's ceiling, and the library version.

The sheet prints the calculation itself (``0.5 mg/kg/min x 85.0 kg x 60 / 100 mg/mL = 25.5 ->
25.5 mL/h``), so that a nurse, a pharmacist or a test can redo it from what is printed. The
numbers are the order's, stored when it was prescribed; this module only explains them:

- pump rate (mL/h) = mg/kg/min x kg x 60 / mg/mL, rounded down to 0.1 mL/h (``core.units``);
  a schedule written in mL/kg/h or mL/kg/min is shown in its own unit (mL/h = mL/kg/h x kg,
  or mL/kg/min x kg x 60), as the label gives it; the mg/kg/min stored with the order (3
  decimals) would not redo the rounding exactly;
- step volume = mL/h x minutes / 60 (0.01 mL); the last step takes the rest of the dose, and
  runs for volume / mL/h x 60 minutes;
- volume = g x 1000 / mg/mL; the ordered dose = g/kg x the dosing weight, rounded to whole vials.
"""

from __future__ import annotations

import math
from typing import Any

from ivig.core.catalogue import Product, RateSchedule
from ivig.core.dosing import vial_label
from ivig.core.units import (
    MG_PER_KG_MIN,
    floor_to,
    from_mg_per_kg_min,
    plain_number,
    rate_to_ml_per_h,
    to_mg_per_kg_min,
)
from ivig.errors import IvigError
from ivig.records.library import current_catalogue
from ivig.records.models import Course, Order
from ivig.records.services.infusions import SessionView

MG = MG_PER_KG_MIN
TIMES, DIVIDE, ARROW, MINUS = "\u00d7", "\u00f7", "\u2192", "\u2212"
FORMULA = {
    MG: f"mL/h = mg/kg/min {TIMES} kg {TIMES} 60 {DIVIDE} mg/mL",
    "mL/kg/min": f"mL/h = mL/kg/min {TIMES} kg {TIMES} 60",
    "mL/kg/h": f"mL/h = mL/kg/h {TIMES} kg",
}
ROUNDING = "rounded down to 0.1 mL/h (a pump rate is never rounded up)"
VIAL_RULE = (
    "whole vials: the achievable total nearest the ordered dose (on a tie the lower), with the "
    "fewest vials, never above the 28-day cap"
)


def n(value: float) -> str:
    """A number as the sheet prints it, the shortest (``25.5``; ``core.units.plain_number``):
    its figures are rounded before (a calculation's result to 4 decimals), or stored so."""
    return plain_number(value, 6)


def kg(value: float) -> str:
    """A dosing weight: rounded to 0.1 kg, the figure the rates are computed on."""
    return f"{value:.1f}"


# --- the rate schedule and each step's rate in its own unit ----------------------------------


def schedule_of(course: Course, product: Product | None) -> RateSchedule | None:
    """The label schedule the plan used (by its group), from the library in service; ``None``
    when it is no longer there."""
    if product is None:
        return None
    group = (course.plan.get("schedule") or {}).get("group")
    return next((s for s in product.schedules if s.group == group), None)


def in_unit(mg: float, unit: str, concentration: float) -> float:
    """The step's rate in the schedule's unit, as the label writes it: the shortest decimal
    that gives back the stored mg/kg/min (kept to 3 decimals with the order)."""
    if unit == MG:
        return mg
    exact = from_mg_per_kg_min(mg, unit, concentration)
    for places in range(1, 7):
        value = round(exact, places)
        if math.isclose(to_mg_per_kg_min(value, unit, concentration), mg, abs_tol=5e-4 + 1e-12):
            return value
    return exact


def _inputs(value: float, unit: str, weight: float, concentration: float) -> str:
    """The left side of a rate's calculation in the label's ``unit``: ``FORMULA`` filled in."""
    if unit == MG:
        return (
            f"{n(value)} {MG} {TIMES} {kg(weight)} kg {TIMES} 60 {DIVIDE} {n(concentration)} mg/mL"
        )
    if unit == "mL/kg/min":
        return f"{n(value)} mL/kg/min {TIMES} {kg(weight)} kg {TIMES} 60"
    return f"{n(value)} mL/kg/h {TIMES} {kg(weight)} kg"


def calculation(
    value: float, unit: str, weight: float, concentration: float, *, below: bool = False
) -> str:
    """``0.5 mg/kg/min x 85.0 kg x 60 / 100 mg/mL = 25.5 -> 25.5 mL/h``: the inputs, the
    formula, the unrounded result and the pump rate (rounded down to 0.1 mL/h; one 0.1 mL/h
    lower for a cap the pump stays ``below`` when rounding down alone would reach it)."""
    raw = rate_to_ml_per_h(value, unit, weight, concentration)
    pump = floor_to(raw)
    if below and pump >= raw - 1e-9:
        pump = round(pump - 0.1, 1)
    inputs = _inputs(value, unit, weight, concentration)
    return f"{inputs} = {n(round(raw, 4))} {ARROW} {n(pump)} mL/h"


def step_unit(step: dict[str, Any], schedule: RateSchedule | None) -> str:
    """A step's unit: the schedule's, except for a cap the library gives in mg/kg/min (the
    at-risk maximum) or when the schedule is unknown."""
    if schedule is None or str(step.get("basis", "")).startswith("at-risk cap"):
        return MG
    return schedule.unit


def steps_basis(order: Order, course: Course, product: Product | None) -> list[dict[str, Any]]:
    """For each step: its rate in the label's unit and in mg/kg/min (with the conversion),
    the calculation of the pump rate, and the duration and volume with theirs."""
    weight = course.dosing_weight_kg
    schedule = schedule_of(course, product)
    concentration = _concentration(course, product)
    rows = []
    given = 0.0
    steps = list(order.steps)
    for i, step in enumerate(steps):
        mg = float(step["rate_mg_per_kg_per_min"])
        rate = float(step["rate_ml_per_h"])
        volume = float(step["volume_ml"])
        minutes = float(step["end_min"]) - float(step["start_min"])
        last = i == len(steps) - 1
        row: dict[str, Any] = {"mg": n(mg), "unit": MG, "value": n(mg), "conversion": ""}
        if concentration is None:
            row["calculation"] = ""
        else:
            unit = step_unit(step, schedule)
            value = in_unit(mg, unit, concentration)
            row.update(unit=unit, value=n(value))
            if unit != MG:
                factor = f" {DIVIDE} 60" if unit == "mL/kg/h" else ""
                row["conversion"] = (
                    f"{n(value)} {unit} {TIMES} {n(concentration)} mg/mL{factor} = {n(mg)} {MG}"
                )
            below = "stays below" in str(step.get("basis", ""))
            row["calculation"] = calculation(value, unit, weight, concentration, below=below)
        if last:
            row["volume"] = (
                f"this step: the rest of the dose, {n(order.volume_ml)} {MINUS} "
                f"{n(round(given, 2))} = {n(volume)} mL"
            )
            row["duration"] = (
                f"{n(volume)} mL {DIVIDE} {n(rate)} mL/h {TIMES} 60 = {n(round(minutes, 1))} min"
            )
        else:
            row["volume"] = (
                f"this step: {n(rate)} mL/h {TIMES} {n(minutes)} min {DIVIDE} 60 = {n(volume)} mL"
            )
            row["duration"] = f"{n(minutes)} min"
        given += volume
        rows.append(row)
    return rows


def _concentration(course: Course, product: Product | None) -> float | None:
    stored = (course.plan.get("product") or {}).get("concentration_mg_per_ml")
    if stored:
        return float(stored)
    return product.concentration if product else None


# --- the dose, the limits and the library ----------------------------------------------------


def dose_basis(order: Order, course: Course, product: Product | None) -> dict[str, Any]:
    """The dose block: ordered g/kg x dosing weight = g, rounded to whole vials, the volume."""
    weight = course.dosing_weight_kg
    concentration = _concentration(course, product)
    per_kg = order.prescribed_g / weight if weight else None
    vials = vial_label(order.vials, sign=TIMES)
    difference = (
        (order.dose_g - order.prescribed_g) / order.prescribed_g * 100
        if order.prescribed_g
        else 0.0
    )
    regimen = course.regimen or {}
    days = len(course.plan.get("doses") or []) or None
    course_text = ""
    if course.phase == "induction" and regimen.get("total_g_per_kg") and days:
        course_text = f"induction: {n(float(regimen['total_g_per_kg']))} g/kg over {days} days"
    elif course.phase == "induction" and days:
        course_text = f"induction over {days} days"
    elif regimen.get("dose_g_per_kg"):
        course_text = f"maintenance: {n(float(regimen['dose_g_per_kg']))} g/kg per infusion"
    return {
        "course": course_text,
        "ordered": (
            f"{n(round(per_kg, 4))} g/kg {TIMES} {kg(weight)} kg = {n(order.prescribed_g)} g"
            if per_kg is not None
            else f"{n(order.prescribed_g)} g"
        ),
        "vials": f"{vials} = {n(order.dose_g)} g",
        "difference": f"{'+' if difference >= 0 else MINUS}{n(round(abs(difference), 1))} %",
        "rule": VIAL_RULE,
        "volume": (
            f"{n(order.dose_g)} g {TIMES} 1000 {DIVIDE} {n(concentration)} mg/mL = "
            f"{n(order.volume_ml)} mL"
            if concentration
            else f"{n(order.volume_ml)} mL"
        ),
    }


def limits_basis(
    order: Order, course: Course, product: Product | None, state: SessionView
) -> dict[str, Any]:
    """The two rate limits at the chair, in mL/h with their basis: the label's maximum (a hard
    limit, stored with the order) and the plan's ceiling, its highest step (a soft limit)."""
    weight = course.dosing_weight_kg
    concentration = _concentration(course, product)
    schedule = schedule_of(course, product)
    stored: float | None = state.label_max_ml_per_h
    label: dict[str, Any] = {"value": stored, "calculation": "", "source": ""}
    if schedule is not None and concentration:
        raw = rate_to_ml_per_h(schedule.maximum, schedule.unit, weight, concentration)
        if stored is None:
            stored = floor_to(raw)
        if -1e-9 <= raw - float(stored) < 0.1:  # stored with the order, rounded down to 0.1 mL/h
            label["value"] = float(stored)
            inputs = _inputs(schedule.maximum, schedule.unit, weight, concentration)
            label["calculation"] = f"{inputs} = {n(round(raw, 4))} {ARROW} {n(float(stored))} mL/h"
            label["source"] = f"{schedule.label} ({schedule.basis}): {schedule.source.cite()}"
    steps = list(order.steps)
    top = max(range(len(steps)), key=lambda i: float(steps[i]["rate_ml_per_h"]), default=None)
    ceiling: dict[str, Any] = {"value": state.ceiling_ml_per_h, "step": None}
    if top is not None:
        ceiling.update(
            value=float(steps[top]["rate_ml_per_h"]),
            step=top + 1,
            basis=str(steps[top].get("basis", "")),
            mg=n(float(steps[top]["rate_mg_per_kg_per_min"])),
        )
    return {"label": label, "ceiling": ceiling}


def library_basis(order: Order, course: Course) -> dict[str, Any]:
    """The footer: the library version the order was made with, the one in service now, the
    rate schedule and the protocol parts the plan used."""
    made_with = order.catalogue_version or course.catalogue_version
    try:
        now = current_catalogue().version
    except IvigError:  # a broken site library: say so, the order keeps its numbers
        now = "unreadable"
    schedule = course.plan.get("schedule") or {}
    return {
        "version": made_with,
        "current": now,
        "differs": bool(made_with) and made_with != now,
        "schedule": schedule,
        "protocol": list(schedule.get("protocol") or []),
        "formulas": FORMULA,
        "rounding": ROUNDING,
    }
