"""CSV exchange, the database part: the audit exports of infusions and outcomes, and the import
of patients (the format, columns and cells, is ``ivig.interop.csv_io``).

Exports are reads of many patients' records, so each is audited (requirements 5, 8): one
``export`` event per patient whose rows it holds (so the patient's access log shows it) and
one summary event, all in one transaction with the query. Only entries in force are exported
unless ``include_all`` (then corrected and voided entries are marked as such).

The import creates each row's patient (and its weight) through
:func:`patients.register_patient`, as the web's form does, so the rules are those of the web and
the API, and each creation is audited by them. Each row is its own transaction: a bad row
creates nothing of itself, and everything from the good rows is kept. An MRN that exists
already is reported, never overwritten.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from ivig.core.dosing import vial_label
from ivig.core.units import plain_number
from ivig.errors import InvalidInput, IvigError
from ivig.interop.csv_io import (
    PATIENT_REQUIRED,
    RowError,
    cell_date,
    cell_number,
    cell_text,
    extra_cells,
)
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import IgaStatus, InfusionSession, Order, Outcome, Reaction, Role
from ivig.records.services import patients
from ivig.records.services.access import require

__all__ = [
    "EXPORT_ROLES",
    "IMPORT_ROLES",
    "ImportReport",
    "ParsedPatient",
    "export_infusions",
    "export_outcomes",
    "import_patients",
    "infusion_rows",
    "outcome_rows",
    "parse_patient_row",
]

EXPORT_ROLES = (Role.admin, Role.pharmacist)
IMPORT_ROLES = (Role.prescriber, Role.admin)


# --- values as CSV text --------------------------------------------------------------------------


def _time(value: dt.datetime | None) -> str:
    """ISO 8601 with the offset, in the service's time zone."""
    return "" if value is None else timezone.localtime(value).isoformat(timespec="seconds")


def _num(value: float | None) -> str:
    """A number to 3 decimals without trailing zeros (``core.units.plain_number``)."""
    return "" if value is None else plain_number(value, 3)


def _user(user: User | None) -> str:
    return "" if user is None else str(user.username)


def _check_period(start: dt.date | None, end: dt.date | None) -> None:
    if start is not None and end is not None and end < start:
        raise InvalidInput("the end of the period is before its start", field="to")


def _status(row: Any, superseded: set[int]) -> str:
    if row.entered_in_error:
        return "entered in error"
    if row.pk in superseded:
        return "superseded"
    return "in force"


# --- the rows ------------------------------------------------------------------------------------


def infusion_rows(
    *, start: dt.date | None = None, end: dt.date | None = None, include_all: bool = False
) -> list[dict[str, str]]:
    """One row per infusion session whose order is dated in the period (both ends included),
    by date, MRN and dose number; the columns of ``csv_io.INFUSION_COLUMNS``. Reactions in
    force only, unless ``include_all`` (a corrected one then says so)."""
    _check_period(start, end)
    reactions = Reaction.objects.order_by("at", "id")
    if not include_all:
        reactions = reactions.filter(superseded_by__isnull=True, entered_in_error=False)
    sessions = (
        InfusionSession.objects.select_related(
            "order__course",
            "order__patient",
            "order__verified_by",
            "administered_by",
            "started_by",
        )
        .prefetch_related("rate_changes", "order__lots", Prefetch("reactions", queryset=reactions))
        .order_by("order__date", "order__patient__mrn", "order__sequence", "id")
    )
    if start is not None:
        sessions = sessions.filter(order__date__gte=start)
    if end is not None:
        sessions = sessions.filter(order__date__lte=end)
    superseded = (
        set(
            Reaction.objects.filter(supersedes__isnull=False).values_list(
                "supersedes_id", flat=True
            )
        )
        if include_all
        else set()
    )
    out: list[dict[str, str]] = []
    for session in sessions:
        order = session.order
        patient = order.patient
        changes = list(session.rate_changes.all())
        rates = [c.rate_ml_per_h for c in changes]
        severities = []
        for r in session.reactions.all():
            status = _status(r, superseded)
            severities.append(r.severity if status == "in force" else f"{r.severity} ({status})")
        lots = "; ".join(
            f"{lot.lot_number} ({lot.vial_size_g:g} g x {lot.count}, exp {lot.expiry.isoformat()})"
            for lot in order.lots.all().order_by("id")
        )
        out.append(
            {
                "order_id": str(order.pk),
                "mrn": patient.mrn,
                "patient_name": f"{patient.family_name}, {patient.given_name}",
                "product": order.course.product_id,
                "date": order.date.isoformat(),
                "dose_g": _num(order.dose_g),
                "volume_ml": _num(order.volume_ml),
                "vials": vial_label(order.vials),
                "lots": lots,
                "started_at": _time(session.started_at),
                "ended_at": _time(session.ended_at),
                "state": session.state,
                "max_rate_ml_per_h": _num(max(rates)) if rates else "",
                "rate_changes": str(sum(1 for c in changes if c.action == "change")),
                "reactions": ";".join(severities),
                "observation_minutes": _num(session.observation_minutes),
                "nurse": _user(session.administered_by or session.started_by),
                "verified_by": _user(order.verified_by),
                "catalogue_version": order.catalogue_version or order.course.catalogue_version,
                **_given(session, order),
            }
        )
    return out


