"""Documents of a patient's record that leave the service, each made and audited in one call:
the handout's PDF, the run sheet's PDF, the calendar (.ics) and the FHIR Bundle.

``ivig.interop`` renders (the handout's text, the calendar, the FHIR resources, the PDF); these
functions read the records it renders, then write the ``print`` or ``export`` audit event
before the document is handed over (requirements 5, 66: no unaudited copy). The pages, the API
and the commands call them, and write no audit event themselves. ``deliver``, when given, hands
the document over inside the audit event's transaction (a command's file: written, or neither
it nor its event). A patient's own copy (``own_url``, the portal's pages) is audited as the
patient's read of their record with the print or export (the staff's reads are audited by the
read-audit middleware).

The events, as the audit tests check them: ``print`` ``patient handout``; ``print`` ``order``
(the run sheet: ``document``, ``via``, the order's and the infusion's record versions,
``generated_at``, ``bytes``); ``export`` ``calendar`` (``events``, ``format``, ``via`` from
the command line); ``export`` ``fhir`` (``format``, ``channel``, ``resources`` by type).
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ivig.core.monitoring import observation_minutes
from ivig.interop import fhir, ics
from ivig.interop.charts import outcome_chart
from ivig.interop.documents import document_context, render_pdf
from ivig.interop.handout import Infusion, PatientPlan, build_handout
from ivig.interop.pdf import html_to_pdf
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.emergency import emergency_phone
from ivig.records.library import current_library
from ivig.records.models import Booking, InfusionSession, Order, OrderStatus, Patient
from ivig.records.services import reads
from ivig.records.services.bookings import booked_slots
from ivig.records.services.corrections import current
from ivig.records.services.outcomes import outcome_series, patient_reported
from ivig.records.services.runsheet.sheet import print_sheet

__all__ = [
    "HANDOUT_TEMPLATE",
    "PLANNED",
    "RUNSHEET_TEMPLATE",
    "export_calendar",
    "export_fhir",
    "fhir_bundle",
    "handout_context",
    "handout_pdf",
    "patient_plan",
    "print_runsheet",
    "runsheet_file_name",
]

PLANNED = ("planned", "verified", "dispensed", "in-progress")
HANDOUT_TEMPLATE = "web/handout_print.html"
RUNSHEET_TEMPLATE = "web/runsheet_print.html"


def _hand_over(
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: object,
    patient_id: int,
    *,
    after: dict[str, Any] | None = None,
    reason: str = "",
    own_url: str | None = None,
    deliver: Callable[[], None] | None = None,
) -> None:
    """The document's audit event (after the patient's own read, for their own copy), and its
    delivery, in one transaction."""
    with transaction.atomic():
        if own_url is not None:
            reads.record_own_read(actor, patient_id, entity, own_url, action)
        else:
            audit.record(
                actor, action, entity, entity_id, patient_id=patient_id, after=after, reason=reason
            )
        if deliver is not None:
            deliver()


# --- the patient's plan: the handout and the calendar --------------------------------------------


def _step_minutes(steps: list[dict[str, Any]]) -> int:
    """The typical length of a step before the top rate (30 minutes on most labels)."""
    ramps = [float(s["end_min"]) - float(s["start_min"]) for s in steps[:-1]]
    return round(statistics.median(ramps)) if ramps else 0


def patient_plan(patient: Patient, *, today: dt.date) -> PatientPlan:
    """The patient's planned infusions from today on: the orders not cancelled, deferred or
    completed (planned, verified, dispensed or in progress) dated today or later, what the
    patient still has to come for; each with the observation it will need (20 minutes, or 60
    after a first infusion, a product switch or a long gap: the core's rule, counting the
    earlier planned infusions as given), its booked time and place (``bookings.booked_slots``),
    and the indications they are for (those of the planned courses, else of the latest course;
    one the drug library no longer lists is left out)."""
    given = (OrderStatus.completed, OrderStatus.in_progress)
    history = list(
        Order.objects.filter(patient=patient, status__in=(*given, *PLANNED))
        .select_related("course")
        .order_by("date", "sequence", "id")
    )
    ended = set(
        Order.objects.filter(patient=patient, session__ended_at__isnull=False).values_list(
            "pk", flat=True
        )
    )  # an infusion that ended today is no longer to come (issue 16 item 21)
    coming = [o for o in history if o.status in PLANNED and o.date >= today and o.pk not in ended]
    booked = booked_slots(o.pk for o in coming)  # the booked time and place (issue 18)
    booking_versions = dict(
        Booking.objects.filter(order_id__in=[o.pk for o in coming]).values_list(
            "order_id", "version"
        )
    )  # a cancelled booking counts too: the calendar's SEQUENCE never goes back
    infusions = []
    for order in coming:
        before = [o for o in history if o.date < order.date]
        last = before[-1] if before else None
        observe = observation_minutes(
            first_infusion=last is None,
            product_switch=last is not None and last.course.product_id != order.course.product_id,
            gap_days=(order.date - last.date).days if last else None,
            protocol=current_library().monitoring,
        )
        siblings = sorted(
            o.sequence
            for o in order.course.orders.all()
            if o.status not in (OrderStatus.cancelled, OrderStatus.deferred)
        )
        session = getattr(order, "session", None) if order.status == "in-progress" else None
        infusions.append(
            Infusion(
                order_id=order.pk,
                date=order.date,
                place=order.course.place,
                pump_minutes=float(order.steps[-1]["end_min"]),
                observation_minutes=observe.minutes,
                steps=len(order.steps),
                step_minutes=_step_minutes(order.steps),
                number=siblings.index(order.sequence) + 1 if order.sequence in siblings else 1,
                of=len(siblings),
                induction=order.course.phase == "induction",
                start=session.started_at if session is not None else None,
                booked=booked.get(order.pk),
                revision=order.version - 1 + booking_versions.get(order.pk, 0),
            )
        )
    maintenance = [o for o in coming if o.course.phase == "maintenance"]
    every = maintenance[0].course.regimen.get("every_weeks") if maintenance else None
    ids = [o.course.indication for o in coming]
    if not ids:
        latest = patient.courses.order_by("-start", "-id").first()
        ids = [latest.indication] if latest is not None else []
    known = current_library().catalogue.indications
    return PatientPlan(
        given_name=patient.given_name,
        family_name=patient.family_name,
        infusions=tuple(infusions),
        every_weeks=int(every) if every else None,
        today=today,
        indications=tuple(known[i] for i in dict.fromkeys(ids) if i in known),
        emergency=emergency_phone(),
    )


def handout_context(patient: Patient, *, today: dt.date) -> dict[str, Any]:
    """What the handout (its page and its PDF, the staff's and the patient's own) shows: the
    plan, the handout's text and the outcome chart with the infusions given."""
    plan = patient_plan(patient, today=today)
    series = outcome_series(patient)
    given = Order.objects.filter(patient=patient, status=OrderStatus.completed).order_by("date")
    return {
        "patient": patient,
        "handout": build_handout(plan),
        "chart": outcome_chart(
            series,
            [o.date for o in given],
            patient_reported(series),
            current_library().outcomes,
        ),
        "plan": plan,
    }


