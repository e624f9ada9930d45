"""A course plan: the dosing weight, each dose with its vials and rate steps, and the findings.

``plan_course`` is the one entry point the CLI, the API and the web pages call. It validates its
inputs, calls the pure rules in ``weights``, ``dosing``, ``rates`` and ``screening``, and returns a
:class:`Plan` whose every number names its basis. ``Plan.as_dict`` is the JSON contract of
``ivig plan --json`` (issue 2).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ivig.core.catalogue import Catalogue, Indication, Product, RateSchedule, Sourced
from ivig.core.checks import number, number_in_range, shown
from ivig.core.dosing import (
    DOSE_DATES,
    LARGER_LAST_WHY,
    MAX_COUNTED_DOSES,
    MAX_DOSE_G,
    GivenDose,
    RoundingReason,
    VialPick,
    _worst_window,
    check_under_cap,
    induction_dates,
    maintenance_dates,
    rolling_cap,
    round_course,
    round_to_vials,
    vial_label,
)
from ivig.core.library import Library
from ivig.core.limits import LimitRules, regimen_dose_limits
from ivig.core.phases import Phase
from ivig.core.rates import RampStep, RateCeiling, RateStep, rate_ramp, rate_steps
from ivig.core.renal import EGFR_UNIT, CreatinineUnit, RenalFunction, renal_function
from ivig.core.screening import (
    Finding,
    FindingSeverity,
    RiskAssessment,
    ScreeningInput,
    assess_risks,
    screen,
    sort_findings,
)
from ivig.core.units import grams_to_ml, plain_number, round_half_up
from ivig.core.weights import DosingWeight, Sex, WeightBasis, dosing_weight
from ivig.errors import InvalidInput, IvigError, NoRateSchedule, UnknownProduct

__all__ = ["Dose", "Patient", "Phase", "Plan", "Regimen", "Rounding", "plan_course"]

DATE_RANGE = (dt.date(1900, 1, 1), dt.date(2199, 12, 31))
MAX_EARLIER_DOSE_G = 400.0  # 2 g/kg for 200 kg
G_PER_KG_RANGE = (0.05, 4.0)


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient facts a plan needs."""

    sex: Sex
    height_cm: float
    weight_kg: float
    age: int
    pregnant: bool = False
    risks: frozenset[str] = frozenset()
    egfr: float | None = None
    creatinine: float | None = None
    creatinine_unit: CreatinineUnit | None = None  # required with a creatinine: never assumed
    renal_measured_on: dt.date | None = None  # the date of the creatinine or eGFR, when known


@dataclass(frozen=True, slots=True)
class Regimen:
    """What the prescriber asks for."""

    indication: str
    product: str
    phase: Phase
    start: dt.date
    total_g_per_kg: float | None = None  # induction; default: the indication's
    days: int | None = None  # induction
    dose_g_per_kg: float | None = None  # maintenance
    every_weeks: int | None = None  # maintenance
    count: int | None = None  # maintenance
    until: dt.date | None = None  # maintenance
    weight_basis: WeightBasis = WeightBasis.auto
    # The prescriber's clinical reason for a weight basis the NBA rule excludes (issue 14, 3).
    weight_basis_reason: str = ""
    # None: inferred: a first infusion unless ``history``, ``previous_product`` or
    # ``last_infusion`` show earlier infusions (issue 14, item 9).
    first_infusion: bool | None = None
    history: tuple[GivenDose, ...] = ()  # doses given before this course (before ``start``)
    # Doses of other courses already recorded or planned, on any date: they count toward the
    # cap like the history, but say nothing about the last infusion.
    other_doses: tuple[GivenDose, ...] = ()
    previous_product: str | None = None
    last_infusion: dt.date | None = None  # default: the latest date in ``history``
    # Whether the last infusion was tolerated (None: not known; False: a reaction was
    # recorded): a later-infusion start rate needs a tolerated infusion of the same product.
    last_infusion_tolerated: bool | None = None
    # The prescriber's cap after a reaction (issue 16's closing note): a ramp input for the
    # doses after the reaction's day (``rates.rate_steps``), never a display clamp.
    rate_ceiling: RateCeiling | None = None


@dataclass(frozen=True, slots=True)
class Dose:
    """One planned infusion."""

    date: dt.date
    vials: VialPick
    volume_ml: float
    steps: tuple[RateStep, ...]

    @property
    def duration_min(self) -> float:
        return self.steps[-1].end_min


