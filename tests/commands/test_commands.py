"""The database commands of ``ivig``: serve, user, audit verify, backup, restore, demo.

``user``, ``audit verify`` and ``demo`` run in-process through :func:`ivig.cli.main` on
pytest-django's test database. ``backup``, ``restore`` and ``serve`` work on the data folder's
database, which is not the test database, so they run as subprocesses with a data folder (and,
for PostgreSQL, a scratch database) of their own.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import typer

from ivig import __version__

PASSWORD = "infusion-chair-42-Xq"
DEMO_NAMES = {"demo-admin", "demo-prescriber", "demo-pharmacist", "demo-nurse"}


Run = Callable[[list[str]], tuple[int, str, str]]  # the ``run`` fixture (tests/conftest.py)


# --- ivig user -----------------------------------------------------------------------------------


def test_user_create_reads_the_password_from_stdin(
    db: None, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.contrib.auth.models import User

    from ivig.records.models import AuditEvent

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, err = run(
        ["user", "create", "alice", "--role", "admin", "--role", "prescriber", "--password-stdin"],
    )
    assert (code, err) == (0, "")
    assert out == "created user alice with roles admin, prescriber\n"
    user = User.objects.get(username="alice")
    assert user.check_password(PASSWORD)
    assert user.is_staff
    event = AuditEvent.objects.get(entity="user")
    assert event.actor == "system"
    assert event.after is not None
    assert event.after["roles"] == ["admin", "prescriber"]


def test_user_create_refuses_a_weak_password(
    db: None, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.contrib.auth.models import User

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, out, err = run(["user", "create", "bob", "--role", "nurse", "--password-stdin"])
    assert code == 1
    assert out == ""
    assert err.startswith("Error: --password: This password is too short.")
    assert err.count("\n") == 1
    assert not User.objects.filter(username="bob").exists()


def test_user_create_names_a_wrong_role_and_a_taken_name(
    db: None, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivig.records.services.accounts import create_user

    create_user(None, "alice", PASSWORD, ["nurse"], system=True)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, _, err = run(["user", "create", "carol", "--role", "surgeon", "--password-stdin"])
    assert code == 1
    assert err == (
        "Error: --role: unknown role surgeon; roles: admin, prescriber, pharmacist, nurse\n"
    )
    code, _, err = run(["user", "create", "alice", "--role", "nurse", "--password-stdin"])
    assert code == 1
    assert err == "Error: USERNAME: the user name alice is taken\n"
    code, _, err = run(["user", "create", "dan", "--password-stdin"])
    assert code == 1
    assert err == "Error: --role: this option is required\n"


def test_user_create_asks_twice_without_echo(
    db: None, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.contrib.auth.models import User

    asked: list[tuple[str, dict[str, Any]]] = []

    def prompt(text: str, **options: Any) -> str:
        asked.append((text, options))
        return PASSWORD

    monkeypatch.setattr(typer, "prompt", prompt)
    code, out, _ = run(["user", "create", "dora", "--role", "nurse"])
    assert code == 0
    assert out == "created user dora with roles nurse\n"
    assert asked == [("Password", {"hide_input": True, "confirmation_prompt": True})]
    assert User.objects.get(username="dora").check_password(PASSWORD)


def test_user_token_is_printed_once(db: None, run: Run) -> None:
    from ivig.records.models import ApiToken
    from ivig.records.services.accounts import create_user

    create_user(None, "robot-owner", PASSWORD, ["pharmacist"], system=True)
    code, out, err = run(["user", "token", "robot-owner", "--name", "pharmacy-robot"])
    assert code == 0
    raw = out.strip()
    assert out == raw + "\n"
    assert raw.startswith("ivig_")
    assert "shown once" in err
    assert raw not in err
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (token.name, token.user.username) == ("pharmacy-robot", "robot-owner")
    assert raw not in (token.prefix, token.key_hash)

    code, again, _ = run(["user", "token", "robot-owner", "--name", "pharmacy-robot"])
    assert code == 0
    assert again != out
    assert ApiToken.objects.count() == 2

    code, _, err = run(["user", "token", "nobody", "--name", "x"])
    assert (code, err) == (1, "Error: no user nobody\n")


def test_user_token_is_audited(db: None, run: Run) -> None:
    """Requirement 5: the command line writes its audit rows (actor "system") like the app."""
    from ivig.records.models import ApiToken, AuditEvent
    from ivig.records.services.accounts import create_user

    create_user(None, "carol", PASSWORD, ["nurse"], system=True)
    code, _, _ = run(["user", "token", "carol", "--name", "ward tablet"])
    assert code == 0
    token = ApiToken.objects.get()
    event = AuditEvent.objects.get(entity="api-token")
    assert (event.action, event.actor, event.entity_id) == ("create", "system", str(token.pk))
    assert event.after == {
        "user_id": token.user_id,
        "name": "ward tablet",
        "prefix": token.prefix,
        "expires_at": token.expires_at.isoformat(),
        "roles": [],
    }  # issue 17


def test_user_unlock_lifts_a_lockout_and_is_audited(db: None, run: Run) -> None:
    """The only administrator locked out signs in again after ``ivig user unlock`` on the
    server (requirement 21: the unlock is audited, actor "system")."""
    from django.test import Client

    from ivig.records.models import AuditEvent
    from ivig.records.services.accounts import create_user

    create_user(None, "alice", PASSWORD, ["admin"], system=True)
    client = Client()
    for _ in range(5):
        client.post("/signin/", {"username": "alice", "password": "wrong-password"})
    assert client.post("/signin/", {"username": "alice", "password": PASSWORD}).status_code == 429
    code, out, _ = run(["user", "unlock", "alice"])
    assert (code, out) == (0, "unlocked alice: 6 failed sign-in(s) cleared\n")  # with the 429
    assert client.post("/signin/", {"username": "alice", "password": PASSWORD}).status_code == 302
    event = AuditEvent.objects.filter(action="unlock").get()
    assert (event.actor, event.entity, event.entity_id) == ("system", "sign-in", "alice")
    assert event.before == {"username": "alice", "failed_attempts": 6}
    code, _, err = run(["user", "unlock", "alice"])
    assert (code, err) == (1, "Error: USERNAME: no failed sign-in is recorded for alice: nothing "
                              "to unlock\n")  # fmt: skip


# --- ivig audit verify -------------------------------------------------------------------------


def test_audit_verify_passes_then_names_the_edited_event(db: None, run: Run) -> None:
    from django.db import connection

    from ivig.records import triggers
    from ivig.records.models import AuditEvent
    from ivig.records.services.accounts import create_user

    for name in ("ann", "ben", "cy"):
        create_user(None, name, PASSWORD, ["nurse"], system=True)
    code, out, err = run(["audit", "verify"])
    assert (code, out, err) == (0, "audit chain ok: 3 events\n", "")

    # Inside the test's transaction (rolled back at the end): drop the append-only triggers and
    # edit the reason of event 2.
    with connection.cursor() as cursor:
        for sql in triggers.statements(connection.vendor, drop=True):
            cursor.execute(sql)
    assert AuditEvent.objects.filter(seq=2).update(reason="edited afterwards") == 1
    code, out, err = run(["audit", "verify"])
    assert code == 1
    assert out == ""
    assert err == "audit chain BROKEN at event 2: event 2 was changed after it was written\n"


# --- ivig demo -----------------------------------------------------------------------------------


def test_demo_loads_a_user_per_role_three_patients_and_a_sound_chain(db: None, run: Run) -> None:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from ivig.records.audit import verify_chain
    from ivig.records.models import AuditEvent, Lot, OrderStatus, Patient, Reaction
    from ivig.records.services.infusions import session_state

    code, out, err = run(["demo"])
    assert code == 0, err
    passwords = dict(re.findall(r"^  (demo-\w+) +\w+ +(\S+)$", out, re.M))
    assert set(passwords) == DEMO_NAMES
    for name, password in passwords.items():
        user = User.objects.get(username=name)
        assert user.check_password(password)
        assert list(user.groups.values_list("name", flat=True)) == [name.removeprefix("demo-")]

    today = timezone.localdate()
    now = timezone.now()
    assert Patient.objects.count() == 3
    for patient in Patient.objects.all():
        assert patient.mrn in out
        assert patient.weights.count() == 2
        assert patient.eligibility.get(indication="lems").answers["vgcc_antibodies"] == "positive"
        assert sorted(patient.outcomes.values_list("measure", flat=True)) == sorted(
            ["3tug", "qmg", "mrc-sum"] * 2
        )
        induction = patient.courses.get(phase="induction")
        given = list(induction.orders.all())
        assert [o.status for o in given] == [OrderStatus.completed] * 2
        for order in given:
            assert order.date < today
            assert Lot.objects.filter(order=order).exists()
            assert order.session.observation_ended_at is not None
            assert order.session.observation_ended_at < now
            checks = session_state(order, now=now).checkpoints
            assert checks
            assert {c.status for c in checks} == {"done"}
        maintenance = patient.courses.get(phase="maintenance")
        assert maintenance.orders.count() == 3
        assert all(o.date > today for o in maintenance.orders.all())
    reaction = Reaction.objects.get()
    assert (reaction.symptoms, reaction.severity) == (["headache"], "mild")
    assert reaction.recommended["basis"] == "protocol"

    actors = set(AuditEvent.objects.values_list("actor", flat=True))
    assert actors == {"system", *DEMO_NAMES}  # the administrator sets up the unit (issue 18)
    report = verify_chain()
    assert report.ok
    assert f"Audit chain ok: {report.checked} events." in out

    code, _, err = run(["demo"])
    assert code == 1
    assert err.startswith("Error: the demo users exist already (demo-admin, ")
    assert Patient.objects.count() == 3
    assert verify_chain().checked == report.checked


def test_demo_never_mixes_with_real_patients(patient: Any, run: Run) -> None:
    from django.contrib.auth.models import User

    code, _, err = run(["demo"])
    assert code == 1
    assert err.startswith("Error: the database holds patients already")
    assert not User.objects.filter(username__in=DEMO_NAMES).exists()


# --- ivig serve (in-process: refusals before anything starts) ----------------------------------


def test_serve_refuses_a_port_in_use(run: Run) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(["serve", "--port", str(port)])
    assert code == 1
    assert out == ""
    assert err.startswith(f"Error: --port: cannot listen on 127.0.0.1:{port}: ")


# --- subprocesses: a data folder of their own ---------------------------------------------------


def _console_script() -> list[str]:
    script = shutil.which("ivig", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "ivig.cli"]


def _env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IVIG_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env["IVIG_DATA_DIR"] = str(data_dir)
    if database_url:
        env["IVIG_DATABASE_URL"] = database_url
    return {**env, **extra}


def _ivig(
    env: dict[str, str], *argv: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_console_script(), *argv],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _state(cursor: Any) -> dict[str, Any]:
    """What a restore must bring back: counts, a few rows, the head of the audit chain."""
    state: dict[str, Any] = {}
    for table in (
        "auth_user",
        "records_patient",
        "records_course",
        "records_order",
        "records_lot",
        "records_vitals",
        "records_reaction",
        "records_outcome",
        "records_auditevent",
    ):
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        state[table] = cursor.fetchone()[0]
    for name, sql in (
        ("users", "SELECT username FROM auth_user ORDER BY username"),
        ("patients", "SELECT mrn, family_name, date_of_birth FROM records_patient ORDER BY id"),
        ("orders", "SELECT id, status, dose_g, date, version FROM records_order ORDER BY id"),
        ("head", "SELECT seq, hash FROM records_audithead"),
        ("last", "SELECT seq, hash, action FROM records_auditevent ORDER BY seq DESC LIMIT 1"),
    ):
        cursor.execute(sql)
        state[name] = [tuple(row) for row in cursor.fetchall()]
    return state


@contextlib.contextmanager
def _scratch_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database next to the configured one, dropped afterwards."""
    url = os.environ.get("IVIG_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL: run with IVIG_DATABASE_URL set (scripts/test does)")
    import psycopg

    name = f"ivig_manage_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.database)])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str], Callable[[], dict[str, Any]]]]:
    """(vendor, the environment of the subprocesses, a reader of the live database's state)."""
    data = tmp_path / "data"
    if request.param == "sqlite":

        def read() -> dict[str, Any]:
            with contextlib.closing(sqlite3.connect(data / "ivig.sqlite3")) as con:
                return _state(con.cursor())

        yield "sqlite", _env(data), read
        return
    with _scratch_postgres() as url:
        import psycopg

        def read_pg() -> dict[str, Any]:
            with psycopg.connect(url) as con, con.cursor() as cursor:
                return _state(cursor)

        yield "postgresql", _env(data, url), read_pg


