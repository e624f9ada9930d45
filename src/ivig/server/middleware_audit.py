"""Reads of a patient's record are audited, in one place (requirement 2; ASTM E2147 "simple
access and viewing", ONC 170.315(d)(2) granularity).

After a successful (200) GET of a page or an API route that shows a patient's record, one
``read`` audit event is written per patient shown, naming the patient and the category of what
was read ("medication/infusion", "demographics", "outcomes"...), in its own transaction. The
routes are listed below by their URL pattern, with the URL parameter that names the record and
how to find its patient; a test walks every URL pattern and fails for a route that shows a
patient's record without a line here (deny by default).

A page's own polling (the ``X-Ivig-Poll`` header, see ``IdleSignOut``) is not a new look at
the record and is not logged again; the first full load always is. If the event cannot be
written, the record is not shown (503): no unaudited read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from ivig.records.actors import Actor
from ivig.records.services import reads, signin

__all__ = ["EXEMPT", "READS", "Read", "ReadAudit", "Refusals"]

log = logging.getLogger("ivig.audit")

MEDICATION = "medication/infusion"
DEMOGRAPHICS = "demographics"
OUTCOMES = "outcomes"
RESULTS = "results"  # serum creatinine results
SUMMARY = "patient summary"  # the patient page: details, courses, outcomes, reactions


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _patient(value: object) -> list[int]:
    pk = _int(value)
    return [pk] if pk is not None else []


def _of(model_name: str, field: str = "patient_id") -> Callable[[object], list[int]]:
    """The patient of a row of ``model_name`` (by its id)."""

    def find(value: object) -> list[int]:
        from ivig.records import models

        pk = _int(value)
        if pk is None:
            return []
        model = getattr(models, model_name)
        return [p for p in model.objects.filter(pk=pk).values_list(field, flat=True) if p]

    return find


def _lot(value: object) -> list[int]:
    """Every patient who received the lot (a recall look-up shows each of them)."""
    from ivig.records.models import Order

    found = Order.objects.filter(lots__lot_number=str(value)).values_list("patient_id", flat=True)
    return sorted(set(found))


def _entry(kind: str) -> Callable[[object], list[int]]:
    def find(value: object) -> list[int]:
        from ivig.records.services import corrections

        spec = corrections.KINDS.get(kind)
        pk = _int(value)
        if spec is None or pk is None:
            return []
        row = spec.model._default_manager.filter(pk=pk).first()
        return [spec.patient(row)] if row is not None else []

    return find


ENTRY_CATEGORY = {
    "weight": DEMOGRAPHICS,
    "vitals": MEDICATION,
    "reaction": MEDICATION,
    "outcome": OUTCOMES,
    "creatinine": RESULTS,
}


@dataclass(frozen=True, slots=True)
class Read:
    """A route that shows a patient's record: the category read, the URL parameter naming the
    record (``query``: a query-string parameter instead), and how to find its patients."""

    category: str
    param: str
    patients: Callable[[object], list[int]]
    query: bool = False


ORDER, COURSE, TASK = _of("Order"), _of("Course"), _of("PrescriberTask")
LOT_ORDER = _of("Lot", "order__patient_id")

READS: dict[str, Read] = {
    # the API
    "api/patients/<patient_id>": Read(DEMOGRAPHICS, "patient_id", _patient),
    "api/patients/<patient_id>/eligibility": Read("eligibility", "patient_id", _patient),
    "api/patients/<patient_id>/courses": Read(MEDICATION, "patient_id", _patient),
    "api/patients/<patient_id>/outcomes": Read(OUTCOMES, "patient_id", _patient),
    "api/patients/<patient_id>/creatinine-results": Read(RESULTS, "patient_id", _patient),
    "api/patients/<patient_id>/fhir": Read("fhir export", "patient_id", _patient),
    "api/courses/<course_id>": Read(MEDICATION, "course_id", COURSE),
    "api/orders/<order_id>": Read(MEDICATION, "order_id", ORDER),
    "api/orders/<order_id>/session": Read(MEDICATION, "order_id", ORDER),
    "api/orders": Read(MEDICATION, "patient_id", _patient, query=True),  # ?patient_id=
    "api/lots/<lot_number>/orders": Read(MEDICATION, "lot_number", _lot),
    "api/weights/<entry_id>/history": Read(DEMOGRAPHICS, "entry_id", _entry("weight")),
    "api/vitals/<entry_id>/history": Read(MEDICATION, "entry_id", _entry("vitals")),
    "api/reactions/<entry_id>/history": Read(MEDICATION, "entry_id", _entry("reaction")),
    "api/outcomes/<entry_id>/history": Read(OUTCOMES, "entry_id", _entry("outcome")),
    "api/creatinine-results/<entry_id>/history": Read(RESULTS, "entry_id", _entry("creatinine")),
    # the pages
    "patients/<int:patient_id>/": Read(SUMMARY, "patient_id", _patient),
    "patients/<int:patient_id>/outcomes/": Read(SUMMARY, "patient_id", _patient),
    "patients/<int:patient_id>/weights/": Read(SUMMARY, "patient_id", _patient),
    "patients/<int:patient_id>/weights/<int:weight_id>/confirm/": Read(
        SUMMARY, "patient_id", _patient
    ),
    "patients/<int:patient_id>/creatinine/": Read(SUMMARY, "patient_id", _patient),
    "patients/<int:patient_id>/edit/": Read(DEMOGRAPHICS, "patient_id", _patient),
    "patients/<int:patient_id>/prescribe/": Read(MEDICATION, "patient_id", _patient),
    "courses/<int:course_id>/replan/": Read(MEDICATION, "course_id", COURSE),
    "courses/<int:course_id>/cancel/": Read(MEDICATION, "course_id", COURSE),
    "orders/<int:order_id>/defer/": Read(MEDICATION, "order_id", ORDER),
    "orders/<int:order_id>/cancel/": Read(MEDICATION, "order_id", ORDER),
    "pharmacy/orders/<int:order_id>/verify/": Read(MEDICATION, "order_id", ORDER),
    "pharmacy/orders/<int:order_id>/dispense/": Read(MEDICATION, "order_id", ORDER),
    "orders/<int:order_id>/runsheet/": Read(MEDICATION, "order_id", ORDER),
    "orders/<int:order_id>/runsheet/print/": Read(MEDICATION, "order_id", ORDER),
    "orders/<int:order_id>/runsheet.pdf": Read(MEDICATION, "order_id", ORDER),
    "corrections/<str:kind>/<int:entry_id>/": Read("by kind", "entry_id", _patient),
    "patients/<int:patient_id>/handout/": Read("patient handout", "patient_id", _patient),
    "patients/<int:patient_id>/handout.pdf": Read("patient handout", "patient_id", _patient),
    "patients/<int:patient_id>/calendar.ics": Read("calendar", "patient_id", _patient),
    # the admin's read-only views of the record
    "admin/records/patient/<path:object_id>/change/": Read(DEMOGRAPHICS, "object_id", _patient),
    "admin/records/patient/<path:object_id>/history/": Read(DEMOGRAPHICS, "object_id", _patient),
    "admin/records/course/<path:object_id>/change/": Read(MEDICATION, "object_id", COURSE),
    "admin/records/course/<path:object_id>/history/": Read(MEDICATION, "object_id", COURSE),
    "admin/records/order/<path:object_id>/change/": Read(MEDICATION, "object_id", ORDER),
    "admin/records/order/<path:object_id>/history/": Read(MEDICATION, "object_id", ORDER),
    "admin/records/lot/<path:object_id>/change/": Read(MEDICATION, "object_id", LOT_ORDER),
    "admin/records/lot/<path:object_id>/history/": Read(MEDICATION, "object_id", LOT_ORDER),
    # issue 16 items 6 and 15 (pharm)
    "api/orders/<order_id>/premedication": Read(MEDICATION, "order_id", ORDER),
    "patients/<int:patient_id>/premedication/": Read(MEDICATION, "patient_id", _patient),
    "pharmacy/courses/<int:course_id>/verify/": Read(MEDICATION, "course_id", COURSE),
    "pharmacy/courses/<int:course_id>/dispense/": Read(MEDICATION, "course_id", COURSE),
    "orders/<int:order_id>/book/": Read(MEDICATION, "order_id", ORDER),  # issue 18
    "api/orders/<order_id>/slots": Read(MEDICATION, "order_id", ORDER),  # issue 18
    "pharmacy/orders/<int:order_id>/return/": Read(MEDICATION, "order_id", ORDER),  # issue 18
    "api/stock/orders/<order_id>": Read(MEDICATION, "order_id", ORDER),  # issue 18
}

# Routes that take a record's id on a GET but show no part of the record beyond what the page
# that calls them showed (and audited) already.
EXEMPT: dict[str, str] = {
    "orders/<int:order_id>/runsheet/reaction-advice/": "the protocol's advice for the symptoms "
    "ticked on the run sheet (a preview inside the audited sheet)",
}


def _accesses(request: HttpRequest) -> list[tuple[str, str, int]]:
    """(category, record id, patient id) for each patient the request showed: the route's
    record (``READS``) and each patient a list named (``reads.listed``, issue 17 item 8; the
    patient's id as the record's), each patient once per category."""
    found = _route_accesses(request)
    seen = {(category, patient) for category, _, patient in found}
    for category, patient in reads.listed_of(request):
        if (category, patient) not in seen:
            seen.add((category, patient))
            found.append((category, str(patient), patient))
    return found


def _route_accesses(request: HttpRequest) -> list[tuple[str, str, int]]:
    match = request.resolver_match
    if match is None:
        return []
    read = READS.get(match.route)
    if read is None:
        return []
    source = request.GET if read.query else match.kwargs
    value = source.get(read.param)
    if value is None or value == "":
        return []
    category, patients = read.category, read.patients
    if read.category == "by kind":  # the correction page of any kind of entry
        kind = str(match.kwargs.get("kind", ""))
        category, patients = ENTRY_CATEGORY.get(kind, MEDICATION), _entry(kind)
    return [(category, str(value), p) for p in patients(value)]


class ReadAudit:
    """Write the ``read`` audit events of a patient's record shown (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method != "GET" or response.status_code != 200:
            return response
        if request.headers.get("X-Ivig-Poll"):
            return response
        user: Actor | None = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return response
        try:
            accesses = _accesses(request)
            if accesses:
                reads.record_reads(user, request.get_full_path(), accesses)
        except Exception:
            log.exception("the read of %s could not be audited", request.path)
            return HttpResponse(
                "The record could not be shown: its access could not be recorded. Try again.",
                status=503,
                content_type="text/plain; charset=utf-8",
            )
        return response


class Refusals:
    """Every 401 and 403 answer is audited (requirement 17; issue 17 item 13): a signed-in
    user's 403 is one event naming them, the method and the path; a refusal of nobody signed in
    is counted in its address's window (``records.services.signin.refused``), so that a
    guessing program cannot fill the trail. A refusal that cannot be recorded is still
    refused (logged)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code in (401, 403):
            try:
                signin.refused(request, response.status_code)
            except Exception:
                log.exception("the refusal of %s could not be audited", request.path)
        return response
