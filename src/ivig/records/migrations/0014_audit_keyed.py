"""The audit trail keyed with a secret kept outside the database (issue 17 item 1).

Once, on an existing database: the plain SHA-256 chain of migration 0002 is verified as it was
written (each hash, each link, the head); a broken one stops the upgrade (a tampered trail is
never re-keyed into a sound-looking one). Then every event's MAC is recomputed under the audit
key (``ivig.records.audit``: HMAC-SHA256 from the key's genesis), the head follows, and a
``migrate`` event by ``system`` records how many events were re-keyed (requirement 5). After it
only keyed verification exists: there is no SHA-256 mode an attacker could choose.

Always: the head row exists (seq 0 at the key's genesis on an empty trail), so a missing head is
always tampering, and the head's triggers (it only moves forward) join the events'.

Backwards, nothing changes: the trail stays keyed (the code that reads it is the keyed one).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import migrations
from django.utils import timezone

from ivig.errors import Conflict
from ivig.records import audit
from ivig.records.triggers import statements

OLD_GENESIS = "0" * 64
BATCH = 1000


def _sha256_problem(events: Any, head: Any) -> str:
    """Why the SHA-256 chain of 0002 does not verify ("" when it does)."""
    expected, prev = 1, OLD_GENESIS
    for event in events.iterator(chunk_size=2000):
        if event.seq != expected or event.prev_hash != prev:
            return f"event {expected} is missing or out of place"
        digest = hashlib.sha256(
            event.prev_hash.encode() + audit.canonical(audit.event_fields(event))
        ).hexdigest()
        if digest != event.hash:
            return f"event {event.seq} was changed after it was written"
        prev, expected = event.hash, expected + 1
    if head is None:
        return "the head of the trail is missing"
    if head.seq != expected - 1 or head.hash != prev:
        return f"the head (event {head.seq}) does not match the last event ({expected - 1})"
    return ""


def key_the_trail(apps: Any, schema_editor: Any) -> None:
    events_model = apps.get_model("records", "AuditEvent")
    head_model = apps.get_model("records", "AuditHead")
    vendor = schema_editor.connection.vendor
    for sql in statements(vendor, drop=True):
        schema_editor.execute(sql)
    events = events_model.objects.order_by("seq")
    head = head_model.objects.filter(pk=1).first()
    first = events.first()
    if first is None:
        if head is None:
            audit.create_head(head_model)
        elif head.seq != 0:
            raise Conflict(
                f"the audit trail is empty but its head says it held {head.seq} events: it was "
                "tampered with; restore a sound backup before upgrading"
            )
        else:
            head_model.objects.filter(pk=1).update(hash=audit.genesis())
    elif first.prev_hash == OLD_GENESIS:
        problem = _sha256_problem(events, head)
        if problem:
            raise Conflict(
                f"the audit chain does not verify ({problem}): it is not re-keyed; restore a "
                "backup whose chain verifies (`ivig audit verify` with the previous ivig)"
            )
        prev, batch, count = audit.genesis(), [], 0
        for event in events.iterator(chunk_size=BATCH):
            event.prev_hash = prev
            event.hash = prev = audit.event_mac(event)
            batch.append(event)
            count += 1
            if len(batch) == BATCH:
                events_model.objects.bulk_update(batch, ["prev_hash", "hash"])
                batch = []
        events_model.objects.bulk_update(batch, ["prev_hash", "hash"])
        event = events_model(
            seq=count + 1,
            at=timezone.now(),
            actor=audit.SYSTEM,
            actor_id=None,
            roles=[],
            action="migrate",
            entity="audit",
            entity_id="0014_audit_keyed",
            patient_id=None,
            before={"events": count, "chain": "SHA-256"},
            after={"events": count, "chain": "HMAC-SHA256", "key": audit.key_source()},
            reason="migration 0014: the audit trail keyed with a secret kept outside the database",
            prev_hash=prev,
        )
        event.hash = audit.event_mac(event)
        event.save()
        head_model.objects.filter(pk=1).update(seq=event.seq, hash=event.hash)
    # else: keyed already (migrated back and forth): verification says whether it is sound.
    for sql in statements(vendor):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("records", "0013_alert_actions")]

    operations = [migrations.RunPython(key_the_trail, migrations.RunPython.noop)]
