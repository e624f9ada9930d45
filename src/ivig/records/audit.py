"""The audit chain: every write leaves an append-only event in the same transaction, each
carrying the MAC of the previous one over a canonical serialisation (requirements 1, 3-6), keyed
with a secret kept outside the database (issue 17 item 1):

    mac(0) = HMAC-SHA256(key, "ivig audit genesis")          (the head of an empty trail)
    mac(n) = HMAC-SHA256(key, mac(n-1) || canonical JSON of event n's fields)

Canonical JSON sorts keys and has no spaces, so ``("ab", "c")`` and ``("a", "bc")`` differ.
``verify_chain`` finds an edited row (its MAC no longer matches), a deleted row (a gap in
``seq`` or a broken ``prev_hash``), a swapped pair, a truncated tail (the head row remembers
the last sequence number and MAC), a deleted head (migration 0014 makes it, so a trail without
one was tampered with), a wrong key (event 1, or the empty head, does not start from this key's
genesis), and a chain recomputed without the key (plain SHA-256, or another key): whoever can
write the database file but cannot read the key cannot forge a MAC. Deleting the tail *and*
moving the head back, or putting back an older copy of the whole file, leaves a consistent
shorter trail: only a checkpoint kept elsewhere (``ivig.records.checkpoints``) shows it.

The columns keep their names (``hash``, ``prev_hash``): they hold the MACs. Database triggers
(``ivig.records.triggers``) refuse UPDATE, DELETE and TRUNCATE on the audit table, and on the
head anything but moving forward.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, models, transaction
from django.utils import timezone

from ivig.errors import ConfigError, Conflict
from ivig.records.actors import Actor, group_names
from ivig.records.models import AuditEvent, AuditHead

__all__ = [
    "ChainReport",
    "Entry",
    "canonical",
    "create_head",
    "created",
    "event_fields",
    "event_mac",
    "genesis",
    "key_source",
    "keyed_mac",
    "record",
    "record_all",
    "snapshot",
    "snapshot_value",
    "verify_chain",
]

SYSTEM = "system"


def _setting() -> tuple[bytes, str]:
    """The audit key and where it came from (``settings.IVIG_AUDIT_KEY``, read from the
    environment or its file by ``ivig.server.config``)."""
    key = settings.IVIG_AUDIT_KEY
    if key is None:
        raise ConfigError("IVIG_AUDIT_KEY", "no audit key is configured")
    return bytes(key.secret), str(key.source)


def _key() -> bytes:
    return _setting()[0]


def key_source() -> str:
    """Where the audit key came from, for messages (never the key)."""
    return _setting()[1]


def keyed_mac(data: bytes) -> str:
    """HMAC-SHA256 of ``data`` under the audit key, as hex."""
    return hmac.new(_key(), data, hashlib.sha256).hexdigest()


def genesis() -> str:
    """The MAC an empty trail starts from: it depends on the key, so the first event (or the
    empty head) shows which key the trail was written with."""
    return keyed_mac(b"ivig audit genesis")


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


def event_fields(event: Any) -> dict[str, Any]:
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


def event_mac(event: Any) -> str:
    """The MAC of an event (an ``AuditEvent``, or a migration's historical model of it)."""
    return keyed_mac(event.prev_hash.encode() + canonical(event_fields(event)))


def create_head(head_model: Any = AuditHead) -> None:
    """The head of an empty trail (seq 0 at this key's genesis), made by migration 0014 (and by
    the test fixtures after Django's flush empties every table)."""
    head_model.objects.create(pk=1, seq=0, hash=genesis())


@dataclass(frozen=True, slots=True)
class Entry:
    """One event to append with :func:`record_all`: what :func:`record` takes, as data."""

    action: str
    entity: str
    entity_id: object
    patient_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str = ""


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
    entry = Entry(action, entity, entity_id, patient_id, before, after, reason)
    return record_all(actor, [entry])[0]


def record_all(actor: Actor | None, entries: Iterable[Entry]) -> list[AuditEvent]:
    """Append the events of ``entries`` in order, by one ``actor``; must run inside the
    transaction of the writes (or reads) they record. Each event is still one link of the chain
    (its own ``seq`` and MAC over the previous one), but the head is locked and moved once and
    the rows go in with one ``bulk_create`` (a few multi-row INSERTs): a list read of 200
    patients is 7 statements, not 600 (issue 19 item 5; bench/read_audit.py)."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the write's transaction")
    pending = list(entries)
    if not pending:
        return []
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:  # migration 0014 makes it: a trail without one was tampered with
        raise Conflict(
            "the audit trail's head is missing (the audit tables were tampered with): nothing "
            "can be recorded; run `ivig audit verify` and restore a sound backup"
        )
    user = actor if isinstance(actor, User) else None  # None: the system, or nobody signed in
    user_id = user.pk if user is not None else None
    name = user.username if user is not None else SYSTEM
    roles = sorted(group_names(user)) if user is not None else []
    at = timezone.now()
    seq, prev = head.seq, head.hash
    events: list[AuditEvent] = []
    for entry in pending:
        seq += 1
        event = AuditEvent(
            seq=seq,
            at=at,
            actor=name,
            actor_id=user_id,
            roles=roles,
            action=entry.action,
            entity=entry.entity,
            entity_id=str(entry.entity_id),
            patient_id=entry.patient_id,
            before=_jsonable(entry.before) if entry.before is not None else None,
            after=_jsonable(entry.after) if entry.after is not None else None,
            reason=entry.reason,
            prev_hash=prev,
        )
        event.hash = prev = event_mac(event)
        events.append(event)
    if len(events) == 1:
        events[0].save()  # the common write: a plain INSERT, its id set on every database
    else:
        AuditEvent.objects.bulk_create(events)
    AuditHead.objects.filter(pk=1).update(seq=seq, hash=prev)
    return events


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
    """Walk the whole chain under the audit key; report the first broken link (requirement 4,
    issue 17 item 1: a missing head, or one that disagrees with the last event, is a break)."""
    start = genesis()
    expected_seq, prev = 1, start
    checked = 0
    with transaction.atomic():
        head = AuditHead.objects.filter(pk=1).first()
        if head is None:
            return ChainReport(
                False,
                0,
                None,
                "the head of the audit trail is missing: the trail's tables were tampered with "
                "(events or the head deleted)",
            )
        for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
            checked += 1
            if event.seq != expected_seq:
                return ChainReport(
                    False,
                    checked,
                    expected_seq,
                    f"event {expected_seq} is missing (next is {event.seq})",
                )
            if event.seq == 1 and event.prev_hash != start:
                return ChainReport(False, checked, 1, _wrong_key())
            if event.prev_hash != prev:
                return ChainReport(
                    False,
                    checked,
                    event.seq,
                    f"event {event.seq} does not follow event {event.seq - 1}",
                )
            if event_mac(event) != event.hash:
                return ChainReport(
                    False, checked, event.seq, f"event {event.seq} was changed after it was written"
                )
            prev, expected_seq = event.hash, expected_seq + 1
        last_seq = expected_seq - 1
        if last_seq == 0 and head.seq == 0 and head.hash != start:
            return ChainReport(False, 0, None, _wrong_key())
        if head.seq > last_seq:
            return ChainReport(
                False,
                checked,
                last_seq + 1,
                f"events after {last_seq} are missing (the chain ends at {head.seq})",
            )
        if head.seq != last_seq or head.hash != prev:
            return ChainReport(
                False,
                checked,
                last_seq,
                f"the head of the audit trail (event {head.seq}) does not match its last "
                f"event ({last_seq}): the trail was tampered with",
            )
    return ChainReport(True, checked)


def _wrong_key() -> str:
    return (
        f"the trail does not start from the audit key in {key_source()}: it was written with "
        "another key (restore the key kept with your backups) or rewritten without it"
    )