@dataclass(frozen=True, slots=True)
class Rounding:
    """The rounding rule a plan used (issue 14 items 1, 10, 16), with its sources."""

    increment: Sourced[float | str | None]  # the drug library's rounding increment
    increment_g: float | None  # for this product; None: any whole-vial amount
    step_g: float  # one step: the smallest vial, or the smallest multiple of the increment
    change_pct: Sourced[float]  # a larger rounding change is a finding
    fewer_vials_pct: Sourced[float]  # how much further from the total fewer vials may go

    @property
    def rule(self) -> str:
        step = plain_number(self.step_g, 2)
        made = (
            "whole vials"
            if self.increment_g is None
            else f"whole vials, a multiple of {plain_number(self.increment_g, 2)} g"
        )
        return (
            f"{made}; each dose less than one step ({step} g) from its prescribed share, the "
            "course total nearest the prescribed total, never above the cap, with the fewest "
            f"vials among totals within {plain_number(self.fewer_vials_pct.value)} % of the "
            f"nearest; the doses of a course at most {step} g apart, {LARGER_LAST_WHY}; a change "
            f"above {plain_number(self.change_pct.value)} % is a finding"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "increment_g": self.increment_g,
            "step_g": self.step_g,
            "larger_doses": "last",
            "source": self.increment.source.cite(),
            "verified": self.increment.verified,
            "change_finding_pct": self.change_pct.value,
            "change_finding_source": self.change_pct.source.cite(),
            "fewer_vials_within_pct": self.fewer_vials_pct.value,
            "fewer_vials_source": self.fewer_vials_pct.source.cite(),
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """A whole course plan, with the basis of every number."""

    catalogue_version: str
    indication: Indication
    phase: Phase
    product: Product
    schedule: RateSchedule
    on_label: bool
    dosing_weight: DosingWeight
    risks: RiskAssessment
    maximum_mg_per_kg_per_min: float
    at_risk_cap: Sourced[float] | None
    protocol_parts: tuple[str, ...]
    doses: tuple[Dose, ...]
    history: tuple[GivenDose, ...]  # every other dose counted toward the cap
    cap_g: float
    max_window_g: float
    findings: tuple[Finding, ...]
    unverified: tuple[str, ...] = field(default=())
    rounding: Rounding | None = None
    renal: RenalFunction = field(default=RenalFunction(egfr=None))
    renal_max_age_days: int | None = None
    egfr_threshold: Sourced[float] | None = None
    ckd_epi_source: str = ""

    @property
    def total_g(self) -> float:
        return sum(d.vials.total_g for d in self.doses)

    @property
    def max_28d_g_per_kg(self) -> float:
        return self.max_window_g / self.dosing_weight.checked_kg

    @property
    def maximum_exclusive(self) -> bool:
        """The maximum is an at-risk cap the pump rate stays below ("less than")."""
        return (
            self.at_risk_cap is not None
            and self.at_risk_cap is self.product.at_risk_max_mg_per_kg_min
            and self.product.at_risk_max_exclusive
        )

    @property
    def blocked(self) -> bool:
        return any(f.severity is FindingSeverity.block for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (the contract of ``ivig plan --json``)."""
        w = self.dosing_weight
        p = self.product
        return {
            "catalogue_version": self.catalogue_version,
            "indication": {"id": self.indication.id, "name": self.indication.name},
            "phase": self.phase.value,
            "dosing_weight": {
                "kg": w.kg,
                "basis": w.basis.value,
                "actual_kg": w.actual_kg,
                "ideal_kg": w.ideal_kg,
                "adjusted_kg": w.adjusted_kg,
                "bmi": w.bmi,
                "reason": w.reason,
                "checked_kg": w.checked_kg,
                "insisted": w.insisted,
            },
            "product": {
                "id": p.id,
                "name": p.display_name,
                "concentration_mg_per_ml": p.concentration,
                "verified": p.verified,
            },
            "schedule": {
                "label": self.schedule.label,
                "group": self.schedule.group,
                "basis": self.schedule.basis,
                "on_label": self.on_label,
                "source": self.schedule.source.cite(),
                "verified": self.schedule.verified,
                "maximum_mg_per_kg_per_min": _r(self.maximum_mg_per_kg_per_min, 3),
                "maximum_exclusive": self.maximum_exclusive,
                "protocol": list(self.protocol_parts),
            },
            "doses": [
                {
                    "date": d.date.isoformat(),
                    "prescribed_g": _r(d.vials.prescribed_g, 2),
                    "dose_g": d.vials.total_g,
                    "deviation_pct": _r(d.vials.deviation_pct, 1),
                    "vials": [{"size_g": s, "count": n} for s, n in d.vials.vials],
                    "rounding": {
                        "reason": d.vials.reason.value,
                        "why": d.vials.why,
                        "nearest_g": d.vials.nearest_g,
                    },
                    "volume_ml": _r(d.volume_ml, 2),
                    "steps": [
                        {
                            "start_min": s.start_min,
                            "end_min": s.end_min,
                            "rate_ml_per_h": s.rate_ml_per_h,
                            "rate_mg_per_kg_per_min": _r(s.rate_mg_per_kg_per_min, 3),
                            "volume_ml": _r(s.volume_ml, 2),
                            "basis": s.basis,
                        }
                        for s in d.steps
                    ],
                    "duration_min": d.duration_min,
                }
                for d in self.doses
            ],
            "total_g": self.total_g,
            "rounding": self.rounding.as_dict() if self.rounding else None,
            "cap_g_per_kg": self.indication.cap_g_per_kg.value,
            "cap_window_days": self.indication.cap_window_days.value,
            "max_28d_g_per_kg": _r(self.max_28d_g_per_kg, 3),
            "findings": [
                {
                    "code": f.code,
                    "severity": f.severity.value,
                    "message": f.message,
                    "source": f.source,
                }
                for f in self.findings
            ],
            "renal": self.renal_dict(),
            "unverified": list(self.unverified),
        }

    def renal_dict(self) -> dict[str, Any]:
        """The renal function the plan used (issue 14 item 2): the eGFR, how it was had (the
        formula, its source and inputs), its date and age, and the threshold it was compared
        with."""
        r = self.renal
        first = self.doses[0].date if self.doses else None
        age_days = (first - r.measured_on).days if first and r.measured_on else None
        threshold = self.egfr_threshold
        return {
            "egfr": None if r.egfr is None else _r(r.egfr, 1),
            "unit": EGFR_UNIT,
            "basis": r.basis,
            "formula": r.formula,
            "source": self.ckd_epi_source if r.formula else None,
            "inputs": None
            if r.creatinine is None
            else {
                "creatinine": r.creatinine,
                "creatinine_unit": r.creatinine_unit.value if r.creatinine_unit else None,
                "creatinine_mg_per_dl": _r(r.creatinine_mg_per_dl or 0.0, 3),
                "age": r.age,
                "sex": r.sex.value if r.sex else None,
            },
            "text": r.describe(),
            "measured_on": r.measured_on.isoformat() if r.measured_on else None,
            "age_days": age_days,
            "max_age_days": self.renal_max_age_days,
            "threshold": None
            if threshold is None
            else {
                "egfr": threshold.value,
                "verified": threshold.verified,
                "source": threshold.source.cite(),
                "below": r.egfr is not None and r.egfr < threshold.value,
            },
        }


def _r(value: float, places: int) -> float:
    return round_half_up(value, places)


def _in_range(name: str, value: float, bounds: tuple[float, float], unit: str, what: str) -> float:
    return number_in_range(value, bounds, field=name, unit=unit, what=what)


def _renal(patient: Patient) -> RenalFunction:
    return renal_function(
        egfr=patient.egfr,
        creatinine=patient.creatinine,
        unit=patient.creatinine_unit,
        age=patient.age,
        sex=patient.sex,
        measured_on=patient.renal_measured_on,
    )


def _renal_findings(
    renal: RenalFunction, first_dose: dt.date, max_age_days: int | None, cat: Catalogue
) -> list[Finding]:
    """No baseline renal function, or one older than the service's limit: warn (the SmPC:
    "assess renal parameters prior to infusion & at appropriate intervals", clinical-rules.md
    section 7a; issue 14 item 5). Worded for every channel: each edge adds its own hint."""
    source = cat.sources["eu-smpc-ig"]
    if renal.egfr is None:
        return [
            Finding.of(
                "renal-function-missing",
                FindingSeverity.warn,
                "no baseline renal function: no serum creatinine or eGFR is known for this "
                "plan; assess renal parameters before the infusion, as the SmPC asks",
                source,
            )
        ]
    if renal.measured_on is not None and max_age_days is not None:
        age = (first_dose - renal.measured_on).days
        if age > max_age_days:
            return [
                Finding.of(
                    "renal-function-old",
                    FindingSeverity.warn,
                    f"the latest renal function ({renal.describe()}) is {age} days old at the "
                    f"first dose, older than the service's limit of {max_age_days} days: assess "
                    "renal parameters again before the infusion",
                    source,
                )
            ]
    return []


def _check_date_range(regimen: Regimen) -> None:
    """Refuse dates outside the range the planner works in (a typing error, not a plan)."""
    for name, day in (
        ("start", regimen.start),
        ("until", regimen.until),
        ("last_infusion", regimen.last_infusion),
    ):
        if day is not None and not DATE_RANGE[0] <= day <= DATE_RANGE[1]:
            raise InvalidInput(
                f"{day.isoformat()} is outside {DATE_RANGE[0].year}-{DATE_RANGE[1].year}",
                field=name,
            )


def _check_dates(regimen: Regimen, first: dt.date) -> None:
    """Refuse a last infusion or earlier doses that are not before the course."""
    if regimen.last_infusion is not None and regimen.last_infusion >= first:
        raise InvalidInput(
            f"the last infusion ({regimen.last_infusion.isoformat()}) must be before the first "
            f"planned dose ({first.isoformat()})",
            field="last_infusion",
        )
    for i, earlier in enumerate(regimen.history, start=1):
        grams = number(earlier.grams, field="history", what=f"earlier dose {i}")
        if not 0 < grams <= MAX_EARLIER_DOSE_G:
            raise InvalidInput(
                f"earlier dose {i}: {grams:g} g is not a dose (0-{MAX_EARLIER_DOSE_G:g} g)",
                field="history",
            )
        if not DATE_RANGE[0] <= earlier.date < first:
            raise InvalidInput(
                f"earlier dose {i}: {earlier.date.isoformat()} is not before the first planned "
                f"dose ({first.isoformat()})",
                field="history",
            )


def _whole(value: object, field: str, what: str) -> int:
    """A whole number (not a boolean); its range is checked by the caller."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be a whole number (got {shown(value)})", field=field)
    return value


