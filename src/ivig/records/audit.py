"""The audit chain: every write leaves an append-only event in the same transaction, each
carrying the hash of the previous one over a canonical serialisation (requirements 1, 3-6).

    hash(n) = SHA-256( hash(n-1) || canonical JSON of event n's fields )

Canonical JSON sorts keys and has no spaces, so ``("ab", "c")`` and ``("a", "bc")`` differ.
``verify_chain`` finds an edited row (its hash no longer matches), a deleted row (a gap in
``seq`` or a broken ``prev_hash``), a swapped pair, and a truncated tail (the head row remembers
the last sequence number and hash). Database triggers (migration 0002) refuse UPDATE, DELETE
and TRUNCATE on the audit table.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, models, transaction
from django.utils import timezone

from ivig.records.actors import Actor, group_names
from ivig.records.models import AuditEvent, AuditHead

__all__ = [
    "GENESIS",
    "ChainReport",
    "created",
    "record",
    "snapshot",
    "snapshot_value",
    "verify_chain",
]

GENESIS = "0" * 64
SYSTEM = "system"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def snapshot_value(value: Any) -> Any:
    """Any value made JSON-ready (dates as ISO text)."""
    return _jsonable(value)


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The row's stored values as JSON-ready data (foreign keys as their ids)."""
    names = set(fields) if fields is not None else None
    out: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if names is None or field.name in names:
            out[field.attname] = _jsonable(getattr(instance, field.attname))
    return out


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": _jsonable(event.at),
        "actor": event.actor,
        "actor_id": event.actor_id,
        "roles": event.roles,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "patient_id": event.patient_id,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "prev_hash": event.prev_hash,
    }


def _hash(event: AuditEvent) -> str:
    return hashlib.sha256(event.prev_hash.encode() + canonical(_fields(event))).hexdigest()


def record(
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: object,
    *,
    patient_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one event; must run inside the transaction of the write it records."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the write's transaction")
    head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
    user = actor if isinstance(actor, User) else None  # None: the system, or nobody signed in
    user_id = user.pk if user is not None else None
    name = user.username if user is not None else SYSTEM
    roles = sorted(group_names(user)) if user is not None else []
    event = AuditEvent(
        seq=head.seq + 1,
        at=timezone.now(),
        actor=name,
        actor_id=user_id,
        roles=roles,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        patient_id=patient_id,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        reason=reason,
        prev_hash=head.hash,
    )
    event.hash = _hash(event)
    event.save()
    AuditHead.objects.filter(pk=1).update(seq=event.seq, hash=event.hash)
    return event


def created(
    actor: Actor | None, entity: str, row: models.Model, *, patient_id: int | None
) -> AuditEvent:
    """The audit event of a new row: ``create``, with the row as ``after``."""
    return record(actor, "create", entity, row.pk, patient_id=patient_id, after=snapshot(row))


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``verify_chain`` found: ``ok``, how many events it checked, and the first break."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


def verify_chain() -> ChainReport:
    """Walk the whole chain; report the first broken link."""
    expected_seq, prev = 1, GENESIS
    checked = 0
    with transaction.atomic():
        head = AuditHead.objects.filter(pk=1).first()
        for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
            checked += 1
            if event.seq != expected_seq:
                return ChainReport(
                    False,
                    checked,
                    expected_seq,
                    f"event {expected_seq} is missing (next is {event.seq})",
                )
            if event.prev_hash != prev:
                return ChainReport(
                    False,
                    checked,
                    event.seq,
                    f"event {event.seq} does not follow event {event.seq - 1}",
                )
            if _hash(event) != event.hash:
                return ChainReport(
                    False, checked, event.seq, f"event {event.seq} was changed after it was written"
                )
            prev, expected_seq = event.hash, expected_seq + 1
        last_seq = expected_seq - 1
        if head is not None and (head.seq != last_seq or head.hash != prev):
            return ChainReport(
                False,
                checked,
                last_seq + 1,
                f"events after {last_seq} are missing (the chain ends at {head.seq})",
            )
    return ChainReport(True, checked)