def test_backup_then_restore_gives_the_same_record(
    backend: tuple[str, dict[str, str], Callable[[], dict[str, Any]]], tmp_path: Path
) -> None:
    vendor, env, read = backend
    data = Path(env["IVIG_DATA_DIR"])
    copy = tmp_path / "ivig.backup"

    done = _ivig(env, "backup", str(copy))
    assert done.returncode == 1
    assert done.stderr.startswith("Error: there is no ivig database yet")
    assert not copy.exists()
    assert not (data / "ivig.sqlite3").exists()

    done = _ivig(env, "demo")
    assert done.returncode == 0, done.stderr
    done = _ivig(env, "backup", str(copy))
    assert done.returncode == 0, done.stderr
    assert f"written to {copy} (" in done.stdout
    assert "3 patients, 6 courses" in done.stdout
    assert copy.stat().st_mode & 0o077 == 0  # patient data: owner only
    before = read()
    assert before["records_patient"] == 3
    assert before["last"][0][2] == "backup"  # the copy holds the event of its making (req. 5)
    if vendor == "sqlite":
        with contextlib.closing(sqlite3.connect(copy)) as con:
            assert _state(con.cursor()) == before
            assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)

    done = _ivig(env, "backup", str(copy))
    assert done.returncode == 1
    assert "exists already" in done.stderr

    # Work done after the backup (a user, an audit event), which the restore will undo.
    done = _ivig(
        env, "user", "create", "late-nurse", "--role", "nurse", "--password-stdin", stdin=PASSWORD
    )
    assert done.returncode == 0, done.stderr
    changed = read()
    assert changed["auth_user"] == before["auth_user"] + 1
    assert changed["head"] != before["head"]

    done = _ivig(env, "restore", str(copy))  # stdin is not a terminal: no silent yes
    assert done.returncode == 1
    assert done.stderr == (
        "Error: --yes: restoring replaces the whole database: add --yes to confirm\n"
    )
    junk = tmp_path / "junk.backup"
    junk.write_text("not a backup\n")
    done = _ivig(env, "restore", str(junk), "--yes")
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: FILE: {junk} is not ")
    assert "Traceback" not in done.stderr
    assert read() == changed

    if vendor == "sqlite":  # a backup whose chain was edited is refused; nothing changes
        tampered = tmp_path / "tampered.backup"
        shutil.copyfile(copy, tampered)
        with contextlib.closing(sqlite3.connect(tampered)) as con:
            con.execute("DROP TRIGGER audit_no_update")
            con.execute("UPDATE records_auditevent SET reason = 'edited' WHERE seq = 5")
            con.commit()
        done = _ivig(env, "restore", str(tampered), "--yes")
        assert done.returncode == 1
        assert "broken at event 5" in done.stderr
        assert "left as it was" in done.stderr
        assert read() == changed

    done = _ivig(env, "restore", str(copy), "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"restored {copy} into ")
    assert "3 patients, 6 courses, 15 orders" in done.stdout
    restored = read()
    # The backup's record, and the event of the restore at the end of its chain (requirement 5).
    assert restored["last"][0][2] == "restore"
    assert restored["records_auditevent"] == before["records_auditevent"] + 1
    audit = {"records_auditevent", "head", "last"}
    assert {k: v for k, v in restored.items() if k not in audit} == {
        k: v for k, v in before.items() if k not in audit
    }
    kept = data / ("ivig.sqlite3.before-restore" if vendor == "sqlite" else "before-restore.dump")
    assert f"kept in {kept}" in done.stdout
    assert kept.stat().st_mode & 0o077 == 0
    if vendor == "sqlite":
        with contextlib.closing(sqlite3.connect(kept)) as con:
            assert _state(con.cursor()) == changed

    done = _ivig(env, "audit", "verify")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"audit chain ok: {before['records_auditevent'] + 1} events\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server (gunicorn stops its workers on TERM); kill its group if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_serve_migrates_then_answers(tmp_path: Path) -> None:
    data, port, log = tmp_path / "data", _free_port(), tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*_console_script(), "serve", "--port", str(port), "--workers", "1"],
            env=_env(data),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status, body = None, b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/openapi.json"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    status, body = answer.status, answer.read()
                    break
            except urllib.error.HTTPError as exc:
                status = exc.code
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        text = log.read_text()
        assert status == 200, text
        assert json.loads(body)["info"]["title"] == "ivig API"
        assert f"ivig: serving http://127.0.0.1:{port} (data: {data}, database: SQLite " in text
        assert (data / "ivig.sqlite3").exists()
        assert (data / "static" / "admin").is_dir()  # collectstatic ran
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as answer:
            health = json.loads(answer.read())
        assert health == {"version": __version__, "status": "ok", "database": "ok",
                          "schema": "current"}  # fmt: skip
    finally:
        _stop(server)


def test_serve_refuses_a_database_a_newer_ivig_upgraded(tmp_path: Path) -> None:
    """Requirement 43: a migration in the database that this version does not have means a
    newer ivig upgraded it; this one must not write to it, so it does not start."""
    env = _env(tmp_path / "data")
    made = _ivig(env, "user", "create", "alice", "--role", "admin", "--password-stdin",
                 stdin=PASSWORD + "\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(tmp_path / "data" / "ivig.sqlite3") as con:
        con.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('records', '9999_from_a_newer_ivig', '2027-01-01')"
        )
    done = _ivig(env, "serve", "--port", str(_free_port()))
    assert done.returncode == 1
    assert done.stderr == (
        "Error: refusing to serve: the database has 1 migration(s) this version of ivig does not "
        "know (records.9999_from_a_newer_ivig): a newer ivig upgraded it; run that version (or "
        "restore a backup made for this one)\n"
    )


def test_a_bad_setting_is_one_error_line(tmp_path: Path) -> None:
    done = _ivig(_env(tmp_path / "data", IVIG_DEBUG="yes"), "serve")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "Error: IVIG_DEBUG: must be 0 or 1\n"
