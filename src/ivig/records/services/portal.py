"""Patients' own accounts, by invitation (issue 7).

A prescriber, nurse or admin invites a patient: a one-time link (``/invite/<token>/``) is shown
once to send to the patient. Only the SHA-256 of the token is stored; the link works once, for
7 days; a new invitation revokes the earlier pending ones. Accepting it creates the patient's
own user (no staff role; the same password rules as staff) and the :class:`PatientAccount`.
Every step is audited ("patient-invitation", "patient-account").

The link can be e-mailed to the patient from the page that shows it (issue 16, item 17):
:func:`email_invitation` takes the link itself (whoever holds it may send it; no one else can),
sends it through Django's mail backend and audits that it was e-mailed, to which address
(masked), never the token. The address is not stored: the patient record has no e-mail.

An unknown, used, expired or revoked link is the same :class:`NotFound`: nothing tells them
apart (nothing leaks to whoever holds a stale or guessed link).
"""

from __future__ import annotations

import datetime as dt
import secrets
import smtplib

from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from ivig.errors import Conflict, InvalidInput, MailUnavailable, NotFound
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import Patient, PatientAccount, PatientInvitation, Role
from ivig.records.services import credentials
from ivig.records.services.access import require
from ivig.records.services.common import locked
from ivig.records.tokens import hash_token

__all__ = [
    "INVITE_ROLES",
    "VALID_FOR",
    "accept",
    "email_invitation",
    "hash_token",
    "invitation_for",
    "invite",
    "pending",
]

VALID_FOR = dt.timedelta(days=7)
INVITE_ROLES = (Role.prescriber, Role.nurse, Role.admin)
FIELDS = ("patient", "invited_by", "invited_at", "expires_at", "used_at", "revoked_at")


def _usable(invitation: PatientInvitation | None, now: dt.datetime) -> bool:
    return (
        invitation is not None
        and invitation.used_at is None
        and invitation.revoked_at is None
        and invitation.expires_at > now
    )


def pending(patient_id: int, *, now: dt.datetime) -> PatientInvitation | None:
    """The patient's invitation still waiting to be used, if any (for the staff's page)."""
    return (
        PatientInvitation.objects.filter(
            patient_id=patient_id, used_at=None, revoked_at=None, expires_at__gt=now
        )
        .order_by("-invited_at", "-id")
        .first()
    )


def invite(actor: Actor, patient_id: int, *, now: dt.datetime) -> tuple[PatientInvitation, str]:
    """A new one-time link for the patient; returns the invitation and the raw token (shown
    once, never stored). Earlier pending invitations are revoked. :class:`Conflict` when the
    patient already has an account."""
    actor = require(actor, "inviting a patient", *INVITE_ROLES)
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        patient = locked(Patient, patient_id, "patient")
        if PatientAccount.objects.filter(patient=patient).exists():
            raise Conflict("this patient already has an account", field="patient_id")
        earlier = list(
            PatientInvitation.objects.select_for_update().filter(
                patient=patient, used_at=None, revoked_at=None
            )
        )
        for old in earlier:
            before = audit.snapshot(old, FIELDS)
            old.revoked_at = now
            old.save(update_fields=["revoked_at"])
            audit.record(
                actor,
                "revoke",
                "patient-invitation",
                old.pk,
                patient_id=patient.pk,
                before=before,
                after=audit.snapshot(old, FIELDS),
                reason="a new invitation was sent",
            )
        invitation = PatientInvitation.objects.create(
            patient=patient,
            token_hash=hash_token(raw),
            invited_by=actor,
            invited_at=now,
            expires_at=now + VALID_FOR,
        )
        audit.record(
            actor,
            "create",
            "patient-invitation",
            invitation.pk,
            patient_id=patient.pk,
            after=audit.snapshot(invitation, FIELDS),
        )
    return invitation, raw


def invitation_for(raw: str, *, now: dt.datetime) -> PatientInvitation:
    """The usable invitation of a link, else :class:`NotFound` (the same for every reason)."""
    invitation = PatientInvitation.objects.filter(token_hash=hash_token(raw)).first()
    if (
        not _usable(invitation, now)
        or PatientAccount.objects.filter(
            patient_id=invitation.patient_id  # type: ignore[union-attr]
        ).exists()
    ):
        raise NotFound("usable invitation", "link")
    assert invitation is not None
    return invitation