def handout_pdf(
    actor: Actor | None, patient: Patient, *, today: dt.date, own_url: str | None = None
) -> bytes:
    """The handout's PDF, printing audited (``print``, ``patient handout``). Raises
    ``PdfUnavailable`` (nothing audited) where PDFs cannot be made."""
    html = render_to_string(HANDOUT_TEMPLATE, handout_context(patient, today=today))
    pdf = html_to_pdf(html)
    _hand_over(actor, "print", "patient handout", patient.pk, patient.pk, own_url=own_url)
    return pdf


def export_calendar(
    actor: Actor | None,
    patient: Patient,
    *,
    now: dt.datetime,
    via: str | None = None,
    own_url: str | None = None,
    deliver: Callable[[bytes], None] | None = None,
) -> tuple[bytes, int]:
    """The patient's planned infusions from today as an .ics file, and how many there are;
    the export audited (``export``, ``calendar``; ``via``: ``cli`` from the command line)."""
    plan = patient_plan(patient, today=timezone.localdate(now))
    body = ics.calendar_bytes(plan, zone=timezone.get_current_timezone(), now=now)
    events = len(plan.infusions)
    after: dict[str, Any] = {"events": events, "format": "ics"}
    if via is not None:
        after["via"] = via
    _hand_over(
        actor,
        "export",
        "calendar",
        patient.pk,
        patient.pk,
        after=after,
        own_url=own_url,
        deliver=(lambda: deliver(body)) if deliver is not None else None,
    )
    return body, events


# --- the run sheet -------------------------------------------------------------------------------


