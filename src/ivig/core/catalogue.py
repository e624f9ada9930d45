"""The drug library: products, rate schedules, indications, risk codes and the service protocol.

Read by :func:`read_catalogue` from a library folder: the one shipped in ``ivig/data`` or a
site's own (``ivig.core.library``; schema in ``ivig/data/README.md``). Every number carries its
:class:`Source` and a ``verified`` flag: values that the reference notes mark UNVERIFIED stay
``verified=False`` and every plan that uses one says so.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from ivig.core.eligibility import Criterion, CriterionKind, Option
from ivig.core.sourced import Reader, Source, Sourced, read_toml
from ivig.core.units import RATE_UNITS, to_mg_per_kg_min
from ivig.errors import CatalogueError, NoRateSchedule, UnknownIndication, UnknownProduct

__all__ = [
    "Catalogue",
    "ExcipientRule",
    "HandoutWords",
    "Indication",
    "Product",
    "Protocol",
    "RateSchedule",
    "Risk",
    "Source",
    "Sourced",
    "read_catalogue",
]

SCHEDULE_GROUPS = ("cidp", "pi", "itp", "mmn", "dm", "general")
SEVERITIES = ("block", "warn", "info")
RISK_GROUPS = ("renal", "thrombosis", "screening")
NO_INCREMENT, SMALLEST_VIAL = "none", "smallest vial"


@dataclass(frozen=True, slots=True)
class RateSchedule:
    """A label's infusion rate schedule for one indication group, in the label's own unit."""

    group: str
    label: str
    basis: str
    source: Source
    verified: bool
    note: str
    unit: str
    initial: float
    maximum: float
    initial_minutes: int | None = None
    step_minutes: int | None = None
    steps: tuple[float, ...] | None = None
    increment: float | None = None
    subsequent_initial: float | None = None

    def mg_per_kg_per_min(self, value: float, concentration_mg_per_ml: float) -> float:
        """``value`` in this schedule's unit, in mg/kg/min (``units.to_mg_per_kg_min``)."""
        return to_mg_per_kg_min(value, self.unit, concentration_mg_per_ml)

    @property
    def increase_from_label(self) -> bool:
        """True when the label itself says how the rate goes up (steps or a fixed increment)."""
        return self.steps is not None or self.increment is not None


@dataclass(frozen=True, slots=True)
class Product:
    """One IVIG product as the pharmacy stocks it."""

    id: str
    name: str
    manufacturer: str
    region: str
    status: str
    concentration_mg_per_ml: Sourced[float]
    vial_sizes_g: Sourced[tuple[float, ...]]
    excipients: Sourced[tuple[str, ...]]
    iga_max_ug_per_ml: Sourced[float] | None
    at_risk_max_mg_per_kg_min: Sourced[float] | None
    schedules: tuple[RateSchedule, ...]
    # The source says "less than" the at-risk cap: the pump rate stays below it (issue 14).
    at_risk_max_exclusive: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.name} ({self.region})"

    @property
    def concentration(self) -> float:
        return self.concentration_mg_per_ml.value

    def sourced_values(self) -> dict[str, Sourced[Any]]:
        """The product's sourced values by field name (schedules excluded)."""
        values: dict[str, Sourced[Any]] = {
            "concentration_mg_per_ml": self.concentration_mg_per_ml,
            "vial_sizes_g": self.vial_sizes_g,
            "excipients": self.excipients,
        }
        if self.iga_max_ug_per_ml is not None:
            values["iga_max_ug_per_ml"] = self.iga_max_ug_per_ml
        if self.at_risk_max_mg_per_kg_min is not None:
            values["at_risk_max_mg_per_kg_min"] = self.at_risk_max_mg_per_kg_min
        return values

    @property
    def verified(self) -> bool:
        """True only when every value and every schedule of the product is verified."""
        return all(v.verified for v in self.sourced_values().values()) and all(
            s.verified for s in self.schedules
        )

    def schedule_for(self, indication: Indication) -> RateSchedule:
        """The label schedule this indication uses, by the indication's preference order."""
        by_group = {s.group: s for s in self.schedules}
        for group in indication.schedule_preference:
            if group in by_group:
                return by_group[group]
        raise NoRateSchedule(self.id, self.display_name)

    def is_on_label(self, indication: Indication) -> bool:
        return any(s.group in indication.on_label_groups for s in self.schedules)


