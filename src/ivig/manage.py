"""The database commands of ``ivig`` (serve, user, demo, audit, backup, restore).

They set Django up only when run, so that ``ivig plan``, ``products`` and ``risks`` never
import it: every Django import is inside a command (through :func:`_django`).

    ivig serve              migrate, collect static files, then exec gunicorn
    ivig user create NAME   a user with roles (the first admin); password prompted or on stdin
    ivig user token NAME    a new API token, printed once
    ivig audit verify       walk the audit chain; exit 1 at the first broken link
    ivig backup FILE        a consistent copy while the server runs (SQLite backup API, pg_dump)
    ivig restore FILE       replace the database, after checking the file and its audit chain
    ivig demo               demo users and three fictional LEMS patients with their history

Errors are :class:`ivig.errors.IvigError` subclasses, so that ``ivig.cli.main`` prints one line
``Error: ...`` and exits 1. Errors about a positional argument name it in the message
(``FILE: ...``, ``USERNAME: ...``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import itertools
import math
import os
import random
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from ivig.errors import Conflict, InvalidInput, IvigError, NotFound

__all__ = ["DatabaseProblem", "SettingsError", "ToolFailed", "register"]


class SettingsError(IvigError):
    """A setting in the environment is wrong (``ivig.server.config.ConfigError``); the message
    starts with the variable's name."""

    code = "config_error"


class DatabaseProblem(IvigError):
    """The database is missing, unreachable, or not an ivig database."""

    code = "database_error"


class ToolFailed(IvigError):
    """An external tool (pg_dump, pg_restore) failed."""

    code = "tool_failed"


# --- Django, on demand ---------------------------------------------------------------------------


def _django() -> None:
    """Set Django up with ivig's settings (from the environment); a bad setting is an error
    naming the variable."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivig.server.settings")
    import django
    from django.apps import apps

    from ivig.server.config import ConfigError

    if apps.ready:
        return
    try:
        django.setup()
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _where() -> str:
    """The database in words (never its password)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite {s['NAME']}"
    return f"PostgreSQL {s['NAME']} on {s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}"


def _pending_migrations() -> int:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _migrate() -> int:
    """Apply the migrations not yet applied; return how many there were."""
    pending = _pending_migrations()
    if pending:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
    return pending


@contextlib.contextmanager
def _database(*, migrate: bool = False) -> Iterator[None]:
    """Django set up (and the schema brought up to date when ``migrate``); a database that
    cannot be reached is one error line, not a traceback."""
    _django()
    from django.db import OperationalError

    try:
        if migrate:
            _migrate()
        yield
    except OperationalError as exc:
        raise DatabaseProblem(
            f"the database ({_where()}) cannot be used: {_first_line(exc)}"
        ) from None


def _ensure_triggers() -> None:
    """Make the audit table's append-only triggers again (a restored file may lack them)."""
    from django.db import connection, transaction

    from ivig.records import triggers

    with transaction.atomic(), connection.cursor() as cursor:
        for sql in triggers.statements(connection.vendor, drop=True):
            cursor.execute(sql)
        for sql in triggers.statements(connection.vendor):
            cursor.execute(sql)


def _sqlite_file() -> Path:
    from django.db import connection

    return Path(connection.settings_dict["NAME"])


def _require_records() -> None:
    """Refuse when there is no ivig database yet (without creating an empty SQLite file)."""
    from django.db import connection

    missing = DatabaseProblem(
        f"there is no ivig database yet ({_where()}): `ivig user create` or `ivig serve` makes it"
    )
    if connection.vendor == "sqlite" and not _sqlite_file().exists():
        raise missing
    if "records_auditevent" not in connection.introspection.table_names():
        raise missing


# --- counts --------------------------------------------------------------------------------------

_COUNTED = (
    ("patient", "records_patient"),
    ("course", "records_course"),
    ("order", "records_order"),
    ("audit event", "records_auditevent"),
)


def _counts(cursor: Any) -> dict[str, int]:
    """Rows of the main tables, through a DB-API cursor (Django's or sqlite3's)."""
    out: dict[str, int] = {}
    for label, table in _COUNTED:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
        out[label] = int(cursor.fetchone()[0])
    return out


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {label}{'' if n == 1 else 's'}" for label, n in counts.items())


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# --- ivig serve ----------------------------------------------------------------------------------


