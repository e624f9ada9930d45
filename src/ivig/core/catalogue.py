"""The drug library: products, rate schedules, indications, risk codes and the service protocol.

Loaded from the TOML files in ``ivig/data`` (schema in ``ivig/data/README.md``). Every number
carries its :class:`Source` and a ``verified`` flag: values that the reference notes mark
UNVERIFIED stay ``verified=False`` and every plan that uses one says so.
"""

from __future__ import annotations

import functools
import itertools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Generic, TypeVar

from ivig.core.units import RATE_UNITS, to_mg_per_kg_min
from ivig.errors import CatalogueError, NoRateSchedule, UnknownIndication, UnknownProduct

__all__ = [
    "Catalogue",
    "ExcipientRule",
    "Indication",
    "Product",
    "Protocol",
    "RateSchedule",
    "Risk",
    "Source",
    "Sourced",
    "load_catalogue",
]

T = TypeVar("T")

SCHEDULE_GROUPS = ("cidp", "pi", "itp", "mmn", "dm", "general")
SEVERITIES = ("block", "warn", "info")
RISK_GROUPS = ("renal", "thrombosis", "screening")
NO_INCREMENT, SMALLEST_VIAL = "none", "smallest vial"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value comes from: a label, guideline or the service protocol."""

    key: str
    title: str
    url: str
    ref: str

    @property
    def is_protocol(self) -> bool:
        return self.key == "service-protocol"

    def cite(self) -> str:
        """One line naming the source, with its address when it has one."""
        return f"{self.title} <{self.url}>" if self.url else self.title


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A catalogue value with its source and whether it is verified against that source."""

    value: T
    source: Source
    verified: bool
    note: str = ""


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
class Indication:
    """An indication and its dose rules (induction, maintenance, rolling cap)."""

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


class _Reader:
    """Reads one table of a data file, naming the file and key in every error."""

    def __init__(self, table: Mapping[str, Any], where: str, sources: Mapping[str, Source]):
        self.table = table
        self.where = where
        self.sources = sources

    def fail(self, key: str, problem: str) -> CatalogueError:
        return CatalogueError(f"catalogue {self.where}: '{key}' {problem}", field=key)

    def raw(self, key: str, kinds: type | tuple[type, ...], *, optional: bool = False) -> Any:
        if key not in self.table:
            if optional:
                return None
            raise self.fail(key, "is missing")
        value = self.table[key]
        if isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)
        ):
            raise self.fail(key, f"must not be a boolean (got {value!r})")
        if not isinstance(value, kinds):
            raise self.fail(key, f"has the wrong type ({type(value).__name__})")
        return value

    def text(self, key: str, *, optional: bool = False, choices: Iterable[str] = ()) -> Any:
        value = self.raw(key, str, optional=optional)
        allowed = tuple(choices)
        if value is not None and allowed and value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)} (got '{value}')")
        return value

    def number(self, key: str, *, optional: bool = False, positive: bool = True) -> float | None:
        value = self.raw(key, (int, float), optional=optional)
        if value is None:
            return None
        if positive and value <= 0:
            raise self.fail(key, f"must be positive (got {value})")
        return float(value)

    def required_number(self, key: str) -> float:
        value = self.number(key)
        if value is None:  # pragma: no cover - number() raises for a missing key
            raise self.fail(key, "is missing")
        return value

    def integer(self, key: str, *, optional: bool = False) -> int | None:
        value = self.raw(key, int, optional=optional)
        if value is not None and value <= 0:
            raise self.fail(key, f"must be positive (got {value})")
        return value  # type: ignore[no-any-return]

    def numbers(self, key: str, *, optional: bool = False) -> tuple[float, ...] | None:
        value = self.raw(key, list, optional=optional)
        if value is None:
            return None
        if not value or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value
        ):
            raise self.fail(key, "must be a non-empty list of positive numbers")
        return tuple(float(v) for v in value)

    def source(self, key: str = "source") -> Source:
        name = self.text(key)
        if name not in self.sources:
            raise self.fail(key, f"names an unknown source '{name}' (see sources.toml)")
        return self.sources[name]

    def sourced(self, key: str, *, optional: bool = False) -> Sourced[Any] | None:
        table = self.raw(key, dict, optional=optional)
        if table is None:
            return None
        inner = _Reader(table, f"{self.where}.{key}", self.sources)
        if "value" not in table:
            raise inner.fail("value", "is missing")
        verified = inner.raw("verified", bool)
        return Sourced(
            table["value"], inner.source(), verified, inner.text("note", optional=True) or ""
        )

    def sourced_number(self, key: str, *, optional: bool = False) -> Sourced[float] | None:
        value = self.sourced(key, optional=optional)
        if value is None:
            return None
        v = value.value
        if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
            raise self.fail(key, "value must be a positive number")
        return Sourced(float(v), value.source, value.verified, value.note)

    def required_sourced_number(self, key: str) -> Sourced[float]:
        value = self.sourced_number(key)
        if value is None:  # pragma: no cover - sourced() raises for a missing key
            raise self.fail(key, "is missing")
        return value

    def sourced_int(self, key: str) -> Sourced[int]:
        value = self.sourced(key)
        assert value is not None
        if isinstance(value.value, bool) or not isinstance(value.value, int) or value.value <= 0:
            raise self.fail(key, "value must be a positive whole number")
        return value

    def sourced_range(self, key: str, kind: type) -> Sourced[Any]:
        value = self.sourced(key)
        assert value is not None
        v = value.value
        ok = (
            isinstance(v, list)
            and len(v) == 2
            and all(isinstance(x, kind | int) and not isinstance(x, bool) for x in v)
            and 0 < v[0] <= v[1]
        )
        if not ok:
            raise self.fail(key, "value must be [low, high] with 0 < low <= high")
        return Sourced((kind(v[0]), kind(v[1])), value.source, value.verified, value.note)

    def sourced_list(self, key: str, item: type) -> Sourced[Any]:
        value = self.sourced(key)
        assert value is not None
        if not isinstance(value.value, list) or not all(isinstance(x, item) for x in value.value):
            raise self.fail(key, f"value must be a list of {item.__name__}")
        return value