def _check_other_doses(regimen: Regimen) -> None:
    """Refuse other courses' doses that are no doses, and more than the planner can count."""
    counted = len(regimen.history) + len(regimen.other_doses)
    if counted > MAX_COUNTED_DOSES:
        raise InvalidInput(
            f"{counted} earlier and other doses is more than the {MAX_COUNTED_DOSES} a plan can "
            "count toward the cap",
            field="history" if len(regimen.history) > MAX_COUNTED_DOSES else "other_doses",
        )
    for i, other in enumerate(regimen.other_doses, start=1):
        grams = number(other.grams, field="other_doses", what=f"other dose {i}")
        if not 0 < grams <= MAX_DOSE_G:
            raise InvalidInput(
                f"other dose {i}: {grams:g} g is not a dose (0-{MAX_DOSE_G:g} g)",
                field="other_doses",
            )
        if not DOSE_DATES[0] <= other.date <= DOSE_DATES[1]:
            raise InvalidInput(
                f"other dose {i}: {other.date.isoformat()} is outside "
                f"{DOSE_DATES[0].year}-{DOSE_DATES[1].year}",
                field="other_doses",
            )


def _course_dates(regimen: Regimen, indication: Indication) -> tuple[list[dt.date], float, str]:
    """The dose dates, the g/kg of each dose, and the field a cap breach is blamed on."""
    if regimen.phase is Phase.induction:
        low, high = indication.induction_days.value
        days = regimen.days if regimen.days is not None else low
        _whole(days, "days", "the number of days")
        if not low <= days <= high:
            raise InvalidInput(
                f"induction is given over {low} to {high} consecutive days for "
                f"{indication.short_name} (asked for {shown(days)})",
                field="days",
            )
        total = regimen.total_g_per_kg
        if total is None:
            total = indication.induction_total_g_per_kg.value
        total = _in_range("total_g_per_kg", total, G_PER_KG_RANGE, "g/kg", "induction total")
        return induction_dates(regimen.start, days), total / days, "total_g_per_kg"
    if regimen.dose_g_per_kg is None:
        raise InvalidInput(
            "a maintenance plan needs the dose per infusion in g/kg",
            field="dose_g_per_kg",
        )
    dose = _in_range(
        "dose_g_per_kg", regimen.dose_g_per_kg, G_PER_KG_RANGE, "g/kg", "maintenance dose"
    )
    if regimen.every_weeks is None:
        raise InvalidInput("a maintenance plan needs the interval in weeks", field="every_weeks")
    every = _whole(regimen.every_weeks, "every_weeks", "the interval in weeks")
    low, high = indication.maintenance_every_weeks.value
    if not low <= every <= high:
        raise InvalidInput(
            f"maintenance is given every {low} to {high} weeks for {indication.short_name} "
            f"(asked for every {shown(every)})",
            field="every_weeks",
        )
    dates = maintenance_dates(regimen.start, every, count=regimen.count, until=regimen.until)
    return dates, dose, "dose_g_per_kg"


