"""Drug-library limits at the records edge (requirements 47, 48, 57; ISMP).

- :func:`hard_stops` wraps a write: a :class:`~ivig.errors.HardLimit` raised inside it is
  counted (a ``LimitEvent`` and an audit event, in their own transaction, after the refused
  write has been rolled back) and raised again. No role can save past a hard limit.
- :func:`require_override` is called inside a write's transaction with the soft limits the
  write crosses: without an :class:`Override` it raises :class:`~ivig.errors.OverrideRequired`
  (listing the limits); with one it checks the user's permission
  (``records.override_soft_limit``), the coded reason, the note and the password entered again
  (re-authentication, ASVS 3.7.1, through the sign-in lockout: ``records.services.signin``) —
  or a colleague's who is allowed and signs it on the same screen (``Override.signed_by``) —
  then records each override with the limit, the value and the
  library version, in the same transaction as the write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction

from ivig.core.limits import SoftLimit
from ivig.errors import Forbidden, HardLimit, InvalidInput, OverrideRequired
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_catalogue, current_library
from ivig.records.models import LimitEvent, LimitKind
from ivig.records.services import signin

__all__ = ["Override", "hard_stops", "may_override", "require_override"]

PERMISSION = "records.override_soft_limit"


@dataclass(frozen=True, slots=True)
class Override:
    """A soft-limit override: a coded reason (``limits.toml``), a note, the password again.

    ``signed_by``: the user name of a colleague allowed to override who signs it on the
    recorder's screen (e.g. the prescriber at the chair beside a nurse who may not); the
    password is then theirs. Empty: the user recording signs it."""

    reason_code: str
    reason_text: str
    password: str
    signed_by: str = ""


def may_override(user: Actor) -> bool:
    return user.is_active and user.has_perm(PERMISSION)


@contextmanager
def hard_stops(
    actor: Actor, entity: str, *, patient_id: int | None = None, order_id: int | None = None
) -> Iterator[None]:
    """Count every hard-limit refusal raised inside (requirement 57: hard-stop attempts), and
    every refused re-authentication of an override (requirement 21: as a failed sign-in)."""
    try:
        yield
    except InvalidInput as exc:
        refusal = signin.refusal_of(exc)
        if refusal is not None:
            signin.reauthentication_refused(actor, refusal)
        raise
    except HardLimit as exc:
        with transaction.atomic():
            event = LimitEvent.objects.create(
                user=actor if isinstance(actor, User) else None,
                kind=LimitKind.hard,
                rule=exc.rule,
                message=exc.message,
                entity=entity,
                field=exc.field or "",
                limit_value=exc.limit,
                attempted_value=exc.value,
                unit=exc.unit,
                patient_id=patient_id,
                order_id=order_id,
                catalogue_version=current_catalogue().version,
            )
            audit.record(
                actor,
                "hard-stop",
                "limit",
                event.pk,
                patient_id=patient_id,
                after=audit.snapshot(event),
                reason=exc.message,
            )
        raise


def _signer(actor: Actor, override: Override) -> User:
    """Who signs the override, re-authenticated by their password (ASVS 4.0.3 V3.7.1): the
    actor, or the colleague named in ``signed_by``. Re-authentication is signing in again
    (issue 17 item 2): the sign-in lockout, the same hashing for an unknown name, and one
    message, "not accepted", for an unknown name, a wrong password, a locked name and a
    colleague who may not override alike (requirements 20, 21, 26); ``hard_stops`` counts and
    audits the refusal once the write is rolled back."""
    name = override.signed_by.strip()
    own = not name or name == actor.get_username()
    if own and (not isinstance(actor, User) or not may_override(actor)):
        raise Forbidden("overriding a drug-library soft limit", ("a user allowed to override",))
    if not override.password:
        raise InvalidInput("enter the password again to sign the override", field="password")
    signer = signin.reauthenticate(name if not own else actor.get_username(), override.password,
                                   own=own)  # fmt: skip
    if not may_override(signer):
        raise signin.not_accepted(name, "may not override")
    return signer


def require_override(
    actor: Actor,
    limits: Sequence[SoftLimit],
    override: Override | None,
    *,
    entity: str,
    patient_id: int | None,
    order_id: int | None = None,
    catalogue_version: str,
) -> list[LimitEvent]:
    """Refuse unless an allowed, re-authenticated, coded override covers ``limits``; record it.
    Must run inside the write's transaction."""
    if not limits:
        return []
    if override is None:
        raise OverrideRequired([limit.as_dict() for limit in limits])
    signer = _signer(actor, override)
    reason = current_library().limits.reason(override.reason_code.strip())
    note = override.reason_text.strip()
    if not note:
        raise InvalidInput("say why in a note as well as the coded reason", field="reason_text")
    entered_by = "" if signer.pk == actor.pk else f" (entered by {actor.get_username()})"
    events = []
    for limit in limits:
        event = LimitEvent.objects.create(
            user=signer,
            kind=LimitKind.soft,
            rule=limit.code,
            message=limit.message,
            entity=entity,
            limit_value=limit.limit,
            attempted_value=limit.value,
            unit=limit.unit,
            patient_id=patient_id,
            order_id=order_id,
            catalogue_version=catalogue_version,
            reason_code=reason.code,
            reason_text=note,
        )
        audit.record(
            signer,
            "override",
            "limit",
            event.pk,
            patient_id=patient_id,
            after=audit.snapshot(event),
            reason=f"{reason.code}: {note}{entered_by}",
        )
        events.append(event)
    return events
