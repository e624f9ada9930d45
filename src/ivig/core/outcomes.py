"""Outcome measures: has a patient improved, worsened, or not changed meaningfully?

The measures and their thresholds are data (the library's ``outcomes.toml``), each threshold
with its source, verified flag and caveat (clinical-rules.md section 6):

- 3TUG (seconds, lower is better): a change of MORE than 20% of the baseline is outside
  test-retest noise (Sanders 2019 calls a difference of <= 0.2 acceptable, 6a); NOT a formal
  minimal clinically important difference (MCID);
- QMG (points, lower is better): 3 points (Katzberg 2014, 6b), derived in MG, not LEMS;
- MG-ADL (points, lower is better): 2 points (Muppidi et al., Muscle Nerve 2011;44:727-31: "A
  2-point improvement in the MG-ADL best predicted clinical improvement", 6c);
- MRC sum score (points, 0-60, HIGHER is better): 2 points (Practical Neurology table, 6d).

Each measure says whether a change equal to its threshold counts (``threshold_counts``:
``reached``) or only a larger one (``exceeded``: 3TUG). The comparison is exact on the values as
written (decimal arithmetic, so 30 -> 24 s is exactly 20%, never 19.999...%); the 3TUG
percentage is of the baseline time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ivig.core.sourced import Reader, Source, Sourced
from ivig.errors import CatalogueError, InvalidInput, OutOfRange

__all__ = [
    "Direction",
    "OutcomeChange",
    "OutcomeMeasure",
    "check_score",
    "classify_change",
    "read_outcome_measures",
]


class Direction(StrEnum):
    """Which way a measure moved, judged against its threshold."""

    improved = "improved"
    worsened = "worsened"
    no_meaningful_change = "no meaningful change"


@dataclass(frozen=True, slots=True)
class OutcomeMeasure:
    """An outcome measure, its accepted range and the change that counts as meaningful."""

    id: str
    name: str
    unit: str
    better: str  # "lower" or "higher"
    low: float
    high: float
    range_inclusive: bool
    whole_numbers: bool
    threshold: Sourced[float]
    threshold_kind: str  # "absolute" (in unit) or "percent" (of the baseline)
    caveat: str
    threshold_counts: str = "reached"  # "reached": a change equal counts; "exceeded": only more

    def describe_threshold(self) -> str:
        if self.threshold_kind == "percent":
            return f"{self.threshold.value:g}% of the baseline"
        return f"{self.threshold.value:g} {self.unit}"


@dataclass(frozen=True, slots=True)
class OutcomeChange:
    """The change from ``baseline`` to ``current`` and what it means.

    ``change`` is ``current - baseline`` (signed, in the measure's unit); ``percent_change`` is
    that change as a percentage of the baseline (``None`` when the baseline is 0).
    """

    measure: str
    name: str
    unit: str
    better: str
    baseline: float
    current: float
    change: float
    percent_change: float | None
    direction: Direction
    threshold: float
    threshold_kind: str
    source: str
    verified: bool
    caveat: str
    message: str


def _read_measure(measure_id: str, r: Reader) -> OutcomeMeasure:
    low = r.required_number("low", positive=False)
    high = r.required_number("high", positive=False)
    if low >= high:
        raise r.fail("high", f"must be above low ({low:g})")
    threshold = r.required_sourced_number("threshold")
    kind = r.text("threshold_kind", choices=("absolute", "percent"))
    counts = r.text("threshold_counts", choices=("reached", "exceeded"))
    inclusive = r.flag("range_inclusive")
    if kind == "percent" and (low < 0 or (low == 0 and inclusive)):
        raise r.fail("low", "must leave out 0 and below for a percent threshold")
    return OutcomeMeasure(
        id=measure_id,
        name=r.text("name"),
        unit=r.text("unit"),
        better=r.text("better", choices=("lower", "higher")),
        low=low,
        high=high,
        range_inclusive=inclusive,
        whole_numbers=r.flag("whole_numbers"),
        threshold=threshold,
        threshold_kind=kind,
        caveat=r.text("caveat"),
        threshold_counts=counts,
    )


def read_outcome_measures(
    data: Mapping[str, Any], *, sources: Mapping[str, Source]
) -> dict[str, OutcomeMeasure]:
    """Check the parsed ``outcomes.toml`` and build the measures; raise CatalogueError."""
    measures = data.get("measures")
    if not isinstance(measures, dict) or not measures:
        raise CatalogueError(
            "catalogue outcomes.toml: [measures] lists no measure", field="measures"
        )
    out = {}
    for measure_id, table in measures.items():
        if not isinstance(table, dict):
            raise CatalogueError(f"catalogue outcomes.toml: measures.{measure_id} is not a table")
        r = Reader(table, f"outcomes.toml [measures.{measure_id}]", sources)
        if measure_id != measure_id.lower():
            raise r.fail("id", "must be lowercase")
        out[measure_id] = _read_measure(measure_id, r)
    return out


def _measure_key(measure: str) -> str:
    return "-".join(measure.strip().lower().replace("_", " ").replace("-", " ").split())


def _measure(measure: str, measures: Mapping[str, OutcomeMeasure]) -> OutcomeMeasure:
    m = measures.get(_measure_key(measure)) if isinstance(measure, str) else None
    if m is None:
        raise InvalidInput(
            f"unknown outcome measure {measure!r}; known measures: {', '.join(measures)}",
            field="measure",
        )
    return m


def _score(value: float, field: str, m: OutcomeMeasure) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"the {field} {m.name} must be a number (got {value!r})", field=field)
    score = float(value)
    inside = m.low <= score <= m.high if m.range_inclusive else m.low < score < m.high
    if not inside:
        error = OutOfRange(field, score, m.low, m.high, m.unit, what=f"{m.name} {field}")
        if not m.range_inclusive:
            error.with_hint(f"it must be above {m.low:g} and below {m.high:g} {m.unit}")
        raise error
    if m.whole_numbers and not score.is_integer():
        raise InvalidInput(
            f"{m.name} is a whole number of {m.unit} (the {field} was {score:g})", field=field
        )
    return score


def check_score(measure: str, value: float, *, measures: Mapping[str, OutcomeMeasure]) -> float:
    """Refuse a value outside the measure's range (field ``value``); return it as a float.
    ``measures``: the library's (``Library.outcomes``)."""
    m = _measure(measure, measures)
    return _score(value, "value", m)


def _exact(value: float) -> Decimal:
    """The value as written (its shortest decimal form), for exact comparison."""
    return Decimal(repr(value))


def _meaningful(m: OutcomeMeasure, before: float, after: float) -> bool:
    """Whether the change from ``before`` to ``after`` reaches (or exceeds) the threshold,
    compared exactly in decimal: |change| x 100 against threshold x |baseline| for a percent
    threshold, |change| against the threshold in points otherwise."""
    change = abs(_exact(after) - _exact(before))
    if change == 0:
        return False
    threshold = _exact(m.threshold.value)
    if m.threshold_kind == "percent":
        change, threshold = change * 100, threshold * abs(_exact(before))
    return change > threshold if m.threshold_counts == "exceeded" else change >= threshold


def classify_change(
    measure: str,
    baseline: float,
    current: float,
    *,
    measures: Mapping[str, OutcomeMeasure],
) -> OutcomeChange:
    """Improved, worsened or no meaningful change, from ``baseline`` to ``current``.

    ``measure`` is an id of outcomes.toml (``3tug``, ``qmg``, ``mg-adl``, ``mrc-sum``; case,
    spaces and underscores are ignored). The change counts when its size reaches the threshold
    (or, for a measure whose threshold must be exceeded, passes it); its sign and the measure's
    better direction say which way. Values outside the measure's range are refused naming
    ``baseline`` or ``current``. ``measures``: the library's (``Library.outcomes``).
    """
    m = _measure(measure, measures)
    before = _score(baseline, "baseline", m)
    after = _score(current, "current", m)
    change = after - before
    percent = None if before == 0 else change / before * 100.0
    if m.threshold_kind == "percent" and before == 0:  # pragma: no cover - range starts above 0
        raise InvalidInput(f"a {m.name} baseline of 0 has no percent change", field="baseline")
    meaningful = _meaningful(m, before, after)
    if not meaningful:
        direction = Direction.no_meaningful_change
    elif (change < 0) == (m.better == "lower"):
        direction = Direction.improved
    else:
        direction = Direction.worsened

    size = f"{change:+g} {m.unit}"
    if percent is not None:
        size += f" ({percent:+.1f}%)"
    if m.threshold_counts == "exceeded":
        reaches = "is more than" if meaningful else "is not more than"
    else:
        reaches = "reaches" if meaningful else "is below"
    message = (
        f"{m.name}: {before:g} -> {after:g} {m.unit}, {size}; the change {reaches} the threshold "
        f"of {m.describe_threshold()} ({m.better} is better): {direction.value}. "
        f"Threshold: {m.caveat}" + ("" if m.threshold.verified else " (UNVERIFIED)") + "."
    )
    return OutcomeChange(
        measure=m.id,
        name=m.name,
        unit=m.unit,
        better=m.better,
        baseline=before,
        current=after,
        change=change,
        percent_change=percent,
        direction=direction,
        threshold=m.threshold.value,
        threshold_kind=m.threshold_kind,
        source=m.threshold.source.cite(),
        verified=m.threshold.verified,
        caveat=m.caveat,
        message=message,
    )