def _first_infusion(regimen: Regimen) -> bool:
    """The first-infusion flag: as given, or inferred from the earlier infusions shown; a
    first infusion that earlier infusions contradict is refused (issue 14, item 9)."""
    earlier = [
        name
        for name, shown in (
            ("earlier doses", bool(regimen.history)),
            ("a previous product", regimen.previous_product is not None),
            ("a last infusion", regimen.last_infusion is not None),
        )
        if shown
    ]
    if regimen.first_infusion is None:
        return not earlier
    if regimen.first_infusion and earlier:
        raise InvalidInput(
            f"a first IVIG infusion cannot have {' and '.join(earlier)}: check the history",
            field="first_infusion",
        )
    return regimen.first_infusion


def _lowest_start(
    regimen: Regimen,
    first_infusion: bool,
    product_id: str,
    previous: Product | None,
    last_infusion: dt.date | None,
    dates: Sequence[dt.date],
    cat: Catalogue,
) -> list[str]:
    """Per dose, why it starts at the label's lowest rate ("" where a later-infusion start
    rate is allowed).

    A later-infusion start rate (Gammaplex 10 %: 1 mg/kg/min) is allowed only after a tolerated
    infusion of the same product without a long gap ("patients who tolerated the first
    infusion ... could begin subsequent infusions at 0.01 mL/kg/min", gammaplex.com protocol).
    After a first infusion, a product switch or a long interval the EU SmPC asks to start
    slowly: every product starts at its lowest label rate (issue 14, item 6). Earlier doses of
    the same course are the same product, their tolerance not yet known: the finding says so.
    """
    gap_days = cat.protocol.long_gap_weeks.value * 7
    if first_infusion:
        first = "this is the patient's first IVIG infusion"
    elif previous is None:
        first = "the product of the last infusion is not known"
    elif previous.id != product_id:
        first = f"product switch from {previous.display_name}"
    elif last_infusion is None:
        first = "the date of the last infusion is not known"
    elif (dates[0] - last_infusion).days > gap_days:
        first = f"{(dates[0] - last_infusion).days} days since the last infusion"
    elif regimen.last_infusion_tolerated is False:
        first = "a reaction was recorded at the last infusion"
    else:
        first = ""
    out = [first]
    for before, day in itertools.pairwise(dates):
        gap = (day - before).days
        out.append(f"{gap} days since the dose before" if gap > gap_days else "")
    return out


