"""``ivig export ics``: the calendar of a demo patient's planned infusions, on standard output
or into a file, parsed back; the export audited; errors in one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from icalendar import Calendar

Run = Callable[[list[str]], tuple[int, str, str]]  # the ``run`` fixture (tests/conftest.py)


def _expected(mrn: str) -> list[tuple[str, object, str]]:
    from django.utils import timezone

    from ivig.interop.ics import uid
    from ivig.records.models import Order

    rows = Order.objects.filter(
        patient__mrn=mrn, date__gte=timezone.localdate(), status__in=("planned", "verified")
    ).order_by("date")
    from ivig.records.services.bookings import booked_slot

    def where(order: Order) -> str:
        """The booked unit and chair (the demo books the coming week), else the place."""
        slot = booked_slot(order)
        return slot.location if slot is not None else "Infusion centre"

    return [(uid(o.pk), o.date, where(o)) for o in rows]


def _events(body: bytes | str) -> list[tuple[str, object, str]]:
    return [
        (str(e["UID"]), e.decoded("DTSTART").date(), str(e["LOCATION"]))
        for e in Calendar.from_ical(body).walk("VEVENT")
    ]


def test_to_standard_output_by_mrn(demo: None, run: Run) -> None:
    from ivig.records.models import AuditEvent, Patient

    code, out, err = run(["export", "ics", "DEMO-0003"])
    assert code == 0, err
    assert out.startswith("BEGIN:VCALENDAR")
    assert _events(out) == _expected("DEMO-0003")
    assert len(_expected("DEMO-0003")) == 3
    event = AuditEvent.objects.filter(action="export").get()
    patient = Patient.objects.get(mrn="DEMO-0003")
    assert (event.actor, event.entity, event.patient_id) == ("system", "calendar", patient.pk)
    assert event.after == {"events": 3, "format": "ics", "via": "cli"}


def test_into_a_file_by_id(demo: None, run: Run, tmp_path: Path) -> None:
    from ivig.records.models import Patient

    patient = Patient.objects.get(mrn="DEMO-0002")
    target = tmp_path / "infusions.ics"
    code, out, err = run(["export", "ics", str(patient.pk), "--out", str(target)])
    assert code == 0, err
    assert out == ""
    assert err == f"3 infusion(s) written to {target}\n"
    assert _events(target.read_bytes()) == _expected("DEMO-0002")


def test_an_unknown_patient(demo: None, run: Run) -> None:
    from ivig.records.models import AuditEvent

    code, out, err = run(["export", "ics", "NOPE-1"])
    assert code == 1
    assert out == ""
    assert err == "Error: no patient NOPE-1\n"
    assert not AuditEvent.objects.filter(action="export").exists()


def test_an_unwritable_file_writes_no_audit_event(demo: None, run: Run, tmp_path: Path) -> None:
    from ivig.records.models import AuditEvent

    target = tmp_path / "missing-folder" / "x.ics"
    code, _, err = run(["export", "ics", "DEMO-0001", "--out", str(target)])
    assert code == 1
    assert err == f"Error: --out: cannot write {target}: No such file or directory\n"
    assert not AuditEvent.objects.filter(action="export").exists()
