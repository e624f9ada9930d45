"""The usage report (issue 18): grams of IVIG by product, by indication and by month, the
infusions, and reactions per 100 infusions, for a period of whole months.

- **Infusions**: the infusion sessions *started* in the period (one per order; an order
  cancelled or deferred before its start has no start and is not counted), each in the month
  of its start in the service's time zone.
- **Grams**: the grams given, where the end recorded them (issue 16 item 4: the volume given x
  the concentration), else the dispensed dose of an infusion that ended; an infusion still
  running counts no grams yet (``running`` says how many). The rule of ``courses._Counted``,
  ``exchange._given`` and the FHIR export.
- **Product and indication**: the course's (``Course.product_id``, ``Course.indication``),
  named from the library in service, else their code.
- **Reactions per 100 infusions**: infusions with at least one reaction in force (not
  superseded, not entered in error) / infusions x 100; the reaction count beside it.

Every figure carries its numerator and denominator (``reports.Figure``), like the safety
report. Reading the report reads no patient's record (aggregates only); the CSV download is an
export and is audited as one ``export`` event (``usage csv``) with the period, and, as it holds
no patient's rows, no event per patient (``exchange`` audits one per patient whose rows a file
holds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ivig.core.infused import grams_counted
from ivig.errors import InvalidInput
from ivig.interop.csv_io import USAGE_COLUMNS, rows_to_csv
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, Role
from ivig.records.services.access import require
from ivig.records.services.reports import PER_100, Figure

__all__ = [
    "DEFAULT_MONTHS",
    "GRAMS_RULE",
    "MAX_MONTHS",
    "USAGE_ROLES",
    "UsageReport",
    "UsageRow",
    "default_period",
    "export_usage",
    "parse_month",
    "usage_csv_rows",
    "usage_report",
]

USAGE_ROLES = (Role.admin, Role.pharmacist)
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
GRAMS_RULE = (
    "grams given where the end of the infusion recorded them, else the dispensed dose of an "
    "infusion that ended; an infusion still running counts no grams yet"
)


def _first(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    out = [first]
    while out[-1] < last:
        out.append(_add_months(out[-1], 1))
    return out


def parse_month(text: str, field: str) -> dt.date:
    """``YYYY-MM`` as the first day of that month; :class:`InvalidInput` naming ``field``."""
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise InvalidInput(f"give a month as YYYY-MM (got '{text}')", field=field) from None


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last 12 months, ending with the month of ``today``."""
    last = _first(today)
    return _add_months(last, 1 - DEFAULT_MONTHS), last


@dataclass(slots=True)
class UsageRow:
    """One line of the report: a month, a product or an indication (``key``, its ``name``)."""

    key: str
    name: str
    infusions: int = 0
    grams: float = 0.0
    with_reaction: int = 0
    reactions: int = 0
    running: int = 0

    @property
    def reactions_per_100(self) -> Figure:
        """Infusions with a reaction / infusions x 100."""
        return Figure(self.with_reaction, self.infusions, PER_100)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "infusions": self.infusions,
            "grams": round(self.grams, 3),
            "running": self.running,
            "reactions": self.reactions,
            "reactions_per_100": self.reactions_per_100.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class UsageReport:
    """The report of the months ``first`` to ``last`` (first days of months, both included)."""

    first: dt.date
    last: dt.date
    generated_at: dt.datetime
    total: UsageRow
    by_month: list[UsageRow] = field(default_factory=list)
    by_product: list[UsageRow] = field(default_factory=list)
    by_indication: list[UsageRow] = field(default_factory=list)
    grams_rule: str = GRAMS_RULE

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.first.strftime("%Y-%m"),
            "to": self.last.strftime("%Y-%m"),
            "generated_at": self.generated_at,
            "grams_rule": self.grams_rule,
            "total": self.total.as_dict(),
            "by_month": [r.as_dict() for r in self.by_month],
            "by_product": [r.as_dict() for r in self.by_product],
            "by_indication": [r.as_dict() for r in self.by_indication],
        }