def _start_rate_findings(
    schedule: RateSchedule, product: Product, dates: Sequence[dt.date], lowest: Sequence[str]
) -> list[Finding]:
    """Which doses start at the later-infusion rate, and why the others do not."""
    if schedule.subsequent_initial is None:
        return []
    start_mg = schedule.mg_per_kg_per_min(schedule.subsequent_initial, product.concentration)
    first_mg = schedule.mg_per_kg_per_min(schedule.initial, product.concentration)
    later = [i for i, why in enumerate(lowest, start=1) if not why]
    out = []
    if later:
        which = (
            "every dose starts"
            if len(later) == len(dates)
            else f"{_dose_numbers(later, [dates[i - 1] for i in later])} "
            f"start{'s' if len(later) == 1 else ''}"
        )
        out.append(
            Finding.of(
                "later-start-rate",
                FindingSeverity.info,
                f"{which} at {start_mg:g} mg/kg/min, as the {schedule.basis} allows after "
                f"a tolerated infusion of {product.display_name}; if the infusion before was "
                f"not tolerated, start at {first_mg:g} mg/kg/min",
                schedule.source,
            )
        )
    for i, why in enumerate(lowest, start=1):
        if why:
            out.append(
                Finding.of(
                    "lowest-start-rate",
                    FindingSeverity.info,
                    f"dose {i} ({dates[i - 1].isoformat()}) starts at the lowest rate, "
                    f"{first_mg:g} mg/kg/min, not the later-infusion rate of {start_mg:g}: {why}",
                    schedule.source,
                )
            )
    return out


def _unverified_risks(risks: RiskAssessment, cat: Catalogue) -> tuple[str, ...]:
    """The BMI thresholds not yet verified that made a risk of this patient."""
    out = []
    for code in risks.from_bmi:
        threshold = cat.risks[code].from_bmi
        if threshold is not None and not threshold.verified:
            out.append(f"{code} BMI threshold ({threshold.value:g})")
    return tuple(out)


def _unverified(
    product: Product,
    schedule: RateSchedule,
    indication: Indication,
    phase: Phase,
    at_risk_cap: Sourced[float] | None,
) -> tuple[str, ...]:
    """Names of the catalogue values this plan used that are not verified."""
    used: list[tuple[str, Sourced[Any]]] = [
        (f"{product.id} concentration", product.concentration_mg_per_ml),
        (f"{product.id} vial sizes", product.vial_sizes_g),
        (f"{product.id} excipients", product.excipients),
        (f"{indication.short_name} cap", indication.cap_g_per_kg),
        (f"{indication.short_name} cap window", indication.cap_window_days),
    ]
    if phase is Phase.induction:
        used += [
            (f"{indication.short_name} induction total", indication.induction_total_g_per_kg),
            (f"{indication.short_name} induction days", indication.induction_days),
        ]
    else:
        name = indication.short_name
        used += [
            (f"{name} maintenance interval", indication.maintenance_every_weeks),
            (f"{name} maintenance dose range", indication.maintenance_dose_g_per_kg),
        ]
    if at_risk_cap is not None:
        used.append((f"{product.id} at-risk maximum rate", at_risk_cap))
    names = [name for name, value in used if not value.verified]
    if not schedule.verified:
        names.append(f"{product.id} rate schedule ({schedule.label})")
    return tuple(names)