@dataclass(frozen=True, slots=True)
class HandoutWords:
    """What the patient handout says of an indication, in plain words (``[indications.handout]``).

    ``plain_name`` is the name as it reads in a sentence ("myasthenia gravis"); ``about`` says
    what the condition is and ``how_ivig_helps`` how IVIG may help; ``usual_interval`` is how
    often most people have IVIG, said only where a source gives it (else empty)."""

    plain_name: str
    about: str
    how_ivig_helps: str
    usual_interval: str
    source: Source
    verified: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Indication:
    """An indication: its dose rules (induction, maintenance, rolling cap), its plain words
    for the handout, its eligibility criteria and the outcome measures that apply to it (ids
    of ``outcomes.toml``)."""

    id: str
    name: str
    short_name: str
    schedule_preference: tuple[str, ...]
    on_label_groups: tuple[str, ...]
    induction_total_g_per_kg: Sourced[float]
    induction_days: Sourced[tuple[int, int]]
    maintenance_every_weeks: Sourced[tuple[int, int]]
    maintenance_dose_g_per_kg: Sourced[tuple[float, float]]
    cap_g_per_kg: Sourced[float]
    cap_window_days: Sourced[int]
    handout: HandoutWords
    criteria: tuple[Criterion, ...]
    outcome_measures: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Risk:
    """A risk or screening code accepted by ``--risk``."""

    code: str
    meaning: str
    groups: tuple[str, ...]
    source: Source
    from_bmi: Sourced[float] | None = None  # applies, without being given, at this BMI or above


@dataclass(frozen=True, slots=True)
class ExcipientRule:
    """A screening rule that follows from a product's excipient."""

    excipient: str
    condition: str | None
    severity: str
    code: str
    message: str
    source: Source


