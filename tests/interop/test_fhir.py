"""The FHIR R4B export (issue 6), from the demo's records: the Bundle and every resource in it
parse back with the ``fhir.resources`` R4B models; one resource per record (orders, infusions
and their rate segments, each vital sign, weights, outcomes, reactions); LOINC codes and UCUM
units; every reference resolves inside the Bundle; corrected and voided entries are not sent."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from ivig.records.models import (
    InfusionSession,
    Order,
    Outcome,
    Patient,
    RateChange,
    Reaction,
    Vitals,
    WeightRecord,
)
from ivig.records.services import corrections, documents

SIGNS = ("temperature_c", "pulse_per_min", "respiratory_rate_per_min", "spo2_percent")
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"


@pytest.fixture
def demo(demo: dict[str, Any]) -> list[Patient]:
    """The demo's patients (loaded by tests/conftest.py's ``demo``), by MRN."""
    return list(Patient.objects.order_by("mrn"))


def _export(patient: Patient) -> dict[str, Any]:
    """The Bundle as a client gets it: through JSON."""
    out: dict[str, Any] = json.loads(json.dumps(documents.fhir_bundle(patient, now=timezone.now())))
    return out


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in the JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _expected(patient: Patient) -> Counter[str]:
    """Resources per type the records call for."""
    vitals = corrections.current(Vitals.objects.filter(session__order__patient=patient))
    signs = sum(getattr(v, f) is not None for v in vitals for f in SIGNS)
    panels = sum(v.systolic_mm_hg is not None or v.diastolic_mm_hg is not None for v in vitals)
    weights = corrections.current(WeightRecord.objects.filter(patient=patient)).count()
    outcomes = corrections.current(Outcome.objects.filter(patient=patient)).count()
    started = InfusionSession.objects.filter(order__patient=patient, started_at__isnull=False)
    segments = RateChange.objects.filter(
        session__in=started, rate_ml_per_h__gt=0
    ).count()  # each period at one rate above zero
    reactions = corrections.current(Reaction.objects.filter(session__order__patient=patient))
    return Counter(
        {
            "Patient": 1,
            "MedicationRequest": Order.objects.filter(patient=patient).count(),
            "MedicationAdministration": started.count() + segments,
            "Observation": signs + panels + weights + outcomes,
            "AdverseEvent": reactions.count(),
        }
    )


def test_every_demo_bundle_and_resource_validates_with_the_r4b_models(
    demo: list[Patient],
) -> None:
    assert len(demo) == 3
    for patient in demo:
        bundle = _export(patient)
        parsed = Bundle.model_validate(bundle)
        assert parsed.type == "collection"
        assert len(parsed.entry or []) == len(bundle["entry"])
        for entry in bundle["entry"]:
            kind = entry["resource"]["resourceType"]
            resource = get_fhir_model_class(kind).model_validate(entry["resource"])
            assert resource.get_resource_type() == kind
            assert entry["fullUrl"].startswith("urn:uuid:")
        # the model's own JSON parses back to the same Bundle
        again = Bundle.model_validate_json(parsed.model_dump_json())
        assert len(again.entry or []) == len(bundle["entry"])


def test_one_resource_per_record(demo: list[Patient]) -> None:
    reactions = 0
    for patient in demo:
        bundle = _export(patient)
        found = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
        expected = _expected(patient)
        assert found == +expected, patient.mrn  # (+: drops the zero counts)
        assert found["MedicationRequest"] == 5  # induction (2) and maintenance (3)
        assert found["Observation"] > 60  # weights, outcomes and every vital sign of each infusion
        reactions += found["AdverseEvent"]
    assert reactions == 1  # the demo's one mild headache


def test_references_resolve_inside_the_bundle_and_urls_are_stable(demo: list[Patient]) -> None:
    for patient in demo:
        bundle = _export(patient)
        urls = [e["fullUrl"] for e in bundle["entry"]]
        assert len(urls) == len(set(urls))
        references = [v for k, v in _walk(bundle) if k == "reference"]
        assert len(references) > len(urls)  # every resource but the Patient points somewhere
        assert set(references) <= set(urls)
        assert [e["fullUrl"] for e in _export(patient)["entry"]] == urls
    patient_url = _export(demo[0])["entry"][0]["fullUrl"]
    assert patient_url not in [e["fullUrl"] for e in _export(demo[1])["entry"]]


def test_patient(demo: list[Patient]) -> None:
    patient = demo[0]
    (resource,) = _resources(_export(patient), "Patient")
    assert resource["identifier"][0]["value"] == patient.mrn == "DEMO-0001"
    assert resource["identifier"][0]["type"]["coding"][0]["code"] == "MR"
    assert resource["name"][0] == {
        "use": "official",
        "family": patient.family_name,
        "given": [patient.given_name],
    }
    assert resource["birthDate"] == patient.date_of_birth.isoformat()
    assert resource["gender"] == patient.sex


def test_medication_request_has_a_dosage_per_rate_step(demo: list[Patient]) -> None:
    patient = demo[0]
    bundle = _export(patient)
    requests = {r["identifier"][0]["value"]: r for r in _resources(bundle, "MedicationRequest")}
    for order in Order.objects.filter(patient=patient).select_related("course"):
        request = requests[f"order-{order.pk}"]
        course = order.course
        assert request["groupIdentifier"]["value"] == f"course-{course.pk}"
        assert request["intent"] == "order"
        assert request["status"] == ("completed" if order.status == "completed" else "active")
        assert "Privigen" in request["medicationCodeableConcept"]["text"]
        assert "100 mg/mL" in request["medicationCodeableConcept"]["text"]
        assert "coding" not in request["medicationCodeableConcept"]  # no made-up codes
        assert request["requester"]["display"]
        assert request["authoredOn"]
        dosages = request["dosageInstruction"]
        assert [d["sequence"] for d in dosages] == list(range(1, len(order.steps) + 1))
        grams = 0.0
        for dosage, step in zip(dosages, order.steps, strict=True):
            ordered, calculated = dosage["doseAndRate"]
            assert ordered["type"]["coding"][0] == {
                "system": "http://terminology.hl7.org/CodeSystem/dose-rate-type",
                "code": "ordered",
                "display": "Ordered",
            }
            assert calculated["type"]["coding"][0]["code"] == "calculated"
            assert ordered["rateQuantity"]["code"] == "mg/kg/min"
            assert ordered["rateQuantity"]["value"] == pytest.approx(step["rate_mg_per_kg_per_min"])
            assert calculated["rateQuantity"]["system"] == UCUM
            assert calculated["rateQuantity"]["code"] == "mL/h"
            assert calculated["rateQuantity"]["value"] == pytest.approx(step["rate_ml_per_h"])
            assert calculated["doseQuantity"]["code"] == "g"
            grams += calculated["doseQuantity"]["value"]
            bounds = dosage["timing"]["repeat"]["boundsDuration"]
            assert (bounds["value"], bounds["code"]) == (step["end_min"] - step["start_min"], "min")
            assert dosage["timing"]["event"] == [order.date.isoformat()]
            cap = dosage["maxDosePerPeriod"]
            assert cap["numerator"]["value"] == pytest.approx(2.0 * course.dosing_weight_kg)
            assert cap["numerator"]["code"] == "g"
            assert (cap["denominator"]["value"], cap["denominator"]["code"]) == (28, "d")
            assert dosage["maxDosePerAdministration"]["value"] == order.dose_g
        assert grams == pytest.approx(order.dose_g, abs=0.01)  # the steps add up to the dose


def test_administrations_per_infusion_and_rate_segment(demo: list[Patient]) -> None:
    patient = demo[2]  # the infusion with a pause for a reaction
    bundle = _export(patient)
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    administrations = _resources(bundle, "MedicationAdministration")
    infusions = [a for a in administrations if "partOf" not in a]
    segments = [a for a in administrations if "partOf" in a]
    sessions = InfusionSession.objects.filter(order__patient=patient, started_at__isnull=False)
    assert len(infusions) == sessions.count() == 2
    for session, infusion in zip(sessions.order_by("order__date"), infusions, strict=True):
        given = [c for c in session.rate_changes.all() if c.rate_ml_per_h > 0]
        assert infusion["status"] == "completed"
        assert infusion["effectivePeriod"]["start"] == session.started_at.isoformat()
        assert infusion["effectivePeriod"]["end"] == session.ended_at.isoformat()
        assert infusion["dosage"]["rateQuantity"]["value"] == given[-1].rate_ml_per_h
        assert infusion["dosage"]["rateQuantity"]["code"] == "mL/h"
        request = urls[infusion["request"]["reference"]]
        assert request["identifier"][0]["value"] == f"order-{session.order_id}"
        assert "lot" in infusion["note"][0]["text"]
        mine = [s for s in segments if urls[s["partOf"][0]["reference"]] is infusion]
        assert [s["dosage"]["rateQuantity"]["value"] for s in mine] == [
            c.rate_ml_per_h for c in given
        ]
        for before, after in itertools.pairwise(mine):
            assert before["effectivePeriod"]["end"] <= after["effectivePeriod"]["start"]
    paused = [c for c in RateChange.objects.filter(session__in=sessions) if c.rate_ml_per_h == 0]
    assert len(paused) >= 3  # a pause and two stops at 0 mL/h: gaps, not segments


def test_vital_signs_loinc_and_ucum(demo: list[Patient]) -> None:
    patient = demo[0]
    observations = _resources(_export(patient), "Observation")
    vital = [o for o in observations if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    by_code: dict[str, list[dict[str, Any]]] = {}
    for o in vital:
        by_code.setdefault(o["code"]["coding"][0]["code"], []).append(o)
    units = {"8310-5": "Cel", "8867-4": "/min", "9279-1": "/min", "2708-6": "%", "29463-7": "kg"}
    for loinc, unit in units.items():
        assert by_code[loinc], loinc
        for o in by_code[loinc]:
            assert o["code"]["coding"][0]["system"] == LOINC
            assert (o["valueQuantity"]["system"], o["valueQuantity"]["code"]) == (UCUM, unit)
    first = Vitals.objects.filter(session__order__patient=patient).order_by("at", "id").first()
    assert first is not None
    panels = by_code["85354-9"]
    assert len(panels) == len(by_code["8867-4"])
    panel = next(p for p in panels if p["effectiveDateTime"] == first.at.isoformat())
    systolic, diastolic = panel["component"]
    assert systolic["code"]["coding"][0]["code"] == "8480-6"
    assert diastolic["code"]["coding"][0]["code"] == "8462-4"
    assert systolic["valueQuantity"]["value"] == first.systolic_mm_hg
    assert diastolic["valueQuantity"]["value"] == first.diastolic_mm_hg
    assert systolic["valueQuantity"]["code"] == "mm[Hg]"
    spo2 = by_code["2708-6"][0]["code"]["coding"]
    assert [c["code"] for c in spo2] == ["2708-6", "59408-5"]
    at_the_chair = [o for o in vital if o["code"]["coding"][0]["code"] != "29463-7"]
    assert all(o["status"] == "final" and len(o["partOf"]) == 1 for o in at_the_chair)


def test_outcomes_as_text_coded_observations(demo: list[Patient]) -> None:
    patient = demo[0]
    observations = _resources(_export(patient), "Observation")
    outcomes = [o for o in observations if "coding" not in o["code"]]
    assert len(outcomes) == patient.outcomes.count() == 6
    names = {o["code"]["text"] for o in outcomes}
    assert names == {
        "triple timed up-and-go (3TUG)",
        "Quantitative Myasthenia Gravis score (QMG)",
        "MRC sum score",
    }
    for o in outcomes:
        assert o["category"][0]["coding"][0]["code"] == "exam"
        value = o["valueQuantity"]
        assert value["system"] == UCUM
        assert value["code"] == ("s" if "3TUG" in o["code"]["text"] else "{score}")
    values = sorted(o["valueQuantity"]["value"] for o in outcomes)
    assert values == sorted(patient.outcomes.values_list("value", flat=True))


def test_adverse_event_names_the_administration(demo: list[Patient]) -> None:
    reaction = Reaction.objects.get()
    patient = reaction.session.order.patient
    bundle = _export(patient)
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    (event,) = _resources(bundle, "AdverseEvent")
    assert event["actuality"] == "actual"
    assert event["event"]["text"] == "infusion reaction: headache"
    assert event["date"] == reaction.at.isoformat()
    assert event["severity"]["coding"][0]["code"] == "mild"
    assert event["seriousness"]["coding"][0]["code"] == "non-serious"
    suspect = urls[event["suspectEntity"][0]["instance"]["reference"]]
    assert suspect["resourceType"] == "MedicationAdministration"
    assert suspect["identifier"][0]["value"] == f"infusion-{reaction.session_id}"
    assert urls[event["subject"]["reference"]]["resourceType"] == "Patient"


def test_only_entries_in_force_are_exported(demo: list[Patient]) -> None:
    from django.contrib.auth.models import User

    nurse = User.objects.get(username="demo-nurse")
    patient = demo[0]
    before = Counter(e["resource"]["resourceType"] for e in _export(patient)["entry"])
    vitals = Vitals.objects.filter(session__order__patient=patient).order_by("at").first()
    assert vitals is not None
    corrections.void(nurse, "vitals", vitals.pk, "recorded on the wrong patient")
    outcome = patient.outcomes.get(measure="qmg", value=14)
    corrections.correct(nurse, "outcome", outcome.pk, {"value": 13}, "miscounted")

    bundle = _export(patient)
    after = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    assert after["Observation"] == before["Observation"] - 5  # four signs and the BP panel
    assert after == +_expected(patient)
    times = {o.get("effectiveDateTime") for o in _resources(bundle, "Observation")}
    assert vitals.at.isoformat() not in times
    qmg = [o for o in _resources(bundle, "Observation") if "QMG" in o["code"]["text"]]
    assert sorted((o["valueQuantity"]["value"], o["status"]) for o in qmg) == [
        (10, "final"),
        (13, "amended"),
    ]