def plan_course(
    patient: Patient,
    regimen: Regimen,
    library: Library,
    *,
    renal_max_age_days: int | None = None,
) -> Plan:
    """Plan a course with ``library`` (the drug library in service: its catalogue and its
    usual-dose limit); raise an :class:`~ivig.errors.IvigError` naming the field at fault.

    ``renal_max_age_days``: the service's limit on the age of the renal function at the first
    dose (a setting of the records; ``None``: not checked)."""
    cat = library.catalogue
    indication = cat.indication(regimen.indication)
    product = cat.product(regimen.product)
    previous = None
    if regimen.previous_product:
        try:
            previous = cat.product(regimen.previous_product)
        except UnknownProduct as exc:
            exc.field = "previous_product"
            raise
    schedule = product.schedule_for(indication)
    _check_date_range(regimen)
    weight = dosing_weight(
        sex=patient.sex,
        height_cm=patient.height_cm,
        weight_kg=patient.weight_kg,
        age=patient.age,
        pregnant=patient.pregnant,
        basis=regimen.weight_basis,
        insist_reason=regimen.weight_basis_reason,
    )
    first_infusion = _first_infusion(regimen)
    renal = _renal(patient)
    risks = assess_risks(
        patient.risks, age=patient.age, egfr=renal.egfr, catalogue=cat, bmi=weight.bmi
    )
    dates, g_per_kg, cap_field = _course_dates(regimen, indication)
    history = tuple(regimen.history)
    _check_other_doses(regimen)
    counted = (*history, *regimen.other_doses)
    _check_dates(regimen, dates[0])

    cap_g = indication.cap_g_per_kg.value * weight.checked_kg  # never above the actual weight
    window_days = indication.cap_window_days.value
    planned = [GivenDose(d, g_per_kg * weight.kg) for d in dates]
    maintenance = regimen.phase is Phase.maintenance
    check_under_cap(
        planned,
        counted,
        cap_g=cap_g,
        weight_kg=weight.checked_kg,
        window_days=window_days,
        field=cap_field,
        indication=indication.short_name,
        suggest_date=maintenance,
        every_weeks=regimen.every_weeks if maintenance else None,
        weeks_range=indication.maintenance_every_weeks.value if maintenance else None,
    )
    sizes = product.vial_sizes_g.value
    increment_g = cat.protocol.increment_g(sizes)
    picks = round_course(
        planned,
        counted,
        sizes,
        cap_g=cap_g,
        window_days=window_days,
        increment_g=increment_g,
        fewer_vials_within_pct=cat.protocol.fewer_vials_within_pct.value,
    )
    rounding = Rounding(
        cat.protocol.rounding_increment,
        increment_g,
        picks[0].step_g,
        cat.protocol.rounding_change_pct,
        cat.protocol.fewer_vials_within_pct,
    )

    last_infusion = regimen.last_infusion or max((g.date for g in history), default=None)
    lowest = _lowest_start(regimen, first_infusion, product.id, previous, last_infusion, dates, cat)
    lowest_ramp, maximum, cap_source, protocol_parts = rate_ramp(
        schedule, product, cat.protocol, at_risk=risks.at_risk, lowest_start=True
    )
    later_ramp: list[RampStep] = rate_ramp(
        schedule, product, cat.protocol, at_risk=risks.at_risk, lowest_start=False
    )[0]
    doses = []
    # The pump steps depend on the ramp and the volume only: doses alike share them (a year of
    # maintenance is a dozen doses of one volume), computed once.
    steps_of: dict[tuple[bool, float, bool], tuple[RateStep, ...]] = {}
    ceiling = regimen.rate_ceiling
    for day, pick, why in zip(dates, picks, lowest, strict=True):
        volume = grams_to_ml(pick.total_g, product.concentration)
        capped = ceiling is not None and ceiling.holds_on(day)
        key = (bool(why), volume, capped)
        if key not in steps_of:
            steps_of[key] = rate_steps(
                lowest_ramp if why else later_ramp,
                dose_ml=volume,
                weight_kg=weight.checked_kg,
                concentration_mg_per_ml=product.concentration,
                ceiling=ceiling if capped else None,
            )
        doses.append(Dose(day, pick, volume, steps_of[key]))

    given = [*counted, *(GivenDose(d.date, d.vials.total_g) for d in doses)]
    # The fullest window that holds a planned dose (earlier windows are history, not plan).
    fullest = max(_worst_window(given, d.date, window_days).grams for d in doses)  # checked above
    history_peak = rolling_cap(history, window_days)
    findings = screen(
        ScreeningInput(
            risks, product, first_infusion, previous, last_infusion, dates[0], patient.sex
        ),
        cat,
    )
    unverified = _unverified(product, schedule, indication, regimen.phase, cap_source)
    unverified += _unverified_risks(risks, cat)
    unverified += _rounding_unverified(rounding)
    egfr_threshold = cat.protocol.egfr_threshold
    if renal.egfr is not None and not egfr_threshold.verified:  # the threshold was used
        unverified += (f"eGFR threshold for renal risk ({egfr_threshold.value:g} {EGFR_UNIT})",)
    findings += _renal_findings(renal, dates[0], renal_max_age_days, cat)
    on_label = product.is_on_label(indication)
    if history_peak is not None and history_peak.grams > cap_g + 1e-6:
        findings.append(
            Finding.of(
                "history-over-cap",
                FindingSeverity.warn,
                f"the earlier doses already held {history_peak.grams / weight.kg:.2f} g/kg in "
                f"{history_peak.start.isoformat()} to {history_peak.end.isoformat()}, above the "
                f"cap of {indication.cap_g_per_kg.value:g} g/kg (on today's dosing weight); "
                "check the history",
                indication.cap_g_per_kg.source,
            )
        )
    findings += _start_rate_findings(schedule, product, dates, lowest)
    findings += _ceiling_findings(ceiling, doses)
    findings += _usual_dose_findings(regimen, indication, len(dates), library.limits)
    findings += _course_findings(
        product,
        schedule,
        indication,
        on_label,
        weight,
        doses,
        cap_source,
        maximum,
        protocol_parts,
        unverified,
        cat,
    )
    findings += _rounding_findings(doses, counted, rounding, product, indication, cap_g, cat)
    return Plan(
        catalogue_version=cat.version,
        indication=indication,
        phase=regimen.phase,
        product=product,
        schedule=schedule,
        on_label=on_label,
        dosing_weight=weight,
        risks=risks,
        maximum_mg_per_kg_per_min=maximum,
        at_risk_cap=cap_source,
        protocol_parts=protocol_parts,
        doses=tuple(doses),
        history=counted,
        cap_g=cap_g,
        max_window_g=fullest,
        findings=sort_findings(findings),
        unverified=unverified,
        rounding=rounding,
        renal=renal,
        renal_max_age_days=renal_max_age_days,
        egfr_threshold=egfr_threshold,
        ckd_epi_source=cat.sources["ckd-epi-2021"].cite(),
    )