def _check_port(host: str, port: int) -> None:
    """Refuse a host that does not resolve or a port already taken, before starting."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidInput(f"cannot listen on '{host}': {exc.strerror}", field="host") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise Conflict(
                f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port",
                field="port",
            ) from None


def serve(
    host: Annotated[
        str, typer.Option(help="The address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Gunicorn worker processes.")] = 2,
) -> None:
    """Run the web app: apply migrations, collect static files, then run gunicorn."""
    with _database():
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        _check_port(host, port)
        applied = _migrate()
        call_command("collectstatic", interactive=False, verbosity=0)
        where, data_dir = _where(), settings.BASE_DIR
        allowed = list(settings.ALLOWED_HOSTS)
        connections.close_all()
    if applied:
        typer.echo(f"ivig: applied {applied} database migration{'s' if applied > 1 else ''}")
    shown = f"[{host}]" if ":" in host else host
    if host not in ("0.0.0.0", "::") and host not in allowed and "*" not in allowed:
        typer.echo(
            f"ivig: note: {host} is not in IVIG_ALLOWED_HOSTS ({','.join(allowed)}): requests "
            "naming it are refused (400)",
            err=True,
        )
    typer.echo(f"ivig: serving http://{shown}:{port} (data: {data_dir}, database: {where})")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    argv = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
    argv += [
        "ivig.server.wsgi:application",
        "--bind",
        f"{shown}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "--no-control-socket",  # gunicorn's default is one shared socket in the home folder
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(argv[0], argv)


# --- ivig user -----------------------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise InvalidInput("no password on standard input", field="password")
        return password
    typed: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return typed


def _argument(exc: IvigError, field: str, metavar: str) -> IvigError:
    """Name a positional argument in the message (``USERNAME: ...``) rather than as an option."""
    if exc.field == field:
        exc.field = None
        exc.message = f"{metavar}: {exc.message}"
        exc.args = (exc.message,)
    return exc


def user_create(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The sign-in name.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role", help="A role: admin, prescriber, pharmacist or nurse (repeat for more)."
        ),
    ],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input instead of asking.",
        ),
    ] = False,
) -> None:
    """Create a user with roles (the first admin, say); asks for the password twice."""
    with _database(migrate=True):
        from django.contrib.auth.models import User

        from ivig.records.models import Role
        from ivig.records.services.accounts import create_user

        name = username.strip()
        if not name:
            raise InvalidInput("USERNAME: the user name is required")
        unknown = sorted(set(role) - set(Role.values))
        if unknown:
            raise InvalidInput(
                f"unknown role {', '.join(unknown)}; roles: {', '.join(Role.values)}",
                field="role",
            )
        if User.objects.filter(username=name).exists():
            raise Conflict(f"USERNAME: the user name {name} is taken")
        password = _read_password(password_stdin)
        try:
            user = create_user(None, name, password, role, system=True)
        except IvigError as exc:
            if exc.field == "roles":
                exc.field = "role"
            raise _argument(exc, "username", "USERNAME") from None
        roles = sorted(user.groups.values_list("name", flat=True))
    typer.echo(f"created user {user.username} with roles {', '.join(roles)}")


def user_token(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The token's user.")],
    name: Annotated[
        str, typer.Option("--name", help="What machine client uses the token (a label).")
    ],
) -> None:
    """Make a new API token for a user and print it once (only its hash is kept)."""
    with _database(migrate=True):
        from django.contrib.auth.models import User

        from ivig.records.services.accounts import create_token

        user = User.objects.filter(username=username.strip()).first()
        if user is None:
            raise NotFound("user", username)
        if not user.is_active:
            raise Conflict(f"USERNAME: the user {user.username} is disabled")
        token, raw = create_token(None, user.pk, name, system=True)
    typer.echo(raw)
    typer.echo(
        f"API token '{token.name}' ({token.prefix}...) for {user.username}: shown once; store "
        "it now (ivig keeps only its hash). Send it as 'Authorization: Bearer <token>'.",
        err=True,
    )


# --- ivig audit verify ---------------------------------------------------------------------------


def audit_verify() -> None:
    """Walk the whole audit chain; exit 1 at the first broken link (edited, missing, swapped)."""
    with _database():
        from ivig.records.audit import verify_chain

        _require_records()
        report = verify_chain()
    if report.ok:
        typer.echo(f"audit chain ok: {report.checked} events")
        return
    typer.echo(f"audit chain BROKEN at event {report.first_bad_seq}: {report.problem}", err=True)
    raise typer.Exit(1)


# --- backup and restore: SQLite ------------------------------------------------------------------


def _new_private_file(path: Path) -> Path:
    """A new empty file readable by the owner only (backups hold patient data)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    return path


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def _sqlite_copy_to_new(source: Path, target: Path) -> None:
    """A consistent copy of ``source`` as ``target`` (a self-contained, non-WAL file), made with
    SQLite's online backup API while other connections read and write; written to a temporary
    name first, so that ``target`` is never half-written."""
    partial = _new_private_file(_partial(target))
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=20)) as src,
            contextlib.closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _sqlite_copy_into(source: Path, live: Path) -> None:
    """Replace the content of the live database ``live`` by ``source``, in place (the backup API
    takes the write lock; other connections then see the new content)."""
    with (
        contextlib.closing(sqlite3.connect(source, timeout=20)) as src,
        contextlib.closing(sqlite3.connect(live, timeout=20)) as dst,
    ):
        src.backup(dst)


