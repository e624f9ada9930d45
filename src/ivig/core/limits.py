"""Drug-library limits: what no one can save (hard) and what needs an override (soft).

Rules (issue 5; safety-security-requirements.md items 47-50, 60; ISMP smart-pump guidelines):

- **Hard** (item 48): a rate above the label's maximum for the patient's dosing weight; a rate
  2, 5 or 10 times the planned step or the previous rate that is not itself a planned step
  (item 49); a rate equal to a step's mg/kg/min, mL/kg/min or mL/kg/h number typed into the
  mL/h field (item 50). :func:`check_rate_entry` raises :class:`~ivig.errors.HardLimit`.
- **Soft** (item 47): a rate above the plan's ceiling (the at-risk or first-infusion maximum)
  but within the label's maximum; a dose outside the usual range (:func:`usual_dose_limits`); a
  product switch; a blocking screening finding at prescribing. Returned as :class:`SoftLimit`
  rows for the records layer, which saves them only with a coded reason (:func:`override_reasons`),
  a note and the user's password.
- **The usual dose** (issue 14 item 11) is ONE rule, used by the plan (a finding), the prescribe
  page's preview and the order (an override): a maintenance dose outside the indication's usual
  range per infusion, an induction total other than the indication's (``indications.toml``), and
  more than the labels give on one day (1 g/kg: Privigen's CIDP loading dose of 2 g/kg over 2-5
  consecutive days and maintenance of 1 g/kg in 1-2 infusions; ``limits.toml``).

The numbers (fold multiples, tolerances, minimum step share, the day's usual maximum, the
reasons) are in ``data/limits.toml``; every one is a sourced value.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from ivig.core.catalogue import Indication, Source, Sourced, load_catalogue
from ivig.core.checks import number
from ivig.core.phases import Phase
from ivig.core.rates import RateStep, weight_and_concentration
from ivig.core.units import RATE_UNITS, from_mg_per_kg_min, rate_to_ml_per_h
from ivig.errors import CatalogueError, HardLimit, InvalidInput

if TYPE_CHECKING:  # the planner calls usual_dose_limits, so this module cannot import it
    from ivig.core.plan import Plan, Regimen

__all__ = [
    "LimitRules",
    "OverrideReason",
    "SoftLimit",
    "check_rate_entry",
    "course_soft_limits",
    "label_maximum_ml_per_h",
    "load_limits",
    "read_limits",
    "regimen_dose_limits",
    "usual_dose_limits",
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
    day_maximum_g_per_kg: Sourced[float]
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
    day_maximum = _positive(
        _sourced(data.get("usual_dose", {}), "usual_dose", "day_maximum_g_per_kg", sources),
        "day_maximum_g_per_kg",
    )
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
        day_maximum_g_per_kg=Sourced(
            float(day_maximum.value), day_maximum.source, day_maximum.verified, day_maximum.note
        ),
        reasons=tuple(reasons),
    )


def packaged_limits_toml() -> dict[str, Any]:
    """The data of limits.toml as shipped in the package (its readers cache what they build)."""
    try:
        with resources.files("ivig").joinpath("data", "limits.toml").open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise CatalogueError("catalogue file limits.toml is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"catalogue file limits.toml is not valid TOML: {exc}") from None


@functools.cache
def load_limits() -> LimitRules:
    """The limits shipped in the package (read once per process)."""
    return read_limits(packaged_limits_toml(), load_catalogue().sources)


def label_maximum_ml_per_h(plan: Plan) -> float:
    """The label schedule's maximum rate as mL/h at the plan's dosing weight (the hard limit
    at the chair; the plan's own top step may be lower: the at-risk or first-infusion
    ceiling)."""
    s = plan.schedule
    return rate_to_ml_per_h(s.maximum, s.unit, plan.dosing_weight.kg, plan.product.concentration)


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
            for unit in RATE_UNITS:
                figure = from_mg_per_kg_min(s.rate_mg_per_kg_per_min, unit, concentration_mg_per_ml)
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


def _unverified(value: Sourced[Any]) -> str:
    return "" if value.verified else " (UNVERIFIED)"


def usual_dose_limits(
    indication: Indication,
    phase: Phase,
    g_per_kg: float,
    *,
    days: int = 1,
    rules: LimitRules | None = None,
) -> tuple[SoftLimit, ...]:
    """The usual-dose soft limit a prescription crosses, if any (issue 14 item 11; item 47).

    ``g_per_kg`` is the maintenance dose per infusion, or the induction total given over
    ``days`` consecutive days. Crossed: a maintenance dose outside the indication's usual range
    (NBA Criteria V3 pattern 0.4-1 g/kg, UNVERIFIED); an induction total other than the
    indication's (2 g/kg); more than ``day_maximum_g_per_kg`` on one day (1 g/kg: the labels
    give 2 g/kg over 2-5 days, never in one). One row: a dose above its usual range and above
    the day's maximum is one limit saying both. A value UNVERIFIED in the catalogue says so.
    """
    r = rules or load_limits()
    most = r.day_maximum_g_per_kg
    per_day = g_per_kg / days if phase is Phase.induction else g_per_kg
    over_day = per_day > most.value + 1e-9
    usual: Sourced[Any]
    if phase is Phase.maintenance:
        usual = indication.maintenance_dose_g_per_kg
        low, high = usual.value
        outside = not low - 1e-9 <= g_per_kg <= high + 1e-9
        limit = high if g_per_kg > high else low
        text = (
            f"{g_per_kg:g} g/kg per infusion is {'above' if g_per_kg > high else 'below'} the "
            f"usual {low:g}-{high:g} g/kg for {indication.short_name} maintenance"
        )
        given = f"{g_per_kg:g} g/kg in one infusion"
    else:
        usual = indication.induction_total_g_per_kg
        limit = indication.induction_total_g_per_kg.value
        outside = not math.isclose(g_per_kg, limit, abs_tol=1e-9)
        text = (
            f"an induction total of {g_per_kg:g} g/kg differs from the usual {limit:g} g/kg for "
            f"{indication.short_name}"
        )
        given = f"{per_day:.3g} g/kg a day ({g_per_kg:g} g/kg over {days} days)"
    day = (
        f"more than the {most.value:g} g/kg a day the labels give{_unverified(most)}: "
        "divide it over consecutive days"
    )
    if outside:
        text += _unverified(usual) + (f", and {day}" if over_day else "")
        source = usual.source.cite() + (f"; {most.source.cite()}" if over_day else "")
        return (SoftLimit("dose-outside-usual-range", text, limit, g_per_kg, "g/kg", source),)
    if over_day:
        return (
            SoftLimit(
                "dose-above-usual-day",
                f"{given} is {day}",
                most.value,
                round(per_day, 3),
                "g/kg a day",
                most.source.cite(),
            ),
        )
    return ()


def regimen_dose_limits(
    regimen: Regimen, indication: Indication, days: int
) -> tuple[SoftLimit, ...]:
    """:func:`usual_dose_limits` for what a prescriber asked: the maintenance dose, or the
    induction total (the indication's when none was given) over ``days`` days."""
    if regimen.phase is Phase.maintenance:
        asked = regimen.dose_g_per_kg
    else:
        asked = regimen.total_g_per_kg
        asked = indication.induction_total_g_per_kg.value if asked is None else asked
    if asked is None:  # no maintenance dose: the planner refuses it
        return ()
    return usual_dose_limits(indication, regimen.phase, asked, days=days)


def course_soft_limits(plan: Plan, regimen: Regimen) -> tuple[SoftLimit, ...]:
    """The soft limits a prescription crosses (item 47): the usual dose
    (:func:`regimen_dose_limits`, the rule the plan shows as findings), a product switch, and
    each blocking screening finding."""
    out = list(regimen_dose_limits(regimen, plan.indication, len(plan.doses)))
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