def runsheet_file_name(order: Order) -> str:
    """``run-sheet-<mrn>-<date>.pdf``, with only letters, digits and hyphens from the MRN."""
    mrn = re.sub(r"[^A-Za-z0-9-]+", "-", order.patient.mrn).strip("-") or "patient"
    return f"run-sheet-{mrn}-{order.date:%Y-%m-%d}.pdf"


def print_runsheet(
    actor: Actor | None, order: Order, *, now: dt.datetime, via: str, reason: str = ""
) -> bytes:
    """The run sheet's PDF (the print view's template with ``pdf`` set), printing audited
    (``print``, ``order``, naming the record versions printed; ``actor``: ``None`` for the
    command line, ``reason`` saying who ran it)."""
    ctx = print_sheet(order, now)
    ctx.update(document_context(getattr(actor, "username", ""), now))
    ctx["user"] = actor if actor is not None else AnonymousUser()
    pdf = render_pdf(RUNSHEET_TEMPLATE, ctx)
    session: InfusionSession | None = ctx["session"]
    _hand_over(
        actor,
        "print",
        "order",
        order.pk,
        order.patient_id,
        after={
            "document": "run sheet",
            "via": via,
            "order_version": order.version,
            "session_version": session.version if session is not None else None,
            "generated_at": now.isoformat(),
            "bytes": len(pdf),
        },
        reason=reason,
    )
    return pdf


# --- FHIR ----------------------------------------------------------------------------------------


def _fhir_entries(patient: Patient) -> Iterator[dict[str, Any]]:
    """The patient's record in force, each part mapped by ``ivig.interop.fhir``: the patient,
    the weights, an order per request, each infusion begun with its rate segments, vital signs
    and reactions, the outcomes."""
    yield fhir.entry("Patient", patient.pk, fhir.patient_resource(patient))
    for weight in current(patient.weights.all()).order_by("measured_on", "id"):
        yield fhir.entry("WeightRecord", weight.pk, fhir.weight_observation(weight))
    orders = (
        Order.objects.filter(patient=patient)
        .select_related("course", "course__prescribed_by")
        .prefetch_related("lots")
        .order_by("date", "sequence", "id")
    )
    for order in orders:
        yield fhir.entry("Order", order.pk, fhir.medication_request(order, order.course))
    sessions = (
        InfusionSession.objects.filter(order__patient=patient)
        .select_related("order", "order__course", "administered_by", "started_by")
        .prefetch_related("order__lots", "rate_changes")
        .order_by("order__date", "order__sequence", "id")
    )
    for session in sessions:
        administrations = fhir.medication_administrations(session, session.order.course)
        if not administrations:
            continue
        for kind, pk, resource in administrations:
            yield fhir.entry(kind, pk, resource)
        for vitals in current(session.vitals.all()).order_by("at", "id"):
            for key, observation in fhir.vital_observations(vitals, patient.pk):
                yield fhir.entry("Vitals", key, observation)
        for reaction in current(session.reactions.all()).select_related("recorded_by"):
            yield fhir.entry("Reaction", reaction.pk, fhir.adverse_event(reaction, patient.pk))
    for outcome in current(patient.outcomes.all()).order_by("measured_on", "id"):
        yield fhir.entry(
            "Outcome",
            outcome.pk,
            fhir.outcome_observation(outcome, current_library().outcomes.get(outcome.measure)),
        )


def fhir_bundle(patient: Patient, *, now: dt.datetime) -> dict[str, Any]:
    """The patient's treatment as a FHIR R4B Bundle (``ivig.interop.fhir``), entries in force
    only; not audited (:func:`export_fhir` is what hands it out)."""
    return fhir.bundle(_fhir_entries(patient), now=now)


def export_fhir(
    actor: Actor | None,
    patient: Patient,
    *,
    now: dt.datetime,
    channel: str,
    deliver: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The Bundle, with its ``export`` audit event (the patient, the resources sent and the
    channel: ``api`` or ``cli``) written before it is handed out."""
    bundle = fhir_bundle(patient, now=now)
    _hand_over(
        actor,
        "export",
        "fhir",
        patient.pk,
        patient.pk,
        after={
            "format": "FHIR R4B Bundle",
            "channel": channel,
            "resources": fhir.counts(bundle),
        },
        deliver=(lambda: deliver(bundle)) if deliver is not None else None,
    )
    return bundle
