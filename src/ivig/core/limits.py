"""Drug-library limits: what no one can save (hard) and what needs an override (soft).

Rules (issue 5; safety-security-requirements.md items 47-50, 60; ISMP smart-pump guidelines):

- **Hard** (item 48): a rate above the label's maximum for the patient's dosing weight; a rate
  2, 5 or 10 times the planned step or the previous rate that is not itself a planned step
  (item 49); a rate equal to a step's mg/kg/min, mL/kg/min or mL/kg/h number typed into the
  mL/h field (item 50). :func:`check_rate_entry` raises :class:`~ivig.errors.HardLimit`.
- **Soft** (item 47): a rate above the plan's ceiling (the at-risk or first-infusion maximum)
  but within the label's maximum; a dose outside the indication's usual range; a product switch;
  a blocking screening finding at prescribing. Returned as :class:`SoftLimit` rows for the
  records layer, which saves them only with a coded reason (:func:`override_reasons`), a note
  and the user's password.

The numbers (fold multiples, tolerances, minimum step share, the reasons) are in
``data/limits.toml``; every one is a sourced value.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ivig.core.catalogue import Source, Sourced, load_catalogue
from ivig.core.checks import number
from ivig.core.plan import Phase, Plan, Regimen
from ivig.core.rates import RateStep, weight_and_concentration
from ivig.core.units import mg_per_kg_min_to_ml_per_h
from ivig.errors import CatalogueError, HardLimit, InvalidInput

__all__ = [
    "LimitRules",
    "OverrideReason",
    "SoftLimit",
    "check_rate_entry",
    "course_soft_limits",
    "label_maximum_ml_per_h",
    "load_limits",
    "read_limits",
]


@dataclass(frozen=True, slots=True)
class SoftLimit:
    """A soft limit crossed: its code, a message for the clinician, the limit and the value
    (in ``unit``) and the source of the limit."""

    code: str
    message: str
    limit: float | None
    value: float | None
    unit: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "limit": self.limit,
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class OverrideReason:
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class LimitRules:
    """The guards of ``limits.toml``."""

    fold_multiples: Sourced[tuple[float, ...]]
    match_tolerance: Sourced[float]
    wrong_field_check: Sourced[bool]
    vitals_within_minutes: Sourced[int]
    minimum_step_share: Sourced[float]
    clock_leeway_minutes: Sourced[int]
    reasons: tuple[OverrideReason, ...]

    def reason(self, code: str) -> OverrideReason:
        for r in self.reasons:
            if r.code == code:
                return r
        known = ", ".join(r.code for r in self.reasons)
        raise InvalidInput(
            f"unknown override reason '{code}'; use one of: {known}", field="reason_code"
        )


def _sourced(table: Mapping[str, Any], where: str, key: str, sources: Mapping[str, Source]) -> Any:
    entry = table.get(key)
    if not isinstance(entry, dict) or "value" not in entry:
        raise CatalogueError(f"limits.toml [{where}]: '{key}' is missing or has no value")
    name = entry.get("source")
    if not isinstance(name, str) or name not in sources:
        raise CatalogueError(f"limits.toml [{where}]: '{key}' names an unknown source '{name}'")
    if not isinstance(entry.get("verified"), bool):
        raise CatalogueError(f"limits.toml [{where}]: '{key}' must say verified = true or false")
    return Sourced(entry["value"], sources[name], entry["verified"], str(entry.get("note", "")))


def _positive(s: Sourced[Any], where: str) -> Sourced[Any]:
    v = s.value
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise CatalogueError(f"limits.toml {where}: value must be a positive number")
    return s


def read_limits(data: Mapping[str, Any], sources: Mapping[str, Source]) -> LimitRules:
    """Check the parsed ``limits.toml``; raise :class:`~ivig.errors.CatalogueError`."""
    entry = data.get("rate_entry", {})
    increase = data.get("rate_increase", {})
    folds = _sourced(entry, "rate_entry", "fold_multiples", sources)
    if not (
        isinstance(folds.value, list)
        and folds.value
        and all(
            isinstance(x, int | float) and not isinstance(x, bool) and x > 1 for x in folds.value
        )
    ):
        raise CatalogueError("limits.toml fold_multiples: value must list numbers above 1")
    wrong_field = _sourced(entry, "rate_entry", "wrong_field_check", sources)
    if not isinstance(wrong_field.value, bool):
        raise CatalogueError("limits.toml wrong_field_check: value must be true or false")
    tolerance = _positive(_sourced(entry, "rate_entry", "match_tolerance", sources), "tolerance")
    share = _positive(_sourced(increase, "rate_increase", "minimum_step_share", sources), "share")
    within = _positive(
        _sourced(increase, "rate_increase", "vitals_within_minutes", sources), "vitals window"
    )
    leeway = _sourced(increase, "rate_increase", "clock_leeway_minutes", sources)
    if isinstance(leeway.value, bool) or not isinstance(leeway.value, int) or leeway.value < 0:
        raise CatalogueError("limits.toml clock_leeway_minutes: value must be 0 or more")
    reasons = []
    for i, r in enumerate(data.get("override_reasons", [])):
        code, label = r.get("code"), r.get("label")
        if not (isinstance(code, str) and code and isinstance(label, str) and label):
            raise CatalogueError(f"limits.toml override_reasons[{i}]: needs a code and a label")
        reasons.append(OverrideReason(code, label))
    if not reasons:
        raise CatalogueError("limits.toml: list at least one [[override_reasons]]")
    return LimitRules(
        fold_multiples=Sourced(
            tuple(float(x) for x in folds.value), folds.source, folds.verified, folds.note
        ),
        match_tolerance=tolerance,
        wrong_field_check=wrong_field,
        vitals_within_minutes=within,
        minimum_step_share=share,
        clock_leeway_minutes=leeway,
        reasons=tuple(reasons),
    )


@functools.cache
def load_limits() -> LimitRules:
    """The limits shipped in the package (read once per process)."""
    try:
        with resources.files("ivig").joinpath("data", "limits.toml").open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise CatalogueError("catalogue file limits.toml is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"catalogue file limits.toml is not valid TOML: {exc}") from None
    return read_limits(data, load_catalogue().sources)


def label_maximum_ml_per_h(plan: Plan) -> float:
    """The label schedule's maximum rate as mL/h at the plan's dosing weight (the hard limit
    at the chair; the plan's own top step may be lower: the at-risk or first-infusion
    ceiling)."""
    s = plan.schedule
    mg = s.mg_per_kg_per_min(s.maximum, plan.product.concentration)
    return mg_per_kg_min_to_ml_per_h(mg, plan.dosing_weight.kg, plan.product.concentration)


def _ismp() -> str:
    return load_catalogue().sources["ismp-drug-library"].cite()


def _near(value: float, target: float, tolerance: float) -> bool:
    return target > 0 and abs(value - target) <= tolerance * target


def _positive_rate(value: float, field: str, what: str) -> float:
    rate = number(value, field=field, what=what)
    if rate <= 0:
        raise InvalidInput(f"{what} must be above 0 mL/h (got {rate:g})", field=field)
    return rate


def check_rate_entry(
    rate_ml_per_h: float,
    *,
    steps: Sequence[RateStep],
    planned_ml_per_h: float,
    previous_ml_per_h: float | None,
    weight_kg: float,
    concentration_mg_per_ml: float,
    label_max_ml_per_h: float,
    rules: LimitRules | None = None,
) -> tuple[SoftLimit, ...]:
    """Check a pump rate typed by the nurse against the order (items 48-50, 47).

    ``planned_ml_per_h`` is the planned step's rate at the time of the change;
    ``previous_ml_per_h`` the rate on the pump before it. Raises HardLimit (field
    ``rate_ml_per_h``) for an implausible or over-the-label rate; returns the soft limits
    crossed (a rate above the plan's ceiling, the highest planned step).
    """
    r = rules or load_limits()
    rate_ml_per_h = number(rate_ml_per_h, field="rate_ml_per_h", what="the rate")
    if rate_ml_per_h <= 0:
        raise InvalidInput(
            f"a rate must be above 0 mL/h (got {rate_ml_per_h:g})", field="rate_ml_per_h"
        )
    planned_ml_per_h = _positive_rate(planned_ml_per_h, "planned_ml_per_h", "the planned rate")
    if previous_ml_per_h is not None:
        previous_ml_per_h = _positive_rate(
            previous_ml_per_h, "previous_ml_per_h", "the rate before it"
        )
    label_max_ml_per_h = _positive_rate(
        label_max_ml_per_h, "label_max_ml_per_h", "the label's maximum rate"
    )
    weight_kg, concentration_mg_per_ml = weight_and_concentration(
        weight_kg, concentration_mg_per_ml
    )
    if not steps:
        raise InvalidInput("the order has no rate steps", field="steps")
    tol = r.match_tolerance.value
    planned_rates = [s.rate_ml_per_h for s in steps]
    is_planned = any(_near(rate_ml_per_h, p, tol) for p in planned_rates)
    field = "rate_ml_per_h"
    if rate_ml_per_h > label_max_ml_per_h + 1e-6:
        raise HardLimit(
            f"{rate_ml_per_h:g} mL/h is above the label's maximum of {label_max_ml_per_h:g} "
            f"mL/h for this patient ({weight_kg:g} kg): no one can record it",
            field=field,
            rule="label-maximum",
            limit=round(label_max_ml_per_h, 1),
            value=rate_ml_per_h,
            unit="mL/h",
        )
    if r.wrong_field_check.value and rate_ml_per_h < min(planned_rates) * (1 - tol):
        for s in steps:
            per_kg = {
                "mg/kg/min": s.rate_mg_per_kg_per_min,
                "mL/kg/min": s.rate_mg_per_kg_per_min / concentration_mg_per_ml,
                "mL/kg/h": s.rate_mg_per_kg_per_min * 60 / concentration_mg_per_ml,
            }
            for unit, figure in per_kg.items():
                if _near(rate_ml_per_h, figure, tol):
                    raise HardLimit(
                        f"{rate_ml_per_h:g} mL/h looks like the step's {figure:g} {unit} typed "
                        f"into the mL/h field (the step is {s.rate_ml_per_h:g} mL/h): check the "
                        "pump and enter the rate in mL/h",
                        field=field,
                        rule="wrong-field",
                        limit=s.rate_ml_per_h,
                        value=rate_ml_per_h,
                        unit="mL/h",
                    )
    if not is_planned:
        bases = [("the planned step", planned_ml_per_h)]
        if previous_ml_per_h is not None:
            bases.append(("the rate before it", previous_ml_per_h))
        for what, base in bases:
            for k in r.fold_multiples.value:
                if _near(rate_ml_per_h, base * k, tol):
                    raise HardLimit(
                        f"{rate_ml_per_h:g} mL/h is {k:g} times {what} ({base:g} mL/h) and is "
                        "not a planned step: a likely slip of the decimal point or a mix-up "
                        "with another order; check and enter again",
                        field=field,
                        rule=f"fold-{k:g}x",
                        limit=base,
                        value=rate_ml_per_h,
                        unit="mL/h",
                    )
    ceiling = max(planned_rates)
    if rate_ml_per_h > ceiling * (1 + 1e-9):
        return (
            SoftLimit(
                "above-planned-maximum",
                f"{rate_ml_per_h:g} mL/h is above this order's maximum of {ceiling:g} mL/h "
                "(the at-risk or first-infusion ceiling of the plan)",
                ceiling,
                rate_ml_per_h,
                "mL/h",
                _ismp(),
            ),
        )
    return ()


def course_soft_limits(plan: Plan, regimen: Regimen) -> tuple[SoftLimit, ...]:
    """The soft limits a prescription crosses (item 47): a dose outside the indication's usual
    range, a product switch, and each blocking screening finding."""
    out: list[SoftLimit] = []
    ind = plan.indication
    if regimen.phase is Phase.maintenance and regimen.dose_g_per_kg is not None:
        low, high = ind.maintenance_dose_g_per_kg.value
        if not low <= regimen.dose_g_per_kg <= high:
            out.append(
                SoftLimit(
                    "dose-outside-usual-range",
                    f"{regimen.dose_g_per_kg:g} g/kg per infusion is outside the usual "
                    f"{low:g}-{high:g} g/kg for {ind.short_name} maintenance",
                    high if regimen.dose_g_per_kg > high else low,
                    regimen.dose_g_per_kg,
                    "g/kg",
                    ind.maintenance_dose_g_per_kg.source.cite(),
                )
            )
    if regimen.phase is Phase.induction and regimen.total_g_per_kg is not None:
        usual = ind.induction_total_g_per_kg.value
        if not math.isclose(regimen.total_g_per_kg, usual, abs_tol=1e-9):
            out.append(
                SoftLimit(
                    "dose-outside-usual-range",
                    f"an induction total of {regimen.total_g_per_kg:g} g/kg differs from the "
                    f"usual {usual:g} g/kg for {ind.short_name}",
                    usual,
                    regimen.total_g_per_kg,
                    "g/kg",
                    ind.induction_total_g_per_kg.source.cite(),
                )
            )
    if regimen.previous_product and regimen.previous_product != plan.product.id:
        out.append(
            SoftLimit(
                "product-switch",
                f"a switch from {regimen.previous_product} to {plan.product.id}",
                None,
                None,
                "",
                _ismp(),
            )
        )
    for f in plan.findings:
        if f.severity.value == "block":
            out.append(SoftLimit(f"blocking-{f.code}", f.message, None, None, "", f.source))
    return tuple(out)