def _at_risk_cap_words(product: Product, cap: Sourced[float], maximum: float) -> str:
    """The at-risk cap as a pharmacist should read it: its comparison, where it comes from,
    and whether it is verified (issue 14, item 12: never "the label's cap" for a value from a
    secondary monograph)."""
    if cap is not product.at_risk_max_mg_per_kg_min:
        return f"{maximum:g} mg/kg/min (the service default, protocol)"
    below = product.at_risk_max_exclusive
    words = f"{'below ' if below else ''}{maximum:g} mg/kg/min"
    origin = f"from {cap.source.title}"
    if not cap.verified:
        return f"{words} (UNVERIFIED cap, not confirmed in the label text; {origin})"
    return f"{words} (the cap {origin})"


def _ceiling_findings(ceiling: RateCeiling | None, doses: Sequence[Dose]) -> list[Finding]:
    """The prescriber's cap after a reaction, and the doses whose ramp it holds (to know: the
    pharmacist checks the steps against the decision)."""
    if ceiling is None:
        return []
    held = [i for i, d in enumerate(doses, start=1) if ceiling.holds_on(d.date)]
    if not held:
        return []
    which = _dose_numbers(held, [doses[i - 1].date for i in held])
    return [
        Finding(
            "rate-ceiling",
            FindingSeverity.info,
            f"{which}: the rate steps go no higher than the {ceiling.basis}",
            ceiling.source,
        )
    ]


def _usual_dose_findings(
    regimen: Regimen, indication: Indication, days: int, rules: LimitRules
) -> list[Finding]:
    """The usual-dose rule of the drug library (``limits.regimen_dose_limits``, issue 14 item
    11) as warnings: the same soft limits need an override when the course is ordered."""
    return [
        Finding(
            limit.code,
            FindingSeverity.warn,
            f"{limit.message}; check the dose (ordering it needs a drug-library override)",
            limit.source,
        )
        for limit in regimen_dose_limits(regimen, indication, days, rules)
    ]


def _course_findings(
    product: Product,
    schedule: RateSchedule,
    indication: Indication,
    on_label: bool,
    weight: DosingWeight,
    doses: Sequence[Dose],
    cap_source: Sourced[float] | None,
    maximum: float,
    protocol_parts: tuple[str, ...],
    unverified: tuple[str, ...],
    cat: Catalogue,
) -> list[Finding]:
    """Findings about the plan itself: weight basis, label use, protocol, rounding, unverified."""
    src = cat.sources
    out: list[Finding] = []
    if weight.insisted:
        checked = (
            f"; rates are computed on the actual weight, {weight.checked_kg:g} kg"
            if weight.checked_kg < weight.kg
            else ""
        )
        out.append(
            Finding.of(
                "adjusted-weight-not-recommended",
                FindingSeverity.warn,
                f"adjusted weight {weight.kg:g} kg used as the prescriber insists "
                f"({weight.insisted}), although the NBA excludes it when {weight.exclusion}; "
                f"the cap and every rate are checked against the actual weight "
                f"({weight.actual_kg:g} kg) as well{checked}",
                src["lifeblood-abw-2026"],
            )
        )
    if cap_source is not None:
        label_max = schedule.mg_per_kg_per_min(schedule.maximum, product.concentration)
        out.append(
            Finding.of(
                "at-risk-maximum",
                FindingSeverity.warn,
                f"maximum rate lowered to {_at_risk_cap_words(product, cap_source, maximum)} "
                f"for a patient at risk (label maximum {label_max:g} mg/kg/min)",
                cap_source.source,
            )
        )
    label_use = "on-label" if on_label else f"off-label for {indication.short_name}"
    out.append(
        Finding.of(
            "rate-schedule",
            FindingSeverity.info,
            f"rates follow the {schedule.label} schedule of {product.display_name} "
            f"({schedule.basis}; {label_use})" + (f"; {schedule.note}" if schedule.note else ""),
            schedule.source,
        )
    )
    if protocol_parts:
        out.append(
            Finding.of(
                "protocol-steps",
                FindingSeverity.info,
                "the label does not say how to increase the rate; "
                "service protocol used (not label): " + "; ".join(protocol_parts),
                cat.protocol.step_minutes.source,
            )
        )
    for dose in doses:
        if dose.vials.limited_by_cap:
            out.append(
                Finding.of(
                    "rounded-down-for-cap",
                    FindingSeverity.info,
                    f"dose on {dose.date.isoformat()} rounded down to {dose.vials.total_g:g} g "
                    f"(prescribed {dose.vials.prescribed_g:.2f} g): the nearer "
                    f"{dose.vials.nearest_g:g} g would pass the cap of "
                    f"{indication.cap_g_per_kg.value:g} g/kg",
                    indication.cap_g_per_kg.source,
                )
            )
    if unverified:
        out.append(
            Finding.of(
                "unverified-values",
                FindingSeverity.warn,
                "this plan uses catalogue values not yet verified against a label or guideline "
                f"(check them before use): {', '.join(unverified)}",
                src["reference-notes"],
            )
        )
    return out


