"""The tamper suite (issue 17 item 1; requirements 3 and 4): an adversary who can write the
database file, but cannot read the audit key, edits, deletes, swaps, truncates and rewrites the
trail with raw SQL, the append-only triggers dropped first. Each attack is detected: by
``verify_chain()`` (and ``ivig audit verify``) alone, or, where the database alone cannot show it
(a shorter trail left consistent), by a checkpoint taken before (``ivig audit checkpoint``,
``ivig audit verify --checkpoint``). Each test says which.

Everything runs in the test's transaction (rolled back afterwards), on SQLite and PostgreSQL
alike: the SQL is the same on both."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from ivig.errors import Conflict
from ivig.records import audit, triggers
from ivig.records.models import AuditEvent, AuditHead
from ivig.records.services.accounts import create_user

Run = Callable[[list[str]], tuple[int, str, str]]
PASSWORD = "infusion-chair-42-Xq"
EVENTS = 8


@pytest.fixture
def trail(db: None) -> list[AuditEvent]:
    """A sound trail of 8 events (8 users created by the system)."""
    for n in range(EVENTS):
        create_user(None, f"user{n}", PASSWORD, ["nurse"], system=True)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, EVENTS + 1))
    assert audit.verify_chain().ok
    return events


def _sql(*statements: str) -> None:
    """The adversary: every audit trigger dropped, then raw SQL."""
    with connection.cursor() as cursor:
        for sql in triggers.statements(connection.vendor, drop=True):
            cursor.execute(sql)
        for sql in statements:
            cursor.execute(sql)


def _broken(run: Run, problem: str) -> None:
    """``verify_chain()`` and ``ivig audit verify`` both fail, naming ``problem``."""
    report = audit.verify_chain()
    assert not report.ok
    assert problem in report.problem
    code, out, err = run(["audit", "verify"])
    assert (code, out) == (1, "")
    assert err.startswith("audit chain BROKEN")
    assert problem in err
    assert "Traceback" not in err


def _checkpoint(run: Run, file: Path) -> str:
    code, out, err = run(["audit", "checkpoint", "--file", str(file)])
    assert (code, err) == (0, ""), err
    return out.strip()


def _verify_with(run: Run, file: Path) -> tuple[int, str, str]:
    return run(["audit", "verify", "--checkpoint", str(file)])


# --- detected by the database alone (verify_chain, ivig audit verify) ----------------------------


def test_an_edited_row(trail: list[AuditEvent], run: Run) -> None:
    """verify_chain: the row's MAC no longer matches."""
    _sql("UPDATE records_auditevent SET reason = 'edited' WHERE seq = 3")
    _broken(run, "event 3 was changed after it was written")


def test_a_deleted_row(trail: list[AuditEvent], run: Run) -> None:
    """verify_chain: a gap in the sequence."""
    _sql("DELETE FROM records_auditevent WHERE seq = 4")
    _broken(run, "event 4 is missing (next is 5)")


def test_two_swapped_rows(trail: list[AuditEvent], run: Run) -> None:
    """verify_chain: the links no longer follow."""
    _sql(
        "UPDATE records_auditevent SET seq = 999 WHERE seq = 2",
        "UPDATE records_auditevent SET seq = 2 WHERE seq = 3",
        "UPDATE records_auditevent SET seq = 3 WHERE seq = 999",
    )
    _broken(run, "event 2 does not follow event 1")


def test_the_tail_cut_with_the_head_left(trail: list[AuditEvent], run: Run) -> None:
    """verify_chain: the head says the chain ends later."""
    _sql("DELETE FROM records_auditevent WHERE seq > 5")
    _broken(run, f"events after 5 are missing (the chain ends at {EVENTS})")


def test_the_tail_cut_and_the_head_deleted(trail: list[AuditEvent], run: Run) -> None:
    """verify_chain: a trail without its head (migration 0014 makes it) was tampered with."""
    _sql("DELETE FROM records_auditevent WHERE seq > 5", "DELETE FROM records_audithead")
    _broken(run, "the head of the audit trail is missing")


def test_everything_deleted(trail: list[AuditEvent], run: Run) -> None:
    """verify_chain: no events and no head is never "ok: 0 events" (an empty trail has a
    head at seq 0)."""
    _sql("DELETE FROM records_auditevent", "DELETE FROM records_audithead")
    _broken(run, "the head of the audit trail is missing")
    # Nothing more can be recorded on it: a new chain would hide the deletion.
    with pytest.raises(Conflict, match="head is missing"):
        create_user(None, "after", PASSWORD, ["nurse"], system=True)


