"""The handout page, its PDF (text extracted with pypdf) and the calendar download, for every
signed-in role, from demo data; each read audited, the PDF and the .ics also as print/export."""

from __future__ import annotations

import io
from typing import Any

import pypdf
import pytest
from django.test import Client
from icalendar import Calendar

from ivig.interop.handout import duration_words, long_date

ROLES = ("admin", "prescriber", "pharmacist", "nurse")


@pytest.fixture
def demo(demo: dict[str, Any]) -> Any:
    """The first patient of the demo data (loaded by tests/conftest.py's ``demo``)."""
    from ivig.records.models import Patient

    return Patient.objects.get(mrn="DEMO-0001")


def signed_in(role: str) -> Client:
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.get(username=f"demo-{role}"))
    return client


def coming(patient: Any) -> list[Any]:
    from django.utils import timezone

    return list(
        patient.orders.filter(date__gte=timezone.localdate(), status="planned").order_by("date")
    )


def events(after: int, action: str) -> list[Any]:
    from ivig.records.models import AuditEvent

    return list(AuditEvent.objects.filter(seq__gt=after, action=action).order_by("seq"))


def last_seq() -> int:
    from ivig.records.models import AuditEvent

    return int(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


@pytest.mark.parametrize("role", ROLES)
def test_the_handout_page_for_every_role(demo: Any, role: str) -> None:
    before = last_seq()
    response = signed_in(role).get(f"/patients/{demo.pk}/handout/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "<h1>Your IVIG treatment</h1>" in text
    assert "For Margaret Hartley." in text
    from ivig.interop.handout import booked_words
    from ivig.records.services.bookings import booked_slot

    for order in coming(demo):  # the booked time and place (the demo books the coming week)
        slot = booked_slot(order)
        said = booked_words(slot) if slot else f"{long_date(order.date)}, at the infusion centre."
        assert said in text
    pump = float(coming(demo)[0].steps[-1]["end_min"])
    assert f"For you, the drip takes {duration_words(pump)}." in text
    assert "<style" not in text.split("<main", 1)[1]  # the CSP: no inline style on a page
    assert f'href="/patients/{demo.pk}/handout.pdf"' in text
    assert f'href="/patients/{demo.pk}/calendar.ics"' in text
    [read] = events(before, "read")
    assert (read.entity, read.patient_id) == ("patient handout", demo.pk)
    assert read.actor == f"demo-{role}"


def test_signed_out_goes_to_sign_in(demo: Any) -> None:
    for address in ("handout/", "handout.pdf", "calendar.ics"):
        response = Client().get(f"/patients/{demo.pk}/{address}")
        assert response.status_code == 302
        assert "/signin/" in response["Location"]


def test_an_unknown_patient_is_404(demo: Any) -> None:
    for address in ("handout/", "handout.pdf", "calendar.ics"):
        assert signed_in("nurse").get(f"/patients/999999/{address}").status_code == 404


def test_the_pdf(demo: Any) -> None:
    before = last_seq()
    response = signed_in("nurse").get(f"/patients/{demo.pk}/handout.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="ivig-handout-DEMO-0001.pdf"'
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Your IVIG treatment" in text
    assert "For Margaret Hartley." in text
    for order in coming(demo):
        assert long_date(order.date) in text
    for words in ("Get help at once", "trouble breathing", "Before each infusion", "vaccine"):
        assert words in text
    assert [(e.entity, e.patient_id) for e in events(before, "print")] == [
        ("patient handout", demo.pk)
    ]
    assert [e.entity for e in events(before, "read")] == ["patient handout"]


def test_the_calendar_download(demo: Any) -> None:
    from ivig.interop.ics import uid

    before = last_seq()
    response = signed_in("pharmacist").get(f"/patients/{demo.pk}/calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="ivig-infusions-DEMO-0001.ics"'
    found = Calendar.from_ical(response.content).walk("VEVENT")
    orders = coming(demo)
    assert [str(e["UID"]) for e in found] == [uid(o.pk) for o in orders]
    assert [e.decoded("DTSTART").date() for e in found] == [o.date for o in orders]
    [export] = events(before, "export")
    assert (export.entity, export.patient_id, export.after["events"]) == ("calendar", demo.pk, 3)
    assert [e.entity for e in events(before, "read")] == ["calendar"]


def test_the_patient_page_links_to_both(demo: Any) -> None:
    text = signed_in("nurse").get(f"/patients/{demo.pk}/").content.decode()
    assert f'<a href="/patients/{demo.pk}/handout/">Patient handout</a>' in text
    assert f'<a href="/patients/{demo.pk}/calendar.ics">Calendar of planned' in text


def test_the_outcome_chart_is_in_the_handout_and_its_pdf(demo: Any) -> None:
    """Issue 6, charts: the outcome chart (SVG) on the web and in the PDF, from the patient's
    outcomes in force; one line per measure, a mark per infusion given."""
    import xml.etree.ElementTree as ET

    from ivig.records.services.outcomes import outcome_series

    series = outcome_series(demo)
    assert series, "the demo patient has outcomes"
    client = signed_in("prescriber")
    page = client.get(f"/patients/{demo.pk}/handout/").content.decode()
    assert "Your test results" in page
    svg = page[page.index('<svg class="chart"') : page.index("</svg>") + len("</svg>")]
    root = ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}polyline")) == len({s["measure"] for s in series})
    assert len(root.findall(f"{ns}circle")) == len(series)
    given = demo.orders.filter(status="completed").count()
    assert len(root.findall(f"{ns}line")) == given
    pdf = client.get(f"/patients/{demo.pk}/handout.pdf").content
    text = " ".join(
        " ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(pdf)).pages
    )
    assert "Your test results" in text
    assert "The grey lines mark your infusions." in text


def test_the_handout_page_and_pdf_give_the_emergency_number(demo: Any, settings: Any) -> None:
    """The page, the print and the PDF carry the number the patient pages give (smallfix item
    1), flagged where emergency_numbers.toml marks it unverified."""
    settings.IVIG_EMERGENCY_NUMBER = "999"
    settings.IVIG_EMERGENCY_VERIFIED = False
    client = signed_in("nurse")
    words = "call emergency services on 999 (UNVERIFIED: check this number with your care team)"
    assert words in client.get(f"/patients/{demo.pk}/handout/").content.decode()
    pdf = client.get(f"/patients/{demo.pk}/handout.pdf").content
    text = " ".join(
        " ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(pdf)).pages
    )
    assert words in text
    settings.IVIG_EMERGENCY_VERIFIED = True
    page = client.get(f"/patients/{demo.pk}/handout/").content.decode()
    assert "call emergency services on 999 for an ambulance" in page
    assert "UNVERIFIED" not in page