def _given(session: InfusionSession, order: Order) -> dict[str, str]:
    """The volume and grams given at the end (issue 16 item 4): the dose's when the end did not
    record them; empty before the end."""
    if session.ended_at is None:
        return {"volume_given_ml": "", "given_g": ""}
    if session.given_g is None:
        return {"volume_given_ml": _num(order.volume_ml), "given_g": _num(order.dose_g)}
    return {"volume_given_ml": _num(session.volume_given_ml), "given_g": _num(session.given_g)}


def outcome_rows(
    *, start: dt.date | None = None, end: dt.date | None = None, include_all: bool = False
) -> list[dict[str, str]]:
    """One row per outcome measured in the period, by MRN, measure and date; entries in force
    only unless ``include_all`` (then ``status`` says superseded or entered in error)."""
    _check_period(start, end)
    rows = Outcome.objects.select_related("patient", "recorded_by").order_by(
        "patient__mrn", "measure", "measured_on", "id"
    )
    if not include_all:
        rows = rows.filter(superseded_by__isnull=True, entered_in_error=False)
    if start is not None:
        rows = rows.filter(measured_on__gte=start)
    if end is not None:
        rows = rows.filter(measured_on__lte=end)
    superseded = set(
        Outcome.objects.filter(supersedes__isnull=False).values_list("supersedes_id", flat=True)
    )
    return [
        {
            "mrn": row.patient.mrn,
            "measure": row.measure,
            "value": _num(row.value),
            "measured_on": row.measured_on.isoformat(),
            "recorded_by": _user(row.recorded_by),
            "recorded_at": _time(row.recorded_at),
            "status": _status(row, superseded),
        }
        for row in rows
    ]


# --- the audited exports -------------------------------------------------------------------------


def _export(
    actor: Actor | None,
    what: str,
    rows_of: Callable[..., list[dict[str, str]]],
    *,
    start: dt.date | None,
    end: dt.date | None,
    include_all: bool,
    system: bool,
    reason: str,
) -> list[dict[str, str]]:
    if not system:
        require(actor, f"exporting {what}", *EXPORT_ROLES)
    from ivig.records.models import Patient

    with transaction.atomic():
        rows = rows_of(start=start, end=end, include_all=include_all)
        per_patient = Counter(r["mrn"] for r in rows)
        ids = dict(
            Patient.objects.filter(mrn__in=per_patient).values_list("mrn", "pk").order_by("mrn")
        )
        scope = {
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "all": include_all,
        }
        audit.record(
            actor,
            "export",
            f"{what} csv",
            what,
            after={**scope, "rows": len(rows), "patients": len(per_patient)},
            reason=reason,
        )
        for mrn, pk in ids.items():
            audit.record(
                actor,
                "export",
                f"{what} csv",
                mrn,
                patient_id=pk,
                after={**scope, "rows": per_patient[mrn]},
                reason=reason,
            )
    return rows


def export_infusions(
    actor: Actor | None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    include_all: bool = False,
    system: bool = False,
    reason: str = "",
) -> list[dict[str, str]]:
    """The infusion rows (:func:`infusion_rows`), audited. The actor must be an admin or a
    pharmacist, unless ``system`` (a command run on the server: ``actor`` is ``None`` and
    ``reason`` says who ran it)."""
    return _export(
        actor,
        "infusions",
        infusion_rows,
        start=start,
        end=end,
        include_all=include_all,
        system=system,
        reason=reason,
    )


