"""Patients' own accounts by invitation (issue 7): who may invite, the one-time link (only its
hash stored; once; 7 days; a new one revokes the old), the same password rules as staff, and
every step audited."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, InvalidInput, NotFound
from ivig.records.models import AuditEvent, PatientAccount, PatientInvitation
from ivig.records.services import portal

GOOD = "blue-kettle-river-93"
NOW = timezone.now()  # the suite's moment (tests/conftest.py, TEST_NOW)


@pytest.mark.parametrize("role", ["prescriber", "nurse", "admin"])
def test_staff_may_invite(role: str, users: dict[str, Any], patient: Any) -> None:
    invitation, raw = portal.invite(users[role], patient.pk, now=NOW)
    assert invitation.invited_by == users[role]
    assert invitation.expires_at == NOW + dt.timedelta(days=7)
    assert len(raw) >= 40
    stored = PatientInvitation.objects.get(pk=invitation.pk)
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(AuditEvent.objects.filter(entity="patient-invitation").values())
    event = AuditEvent.objects.get(entity="patient-invitation", action="create")
    assert (event.actor, event.patient_id, event.entity_id) == (
        role,
        patient.pk,
        str(invitation.pk),
    )


def test_a_pharmacist_may_not_invite(users: dict[str, Any], patient: Any) -> None:
    with pytest.raises(Forbidden):
        portal.invite(users["pharmacist"], patient.pk, now=NOW)
    assert not PatientInvitation.objects.exists()


def test_the_link_works_once(users: dict[str, Any], patient: Any) -> None:
    _, raw = portal.invite(users["nurse"], patient.pk, now=NOW)
    later = NOW + dt.timedelta(days=1)
    user = portal.accept(raw, "edward.l", GOOD, now=later)
    assert PatientAccount.objects.get(user=user).patient == patient
    assert not user.groups.exists()
    assert user.check_password(GOOD)
    assert PatientInvitation.objects.get().used_at == later
    account = AuditEvent.objects.get(entity="patient-account")
    assert (account.action, account.actor, account.patient_id) == ("create", "edward.l", patient.pk)
    assert AuditEvent.objects.filter(entity="patient-invitation", action="accept").count() == 1
    with pytest.raises(NotFound):
        portal.accept(raw, "someone-else", GOOD, now=later)
    assert User.objects.filter(username="someone-else").count() == 0
    # and the patient now has an account: no new invitation
    with pytest.raises(Conflict):
        portal.invite(users["nurse"], patient.pk, now=later)


def test_an_expired_link_does_not_work(users: dict[str, Any], patient: Any) -> None:
    _, raw = portal.invite(users["nurse"], patient.pk, now=NOW)
    portal.invitation_for(raw, now=NOW + dt.timedelta(days=6, hours=23))
    with pytest.raises(NotFound):
        portal.accept(raw, "edward.l", GOOD, now=NOW + dt.timedelta(days=7))
    assert not PatientAccount.objects.exists()


def test_a_new_invitation_revokes_the_earlier(users: dict[str, Any], patient: Any) -> None:
    first, old = portal.invite(users["nurse"], patient.pk, now=NOW)
    second, new = portal.invite(users["prescriber"], patient.pk, now=NOW + dt.timedelta(hours=1))
    first.refresh_from_db()
    assert first.revoked_at == NOW + dt.timedelta(hours=1)
    assert portal.pending(patient.pk, now=NOW + dt.timedelta(hours=2)) == second
    revoke = AuditEvent.objects.get(entity="patient-invitation", action="revoke")
    assert revoke.entity_id == str(first.pk)
    with pytest.raises(NotFound):
        portal.accept(old, "edward.l", GOOD, now=NOW + dt.timedelta(hours=2))
    portal.accept(new, "edward.l", GOOD, now=NOW + dt.timedelta(hours=2))


def test_an_unknown_link_does_not_work(users: dict[str, Any], patient: Any) -> None:
    portal.invite(users["nurse"], patient.pk, now=NOW)
    with pytest.raises(NotFound):
        portal.accept("not-a-token", "edward.l", GOOD, now=NOW)


@pytest.mark.parametrize(
    "password",
    ["short-1", "password1234", "123456789012345", "edward.l1234", "lambert12345"],
    ids=["short", "common", "numeric", "like-the-user-name", "like-the-family-name"],
)
def test_the_staff_password_rules_apply(password: str, users: dict[str, Any], patient: Any) -> None:
    _, raw = portal.invite(users["nurse"], patient.pk, now=NOW)
    with pytest.raises(InvalidInput) as caught:
        portal.accept(raw, "edward.l", password, now=NOW)
    assert caught.value.field == "password"
    assert not User.objects.filter(username="edward.l").exists()
    assert PatientInvitation.objects.get().used_at is None  # the link still works
    portal.accept(raw, "edward.l", GOOD, now=NOW)


def test_a_taken_user_name_is_refused(users: dict[str, Any], patient: Any) -> None:
    _, raw = portal.invite(users["nurse"], patient.pk, now=NOW)
    with pytest.raises(Conflict) as caught:
        portal.accept(raw, "Nurse", GOOD, now=NOW)
    assert caught.value.field == "username"
    assert PatientInvitation.objects.get().used_at is None


def test_the_real_clock_is_not_needed(users: dict[str, Any], patient: Any) -> None:
    """The services take ``now``: an invitation made now works now."""
    now = timezone.now()
    _, raw = portal.invite(users["admin"], patient.pk, now=now)
    assert portal.invitation_for(raw, now=now).patient == patient
