"""E-mailing a patient's invitation link (issue 16, item 17): only by the roles that invite,
only a usable link of that patient, to a valid address; audited as ``email`` with the address
masked and never the token; a mail server that refuses leaves nothing recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail

from ivig.errors import Forbidden, InvalidInput, MailUnavailable, NotFound
from ivig.records.models import AuditEvent
from ivig.records.services import portal


@pytest.fixture
def link(users: dict[str, Any], patient: Any, now: dt.datetime) -> str:
    _, raw = portal.invite(users["nurse"], patient.pk, now=now)
    return raw


def _send(actor: Any, patient: Any, raw: str, to: str, now: dt.datetime) -> Any:
    return portal.email_invitation(
        actor, patient.pk, raw, to, f"https://ivig.example/invite/{raw}/", now=now
    )


def test_the_link_is_sent_and_audited_masked(
    users: dict[str, Any], patient: Any, link: str, now: dt.datetime
) -> None:
    invitation = _send(users["prescriber"], patient, link, " grace@example.org ", now)
    [message] = mail.outbox
    assert message.to == ["grace@example.org"]
    assert f"https://ivig.example/invite/{link}/" in message.body
    assert "ask your nurse" in message.body  # no service phone given
    event = AuditEvent.objects.get(action="email")
    assert (event.entity, event.entity_id, event.actor) == (
        "patient-invitation",
        str(invitation.pk),
        "prescriber",
    )
    assert event.after["emailed_to"] == "g***@example.org"
    assert link not in str(event.after)


def test_only_the_roles_that_invite(
    users: dict[str, Any], patient: Any, link: str, now: Any
) -> None:
    with pytest.raises(Forbidden):
        _send(users["pharmacist"], patient, link, "g@example.org", now)
    assert mail.outbox == []


@pytest.mark.parametrize("to", ["", "grace", "grace@", "@example.org", "a b@example.org"])
def test_a_bad_address(users: dict[str, Any], patient: Any, link: str, now: Any, to: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _send(users["nurse"], patient, link, to, now)
    assert caught.value.field == "email"
    assert mail.outbox == []


def test_only_a_usable_link_of_that_patient(
    users: dict[str, Any], patient: Any, link: str, now: dt.datetime, make_patient: Any
) -> None:
    other = make_patient(170, 70, mrn="MRN0009", family_name="Other", given_name="Olive")
    with pytest.raises(NotFound):
        _send(users["nurse"], other, link, "g@example.org", now)
    with pytest.raises(NotFound):
        _send(users["nurse"], patient, "guessed", "g@example.org", now)
    with pytest.raises(NotFound):  # expired
        _send(users["nurse"], patient, link, "g@example.org", now + portal.VALID_FOR)
    portal.invite(users["nurse"], patient.pk, now=now)  # revokes the first link
    with pytest.raises(NotFound):
        _send(users["nurse"], patient, link, "g@example.org", now)
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="email").exists()


def test_a_refusing_mail_server_records_nothing(
    users: dict[str, Any], patient: Any, link: str, now: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise TimeoutError("no answer")

    monkeypatch.setattr(portal, "send_mail", refuse)
    with pytest.raises(MailUnavailable) as caught:
        _send(users["nurse"], patient, link, "g@example.org", now)
    assert caught.value.http_status == 503
    assert not AuditEvent.objects.filter(action="email").exists()