def export_outcomes(
    actor: Actor | None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    include_all: bool = False,
    system: bool = False,
    reason: str = "",
) -> list[dict[str, str]]:
    """The outcome rows (:func:`outcome_rows`), audited like :func:`export_infusions`."""
    return _export(
        actor,
        "outcomes",
        outcome_rows,
        start=start,
        end=end,
        include_all=include_all,
        system=system,
        reason=reason,
    )


# --- the patient import --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedPatient:
    """One row as the service's input, with the weight it adds (if any)."""

    row: int
    patient: patients.PatientInput
    weight_kg: float | None = None
    weighed_on: dt.date | None = None


def parse_patient_row(number: int, row: Mapping[str, str]) -> ParsedPatient:
    """One row of the import (:func:`~ivig.interop.csv_io.read_patient_rows`) as the service's
    input. Only the form of each cell is checked here (a date, a number, a required cell); the
    rules (ranges, known codes, a unique MRN) are the service's, as for the web and the API.
    Raises :class:`InvalidInput` naming the column."""
    if extra_cells(row):
        raise InvalidInput("the row has more cells than the header has columns")
    for column in PATIENT_REQUIRED:
        if not cell_text(row, column):
            raise InvalidInput(f"{column} is required", field=column)
    born = cell_date(row, "date_of_birth")
    height = cell_number(row, "height_cm")
    assert born is not None
    assert height is not None
    weight = cell_number(row, "weight_kg")
    weighed_on = cell_date(row, "weighed_on")
    if weighed_on is not None and weight is None:
        raise InvalidInput("a weighing date needs a weight (weight_kg)", field="weighed_on")
    codes = tuple(c.strip() for c in cell_text(row, "risk_codes").split(";") if c.strip())
    patient = patients.PatientInput(
        mrn=cell_text(row, "mrn"),
        family_name=cell_text(row, "family_name"),
        given_name=cell_text(row, "given_name"),
        date_of_birth=born,
        sex=cell_text(row, "sex").lower(),
        height_cm=height,
        risk_codes=codes,
        conditions=cell_text(row, "conditions"),
        allergies=cell_text(row, "allergies"),
        iga_status=cell_text(row, "iga_status").lower() or IgaStatus.unknown,
        notes=cell_text(row, "notes"),
    )
    return ParsedPatient(number, patient, weight, weighed_on)


@dataclass(slots=True)
class ImportReport:
    """What an import did: the rows read, the patients created (row, MRN, id; none on a dry
    run, where ``checked`` lists the rows that would be created) and each bad row's error."""

    rows: int = 0
    created: list[tuple[int, str, int]] = field(default_factory=list)
    checked: list[tuple[int, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


class _DryRun(Exception):
    """Rolls a dry run's row back once the services accepted it."""


# The service's field names that are not the file's column names.
_COLUMN = {"measured_on": "weighed_on", "roles": None, "version": None}


def _column(name: str | None) -> str | None:
    if name is None:
        return None
    return _COLUMN.get(name, name)


def _import_row(actor: Actor, parsed: ParsedPatient, today: dt.date, dry_run: bool) -> int:
    with transaction.atomic():
        patient = patients.register_patient(
            actor,
            parsed.patient,
            today=today,
            weight_kg=parsed.weight_kg,
            weighed_on=parsed.weighed_on,
        )
        if dry_run:
            raise _DryRun
    return int(patient.pk)


def import_patients(
    actor: Actor,
    rows: Sequence[tuple[int, dict[str, str]]] | Iterable[tuple[int, dict[str, str]]],
    *,
    today: dt.date,
    dry_run: bool = False,
    on_row: Callable[[int, RowError | None], None] | None = None,
) -> ImportReport:
    """Create a patient (and a first weight, when the row gives one) per row, each row in its
    own transaction; a bad row is reported with its column and creates nothing. ``on_row`` is
    told after each row (its number and its error, or ``None``), for a progress bar. A dry run
    checks every row with the same services and keeps nothing."""
    actor = require(actor, "importing patients", *IMPORT_ROLES)
    report = ImportReport(dry_run=dry_run)
    for number, row in rows:
        report.rows += 1
        error: RowError | None = None
        try:
            parsed = parse_patient_row(number, row)
            try:
                pk = _import_row(actor, parsed, today, dry_run)
            except _DryRun:
                report.checked.append((number, parsed.patient.mrn.strip()))
            else:
                report.created.append((number, parsed.patient.mrn.strip(), pk))
        except IvigError as exc:
            error = RowError(number, _column(exc.field), exc.message)
            report.errors.append(error)
        if on_row is not None:
            on_row(number, error)
    return report