def _check(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    first, last = _first(first), _first(last)
    if last < first:
        raise InvalidInput("the last month is before the first", field="to")
    if len(_months(first, last)) > MAX_MONTHS:
        raise InvalidInput(f"give a period of at most {MAX_MONTHS} months", field="to")
    return first, last


def _bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """From the start of ``first`` to the start of the month after ``last``, local time."""
    low = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    high = timezone.make_aware(dt.datetime.combine(_add_months(last, 1), dt.time.min))
    return low, high


def _add(row: UsageRow, grams: float | None, reactions: int) -> None:
    row.infusions += 1
    if grams is None:
        row.running += 1
    else:
        row.grams += grams
    row.reactions += reactions
    row.with_reaction += reactions > 0


def _sorted(rows: Iterable[UsageRow]) -> list[UsageRow]:
    return sorted(rows, key=lambda r: (-r.grams, -r.infusions, r.name))


def usage_report(
    actor: Actor,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> UsageReport:
    """The usage of the months ``first`` to ``last`` (any day of each; default: the last 12
    months ending with the month of ``today``); for the admin and the pharmacist."""
    require(actor, "the usage report", *USAGE_ROLES)
    default_first, default_last = default_period(today or timezone.localdate())
    first, last = _check(first or default_first, last or default_last)
    low, high = _bounds(first, last)
    in_force = Q(reactions__superseded_by__isnull=True, reactions__entered_in_error=False)
    sessions = (
        InfusionSession.objects.filter(started_at__gte=low, started_at__lt=high)
        .annotate(reaction_count=Count("reactions", filter=in_force))
        .values_list(
            "started_at",
            "ended_at",
            "given_g",
            "order__dose_g",
            "order__course__product_id",
            "order__course__indication",
            "reaction_count",
        )
    )
    library = current_library()
    products = library.catalogue.products
    indications = library.catalogue.indications
    months = {m: UsageRow(m.strftime("%Y-%m"), m.strftime("%B %Y")) for m in _months(first, last)}
    by_product: dict[str, UsageRow] = {}
    by_indication: dict[str, UsageRow] = {}
    total = UsageRow("total", "All infusions")
    for started, ended, given, dose, product, indication, reactions in sessions:
        ended_or_given = ended is not None or given is not None
        grams = grams_counted(given, dose) if ended_or_given else None
        month = _first(timezone.localtime(started).date())
        if product not in by_product:
            found = products.get(product)
            by_product[product] = UsageRow(product, found.display_name if found else product)
        if indication not in by_indication:
            named = indications.get(indication)
            by_indication[indication] = UsageRow(indication, named.name if named else indication)
        for row in (total, months[month], by_product[product], by_indication[indication]):
            _add(row, grams, reactions)
    return UsageReport(
        first=first,
        last=last,
        generated_at=now or timezone.now(),
        total=total,
        by_month=list(months.values()),
        by_product=_sorted(by_product.values()),
        by_indication=_sorted(by_indication.values()),
    )


def usage_csv_rows(report: UsageReport) -> list[dict[str, object]]:
    """The report as rows of ``csv_io.USAGE_COLUMNS``: by month, product, indication, total."""
    groups = (
        ("month", report.by_month),
        ("product", report.by_product),
        ("indication", report.by_indication),
        ("total", [report.total]),
    )
    out: list[dict[str, object]] = []
    for group, rows in groups:
        for row in rows:
            figure = row.reactions_per_100
            out.append(
                {
                    "group": group,
                    "key": row.key,
                    "name": row.name,
                    "infusions": row.infusions,
                    "grams": f"{row.grams:.3f}".rstrip("0").rstrip("."),
                    "running": row.running,
                    "infusions_with_reaction": row.with_reaction,
                    "reactions": row.reactions,
                    "reactions_per_100": "" if figure.value is None else f"{figure.value:g}",
                }
            )
    return out


def export_usage(
    actor: Actor,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    today: dt.date | None = None,
) -> tuple[UsageReport, str]:
    """The report and its CSV text, audited as one ``export`` event (aggregates: no patient's
    rows, so no event per patient)."""
    with transaction.atomic():
        report = usage_report(actor, first=first, last=last, today=today)
        rows = usage_csv_rows(report)
        audit.record(
            actor,
            "export",
            "usage csv",
            "usage",
            after={
                "from": report.first.strftime("%Y-%m"),
                "to": report.last.strftime("%Y-%m"),
                "rows": len(rows),
                "infusions": report.total.infusions,
            },
        )
    return report, rows_to_csv(USAGE_COLUMNS, rows)
