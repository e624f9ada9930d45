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
reasons) are in the library's ``limits.toml`` (:func:`read_limits`); every one is a sourced value,
and every check takes the rules in service as its ``rules`` argument (``Library.limits``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ivig.core.catalogue import Indication
from ivig.core.checks import number
from ivig.core.phases import Phase
from ivig.core.rates import RateStep, weight_and_concentration
from ivig.core.sourced import Reader, Source, Sourced
from ivig.core.units import (
    RATE_UNITS,
    from_mg_per_kg_min,
    rate_to_ml_per_h,
)
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


_SOFT_LIMIT_SOURCE = "ismp-drug-library"


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
    soft_limit_source: Source  # what a soft limit without its own source cites (ISMP)

    def reason(self, code: str) -> OverrideReason:
        for r in self.reasons:
            if r.code == code:
                return r
        known = ", ".join(r.code for r in self.reasons)
        raise InvalidInput(
            f"unknown override reason '{code}'; use one of: {known}", field="reason_code"
        )


def read_limits(data: Mapping[str, Any], sources: Mapping[str, Source]) -> LimitRules:
    """Check the parsed ``limits.toml``; raise :class:`~ivig.errors.CatalogueError`."""
    entry = Reader.of(data, "rate_entry", "limits.toml", sources)
    increase = Reader.of(data, "rate_increase", "limits.toml", sources)
    usual = Reader.of(data, "usual_dose", "limits.toml", sources)
    folds = entry.required("fold_multiples")
    if not (
        isinstance(folds.value, list)
        and folds.value
        and all(
            isinstance(x, int | float) and not isinstance(x, bool) and x > 1 for x in folds.value
        )
    ):
        raise entry.fail("fold_multiples", "value must list numbers above 1")
    leeway = increase.required("clock_leeway_minutes")
    if isinstance(leeway.value, bool) or not isinstance(leeway.value, int) or leeway.value < 0:
        raise increase.fail("clock_leeway_minutes", "value must be 0 or more")
    reasons = []
    for i, r in enumerate(data.get("override_reasons", [])):
        code, label = r.get("code"), r.get("label")
        if not (isinstance(code, str) and code and isinstance(label, str) and label):
            raise CatalogueError(
                f"catalogue limits.toml override_reasons[{i}]: needs a code and a label"
            )
        reasons.append(OverrideReason(code, label))
    if not reasons:
        raise CatalogueError("catalogue limits.toml: list at least one [[override_reasons]]")
    if _SOFT_LIMIT_SOURCE not in sources:
        raise CatalogueError(
            f"catalogue sources.toml: the soft limits cite '{_SOFT_LIMIT_SOURCE}', which is missing"
        )
    return LimitRules(
        fold_multiples=Sourced(
            tuple(float(x) for x in folds.value), folds.source, folds.verified, folds.note
        ),
        match_tolerance=entry.required_sourced_number("match_tolerance"),
        wrong_field_check=entry.sourced_flag("wrong_field_check"),
        vitals_within_minutes=increase.sourced_positive("vitals_within_minutes"),
        minimum_step_share=increase.required_sourced_number("minimum_step_share"),
        clock_leeway_minutes=leeway,
        day_maximum_g_per_kg=usual.required_sourced_number("day_maximum_g_per_kg"),
        reasons=tuple(reasons),
        soft_limit_source=sources[_SOFT_LIMIT_SOURCE],
    )


def label_maximum_ml_per_h(plan: Plan) -> float:
    """The label schedule's maximum rate as mL/h at the plan's dosing weight (the hard limit
    at the chair; the plan's own top step may be lower: the at-risk or first-infusion
    ceiling)."""
    s = plan.schedule
    return rate_to_ml_per_h(s.maximum, s.unit, plan.dosing_weight.kg, plan.product.concentration)


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
    rules: LimitRules,
) -> tuple[SoftLimit, ...]:
    """Check a pump rate typed by the nurse against the order (items 48-50, 47).

    ``planned_ml_per_h`` is the planned step's rate at the time of the change;
    ``previous_ml_per_h`` the rate on the pump before it. Raises HardLimit (field
    ``rate_ml_per_h``) for an implausible or over-the-label rate; returns the soft limits
    crossed (a rate above the plan's ceiling, the highest planned step). ``rules``: the
    library's limits.
    """
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
    tol = rules.match_tolerance.value
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
    if rules.wrong_field_check.value and rate_ml_per_h < min(planned_rates) * (1 - tol):
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
            for k in rules.fold_multiples.value:
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
                rules.soft_limit_source.cite(),
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
    rules: LimitRules,
) -> tuple[SoftLimit, ...]:
    """The usual-dose soft limit a prescription crosses, if any (issue 14 item 11; item 47).

    ``g_per_kg`` is the maintenance dose per infusion, or the induction total given over
    ``days`` consecutive days. Crossed: a maintenance dose outside the indication's usual range
    (NBA Criteria V3 pattern 0.4-1 g/kg, UNVERIFIED); an induction total other than the
    indication's (2 g/kg); more than ``day_maximum_g_per_kg`` on one day (1 g/kg: the labels
    give 2 g/kg over 2-5 days, never in one). One row: a dose above its usual range and above
    the day's maximum is one limit saying both. A value UNVERIFIED in the catalogue says so.
    ``rules``: the library's limits (``day_maximum_g_per_kg``).
    """
    most = rules.day_maximum_g_per_kg
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
    regimen: Regimen, indication: Indication, days: int, rules: LimitRules
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
    return usual_dose_limits(indication, regimen.phase, asked, days=days, rules=rules)


def course_soft_limits(plan: Plan, regimen: Regimen, rules: LimitRules) -> tuple[SoftLimit, ...]:
    """The soft limits a prescription crosses (item 47): the usual dose
    (:func:`regimen_dose_limits`, the rule the plan shows as findings), a product switch, and
    each blocking screening finding."""
    out = list(regimen_dose_limits(regimen, plan.indication, len(plan.doses), rules))
    if regimen.previous_product and regimen.previous_product != plan.product.id:
        out.append(
            SoftLimit(
                "product-switch",
                f"a switch from {regimen.previous_product} to {plan.product.id}",
                None,
                None,
                "",
                rules.soft_limit_source.cite(),
            )
        )
    for f in plan.findings:
        if f.severity.value == "block":
            out.append(SoftLimit(f"blocking-{f.code}", f.message, None, None, "", f.source))
    return tuple(out)
