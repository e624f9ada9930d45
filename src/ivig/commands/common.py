"""What the database commands share: Django set up on demand, the database, counts (their
errors, ``DatabaseProblem`` and ``ToolFailed``, are in ``ivig.errors``)."""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ivig.errors import DatabaseProblem, InvalidInput

# --- Django, on demand ---------------------------------------------------------------------------


def setup_django() -> None:
    """Set Django up with ivig's settings (from the environment); a bad setting is a
    :class:`ivig.errors.ConfigError` naming the variable."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivig.server.settings")
    import django
    from django.apps import apps

    if apps.ready:
        return
    django.setup()


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def database_label() -> str:
    """The database in words (never its password)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite {s['NAME']}"
    return f"PostgreSQL {s['NAME']} on {s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}"


def pending_migrations() -> int:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def apply_migrations() -> int:
    """Apply the migrations not yet applied; return how many there were."""
    pending = pending_migrations()
    if pending:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
    return pending


@contextlib.contextmanager
def open_database(*, migrate: bool = False) -> Iterator[None]:
    """Django set up (and the schema brought up to date when ``migrate``); a database that
    cannot be reached is one error line, not a traceback."""
    setup_django()
    from django.db import OperationalError

    try:
        if migrate:
            apply_migrations()
        yield
    except OperationalError as exc:
        raise DatabaseProblem(
            f"the database ({database_label()}) cannot be used: {first_line(exc)}"
        ) from None


def ensure_triggers() -> None:
    """Make the audit table's append-only triggers again (a restored file may lack them)."""
    from django.db import connection, transaction

    from ivig.records import triggers

    with transaction.atomic(), connection.cursor() as cursor:
        for sql in triggers.statements(connection.vendor, drop=True):
            cursor.execute(sql)
        for sql in triggers.statements(connection.vendor):
            cursor.execute(sql)


def sqlite_file() -> Path:
    from django.db import connection

    return Path(connection.settings_dict["NAME"])


def require_records() -> None:
    """Refuse when there is no ivig database yet (without creating an empty SQLite file)."""
    from django.db import connection

    missing = DatabaseProblem(
        f"there is no ivig database yet ({database_label()}): "
        "`ivig user create` or `ivig serve` makes it"
    )
    if connection.vendor == "sqlite" and not sqlite_file().exists():
        raise missing
    if "records_auditevent" not in connection.introspection.table_names():
        raise missing


# --- counts --------------------------------------------------------------------------------------

COUNTED = (
    ("patient", "records_patient"),
    ("course", "records_course"),
    ("order", "records_order"),
    ("audit event", "records_auditevent"),
)


def count_records(cursor: Any) -> dict[str, int]:
    """Rows of the main tables, through a DB-API cursor (Django's or sqlite3's)."""
    out: dict[str, int] = {}
    for label, table in COUNTED:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
        out[label] = int(cursor.fetchone()[0])
    return out


def describe_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {label}{'' if n == 1 else 's'}" for label, n in counts.items())


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def find_patient(key: str) -> Any:
    """The patient by MRN (exactly, then ignoring case), else by record id; NotFound."""
    from ivig.errors import NotFound
    from ivig.records.models import Patient

    found = (
        Patient.objects.filter(mrn=key).first() or Patient.objects.filter(mrn__iexact=key).first()
    )
    if found is None and key.isdigit():
        found = Patient.objects.filter(pk=int(key)).first()
    if found is None:
        raise NotFound("patient", key)
    return found


def patient_argument(key: str) -> Any:
    """The patient a MRN_OR_ID argument names (:func:`find_patient`); an empty one is refused."""
    key = key.strip()
    if not key:
        raise InvalidInput("MRN_OR_ID: give the patient's MRN or id")
    return find_patient(key)


def write_file(out: Path, data: bytes) -> None:
    """Write an export to ``--out``; a file that cannot be written is the option's error."""
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror}", field="out") from None


def operator() -> str:
    """Who ran the command on the server (the operating-system account), for audit events."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "unknown"
