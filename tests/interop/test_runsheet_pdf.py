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


def test_the_pdf_of_a_demo_infusion_says_everything_the_sheet_prints(db: None) -> None:
    from django.utils import timezone

    from ivig.cli import main
    from ivig.records.models import AuditEvent
    from ivig.web.views.runsheet.pdf import runsheet_pdf
    from ivig.web.views.runsheet.sheet import steps_of

    assert main(["demo"]) == 0
    order = _given_order()
    patient, session = order.patient, order.session
    before = AuditEvent.objects.filter(action="print").count()
    pdf = runsheet_pdf(order, None, timezone.now(), via="test")
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
