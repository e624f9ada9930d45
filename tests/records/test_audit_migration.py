"""Migration 0014 (issue 17 item 1; requirements 4, 5 and 42): an existing SHA-256 trail is
verified as written, then re-keyed once under the audit key with a ``migrate`` event by
``system``; a broken one is never re-keyed; an empty trail gets its head."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ivig.errors import Conflict
from ivig.records import audit, triggers
from ivig.records.models import AuditEvent, AuditHead

BEFORE = [("records", "0013_alert_actions")]


def _migrate(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _sha256_trail(count: int) -> list[AuditEvent]:
    """A trail as ivig wrote it before 0014: SHA-256 from a zero genesis, and its head."""
    with connection.cursor() as cursor:
        for sql in triggers.statements(connection.vendor, drop=True):
            cursor.execute(sql)
    AuditHead.objects.all().delete()
    prev, events = "0" * 64, []
    for seq in range(1, count + 1):
        event = AuditEvent(
            seq=seq,
            at=timezone.now() - dt.timedelta(days=count - seq),
            actor="system",
            roles=[],
            action="create",
            entity="user",
            entity_id=str(seq),
            after={"username": f"old{seq}"},
            reason="before 0014",
            prev_hash=prev,
        )
        event.hash = prev = hashlib.sha256(
            prev.encode() + audit.canonical(audit.event_fields(event))
        ).hexdigest()
        event.save()
        events.append(event)
    AuditHead.objects.create(pk=1, seq=count, hash=prev)
    return events


@pytest.fixture
def before_0014(live_records: None) -> Any:
    latest = _latest()
    _migrate(BEFORE)
    yield
    with connection.cursor() as cursor:
        for sql in triggers.statements(connection.vendor, drop=True):
            cursor.execute(sql)
        cursor.execute("DELETE FROM records_auditevent")  # the model refuses to delete events
        cursor.execute("DELETE FROM records_audithead")
    _migrate(latest)


def test_a_sha256_trail_is_verified_then_keyed_once(before_0014: None) -> None:
    old = _sha256_trail(5)
    assert not audit.verify_chain().ok  # the keyed verification refuses a SHA-256 trail
    _migrate(_latest())
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert [(e.reason, e.after) for e in events[:5]] == [(e.reason, e.after) for e in old]
    assert events[0].prev_hash == audit.genesis()
    assert {e.hash for e in events}.isdisjoint({e.hash for e in old})
    last = events[-1]
    assert (last.action, last.entity, last.entity_id, last.actor) == (
        "migrate", "audit", "0014_audit_keyed", "system",
    )  # fmt: skip
    assert last.before == {"events": 5, "chain": "SHA-256"}
    assert last.after == {"events": 5, "chain": "HMAC-SHA256", "key": "IVIG_AUDIT_KEY"}
    report = audit.verify_chain()
    assert (report.ok, report.checked) == (True, 6)
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (6, last.hash)
    # Migrated back and forth: keyed already, nothing re-keyed again.
    _migrate(BEFORE)
    _migrate(_latest())
    assert AuditEvent.objects.count() == 6
    assert audit.verify_chain().ok


@pytest.mark.parametrize("tamper", ["edit", "head"])
def test_a_broken_sha256_trail_is_not_keyed(before_0014: None, tamper: str) -> None:
    _sha256_trail(4)
    if tamper == "edit":
        AuditEvent.objects.filter(seq=2).update(reason="edited")
        problem = "event 2 was changed after it was written"
    else:  # the case: the tail and the head deleted
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM records_auditevent WHERE seq > 2")
            cursor.execute("DELETE FROM records_audithead")
        problem = "the head of the trail is missing"
    with pytest.raises(Conflict, match=f"the audit chain does not verify \\({problem}\\)"):
        _migrate(_latest())
    assert not AuditEvent.objects.filter(action="migrate").exists()


def test_an_empty_trail_gets_its_head(before_0014: None) -> None:
    with connection.cursor() as cursor:
        for sql in triggers.statements(connection.vendor, drop=True):
            cursor.execute(sql)
    AuditHead.objects.all().delete()
    _migrate(_latest())
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (0, audit.genesis())
    report = audit.verify_chain()
    assert (report.ok, report.checked) == (True, 0)
