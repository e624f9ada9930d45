"""The run sheet's PDF from demo data and from an infusion at the chair: the text extracted
(pypdf) holds the patient, the product, the lots, each planned rate with its clock time, the
reaction protocol, signature lines and the printed-snapshot footer; printing is audited."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pypdf
import pytest

from ivig import __version__

pytestmark = pytest.mark.database


def text_of(pdf: bytes) -> str:
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return "\n".join(page.extract_text() for page in pages)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _given_order() -> Any:
    """A completed demo infusion (rate changes, vitals) of a demo patient."""
    from ivig.records.models import Order, OrderStatus

    order = (
        Order.objects.filter(status=OrderStatus.completed, session__isnull=False)
        .select_related("patient", "course")
        .order_by("patient__mrn", "date")
        .first()
    )
    assert order is not None
    return order


def test_the_pdf_of_a_demo_infusion_says_everything_the_sheet_prints(
    demo: dict[str, Any],
) -> None:
    from django.utils import timezone

    from ivig.records.models import AuditEvent
    from ivig.records.services.documents import print_runsheet
    from ivig.records.services.infusions import steps_of

    order = _given_order()
    patient, session = order.patient, order.session
    before = AuditEvent.objects.filter(action="print").count()
    pdf = print_runsheet(None, order, now=timezone.now(), via="test")
    assert pdf.startswith(b"%PDF-")
    text = flat(text_of(pdf))

    assert patient.mrn in text
    assert f"{patient.family_name}, {patient.given_name}" in text
    assert patient.date_of_birth.isoformat() in text  # the second identifier
    assert "Privigen" in text or order.course.product_id in text
    lots = list(order.lots.all())
    assert lots
    for lot in lots:
        assert lot.lot_number in text
    assert f"{order.dose_g:g} g" in text
    assert f"{order.course.dosing_weight_kg:.1f} kg" in text
    started = timezone.localtime(session.started_at)
    for step in steps_of(order):
        assert f"{step.rate_ml_per_h:g} mL/h" in text
        begin = started + dt.timedelta(minutes=step.start_min)
        assert begin.strftime("%H:%M") in text
    for change in session.rate_changes.all():
        assert timezone.localtime(change.at).strftime("%H:%M") in text
    assert "Vital-sign checkpoints" in text
    assert "none recorded" in text.lower()  # premedication: the model has none
    for severity, action in (
        ("Mild", "pause"),
        ("Moderate", "stop"),
        ("Severe", "stop-no-restart"),
    ):
        assert re.search(rf"{severity} {re.escape(action)}:", text), severity
    for who in ("Nurse administering (name)", "Pharmacist (name)", "Prescriber (name)"):
        assert who in text
    assert f"ivig {__version__}" in text
    assert "printed snapshot" in text.lower()
    assert f"order {order.pk} version {order.version}" in text
    assert "Pump rate (mL/h)" in text  # the rate chart

    events = AuditEvent.objects.filter(action="print")
    assert events.count() == before + 1
    event = events.order_by("-seq").first()
    assert event is not None
    assert (event.entity, event.entity_id, event.patient_id) == ("order", str(order.pk), patient.pk)
    assert event.after["order_version"] == order.version
    assert event.after["session_version"] == session.version


@pytest.mark.parametrize("role", ["admin", "prescriber", "pharmacist", "nurse"])
def test_every_signed_in_role_downloads_the_pdf_and_it_is_audited(
    role: str, users: dict[str, Any], dispensed: Any, client_for: Any
) -> None:
    from ivig.records.models import AuditEvent

    response = client_for(role).get(f"/orders/{dispensed.pk}/runsheet.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    name = f"run-sheet-MRN0001-{dispensed.date:%Y-%m-%d}.pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    text = flat(text_of(response.content))
    assert "MRN0001" in text
    assert f"by {role}" in text  # the footer names who generated it
    event = AuditEvent.objects.get(action="print")
    assert (event.actor, event.entity, event.entity_id) == (role, "order", str(dispensed.pk))
    assert event.patient_id == dispensed.patient_id
    assert event.after["via"] == "web"
    assert AuditEvent.objects.filter(action="read", entity_id=str(dispensed.pk)).count() == 1


def test_anonymous_is_refused_the_pdf(dispensed: Any, client_for: Any) -> None:
    from ivig.records.models import AuditEvent

    response = client_for(None).get(f"/orders/{dispensed.pk}/runsheet.pdf")
    assert response.status_code == 302
    assert f"next=/orders/{dispensed.pk}/runsheet.pdf" in response["Location"]  # to sign in
    assert response["Content-Type"] != "application/pdf"
    assert not AuditEvent.objects.filter(action="print").exists()


def test_the_pdf_of_a_paused_infusion_shows_the_pause_and_the_restart_limit(
    users: dict[str, Any], dispensed: Any, start_chair: Any, chair_now: dt.datetime
) -> None:
    from django.utils import timezone

    from ivig.records.models import Order
    from ivig.records.services import infusions
    from ivig.records.services.documents import print_runsheet

    start = chair_now - dt.timedelta(minutes=40)
    start_chair(dispensed, start)
    version = Order.objects.get(pk=dispensed.pk).session.version
    pause = start + dt.timedelta(minutes=20)
    infusions.record_reaction(
        users["nurse"], dispensed.pk, version, pause, ["headache"], "pump paused", now=chair_now
    )
    order = Order.objects.get(pk=dispensed.pk)
    text = flat(text_of(print_runsheet(users["nurse"], order, now=chair_now, via="test")))
    clock = timezone.localtime(pause).strftime("%H:%M")
    assert f"{clock} pause 0 mL/h" in text  # the recorded rows' table
    assert f"{clock} pause: 0 mL/h" in text  # the chart's summary
    assert "paused" in text
    assert "restart at no more than" in text


def test_the_sheet_says_when_a_printed_copy_is_superseded(
    users: dict[str, Any], dispensed: Any, client_for: Any, chair_now: dt.datetime
) -> None:
    """Requirement 66: once the record changes after printing, the screen says so."""
    from ivig.records.services import infusions

    nurse = client_for("nurse")
    sheet = f"/orders/{dispensed.pk}/runsheet/"
    assert "Printed" not in nurse.get(sheet).content.decode()
    assert nurse.get(f"/orders/{dispensed.pk}/runsheet.pdf").status_code == 200
    html = nurse.get(sheet).content.decode()
    assert "the printed copy matches the record" in html
    assert "Printed copy superseded" not in html
    answers = infusions.CheckAnswers(
        infection=False, fever=False, feeling_unwell=False, hydrated=True
    )
    infusions.pre_check(users["nurse"], dispensed.pk, answers, now=chair_now)
    html = nurse.get(sheet).content.decode()
    assert "Printed copy superseded" in html
    assert "by nurse no longer matches the record" in html