def test_the_issues_reproduction(trail: list[AuditEvent], run: Run) -> None:
    """Issue 17 item 1, as filed: the head's own trigger refuses its deletion; with that
    trigger dropped too, verify_chain finds the missing head."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_drop_delete_trigger())
        cursor.execute("DELETE FROM records_auditevent WHERE seq > 5")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("DELETE FROM records_audithead")
    code, _, err = run(["audit", "verify"])  # the cut tail, the head left
    assert (code, "events after 5 are missing" in err) == (1, True)
    _sql("DELETE FROM records_auditevent WHERE seq > 5", "DELETE FROM records_audithead")
    _broken(run, "the head of the audit trail is missing")


def _drop_delete_trigger() -> str:
    """The issue's ``DROP TRIGGER audit_no_delete`` (PostgreSQL: ``audit_no_change``)."""
    if connection.vendor == "postgresql":
        return "DROP TRIGGER audit_no_change ON records_auditevent"
    return "DROP TRIGGER audit_no_delete"


def test_an_edit_with_the_chain_recomputed_in_plain_sha256(
    trail: list[AuditEvent], run: Run
) -> None:
    """verify_chain: without the key, a recomputed chain is not the key's (the old scheme,
    SHA-256 from a zero genesis, is no longer accepted: no downgrade)."""
    _recompute(lambda prev, body: hashlib.sha256(prev + body).hexdigest(), "0" * 64, edit=3)
    _broken(run, "does not start from the audit key")


def test_an_edit_recomputed_in_sha256_from_the_real_genesis(
    trail: list[AuditEvent], run: Run
) -> None:
    """verify_chain: the adversary keeps events 1-2 and recomputes from the edited one on; the
    first recomputed MAC fails."""
    _recompute(lambda prev, body: hashlib.sha256(prev + body).hexdigest(), None, edit=3)
    _broken(run, "event 3 was changed after it was written")


def test_an_edit_recomputed_with_a_wrong_key(trail: list[AuditEvent], run: Run) -> None:
    """verify_chain: an HMAC under another key, from this key's genesis, fails at the edit;
    from the other key's genesis, at event 1, naming the key."""
    wrong = b"w" * 32

    def other(prev: bytes, body: bytes) -> str:
        return hmac.new(wrong, prev + body, hashlib.sha256).hexdigest()

    _recompute(other, None, edit=3)
    _broken(run, "event 3 was changed after it was written")
    _recompute(other, hmac.new(wrong, b"ivig audit genesis", hashlib.sha256).hexdigest(), edit=3)
    _broken(run, "IVIG_AUDIT_KEY")


def _recompute(mac: Callable[[bytes, bytes], str], start: str | None, *, edit: int) -> None:
    """Edit event ``edit``'s reason, then recompute the links and the head with ``mac``: every
    link from ``start``, or (``None``) those from the edited event on."""
    _sql()
    events = list(AuditEvent.objects.order_by("seq"))
    if start is None:
        events = events[edit - 1 :]
    prev = events[0].prev_hash if start is None else start
    for event in events:
        if event.seq == edit:
            event.reason = "edited"
        event.prev_hash = prev
        event.hash = prev = mac(prev.encode(), audit.canonical(audit.event_fields(event)))
        AuditEvent.objects.filter(pk=event.pk).update(
            reason=event.reason, prev_hash=event.prev_hash, hash=event.hash
        )
    AuditHead.objects.filter(pk=1).update(seq=events[-1].seq, hash=prev)


