"""``ivig backup`` and ``ivig restore``: a consistent copy while the server runs, and a
checked restore, all or nothing (SQLite online backup API; pg_dump / pg_restore).

A backup holds the database only, never the audit key (issue 17 item 1). A SQLite restore is
made in a new file next to the live database and checked there (integrity, migrations, the
schema exactly a freshly migrated database's, the keyed audit chain, the checkpoints given)
before one transactional copy into the live database (issue 17 item 11); a PostgreSQL dump's
listing is checked first, and the previous content is put back if the restored chain fails.

Both are audited like any write (requirement 5: no unaudited maintenance job): a backup writes
its ``backup`` event first, so that the copy holds it; a restore, once the restored chain is
verified, appends a ``restore`` event naming the file and what it held."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer

from ivig.commands.common import (
    apply_migrations,
    count_records,
    database_label,
    describe_counts,
    ensure_triggers,
    first_line,
    human_size,
    open_database,
    operator,
    require_records,
    sqlite_file,
)
from ivig.errors import Conflict, InvalidInput, IvigError, ToolFailed

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
            counts = count_records(con.cursor())
    except sqlite3.DatabaseError as exc:
        with source.open("rb") as f:
            sqlite_header = f.read(16) == b"SQLite format 3\x00"
        if sqlite_header:
            raise InvalidInput(
                f"FILE: {source} is a damaged SQLite database ({first_line(exc)})"
            ) from None
        raise InvalidInput(
            f"FILE: {source} is not a SQLite database ({first_line(exc)}); a backup of a "
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


@contextlib.contextmanager
def _django_on(path: Path, *, scratch: bool = False) -> Iterator[None]:
    """Django's connection on another SQLite file for a while (the restore's new file, or the
    reference schema's), then back on the live database. ``scratch``: a throwaway file, written
    without waiting for the disk."""
    from django.db import connections

    connections.close_all()
    settings_dict = connections["default"].settings_dict
    live, options = settings_dict["NAME"], settings_dict["OPTIONS"]
    settings_dict["NAME"] = str(path)
    if scratch:
        fast = "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF;"
        settings_dict["OPTIONS"] = {**options, "init_command": fast}
    try:
        yield
    finally:
        connections.close_all()
        settings_dict["NAME"], settings_dict["OPTIONS"] = live, options


_SCHEMA = "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%'"


def _schema(path: Path) -> set[tuple[str, str, str]]:
    """The schema objects of a SQLite file: (type, name, table) of every table, index, trigger
    and view (SQLite's own statistics tables aside)."""
    uri = f"file:{quote(str(path))}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
        return {(t, n, tbl) for t, n, tbl in con.execute(_SCHEMA)}


def _reference_schema() -> set[tuple[str, str, str]]:
    """The schema objects of a database this ivig's migrations make from nothing."""
    with tempfile.TemporaryDirectory(prefix="ivig-reference-") as folder:
        reference = Path(folder) / "reference.sqlite3"
        with _django_on(reference, scratch=True):
            apply_migrations()
        return _schema(reference)


def _check_schema(candidate: Path, source: Path) -> None:
    """Issue 17 item 11: the restored schema is exactly the migrations' (a trigger, view, table
    or index of anyone else's could change or hide records)."""
    expected = _reference_schema()
    found = _schema(candidate)

    def named(objects: set[tuple[str, str, str]]) -> str:
        return ", ".join(f"{kind} {name}" for kind, name, _ in sorted(objects)[:5])

    if found - expected:
        raise InvalidInput(
            f"FILE: {source} holds schema objects ivig's migrations do not make "
            f"({named(found - expected)})"
        )
    if expected - found:
        raise InvalidInput(
            f"FILE: {source} lacks schema objects ivig's migrations make "
            f"({named(expected - found)})"
        )


def _check_restored(source: Path, checkpoint: str | None) -> None:
    """On the database Django is connected to (the restore's new file, or PostgreSQL's restored
    database): every migration recorded as applied, the keyed audit chain (issue 17 item 1),
    then every checkpoint given."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from ivig.records import checkpoints
    from ivig.records.audit import verify_chain

    # A history with a hole (later migrations recorded, an earlier one not) looks up to date
    # to `migrate`, but the next upgrade would run the missing one again over its own tables.
    loader = MigrationLoader(connection)
    missing = sorted(
        f"{a}.{n}" for a, n in set(loader.graph.nodes) - set(loader.applied_migrations)
    )
    if missing:
        raise InvalidInput(
            f"FILE: {source} cannot be brought up to this version of ivig (its migration history "
            f"lacks {', '.join(missing[:3])}, which later migrations need)"
        )
    report = verify_chain()
    if not report.ok:
        at = f" at event {report.first_bad_seq}" if report.first_bad_seq is not None else ""
        raise Conflict(f"FILE: the audit chain of {source} is broken{at} ({report.problem})")
    if checkpoint is not None:
        try:
            checkpoints.check(checkpoints.parse(checkpoint))
        except Conflict as exc:
            raise Conflict(f"FILE: {source} fails the checkpoint file: {exc.message}") from None


def _replace_sqlite(source: Path, checkpoint: str | None) -> Path | None:
    """Issue 17 item 11, all or nothing: ``source`` is copied to a new file next to the live
    database and brought up to date and checked there (the migrations, the schema, the keyed
    chain, the checkpoints); only then is it copied into the live database, in one SQLite
    transaction (the backup API: a crash leaves the live database as it was, and connections a
    running server holds see the new content rather than an unlinked file). The old content is
    kept as ``<db>.before-restore``."""
    from django.db import DatabaseError

    live = sqlite_file()
    kept = live.with_name(live.name + ".before-restore")
    candidate = live.with_name(f".{live.name}.{os.getpid()}.restoring")
    previous = _partial(kept)  # a temporary name: FILE may be an earlier .before-restore
    try:
        _sqlite_copy_to_new(source, candidate)
        try:
            with _django_on(candidate):
                apply_migrations()
                ensure_triggers()
                _check_restored(source, checkpoint)
            _check_schema(candidate, source)
        except IvigError as exc:
            exc.message = f"{exc.message}: the database was left as it was"
            exc.args = (exc.message,)
            raise
        except DatabaseError as exc:
            raise InvalidInput(
                f"FILE: {source} cannot be brought up to this version of ivig "
                f"({first_line(exc)}): the database was left as it was"
            ) from None
        had_live = live.exists()
        if had_live:
            _sqlite_copy_to_new(live, previous)
        _sqlite_copy_into(candidate, live)
        if had_live:
            os.replace(previous, kept)
    finally:
        previous.unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{candidate}{suffix}").unlink(missing_ok=True)
    return kept if had_live else None


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
            counts = count_records(cursor)
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
    foreign = foreign_objects(listing, _model_tables())
    if foreign:
        raise InvalidInput(
            f"FILE: {source} holds schema objects ivig's migrations do not make "
            f"({', '.join(foreign[:5])}): the database was left as it was"
        )


def _model_tables() -> set[str]:
    from django.db import connection

    return {*connection.introspection.django_table_names(), "django_migrations"}


# The kinds of object in a pg_restore listing that can run code or hide rows, and tables: a
# backup with any not of ivig's own is refused (issue 17 item 11).
_ENTRY = re.compile(
    r"^\d+; \d+ \d+ (?P<kind>MATERIALIZED VIEW|EVENT TRIGGER|TRIGGER|FUNCTION|PROCEDURE|"
    r"AGGREGATE|VIEW|RULE|POLICY|EXTENSION|TABLE(?! DATA| ATTACH)) (?P<schema>\S+) (?P<rest>.+)$"
)


def foreign_objects(listing: str, tables: set[str]) -> list[str]:
    """The objects of a ``pg_restore --list`` listing that ivig's migrations do not make:
    triggers and functions not of ``ivig.records.triggers``, views, rules, policies, event
    triggers, extensions but PL/pgSQL, tables of no model. (With one database URL a PostgreSQL
    backup cannot be restored into a scratch database first: its listing is checked instead,
    then the restored chain, with the previous content put back if that fails.)"""
    from ivig.records.triggers import NAMES

    found = []
    for line in listing.splitlines():
        match = _ENTRY.match(line.strip())
        if match is None:
            continue
        kind, words = match["kind"], match["rest"].split()
        if kind == "TRIGGER":  # TRIGGER schema table name owner
            name = words[1] if len(words) > 1 else words[0]
            ours = name in NAMES
        elif kind in ("FUNCTION", "PROCEDURE", "AGGREGATE"):
            name = match["rest"].split("(")[0]
            ours = name in NAMES
        elif kind == "TABLE":
            name = words[0]
            ours = name in tables
        else:
            name = words[0]
            ours = kind == "EXTENSION" and name == "plpgsql"
        if not ours:
            found.append(f"{kind.lower()} {name}")
    return found


def _replace_postgres(source: Path, checkpoint: str | None) -> Path | None:
    """pg_restore in one transaction (all or nothing), keeping a dump of the database as it was
    in ``<data dir>/before-restore.dump``; put it back if the restored chain does not verify."""
    from django.conf import settings
    from django.db import connection

    kept = Path(settings.BASE_DIR) / "before-restore.dump"
    had_records = "records_auditevent" in connection.introspection.table_names()
    previous = _partial(kept)
    if had_records:
        _pg_dump_to(previous)
    try:
        _pg_restore(source)
        try:
            apply_migrations()
            ensure_triggers()
            _check_restored(source, checkpoint)
        except BaseException as exc:
            if had_records:
                _pg_restore(previous)
            if isinstance(exc, IvigError):
                undone = "the database was put back as it was" if had_records else "nothing to undo"
                exc.message = f"{exc.message}: {undone}"
                exc.args = (exc.message,)
            raise
    except BaseException:
        previous.unlink(missing_ok=True)
        raise
    if not had_records:
        return None
    os.replace(previous, kept)
    return kept


# --- the audit events of a backup and a restore (requirement 5) ----------------------------------


def _audit(action: str, file: Path, **details: object) -> None:
    """The job's audit event by ``system`` (``ivig.records.services.database``)."""
    from ivig.records.services.database import record_job

    record_job(action, file, operator=operator(), **details)


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
    with open_database():
        from django.db import connection

        require_records()
        # Written first, so the backup holds the event of its own making (a copy of every
        # patient's record is an export: requirements 5, 8).
        _audit("backup", target)
        if connection.vendor == "sqlite":
            _sqlite_copy_to_new(sqlite_file(), target)
            with contextlib.closing(sqlite3.connect(target)) as con:
                counts = count_records(con.cursor())
        else:
            counts = _backup_postgres(target)
        where = database_label()
    size = human_size(target.stat().st_size)
    typer.echo(f"backup of {where} written to {target} ({size}): {describe_counts(counts)}")


def restore(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A backup made by `ivig backup`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace the database without asking.")
    ] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Refuse a backup that lacks an event a checkpoint in FILE saw.",
        ),
    ] = None,
) -> None:
    """Replace the whole database by a backup, after checking the backup, its schema, its audit
    chain (and the checkpoints given) in a new file: a refused backup changes nothing."""
    from ivig.commands.audit import read_checkpoints

    source = file.expanduser().absolute()
    if not source.is_file():
        raise InvalidInput(f"FILE: there is no file {source}")
    points = read_checkpoints(checkpoint) if checkpoint is not None else None
    with open_database():
        from django.db import connection

        sqlite = connection.vendor == "sqlite"
        if sqlite:
            if source.resolve() == sqlite_file().resolve():
                raise InvalidInput(f"FILE: {source} is the database itself")
            found = _check_sqlite_backup(source)
            holds = f" ({describe_counts(found)})"
        else:
            _check_postgres_backup(source)
            holds = ""
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInput(
                    "restoring replaces the whole database: add --yes to confirm", field="yes"
                )
            typer.confirm(
                f"Replace the whole database ({database_label()}) by {source}{holds}?", abort=True
            )
        kept = (_replace_sqlite if sqlite else _replace_postgres)(source, points)
        with connection.cursor() as cursor:
            restored = count_records(cursor)
        # The restored chain (verified) records that it was restored, and what it held.
        _audit("restore", source, counts=restored)
        with connection.cursor() as cursor:
            counts = count_records(cursor)
        where = database_label()
    typer.echo(f"restored {source} into {where}: {describe_counts(counts)}; audit chain ok")
    if kept is not None:
        typer.echo(f"the database as it was before is kept in {kept}")