def _read_schedule(
    table: Mapping[str, Any], where: str, sources: Mapping[str, Source]
) -> RateSchedule:
    r = _Reader(table, where, sources)
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
    r = _Reader(table, where, sources)
    sizes = r.sourced("vial_sizes_g")
    assert sizes is not None
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
    concentration = r.sourced_number("concentration_mg_per_ml")
    assert concentration is not None
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
    r = _Reader(table, where, sources)
    preference = tuple(r.raw("schedule_preference", list))
    on_label = tuple(r.raw("on_label_groups", list))
    for g in (*preference, *on_label):
        if g not in SCHEDULE_GROUPS:
            raise r.fail("schedule_preference", f"names an unknown schedule group '{g}'")
    cap = r.required_sourced_number("cap_g_per_kg")
    total = r.required_sourced_number("induction_total_g_per_kg")
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
    )


def _load_toml(folder: Traversable, name: str) -> dict[str, Any]:
    try:
        with folder.joinpath(name).open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise CatalogueError(f"catalogue file {name} is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"catalogue file {name} is not valid TOML: {exc}") from None


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
        for key, t in _load_toml(folder, "sources.toml").get("sources", {}).items()
    }
    products_file = _load_toml(folder, "products.toml")
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
            for i, t in enumerate(_load_toml(folder, "indications.toml").get("indications", []))
        ),
        "id",
        "indications",
    )
    risks: dict[str, Risk] = {}
    for i, t in enumerate(_load_toml(folder, "risks.toml").get("risks", [])):
        r = _Reader(t, f"risks.toml risks[{i}]", sources)
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
        r = _Reader(t, f"products.toml excipient_rules[{i}]", sources)
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
    p = _Reader(_load_toml(folder, "protocol.toml").get("protocol", {}), "protocol.toml", sources)
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


def _rounding_increment(p: _Reader) -> Sourced[float | str | None]:
    """``rounding_increment``: "none", "smallest vial", or a positive number of grams in whole
    tenths."""
    value = p.sourced("rounding_increment")
    assert value is not None
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


@functools.cache
def load_catalogue() -> Catalogue:
    """The drug library shipped in the package (read once per process)."""
    return read_catalogue(resources.files("ivig").joinpath("data"))
