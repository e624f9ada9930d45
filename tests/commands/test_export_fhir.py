"""``ivig export fhir``: a demo patient's FHIR R4B Bundle on standard output or into a file,
validated with ``fhir.resources``; audited (export, channel cli); an unknown patient or an
unwritable file is one error line and no audit event."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle

from ivig.records.models import AuditEvent, Patient

Run = Callable[[list[str]], tuple[int, str, str]]  # the ``run`` fixture (tests/conftest.py)


def test_to_standard_output_by_mrn(demo: None, run: Run) -> None:
    patient = Patient.objects.get(mrn="DEMO-0002")
    code, out, err = run(["export", "fhir", "demo-0002"])
    assert (code, err) == (0, "")
    bundle = Bundle.model_validate_json(out)
    entries = bundle.entry or []
    assert entries[0].resource is not None
    assert json.loads(out)["entry"][0]["resource"]["identifier"][0]["value"] == "DEMO-0002"
    kinds = {e.resource.get_resource_type() for e in entries if e.resource}
    assert {"Patient", "MedicationRequest", "MedicationAdministration", "Observation"} <= kinds
    event = AuditEvent.objects.get(action="export")
    assert (event.actor, event.entity, event.patient_id) == ("system", "fhir", patient.pk)
    assert event.after is not None
    assert event.after["channel"] == "cli"
    assert sum(event.after["resources"].values()) == len(entries)


def test_into_a_file_by_id(demo: None, run: Run, tmp_path: Path) -> None:
    patient = Patient.objects.get(mrn="DEMO-0003")
    target = tmp_path / "bundle.json"
    code, out, err = run(["export", "fhir", str(patient.pk), "--out", str(target)])
    assert (code, out) == (0, "")
    bundle = Bundle.model_validate_json(target.read_text(encoding="utf-8"))
    assert err == f"{len(bundle.entry or [])} resource(s) written to {target}\n"
    adverse = [
        e
        for e in bundle.entry or []
        if e.resource and e.resource.get_resource_type() == "AdverseEvent"
    ]
    assert len(adverse) == 1
    assert AuditEvent.objects.filter(action="export", patient_id=patient.pk).count() == 1


def test_an_unknown_patient(demo: None, run: Run) -> None:
    code, out, err = run(["export", "fhir", "NOPE-1"])
    assert (code, out) == (1, "")
    assert err == "Error: no patient NOPE-1\n"
    assert not AuditEvent.objects.filter(action="export").exists()


def test_an_unwritable_file_writes_no_audit_event(demo: None, run: Run, tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "bundle.json"
    code, out, err = run(["export", "fhir", "DEMO-0001", "--out", str(target)])
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: --out: cannot write {target}")
    assert not target.exists()
    assert not AuditEvent.objects.filter(action="export").exists()
