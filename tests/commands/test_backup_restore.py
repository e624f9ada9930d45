"""``ivig restore`` all or nothing (issue 17 item 11) and keyed (item 1): a backup is restored
into a new file next to the live database and checked there (its migrations, its schema against
a freshly migrated one, its keyed audit chain, the checkpoints given); a refused one leaves the
live database byte for byte as it was, and the message says why (requirements 3, 4, 40).

The commands run as subprocesses on a data folder of their own (their own audit key)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PASSWORD = "infusion-chair-42-Xq"


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVIG_", "DJANGO_"))}
    return {**env, "IVIG_DATA_DIR": str(data)}


def _ivig(
    env: dict[str, str], *argv: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    script = shutil.which("ivig", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "ivig.cli"]
    return subprocess.run(
        [*command, *argv],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _user(env: dict[str, str], name: str) -> None:
    done = _ivig(env, "user", "create", name, "--role", "nurse", "--password-stdin", stdin=PASSWORD)
    assert done.returncode == 0, done.stderr


def _live(data: Path) -> dict[str, str]:
    """The data folder's files and their SHA-256 (the live database, its WAL, every other)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data.iterdir())
        if p.is_file()
    }


def _edit(backup: Path, target: Path, *sql: str) -> Path:
    shutil.copyfile(backup, target)
    with contextlib.closing(sqlite3.connect(target)) as con:
        for statement in sql:
            con.execute(statement)
        con.commit()
    return target


DROP = ("DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete",
        "DROP TRIGGER audit_head_forward", "DROP TRIGGER audit_head_no_delete")  # fmt: skip


def _corrupt(backup: Path, target: Path) -> Path:
    data = bytearray(backup.read_bytes())
    data[4096 * 2 : 4096 * 6] = os.urandom(4096 * 4)  # pages 3-6 overwritten
    target.write_bytes(bytes(data))
    return target


@pytest.mark.real_clock
def test_a_bad_backup_leaves_the_live_database_as_it_was(tmp_path: Path) -> None:
    data, other = tmp_path / "data", tmp_path / "other"
    env = _env(data)
    for name in ("ann", "ben", "cy"):
        _user(env, name)
    good = tmp_path / "good.backup"
    assert _ivig(env, "backup", str(good)).returncode == 0
    key = (data / "audit.key").read_text().strip()  # made on first start, owner only
    assert (data / "audit.key").stat().st_mode & 0o077 == 0
    assert key.encode() not in good.read_bytes()  # never in a backup (only the database is)
    assert bytes.fromhex(key) not in good.read_bytes()
    at_backup = tmp_path / "at-backup.log"
    done = _ivig(env, "audit", "checkpoint", "--file", str(at_backup))
    assert done.returncode == 0, done.stderr
    _user(env, "dee")  # after the backup: the next checkpoint saw an event the backup lacks
    later = tmp_path / "later.log"
    assert _ivig(env, "audit", "checkpoint", "--file", str(later)).returncode == 0
    # A backup made on another machine: another audit key (the key is never in a backup).
    _user(_env(other), "eve")
    foreign = tmp_path / "foreign.backup"
    assert _ivig(_env(other), "backup", str(foreign)).returncode == 0
    migration_fails = _edit(
        good,
        tmp_path / "old.backup",
        "DELETE FROM django_migrations WHERE app = 'records' AND name >= '0012'",
    )

    bad: list[tuple[str, Path, list[str], str]] = [
        ("corrupt", _corrupt(good, tmp_path / "corrupt.backup"), [], "damaged SQLite database"),
        ("edited", _edit(good, tmp_path / "edited.backup", *DROP,
                         "UPDATE records_auditevent SET reason = 'x' WHERE seq = 2"), [],
         "audit chain of {file} is broken at event 2 (event 2 was changed after it was written)"),
        ("tail and head", _edit(good, tmp_path / "cut.backup", *DROP,
                                "DELETE FROM records_auditevent WHERE seq > 1",
                                "DELETE FROM records_audithead"), [],
         "the head of the audit trail is missing"),
        ("trigger", _edit(good, tmp_path / "trigger.backup",
                          "CREATE TRIGGER quiet AFTER INSERT ON records_patient "
                          "BEGIN DELETE FROM records_patient WHERE id = NEW.id; END"), [],
         "holds schema objects ivig's migrations do not make (trigger quiet)"),
        ("table", _edit(good, tmp_path / "table.backup", "CREATE TABLE notes (x TEXT)"), [],
         "holds schema objects ivig's migrations do not make (table notes)"),
        ("index gone", _edit(good, tmp_path / "index.backup",
                             "DROP INDEX records_auditevent_patient_id_28a24ce4"), [],
         "lacks schema objects ivig's migrations make (index records_auditevent_patient_id"),
        ("key", foreign, [], f"does not start from the audit key in {data / 'audit.key'}"),
        ("checkpoint", good, ["--checkpoint", str(later)],
         "fails the checkpoint file: line 1: the checkpoint of "),
        ("migrations", migration_fails, [], "cannot be brought up to this version of ivig"),
        ("history with a hole", _edit(good, tmp_path / "hole.backup",
                                      "DELETE FROM django_migrations WHERE app = 'records' AND "
                                      "name IN ('0012_premedication', '0014_audit_keyed')"), [],
         "its migration history lacks records.0012_premedication, records.0014_audit_keyed"),
    ]  # fmt: skip
    before = _live(data)
    for case, file, options, why in bad:
        done = _ivig(env, "restore", str(file), "--yes", *options)
        assert done.returncode == 1, (case, done.stdout)
        assert done.stderr.startswith("Error: "), (case, done.stderr)
        assert why.format(file=file) in done.stderr, (case, done.stderr)
        assert "Traceback" not in done.stderr
        if case != "corrupt":  # refused before any copy: nothing to undo
            assert done.stderr.endswith("the database was left as it was\n"), (case, done.stderr)
        assert _live(data) == before, case  # byte for byte; no file left behind

    done = _ivig(env, "restore", str(good), "--yes", "--checkpoint", str(at_backup))
    assert done.returncode == 0, done.stderr
    done = _ivig(env, "audit", "verify", "--checkpoint", str(at_backup))
    assert done.returncode == 0, done.stderr
    assert not [p for p in data.iterdir() if p.name.startswith(".")]


Listing = Callable[[str], list[str]]


def test_a_postgresql_listing_with_objects_of_others_is_refused() -> None:
    """PostgreSQL: with one database URL there is no scratch database to check in, so the
    dump's listing is checked before anything is restored."""
    from ivig.commands.backup import foreign_objects

    listing = """;
; Archive created at 2026-12-07 13:00:00 UTC
3; 3079 13795 EXTENSION - plpgsql
230; 1255 16390 FUNCTION public ivig_audit_append_only() ivig
231; 1255 16391 FUNCTION public steal() ivig
215; 1259 16400 TABLE public records_patient ivig
216; 1259 16401 TABLE public notes ivig
3400; 0 16400 TABLE DATA public records_patient ivig
240; 1259 16402 VIEW public everyone ivig
3390; 2620 16500 TRIGGER public records_auditevent audit_no_change ivig
3391; 2620 16501 TRIGGER public records_patient quiet ivig
3392; 2618 16502 RULE public records_patient hide ivig
"""
    assert foreign_objects(listing, {"records_patient"}) == [
        "function steal",
        "table notes",
        "view everyone",
        "trigger quiet",
        "rule records_patient",
    ]
