"""The invitation link's page (issue 16, item 17): the link with a copy button, its QR code
(server-side SVG, no inline style), and a form that e-mails it through Django's mail backend
(locmem in tests: ``mail.outbox``), audited without the token; the address is not stored."""

from __future__ import annotations

import re
from typing import Any

import pytest
import segno
from django.core import mail
from django.test import Client

from ivig.records.models import AuditEvent, PatientInvitation


def _invite(client: Client, patient: Any) -> tuple[str, str]:
    page = client.post(f"/patients/{patient.pk}/invite/").content.decode()
    found = re.search(r'value="(https?://[^"]+/invite/([^"/]+)/)"', page)
    assert found is not None
    return page, found.group(2)


def test_the_page_has_a_copy_button_and_a_qr_code(client_for: Any, patient: Any) -> None:
    page, token = _invite(client_for("nurse"), patient)
    assert '<button type="button" class="secondary" data-copy="invite-link">Copy the link' in page
    assert "/static/web/invite.js" in page
    svg = page[page.index("<svg ") : page.index("</svg>") + 6]
    assert 'role="img" aria-label="QR code of the invitation"' in svg
    assert "style=" not in svg  # the CSP allows no inline style
    # the QR code holds the link: the same symbol segno draws for it
    link = f"http://testserver/invite/{token}/"
    expected = segno.make(link, error="m", micro=False)
    assert f'width="{expected.symbol_size(scale=4)[0]}"' in svg
    assert token not in svg  # the token is in the code's modules, not its text


def test_the_link_is_emailed_and_audited_without_the_token(
    client_for: Any, patient: Any, settings: Any
) -> None:
    settings.IVIG_SERVICE_PHONE = "02 9999 0000"
    nurse = client_for("nurse")
    _, token = _invite(nurse, patient)
    sent = nurse.post(
        f"/patients/{patient.pk}/invite/email/", {"email": "edward@example.org", "token": token}
    )
    assert sent.status_code == 200
    page = sent.content.decode()
    assert "The link was e-mailed to edward@example.org." in page
    assert f"/invite/{token}/" in page  # the page still shows the link, its copy and QR code
    [message] = mail.outbox
    assert message.to == ["edward@example.org"]
    assert message.subject == "Your IVIG infusions: set up your sign-in"
    assert f"http://testserver/invite/{token}/" in message.body
    assert "call the infusion service on 02 9999 0000" in message.body
    assert patient.family_name not in message.body  # no name, no clinical detail
    event = AuditEvent.objects.get(action="email", entity="patient-invitation")
    assert event.after["emailed_to"] == "e***@example.org"
    assert event.patient_id == patient.pk
    assert token not in str(event.after)
    assert "edward@" not in str(event.after)  # the address is not stored
    assert not AuditEvent.objects.filter(after__icontains=token).exists()


@pytest.mark.parametrize("address", ["", "edward", "edward@", "a b@example.org"])
def test_a_bad_address_is_refused_and_nothing_sent(
    client_for: Any, patient: Any, address: str
) -> None:
    nurse = client_for("nurse")
    _, token = _invite(nurse, patient)
    refused = nurse.post(
        f"/patients/{patient.pk}/invite/email/", {"email": address, "token": token}
    )
    assert refused.status_code == 200
    assert 'class="field has-error"' in refused.content.decode()
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="email").exists()


def test_a_link_that_no_longer_works_is_not_sent(client_for: Any, patient: Any) -> None:
    nurse = client_for("nurse")
    _, old = _invite(nurse, patient)
    _invite(nurse, patient)  # a new invitation revokes the first link
    refused = nurse.post(
        f"/patients/{patient.pk}/invite/email/",
        {"email": "edward@example.org", "token": old},
        follow=True,
    )
    assert refused.redirect_chain == [(f"/patients/{patient.pk}/", 302)]
    assert "This link no longer works" in refused.content.decode()
    assert mail.outbox == []
    forged = nurse.post(
        f"/patients/{patient.pk}/invite/email/", {"email": "x@example.org", "token": "guess"}
    )
    assert forged.status_code == 302
    assert mail.outbox == []


def test_another_patients_link_is_not_sent(
    client_for: Any, patient: Any, make_patient: Any
) -> None:
    other = make_patient(170, 70, mrn="MRN0009", family_name="Other", given_name="Olive")
    nurse = client_for("nurse")
    _, token = _invite(nurse, patient)
    refused = nurse.post(
        f"/patients/{other.pk}/invite/email/", {"email": "x@example.org", "token": token}
    )
    assert refused.status_code == 302
    assert mail.outbox == []
    assert PatientInvitation.objects.count() == 1


def test_a_pharmacist_may_not_email_a_link(client_for: Any, patient: Any) -> None:
    _, token = _invite(client_for("nurse"), patient)
    refused = client_for("pharmacist").post(
        f"/patients/{patient.pk}/invite/email/", {"email": "x@example.org", "token": token}
    )
    assert refused.status_code == 403
    assert mail.outbox == []


def test_a_mail_server_that_refuses_is_said_and_nothing_recorded(
    client_for: Any, patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr("ivig.records.services.portal.send_mail", refuse)
    nurse = client_for("nurse")
    _, token = _invite(nurse, patient)
    page = nurse.post(
        f"/patients/{patient.pk}/invite/email/", {"email": "e@example.org", "token": token}
    ).content.decode()
    assert "the e-mail was not sent: the mail server did not take it" in page
    assert "copy the link or show the QR code instead" in page
    assert not AuditEvent.objects.filter(action="email").exists()