def test_the_database_refuses_moving_the_head_back_or_deleting_it(trail: list[AuditEvent]) -> None:
    """Requirement 3: the head only moves forward (triggers on SQLite and PostgreSQL)."""
    for sql in (
        "UPDATE records_audithead SET seq = 5",
        "UPDATE records_audithead SET hash = 'x'",
        "DELETE FROM records_audithead",
        "INSERT INTO records_audithead (id, seq, hash) VALUES (2, 99, 'x')",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    if connection.vendor == "postgresql":
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("TRUNCATE records_audithead")
    assert audit.verify_chain().ok


# --- detected with a checkpoint (ivig audit verify --checkpoint) ---------------------------------


def test_the_tail_cut_and_the_head_moved_back(
    trail: list[AuditEvent], run: Run, tmp_path: Path
) -> None:
    """Checkpoint: a consistent shorter trail verifies alone; the checkpoint saw event 8."""
    file = tmp_path / "checkpoints.log"
    line = _checkpoint(run, file)
    assert f" seq={EVENTS} mac={trail[-1].hash} sig=" in line
    code, out, err = _verify_with(run, file)
    assert (code, err) == (0, ""), err
    assert out == (
        f"audit chain ok: {EVENTS} events\n1 checkpoint of {file} ok (the last, line 1: "
        f"event {EVENTS} at {line.split('at=')[1].split()[0]})\n"
    )
    _sql(
        "DELETE FROM records_auditevent WHERE seq > 5",
        f"UPDATE records_audithead SET seq = 5, hash = '{trail[4].hash}'",
    )
    assert audit.verify_chain().ok  # alone: undetectable
    code, out, err = _verify_with(run, file)
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: {file}: line 1: the checkpoint of ")
    assert f"saw event {EVENTS}, but the trail ends at event 5: events were deleted" in err
    assert err.count("\n") == 1


def test_everything_deleted_and_an_empty_head_put_back(
    trail: list[AuditEvent], run: Run, tmp_path: Path
) -> None:
    """Checkpoint: events gone, a head at seq 0 (the genesis copied from event 1)."""
    file = tmp_path / "checkpoints.log"
    _checkpoint(run, file)
    genesis = trail[0].prev_hash
    _sql(
        "DELETE FROM records_auditevent",
        f"UPDATE records_audithead SET seq = 0, hash = '{genesis}'",
    )
    code, out, _ = run(["audit", "verify"])
    assert (code, out) == (0, "audit chain ok: 0 events\n")
    code, _, err = _verify_with(run, file)
    assert code == 1
    assert f"saw event {EVENTS}, but the trail ends at event 0" in err


def test_a_whole_chain_rewritten_after_a_checkpoint(
    trail: list[AuditEvent], run: Run, tmp_path: Path
) -> None:
    """Checkpoint: an adversary holding the key rewrites the chain consistently (verify_chain
    cannot tell); the checkpoint's MAC at its event differs."""
    file = tmp_path / "checkpoints.log"
    _checkpoint(run, file)
    _recompute(lambda prev, body: audit.keyed_mac(prev + body), None, edit=2)  # with the key itself
    assert audit.verify_chain().ok
    code, _, err = _verify_with(run, file)
    assert code == 1
    assert f"line 1: event {EVENTS} is not the one the checkpoint of " in err
    assert "the trail was rewritten" in err


def test_a_forged_or_edited_checkpoint_line(
    trail: list[AuditEvent], run: Run, tmp_path: Path
) -> None:
    """The signature: a line edited (its seq lowered to match a cut tail) does not verify."""
    file = tmp_path / "checkpoints.log"
    line = _checkpoint(run, file)
    file.write_text("Dec  7 13:00:01 ward ivig-audit: " + line.replace(f"seq={EVENTS}", "seq=5"))
    code, _, err = _verify_with(run, file)
    assert code == 1
    assert "line 1: the checkpoint's signature does not match the audit key" in err
    file.write_text(line[:-10] + "\n")
    code, _, err = _verify_with(run, file)
    assert (code, err) == (
        1,
        f"Error: {file}: line 1 is not a whole checkpoint (edited or cut short)\n",
    )


def test_every_checkpoint_of_a_file_is_checked(
    trail: list[AuditEvent], run: Run, tmp_path: Path
) -> None:
    """Each line (a syslog copy: prefixes and other lines skipped), not only the last."""
    file = tmp_path / "checkpoints.log"
    first = _checkpoint(run, file)
    create_user(None, "later", PASSWORD, ["nurse"], system=True)
    second = _checkpoint(run, file)
    assert file.read_text() == f"{first}\n{second}\n"
    file.write_text(f"other line\nhost ivig: {first}\nhost ivig: {second}\n")
    code, out, err = _verify_with(run, file)
    assert (code, err) == (0, ""), err
    assert f"2 checkpoints of {file} ok (the last, line 3: event {EVENTS + 1} at " in out
    file.write_text("nothing here\n")
    code, _, err = _verify_with(run, file)
    assert (code, err) == (1, f"Error: --checkpoint: no checkpoint found in {file}\n")


def test_no_checkpoint_is_signed_for_a_broken_trail(
    trail: list[AuditEvent], run: Run, tmp_path: Path
) -> None:
    _sql("UPDATE records_auditevent SET reason = 'edited' WHERE seq = 3")
    code, out, err = run(["audit", "checkpoint", "--file", str(tmp_path / "c.log")])
    assert (code, out) == (1, "")
    assert err.startswith("Error: the audit chain is broken (event 3 was changed")
    assert not (tmp_path / "c.log").exists()


def test_the_default_checkpoint_file_is_in_the_data_folder(
    trail: list[AuditEvent], run: Run, settings: Any, tmp_path: Path
) -> None:
    settings.BASE_DIR = tmp_path
    line = _checkpoint(run, tmp_path / "unused")  # --file given
    code, out, _ = run(["audit", "checkpoint"])
    assert code == 0
    written = (tmp_path / "audit-checkpoints.log").read_text()
    assert written == out
    assert written.startswith(line.split(" at=")[0])
    assert (tmp_path / "audit-checkpoints.log").stat().st_mode & 0o077 == 0
