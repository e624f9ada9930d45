"""A patient's treatment as a FHIR R4B Bundle (``ivig.interop.fhir``, exported and audited by
``ivig.records.services.documents``), for every staff role."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import Id
from ivig.records.models import Patient
from ivig.records.services import documents
from ivig.records.services.common import get

router = Router(tags=["fhir"])

FHIR_JSON = "application/fhir+json"


@router.get("/patients/{patient_id}/fhir", **rule(*EVERYONE))
def patient_bundle(request: HttpRequest, patient_id: Id) -> HttpResponse:
    """The patient's treatment as a FHIR R4B Bundle (type ``collection``): Patient,
    MedicationRequest per order (a Dosage per rate step), MedicationAdministration per infusion
    and per rate segment, Observations (vital signs, weights, outcomes), AdverseEvent per
    reaction. ``application/fhir+json`` when the ``Accept`` header asks for it, otherwise
    ``application/json``. Each export is audited (action ``export``)."""
    patient = get(Patient, patient_id, "patient")
    bundle = documents.export_fhir(request.user, patient, now=timezone.now(), channel="api")
    accept = request.headers.get("Accept", "")
    kind = FHIR_JSON if FHIR_JSON in accept else "application/json"
    return HttpResponse(
        json.dumps(bundle, ensure_ascii=False), content_type=f"{kind}; charset=utf-8"
    )