def _rounding_unverified(rounding: Rounding) -> tuple[str, ...]:
    """The rounding values of the service protocol that are not verified."""
    used: list[tuple[str, Sourced[Any]]] = [
        ("rounding increment", rounding.increment),
        ("rounding change threshold", rounding.change_pct),
        ("fewer-vials tolerance", rounding.fewer_vials_pct),
    ]
    return tuple(f"protocol {name}" for name, value in used if not value.verified)


def _dose_numbers(numbers: Sequence[int], dates: Sequence[dt.date]) -> str:
    """'dose 5 (2026-12-05)', 'doses 1-5 (2026-12-01 to 2026-12-05)' or 'doses 1, 3 (...)'."""
    if len(numbers) == 1:
        return f"dose {numbers[0]} ({dates[0].isoformat()})"
    consecutive = numbers[-1] - numbers[0] == len(numbers) - 1
    which = f"{numbers[0]}-{numbers[-1]}" if consecutive else ", ".join(map(str, numbers))
    return f"doses {which} ({dates[0].isoformat()} to {dates[-1].isoformat()})"


def _closer_products(
    share_g: float, room_g: float, limit_pct: float, product: Product, indication: Indication,
    cat: Catalogue,
) -> list[str]:  # fmt: skip
    """Up to three other products with a schedule for the indication whose rounding comes
    within ``limit_pct`` of the share under the cap, nearest first."""
    found: list[tuple[float, str]] = []
    for other in cat.products.values():
        if other.id == product.id:
            continue
        try:
            other.schedule_for(indication)
            sizes = other.vial_sizes_g.value
            pick = round_to_vials(
                share_g, sizes, max_g=room_g, increment_g=cat.protocol.increment_g(sizes)
            )
        except (NoRateSchedule, IvigError):
            continue
        if abs(pick.deviation_pct) <= limit_pct:
            found.append(
                (
                    abs(pick.deviation_pct),
                    f"{other.display_name} {plain_number(pick.total_g, 2)} g "
                    f"({vial_label(pick.vials, compact=True)}, {pick.deviation_pct:+.1f} %)",
                )
            )
    return [text for _, text in sorted(found)[:3]]


def _rounding_findings(
    doses: Sequence[Dose],
    counted: Sequence[GivenDose],
    rounding: Rounding,
    product: Product,
    indication: Indication,
    cap_g: float,
    cat: Catalogue,
) -> list[Finding]:
    """A dose that rounding moves more than the service's threshold from its share is a finding
    naming the doses and what would bring them closer: the nearer vial mix (and why it was not
    taken), or another product (issue 14 item 10)."""
    limit = rounding.change_pct.value
    window_days = indication.cap_window_days.value
    given = [*counted, *(GivenDose(d.date, d.vials.total_g) for d in doses)]
    groups: dict[tuple[float, RoundingReason], list[int]] = {}
    for i, dose in enumerate(doses):
        if abs(dose.vials.deviation_pct) > limit + 1e-9:
            groups.setdefault((dose.vials.total_g, dose.vials.reason), []).append(i)
    out = []
    for (total, reason), indices in groups.items():
        pick = doses[indices[0]].vials
        others = [g for j, g in enumerate(given) if j != len(counted) + indices[0]]
        room = cap_g - _worst_window(others, doses[indices[0]].date, window_days).grams
        share = plain_number(pick.prescribed_g, 2)
        which = _dose_numbers([i + 1 for i in indices], [doses[i].date for i in indices])
        each = " each" if len(indices) > 1 else ""
        text = (
            f"{which}: {plain_number(total, 2)} g{each} is {pick.deviation_pct:+.1f} % from the "
            f"prescribed {share} g, more than the {plain_number(limit)} % the service allows "
            "without comment"
        )
        mix = vial_label(pick.nearest_vials, compact=True)
        nearer = (
            f"the nearer {plain_number(pick.nearest_g, 2)} g ({mix}, "
            f"{(pick.nearest_g - pick.prescribed_g) / pick.prescribed_g * 100:+.1f} %)"
        )
        if reason is RoundingReason.fewer_vials:
            more = pick.nearest_vial_count - pick.vial_count
            text += f"; {nearer} takes {more} more vial{'s' if more > 1 else ''}"
        elif reason is RoundingReason.cap:
            text += f"; {nearer} would pass the cap"
        elif reason is RoundingReason.course_total:
            text += f"; {nearer} would take the course total further from the prescribed total"
        products = _closer_products(pick.prescribed_g, room, limit, product, indication, cat)
        if products:
            text += "; products whose vials come closer: " + "; ".join(products)
        else:
            text += f"; no other product's vials come within {plain_number(limit)} %"
        out.append(
            Finding.of("rounding-change", FindingSeverity.warn, text, rounding.change_pct.source)
        )
    return out