def accept(raw: str, username: str, password: str, *, now: dt.datetime) -> User:
    """Use the link once: create the patient's own user (no role) and account. The password
    must pass the same validators as staff's (``AUTH_PASSWORD_VALIDATORS``)."""
    username = username.strip()
    try:
        with transaction.atomic():
            found = PatientInvitation.objects.select_for_update().filter(token_hash=hash_token(raw))
            invitation = found.first()
            if not _usable(invitation, now):
                raise NotFound("usable invitation", "link")
            assert invitation is not None
            patient = invitation.patient
            if PatientAccount.objects.filter(patient=patient).exists():
                raise NotFound("usable invitation", "link")
            if not username:
                raise InvalidInput("choose a user name", field="username")
            if User.objects.filter(username__iexact=username).exists():
                raise Conflict("this user name is taken; choose another", field="username")
            candidate = User(
                username=username, first_name=patient.given_name, last_name=patient.family_name
            )
            try:
                password_validation.validate_password(password, candidate)
            except ValidationError as exc:
                raise InvalidInput(" ".join(exc.messages), field="password") from None
            with credentials.audited_by_service():  # the patient-account event below
                user = User.objects.create_user(
                    username=username,
                    password=password,
                    first_name=patient.given_name,
                    last_name=patient.family_name,
                )
            account = PatientAccount.objects.create(user=user, patient=patient)
            before = audit.snapshot(invitation, FIELDS)
            invitation.used_at = now
            invitation.save(update_fields=["used_at"])
            audit.record(
                user,
                "accept",
                "patient-invitation",
                invitation.pk,
                patient_id=patient.pk,
                before=before,
                after=audit.snapshot(invitation, FIELDS),
            )
            audit.record(
                user,
                "create",
                "patient-account",
                account.pk,
                patient_id=patient.pk,
                after={"user": user.pk, "username": user.username, "invitation": invitation.pk},
            )
    except IntegrityError:
        raise Conflict("this user name is taken; choose another", field="username") from None
    return user


# --- the link by e-mail (issue 16, item 17) ---------------------------------------------------

SUBJECT = "Your IVIG infusions: set up your sign-in"


def masked(address: str) -> str:
    """The address as the audit keeps it: its first letter and its domain (``j***@example.org``)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def invitation_text(link: str, expires_at: dt.datetime, service_phone: str | None) -> str:
    """The e-mail: the link and how long it works, in plain words; no name, no clinical detail
    (an e-mail can be read by others)."""
    call = f"call the infusion service on {service_phone}" if service_phone else "ask your nurse"
    return (
        "Hello,\n\n"
        "Your infusion service invites you to see your own IVIG plan online.\n\n"
        "Open this link to choose a user name and a password:\n\n"
        f"{link}\n\n"
        f"The link works once, until {expires_at:%d %B %Y}. Do not share it.\n\n"
        f"If you did not expect this e-mail, or the link does not work, {call}.\n"
    )


def email_invitation(
    actor: Actor,
    patient_id: int,
    raw: str,
    to: str,
    link: str,
    *,
    now: dt.datetime,
    service_phone: str | None = None,
) -> PatientInvitation:
    """Send the patient's link (``raw``, from the page that showed it) to ``to``; audited as
    ``email`` of the invitation (the masked address, never the token). :class:`NotFound` when
    the link is not this patient's usable invitation; :class:`MailUnavailable` when the mail
    server refuses (nothing recorded)."""
    actor = require(actor, "e-mailing an invitation", *INVITE_ROLES)
    to = to.strip()
    try:
        validate_email(to)
    except ValidationError:
        raise InvalidInput(
            "type the patient's e-mail address, e.g. name@example.org", field="email"
        ) from None
    with transaction.atomic():
        invitation = (
            PatientInvitation.objects.select_for_update()
            .filter(token_hash=hash_token(raw), patient_id=patient_id)
            .first()
        )
        if not _usable(invitation, now):
            raise NotFound("usable invitation", "link")
        assert invitation is not None
        audit.record(
            actor,
            "email",
            "patient-invitation",
            invitation.pk,
            patient_id=patient_id,
            after={"emailed_to": masked(to), "expires_at": invitation.expires_at},
        )
        try:  # inside the transaction: a refused e-mail leaves no audit event
            send_mail(
                SUBJECT,
                invitation_text(link, invitation.expires_at, service_phone),
                None,
                [to],
            )
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(
                "the e-mail was not sent: the mail server did not take it "
                f"({type(exc).__name__}); copy the link or show the QR code instead",
                field=None,
            ) from None
    return invitation