@dataclass(frozen=True, slots=True)
class Protocol:
    """The service protocol: the values that labels leave open."""

    step_minutes: Sourced[int]
    initial_minutes: Sourced[int]
    at_risk_max_mg_per_kg_min: Sourced[float]
    egfr_threshold: Sourced[float]
    long_gap_weeks: Sourced[int]
    risk_age_years: Sourced[int]
    # The drug library's rounding increment: None (any whole-vial amount), SMALLEST_VIAL, or
    # grams; and the rounding change (%) above which a dose is a finding.
    rounding_increment: Sourced[float | str | None]
    rounding_change_pct: Sourced[float]
    fewer_vials_within_pct: Sourced[float]

    def increment_g(self, sizes_g: Iterable[float]) -> float | None:
        """The rounding increment for a product with these vial sizes (None: whole vials)."""
        value = self.rounding_increment.value
        if value == SMALLEST_VIAL:
            return min(sizes_g)
        return value if isinstance(value, float) else None


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The whole drug library, at one version."""

    version: str
    products: Mapping[str, Product]
    indications: Mapping[str, Indication]
    risks: Mapping[str, Risk]
    excipient_rules: tuple[ExcipientRule, ...]
    protocol: Protocol
    sources: Mapping[str, Source] = field(repr=False)

    def product(self, product_id: str) -> Product:
        try:
            return self.products[product_id]
        except KeyError:
            raise UnknownProduct(product_id, sorted(self.products)) from None

    def indication(self, indication_id: str) -> Indication:
        try:
            return self.indications[indication_id]
        except KeyError:
            raise UnknownIndication(indication_id, sorted(self.indications)) from None


# --- loading ----------------------------------------------------------------------------------


def _read_schedule(
    table: Mapping[str, Any], where: str, sources: Mapping[str, Source]
) -> RateSchedule:
    r = Reader(table, where, sources)
    initial = r.required_number("initial")
    maximum = r.required_number("maximum")
    if initial > maximum:
        raise r.fail("initial", f"({initial}) is above the maximum ({maximum})")
    steps = r.numbers("steps", optional=True)
    if steps is not None:
        chain = (initial, *steps)
        if any(b <= a for a, b in itertools.pairwise(chain)) or steps[-1] > maximum:
            raise r.fail("steps", "must rise from the initial rate and not pass the maximum")
    subsequent = r.number("subsequent_initial", optional=True)
    if subsequent is not None and subsequent > maximum:
        raise r.fail("subsequent_initial", "is above the maximum")
    return RateSchedule(
        group=r.text("group", choices=SCHEDULE_GROUPS),
        label=r.text("label"),
        basis=r.text("basis", optional=True, choices=("label", "manufacturer protocol")) or "label",
        source=r.source(),
        verified=r.raw("verified", bool),
        note=r.text("note", optional=True) or "",
        unit=r.text("unit", choices=RATE_UNITS),
        initial=initial,
        maximum=maximum,
        initial_minutes=r.integer("initial_minutes", optional=True),
        step_minutes=r.integer("step_minutes", optional=True),
        steps=steps,
        increment=r.number("increment", optional=True),
        subsequent_initial=subsequent,
    )


def _read_product(table: Mapping[str, Any], where: str, sources: Mapping[str, Source]) -> Product:
    r = Reader(table, where, sources)
    sizes = r.required("vial_sizes_g")
    if (
        not isinstance(sizes.value, list)
        or not sizes.value
        or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in sizes.value
        )
    ):
        raise r.fail("vial_sizes_g", "value must be a non-empty list of positive numbers")
    excipients = r.sourced_list("excipients", str)
    schedules = tuple(
        _read_schedule(s, f"{where}.schedules[{i}]", sources)
        for i, s in enumerate(r.raw("schedules", list, optional=True) or [])
    )
    groups = [s.group for s in schedules]
    if len(groups) != len(set(groups)):
        raise r.fail("schedules", "has two schedules for the same group")
    concentration = r.required_sourced_number("concentration_mg_per_ml")
    at_risk = r.sourced_number("at_risk_max_mg_per_kg_min", optional=True)
    exclusive = r.raw("at_risk_max_exclusive", bool, optional=True) or False
    if exclusive and at_risk is None:
        raise r.fail("at_risk_max_exclusive", "needs an at_risk_max_mg_per_kg_min")
    return Product(
        id=r.text("id"),
        name=r.text("name"),
        manufacturer=r.text("manufacturer"),
        region=r.text("region"),
        status=r.text("status", choices=("current", "phased-out")),
        concentration_mg_per_ml=concentration,
        vial_sizes_g=Sourced(
            tuple(sorted(float(v) for v in sizes.value)), sizes.source, sizes.verified, sizes.note
        ),
        excipients=Sourced(
            tuple(excipients.value), excipients.source, excipients.verified, excipients.note
        ),
        iga_max_ug_per_ml=r.sourced_number("iga_max_ug_per_ml", optional=True),
        at_risk_max_mg_per_kg_min=at_risk,
        schedules=schedules,
        at_risk_max_exclusive=exclusive,
    )


def _read_indication(
    table: Mapping[str, Any], where: str, sources: Mapping[str, Source]
) -> Indication:
    r = Reader(table, where, sources)
    preference = tuple(r.raw("schedule_preference", list))
    on_label = tuple(r.raw("on_label_groups", list))
    for g in (*preference, *on_label):
        if g not in SCHEDULE_GROUPS:
            raise r.fail("schedule_preference", f"names an unknown schedule group '{g}'")
    cap = r.required_sourced_number("cap_g_per_kg")
    total = r.required_sourced_number("induction_total_g_per_kg")
    measures = r.raw("outcome_measures", list)
    if not measures or not all(isinstance(m, str) and m for m in measures):
        raise r.fail("outcome_measures", "must list outcome measure ids (outcomes.toml)")
    if len(set(measures)) != len(measures):
        raise r.fail("outcome_measures", "names a measure twice")
    tables = r.raw("criteria", list, optional=True) or []
    if not all(isinstance(t, dict) for t in tables):
        raise r.fail("criteria", "must be a list of tables ([[indications.criteria]])")
    criteria = tuple(
        _read_criterion(t, f"{where}.criteria[{i}]", sources) for i, t in enumerate(tables)
    )
    keys = [c.key for c in criteria]
    if len(set(keys)) != len(keys):
        raise r.fail("criteria", "has two criteria with the same key")
    h = Reader(r.raw("handout", dict), f"{where}.handout", sources)
    handout = HandoutWords(
        plain_name=h.text("plain_name"),
        about=h.text("about"),
        how_ivig_helps=h.text("how_ivig_helps"),
        usual_interval=h.text("usual_interval", optional=True) or "",
        source=h.source(),
        verified=h.raw("verified", bool),
        note=h.text("note", optional=True) or "",
    )
    return Indication(
        id=r.text("id"),
        name=r.text("name"),
        short_name=r.text("short_name"),
        schedule_preference=preference,
        on_label_groups=on_label,
        induction_total_g_per_kg=total,
        induction_days=r.sourced_range("induction_days", int),
        maintenance_every_weeks=r.sourced_range("maintenance_every_weeks", int),
        maintenance_dose_g_per_kg=r.sourced_range("maintenance_dose_g_per_kg", float),
        cap_g_per_kg=cap,
        cap_window_days=r.sourced_int("cap_window_days"),
        handout=handout,
        criteria=criteria,
        outcome_measures=tuple(measures),
    )


_KEY = re.compile(r"[a-z][a-z0-9_]*")


def _read_criterion(
    table: Mapping[str, Any], where: str, sources: Mapping[str, Source]
) -> Criterion:
    """One eligibility criterion of an indication (``[[indications.criteria]]``)."""
    r = Reader(table, where, sources)
    key = r.text("key")
    if not _KEY.fullmatch(key):
        raise r.fail("key", f"must be lowercase letters, digits and '_' (got '{key}')")
    kind = CriterionKind(r.text("kind", choices=[k.value for k in CriterionKind]))
    options: tuple[Option, ...] = ()
    if kind is CriterionKind.choice:
        raw = r.raw("options", list)
        ok = bool(raw) and all(
            isinstance(o, dict)
            and set(o) == {"value", "label"}
            and all(isinstance(v, str) and v for v in o.values())
            for o in raw
        )
        if not ok:
            raise r.fail("options", "must list { value = ..., label = ... } tables of text")
        options = tuple(Option(o["value"], o["label"]) for o in raw)
        if len({o.value for o in options}) != len(options):
            raise r.fail("options", "has two options with the same value")
    elif "options" in table:
        raise r.fail("options", "is only for a choice")
    return Criterion(
        key=key,
        question=r.text("question"),
        kind=kind,
        required=r.raw("required", bool),
        source=r.source(),
        verified=r.raw("verified", bool),
        options=options,
        note=r.text("note", optional=True) or "",
    )


def _unique(items: Iterable[Any], key: str, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        k = getattr(item, key)
        if k in out:
            raise CatalogueError(f"catalogue: two {what} have the id '{k}'")
        out[k] = item
    return out


def read_catalogue(folder: Traversable | Path) -> Catalogue:
    """Read and check the drug library in ``folder``; raise :class:`CatalogueError` if broken."""
    sources = {
        key: Source(key, str(t.get("title", "")), str(t.get("url", "")), str(t.get("ref", "")))
        for key, t in read_toml(folder, "sources.toml").get("sources", {}).items()
    }
    products_file = read_toml(folder, "products.toml")
    version = products_file.get("catalogue_version")
    if not isinstance(version, str) or not version:
        raise CatalogueError("catalogue products.toml: 'catalogue_version' is missing")
    products = _unique(
        (
            _read_product(t, f"products.toml products[{i}]", sources)
            for i, t in enumerate(products_file.get("products", []))
        ),
        "id",
        "products",
    )
    indications = _unique(
        (
            _read_indication(t, f"indications.toml indications[{i}]", sources)
            for i, t in enumerate(read_toml(folder, "indications.toml").get("indications", []))
        ),
        "id",
        "indications",
    )
    risks: dict[str, Risk] = {}
    for i, t in enumerate(read_toml(folder, "risks.toml").get("risks", [])):
        r = Reader(t, f"risks.toml risks[{i}]", sources)
        groups = tuple(r.raw("groups", list))
        if not groups or any(g not in RISK_GROUPS for g in groups):
            raise r.fail("groups", f"must list groups from {', '.join(RISK_GROUPS)}")
        risk = Risk(
            r.text("code"),
            r.text("meaning"),
            groups,
            r.source(),
            r.sourced_number("from_bmi", optional=True),
        )
        if risk.code in risks:
            raise CatalogueError(f"catalogue: two risks have the code '{risk.code}'")
        risks[risk.code] = risk
    rules = []
    for i, t in enumerate(products_file.get("excipient_rules", [])):
        r = Reader(t, f"products.toml excipient_rules[{i}]", sources)
        condition = r.text("condition", optional=True)
        if condition is not None and condition not in risks:
            raise r.fail("condition", f"names an unknown risk code '{condition}'")
        rules.append(
            ExcipientRule(
                r.text("excipient"),
                condition,
                r.text("severity", choices=SEVERITIES),
                r.text("code"),
                r.text("message"),
                r.source(),
            )
        )
    p = Reader(read_toml(folder, "protocol.toml").get("protocol", {}), "protocol.toml", sources)
    at_risk = p.required_sourced_number("at_risk_max_mg_per_kg_min")
    egfr = p.required_sourced_number("egfr_threshold")
    protocol = Protocol(
        step_minutes=p.sourced_int("step_minutes"),
        initial_minutes=p.sourced_int("initial_minutes"),
        at_risk_max_mg_per_kg_min=at_risk,
        egfr_threshold=egfr,
        long_gap_weeks=p.sourced_int("long_gap_weeks"),
        risk_age_years=p.sourced_int("risk_age_years"),
        rounding_increment=_rounding_increment(p),
        rounding_change_pct=p.required_sourced_number("rounding_change_pct"),
        fewer_vials_within_pct=p.required_sourced_number("fewer_vials_within_pct"),
    )
    return Catalogue(version, products, indications, risks, tuple(rules), protocol, sources)


def _rounding_increment(p: Reader) -> Sourced[float | str | None]:
    """``rounding_increment``: "none", "smallest vial", or a positive number of grams in whole
    tenths."""
    value = p.required("rounding_increment")
    v = value.value
    if v == NO_INCREMENT:
        return Sourced(None, value.source, value.verified, value.note)
    if v == SMALLEST_VIAL:
        return Sourced(v, value.source, value.verified, value.note)
    whole_tenths = isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 1000
    if not whole_tenths or abs(v * 10 - round(v * 10)) > 1e-6:
        raise p.fail(
            "rounding_increment",
            f'value must be "{NO_INCREMENT}", "{SMALLEST_VIAL}" or grams in whole tenths '
            f"(got {v!r})",
        )
    return Sourced(float(v), value.source, value.verified, value.note)