_IVIG_TABLES = {
    "django_migrations",
    "auth_user",
    "records_patient",
    "records_course",
    "records_order",
    "records_auditevent",
    "records_audithead",
}


def _check_sqlite_backup(source: Path) -> dict[str, int]:
    """The file must be a sound SQLite database with ivig's tables, made by this ivig version
    or an older one; returns its counts. Read-only and Django-free."""
    from django.db.migrations.loader import MigrationLoader

    uri = f"file:{quote(str(source))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
            result = [row[0] for row in con.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise InvalidInput(
                    f"FILE: {source} is a damaged SQLite database (integrity check: "
                    f"{'; '.join(result[:3])})"
                )
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
            if not tables >= _IVIG_TABLES:
                raise InvalidInput(f"FILE: {source} is a SQLite database, but not an ivig one")
            applied = set(con.execute("SELECT app, name FROM django_migrations"))
            counts = _counts(con.cursor())
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(
            f"FILE: {source} is not a SQLite database ({_first_line(exc)}); a backup of a "
            "PostgreSQL database restores only into PostgreSQL"
        ) from None
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    newer = sorted(f"{app}.{name}" for app, name in applied - known)
    if newer:
        raise InvalidInput(
            f"FILE: {source} was made by a newer ivig (migrations {', '.join(newer[:3])} are "
            "unknown here): upgrade ivig first"
        )
    return counts


def _replace_sqlite(source: Path) -> Path | None:
    """Restore ``source`` into the live SQLite database; keep the old one as
    ``<db>.before-restore``; put the old one back if the restored chain does not verify."""
    from django.db import connections

    from ivig.records.audit import verify_chain

    live = _sqlite_file()
    kept = live.with_name(live.name + ".before-restore")
    connections.close_all()
    had_live = live.exists()
    previous = _partial(kept)
    if had_live:
        # To a temporary name: FILE may be the .before-restore of an earlier restore.
        _sqlite_copy_to_new(live, previous)
    try:
        _sqlite_copy_into(source, live)
        connections.close_all()
        _migrate()
        _ensure_triggers()
        report = verify_chain()
        if not report.ok:
            raise Conflict(
                f"FILE: the audit chain of {source} is broken at event {report.first_bad_seq} "
                f"({report.problem}): the database was left as it was"
            )
    except BaseException:
        connections.close_all()
        if had_live:
            _sqlite_copy_into(previous, live)
            previous.unlink(missing_ok=True)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{live}{suffix}").unlink(missing_ok=True)
        raise
    if not had_live:
        return None
    os.replace(previous, kept)
    return kept


# --- backup and restore: PostgreSQL --------------------------------------------------------------


def _pg_tool(name: str) -> str:
    """pg_dump or pg_restore: on the PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: str) -> tuple[int, str]:
        v = Path(path).parent.parent.name
        return (int(v) if v.isdigit() else 0, v)

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    if candidates:
        return candidates[-1]
    raise ToolFailed(
        f"{name} was not found: install the PostgreSQL client tools "
        "(Debian: apt-get install postgresql-client)"
    )


def _pg_env() -> dict[str, str]:
    """libpq's variables for the configured database (the password never on a command line)."""
    from django.db import connection

    s = connection.settings_dict
    env = dict(os.environ)
    for variable, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        if s.get(key):
            env[variable] = str(s[key])
    sslmode = (s.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def _run_tool(argv: list[str]) -> str:
    """Run a PostgreSQL tool; any failure (exit code not 0) is an error with its message."""
    done = subprocess.run(argv, env=_pg_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = " ".join(done.stderr.strip().splitlines()[-3:]) or f"exit code {done.returncode}"
        raise ToolFailed(f"{Path(argv[0]).name} failed: {detail}")
    return done.stdout


def _pg_dump_to(target: Path, *, snapshot: str | None = None) -> None:
    partial = _new_private_file(_partial(target))
    try:
        argv = [_pg_tool("pg_dump"), "--format=custom", "--no-password", "--file", str(partial)]
        if snapshot:
            argv += ["--snapshot", snapshot]
        _run_tool(argv)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _backup_postgres(target: Path) -> dict[str, int]:
    """pg_dump of the snapshot the counts were read in (one consistent moment)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = str(cursor.fetchone()[0])
            counts = _counts(cursor)
            _pg_dump_to(target, snapshot=snapshot)
        finally:
            cursor.execute("ROLLBACK")
    return counts


def _pg_restore(source: Path) -> None:
    from django.db import connections

    connections.close_all()
    _run_tool(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--no-password",
            "--dbname",
            _pg_env()["PGDATABASE"],
            str(source),
        ]
    )


def _check_postgres_backup(source: Path) -> None:
    try:
        listing = _run_tool([_pg_tool("pg_restore"), "--list", str(source)])
    except ToolFailed as exc:
        raise InvalidInput(
            f"FILE: {source} is not a PostgreSQL backup of ivig ({exc.message}); a backup of a "
            "SQLite database restores only into SQLite"
        ) from None
    if "records_auditevent" not in listing:
        raise InvalidInput(f"FILE: {source} is a PostgreSQL backup, but not of ivig")


def _replace_postgres(source: Path) -> Path | None:
    """pg_restore in one transaction (all or nothing), keeping a dump of the database as it was
    in ``<data dir>/before-restore.dump``; put it back if the restored chain does not verify."""
    from django.conf import settings
    from django.db import connection

    from ivig.records.audit import verify_chain

    kept = Path(settings.BASE_DIR) / "before-restore.dump"
    had_records = "records_auditevent" in connection.introspection.table_names()
    previous = _partial(kept)
    if had_records:
        _pg_dump_to(previous)
    try:
        _pg_restore(source)
        try:
            _migrate()
            _ensure_triggers()
            report = verify_chain()
        except BaseException:
            if had_records:
                _pg_restore(previous)
            raise
        if not report.ok:
            if had_records:
                _pg_restore(previous)
            raise Conflict(
                f"FILE: the audit chain of {source} is broken at event {report.first_bad_seq} "
                f"({report.problem}): "
                + ("the database was put back as it was" if had_records else "nothing to undo")
            )
    except BaseException:
        previous.unlink(missing_ok=True)
        raise
    if not had_records:
        return None
    os.replace(previous, kept)
    return kept


# --- ivig backup / ivig restore ------------------------------------------------------------------


def backup(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The new backup file (never overwritten).")
    ],
) -> None:
    """Copy the database to FILE, consistently, while the server runs."""
    target = file.expanduser().absolute()
    if target.exists():
        raise Conflict(f"FILE: {target} exists already; a backup never overwrites a file")
    if not target.parent.is_dir():
        raise InvalidInput(f"FILE: the folder {target.parent} does not exist")
    with _database():
        from django.db import connection

        _require_records()
        if connection.vendor == "sqlite":
            _sqlite_copy_to_new(_sqlite_file(), target)
            with contextlib.closing(sqlite3.connect(target)) as con:
                counts = _counts(con.cursor())
        else:
            counts = _backup_postgres(target)
        where = _where()
    typer.echo(
        f"backup of {where} written to {target} ({_size(target.stat().st_size)}): "
        f"{_describe(counts)}"
    )


def restore(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A backup made by `ivig backup`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace the database without asking.")
    ] = False,
) -> None:
    """Replace the whole database by a backup, after checking the backup and its audit chain."""
    source = file.expanduser().absolute()
    if not source.is_file():
        raise InvalidInput(f"FILE: there is no file {source}")
    with _database():
        from django.db import connection

        sqlite = connection.vendor == "sqlite"
        if sqlite:
            if source.resolve() == _sqlite_file().resolve():
                raise InvalidInput(f"FILE: {source} is the database itself")
            found = _check_sqlite_backup(source)
            holds = f" ({_describe(found)})"
        else:
            _check_postgres_backup(source)
            holds = ""
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInput(
                    "restoring replaces the whole database: add --yes to confirm", field="yes"
                )
            typer.confirm(
                f"Replace the whole database ({_where()}) by {source}{holds}?", abort=True
            )
        kept = _replace_sqlite(source) if sqlite else _replace_postgres(source)
        with connection.cursor() as cursor:
            counts = _counts(cursor)
        where = _where()
    typer.echo(f"restored {source} into {where}: {_describe(counts)}; audit chain ok")
    if kept is not None:
        typer.echo(f"the database as it was before is kept in {kept}")


# --- ivig demo -----------------------------------------------------------------------------------

DEMO_USERS = (
    ("demo-admin", "admin", "Dana", "Okafor"),
    ("demo-prescriber", "prescriber", "Priya", "Raman"),
    ("demo-pharmacist", "pharmacist", "Tomas", "Lindqvist"),
    ("demo-nurse", "nurse", "Grace", "Mwangi"),
)


@dataclass(frozen=True, slots=True)
class _DemoPatient:
    mrn: str
    family_name: str
    given_name: str
    born: dt.date
    sex: str
    height_cm: float
    weight_kg: float  # at the start of the induction
    weight_now_kg: float  # a few days ago, for the maintenance
    risk_codes: tuple[str, ...]
    conditions: str
    product: str
    induction_days_ago: int  # the first induction day, so many days before today
    maintenance_in_days: int  # the first maintenance dose, so many days after today
    maintenance_g_per_kg: float
    every_weeks: int
    severity_measure: str
    severity_detail: str
    outcomes: tuple[tuple[str, float, float], ...]  # (measure, baseline, now)
    start_time: dt.time  # when the chair is booked
    reaction: bool  # a mild headache on the first infusion
    next_verified: bool  # the pharmacy has verified the first maintenance dose already


DEMO_PATIENTS = (
    _DemoPatient(
        mrn="DEMO-0001",
        family_name="Hartley",
        given_name="Margaret",
        born=dt.date(1957, 3, 14),
        sex="female",
        height_cm=163,
        weight_kg=71.0,
        weight_now_kg=70.2,
        risk_codes=(),
        conditions="LEMS, non-paraneoplastic (CT chest and FDG-PET negative); hypertension",
        product="privigen-us",
        induction_days_ago=33,
        maintenance_in_days=2,
        maintenance_g_per_kg=1.0,
        every_weeks=4,
        severity_measure="qms",
        severity_detail="QMG 14; proximal leg weakness, cannot rise from a chair unaided",
        outcomes=(("3tug", 38.5, 27.9), ("qmg", 14, 10), ("mrc-sum", 48, 52)),
        start_time=dt.time(9, 0),
        reaction=False,
        next_verified=False,
    ),
    _DemoPatient(
        mrn="DEMO-0002",
        family_name="Novak",
        given_name="Peter",
        born=dt.date(1961, 9, 2),
        sex="male",
        height_cm=178,
        weight_kg=92.0,
        weight_now_kg=90.5,
        risk_codes=("malignancy",),
        conditions="LEMS with small-cell lung cancer (chemoradiotherapy completed); ex-smoker",
        product="gamunex-c",
        induction_days_ago=30,
        maintenance_in_days=5,
        maintenance_g_per_kg=1.0,
        every_weeks=4,
        severity_measure="mrc",
        severity_detail="MRC sum score 44; dry mouth, ptosis",
        outcomes=(("3tug", 45.0, 39.2), ("qmg", 17, 15), ("mrc-sum", 44, 47)),
        start_time=dt.time(9, 30),
        reaction=False,
        next_verified=False,
    ),
    _DemoPatient(
        mrn="DEMO-0003",
        family_name="Brennan",
        given_name="Sofia",
        born=dt.date(1984, 6, 21),
        sex="female",
        height_cm=168,
        weight_kg=64.0,
        weight_now_kg=64.5,
        risk_codes=(),
        conditions="LEMS, non-paraneoplastic; autoimmune hypothyroidism on levothyroxine",
        product="octagam-10",
        induction_days_ago=37,
        maintenance_in_days=5,
        maintenance_g_per_kg=0.8,
        every_weeks=4,
        severity_measure="adl",
        severity_detail="needs help on stairs; falls twice a month",
        outcomes=(("3tug", 31.0, 22.4), ("qmg", 11, 7), ("mrc-sum", 52, 56)),
        start_time=dt.time(10, 0),
        reaction=True,
        next_verified=True,
    ),
)


def _at(start: dt.datetime, minute: float) -> dt.datetime:
    return start + dt.timedelta(minutes=minute)


def _vitals(rng: random.Random, *, unwell: bool = False) -> Any:
    from ivig.records.services.infusions import VitalsInput

    return VitalsInput(
        temperature_c=round(rng.uniform(36.4, 36.9) + (0.4 if unwell else 0), 1),
        pulse_per_min=rng.randint(64, 80) + (12 if unwell else 0),
        systolic_mm_hg=rng.randint(118, 134) + (14 if unwell else 0),
        diastolic_mm_hg=rng.randint(70, 82),
        respiratory_rate_per_min=rng.randint(14, 18),
        spo2_percent=rng.randint(96, 99),
    )


def _give(
    order_id: int,
    users: dict[str, Any],
    start: dt.datetime,
    rng: random.Random,
    *,
    first: bool,
    reaction: bool,
    now: dt.datetime,
) -> None:
    """One past infusion through every step of the order flow, at realistic times: verified,
    dispensed with lots, checked, started, rate steps and vital signs on the protocol's
    checkpoints, (a mild headache: slowed to the recommended rate), ended, observed, closed."""
    from ivig.core.monitoring import CheckReason, Severity, recommended_action, vitals_schedule
    from ivig.core.rates import RateStep
    from ivig.records.models import Order
    from ivig.records.services import infusions, orders

    pharmacist, nurse = users["pharmacist"], users["nurse"]
    order = Order.objects.get(pk=order_id)
    order = orders.verify(pharmacist, order.pk, order.version)
    lots = [
        orders.LotInput(
            lot_number=f"{order.course.product_id[:2].upper()}{rng.randint(100000, 999999)}",
            expiry=order.date + dt.timedelta(days=400),
            vial_size_g=float(v["size_g"]),
            count=int(v["count"]),
        )
        for v in order.vials
    ]
    order = orders.dispense(pharmacist, order.pk, order.version, lots)
    infusions.pre_check(
        nurse,
        order.pk,
        infusions.CheckAnswers(
            infection=False,
            fever=False,
            feeling_unwell=False,
            hydrated=True,
            notes="well today; drinking well; no infection or fever in the past week",
        ),
        now=start - dt.timedelta(minutes=25),
    )
    order.refresh_from_db()
    infusions.start_infusion(nurse, order.pk, order.version, start, now=now)

    # The pump's segments (minute, mL/h): the planned steps; after a mild reaction (in the
    # fourth step, or the last), the protocol's slower rate (the last tolerated one) until the
    # volume is in.
    planned = [(float(s["start_min"]), float(s["rate_ml_per_h"])) for s in order.steps]
    end = float(math.ceil(order.steps[-1]["end_min"]))  # the pump stops; noted to the minute
    events: list[tuple[float, int, str, float]] = []  # (minute, order at that minute, what, rate)
    segments = planned
    k = min(3, len(planned) - 1)
    if reaction and k >= 1 and planned[k][0] + 12 < float(order.steps[k]["end_min"]):
        at = planned[k][0] + 10
        advice = recommended_action(
            Severity.mild,
            current_rate_ml_per_h=planned[k][1],
            last_tolerated_ml_per_h=planned[k - 1][1],
            reactions_today=0,
        )
        slower = advice.restart_max_ml_per_h or planned[k - 1][1]
        segments = [*planned[: k + 1], (at + 2, slower)]
        given = sum(r * (b - a) / 60 for (a, r), (b, _) in itertools.pairwise(segments))
        end = math.ceil(at + 2 + (order.volume_ml - given) / slower * 60)
        events += [(at, 2, "reaction", 0.0), (at + 1, 0, "vitals-unwell", 0.0)]
    events += [(minute, 1, "rate", rate) for minute, rate in segments[1:]]

    # Vital signs on the protocol's checkpoints of the pump as it ran, and of the plan (the run
    # sheet shows the planned ones).
    def steps(pump: list[tuple[float, float]], last: float) -> list[RateStep]:
        return [
            RateStep(a, b, r, 0.0, r * (b - a) / 60, "protocol")
            for (a, r), (b, _) in zip(pump, [*pump[1:], (last, 0.0)], strict=True)
        ]

    checks = {
        round(c.minute)
        for c in vitals_schedule(steps(segments, end), observation_minutes=60)
        if c.reason is not CheckReason.end_of_observation
    }
    planned_end = float(order.steps[-1]["end_min"])
    checks |= {
        round(c.minute)
        for c in vitals_schedule(
            steps(planned, planned_end), observation_minutes=60 if first else 20
        )
        if c.minute < end
    }
    events += [(float(minute), 0, "vitals", 0.0) for minute in checks]
    events.append((end, 3, "end", 0.0))

    def vitals(minute: float, *, unwell: bool = False) -> None:
        values = _vitals(rng, unwell=unwell)
        infusions.record_vitals(nurse, order.pk, _at(start, minute), values, now=now)

    for minute, _, what, rate in sorted(events):
        if what == "rate":
            infusions.record_rate(nurse, order.pk, _at(start, minute), rate, now=now)
        elif what == "reaction":
            infusions.record_reaction(
                nurse,
                order.pk,
                _at(start, minute),
                ["headache"],
                "headache 3/10: slowed to the last tolerated rate; paracetamol 1 g orally; "
                "prescriber told; settled within 30 minutes",
                now=now,
            )
        elif what == "end":
            session = infusions.end_infusion(nurse, order.pk, _at(start, minute), now=now)
        else:
            vitals(minute, unwell=what == "vitals-unwell")
    closed = end + (session.observation_minutes or 0)
    vitals(closed)
    order.refresh_from_db()
    infusions.finish_observation(
        nurse,
        order.pk,
        order.version,
        _at(start, closed),
        "well at the end of the observation; cannula out; next dose confirmed",
        now=now,
    )


def _demo_patient(
    data: _DemoPatient,
    users: dict[str, Any],
    today: dt.date,
    now: dt.datetime,
    rng: random.Random,
) -> str:
    """One patient with the history of an induction and a planned maintenance course."""
    from django.utils import timezone

    from ivig.core.catalogue import load_catalogue
    from ivig.records.services import courses, orders, outcomes, patients

    prescriber, nurse = users["prescriber"], users["nurse"]
    first_day = today - dt.timedelta(days=data.induction_days_ago)
    baseline = first_day - dt.timedelta(days=2)
    patient = patients.create_patient(
        prescriber,
        patients.PatientInput(
            mrn=data.mrn,
            family_name=data.family_name,
            given_name=data.given_name,
            date_of_birth=data.born,
            sex=data.sex,
            height_cm=data.height_cm,
            risk_codes=data.risk_codes,
            conditions=data.conditions,
            allergies="no known drug allergies",
            iga_status="normal",
            notes="FICTIONAL DEMO PATIENT",
        ),
        today=today,
    )
    patients.add_weight(prescriber, patient.pk, baseline, data.weight_kg, today=today)
    patients.record_eligibility(
        prescriber,
        patient.pk,
        patients.EligibilityInput(
            indication="lems",
            diagnosed_by_neurologist=True,
            neurologist="Dr Demo Neurologist",
            vgcc_antibodies="positive",
            electrophysiology="consistent",
            severity_measure=data.severity_measure,
            severity_detail=data.severity_detail,
            alternative_therapy_failed=True,
            alternative_therapy="amifampridine 20 mg three times a day for 3 months and "
            "pyridostigmine 60 mg four times a day: inadequate response",
            review_date=first_day + dt.timedelta(days=182),
        ),
    )
    for measure, before, _ in data.outcomes:
        outcomes.record_outcome(prescriber, patient.pk, measure, before, baseline, today=today)
    induction = courses.prescribe(
        prescriber,
        patient.pk,
        courses.CourseInput(
            indication="lems",
            phase="induction",
            product=data.product,
            place="hospital",
            start=first_day,
            total_g_per_kg=2.0,
            days=2,
        ),
    )
    zone = timezone.get_current_timezone()
    for i, order in enumerate(induction.orders.order_by("sequence")):
        start = dt.datetime.combine(order.date, data.start_time, tzinfo=zone)
        reaction = data.reaction and i == 0
        _give(order.pk, users, start, rng, first=i == 0, reaction=reaction, now=now)
    recent = today - dt.timedelta(days=3)
    patients.add_weight(nurse, patient.pk, recent, data.weight_now_kg, today=today)
    for measure, _, after in data.outcomes:
        outcomes.record_outcome(prescriber, patient.pk, measure, after, recent, today=today)
    maintenance = courses.prescribe(
        prescriber,
        patient.pk,
        courses.CourseInput(
            indication="lems",
            phase="maintenance",
            product=data.product,
            place="infusion-centre",
            start=today + dt.timedelta(days=data.maintenance_in_days),
            dose_g_per_kg=data.maintenance_g_per_kg,
            every_weeks=data.every_weeks,
            count=3,
        ),
    )
    upcoming = maintenance.orders.order_by("sequence")
    if data.next_verified:
        first = upcoming[0]
        orders.verify(users["pharmacist"], first.pk, first.version)
    product = load_catalogue().product(data.product).display_name
    last_day = first_day + dt.timedelta(days=1)
    return (
        f"{data.mrn}  {data.family_name}, {data.given_name}: {product}; induction 2 g/kg given "
        f"{first_day.isoformat()} to {last_day.isoformat()}"
        + (" (a mild headache on day 1)" if data.reaction else "")
        + f"; maintenance {data.maintenance_g_per_kg:g} g/kg every {data.every_weeks} weeks "
        f"from {upcoming[0].date.isoformat()} ({upcoming.count()} doses)"
    )


def demo() -> None:
    """Load demo data: a user per role (passwords printed) and three fictional LEMS patients."""
    with _database(migrate=True):
        from django.contrib.auth.models import User
        from django.db import transaction
        from django.utils import timezone

        from ivig.records.audit import verify_chain
        from ivig.records.models import Patient
        from ivig.records.services.accounts import create_user

        names = [name for name, *_ in DEMO_USERS]
        taken = sorted(User.objects.filter(username__in=names).values_list("username", flat=True))
        if taken:
            raise Conflict(
                f"the demo users exist already ({', '.join(taken)}): the demo was loaded before, "
                "and is never loaded twice"
            )
        if Patient.objects.exists():
            raise Conflict(
                "the database holds patients already: the demo loads only into a database "
                "without patients (use a new IVIG_DATA_DIR or database)"
            )
        now = timezone.now()
        today = timezone.localdate(now)
        rng = random.Random(20261201)
        passwords: dict[str, str] = {}
        with transaction.atomic():  # all or nothing
            users: dict[str, Any] = {}
            for name, role, first, last in DEMO_USERS:
                passwords[name] = secrets.token_urlsafe(12)
                users[role] = create_user(
                    None,
                    name,
                    passwords[name],
                    [role],
                    first_name=first,
                    last_name=last,
                    system=True,
                )
            lines = [_demo_patient(p, users, today, now, rng) for p in DEMO_PATIENTS]
        report = verify_chain()
        where = _where()
    typer.echo(f"Demo data loaded into {where}. The patients are fictional: never treat from it.")
    typer.echo("\nSign-in names and passwords (shown once):")
    for name, role, *_ in DEMO_USERS:
        typer.echo(f"  {name:<17} {role:<11} {passwords[name]}")
    typer.echo("\nPatients:")
    for line in lines:
        typer.echo(f"  {line}")
    state = "ok" if report.ok else f"BROKEN at event {report.first_bad_seq}"
    typer.echo(f"\nAudit chain {state}: {report.checked} events.")


# --- registration --------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add the database commands to the ``ivig`` command."""
    plain: dict[str, Any] = {"no_args_is_help": True, "rich_markup_mode": None}
    app.command(epilog="Example: ivig serve --host 127.0.0.1 --port 8000 --workers 2")(serve)

    users = typer.Typer(
        help="Create users and API tokens (run on the server itself; no sign-in needed).",
        epilog="Example: ivig user create alice --role admin",
        **plain,
    )
    users.command("create", epilog="Example: ivig user create alice --role admin")(user_create)
    users.command("token", epilog="Example: ivig user token alice --name lab-interface")(user_token)
    app.add_typer(users, name="user")

    audit = typer.Typer(help="Check the audit trail.", epilog="Example: ivig audit verify", **plain)
    audit.command("verify", epilog="Example: ivig audit verify")(audit_verify)
    app.add_typer(audit, name="audit")

    app.command(epilog="Example: ivig backup /srv/backups/ivig-2026-12-01.backup")(backup)
    app.command(epilog="Example: ivig restore /srv/backups/ivig-2026-12-01.backup --yes")(restore)
    app.command(epilog="Example: ivig demo")(demo)
