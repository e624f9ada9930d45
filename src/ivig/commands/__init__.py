"""The database commands of ``ivig`` (serve, user, demo, audit, backup, restore).

They set Django up only when run, so that ``ivig plan``, ``products`` and ``risks`` never
import it: every Django import is inside a command (through :func:`django`).

    ivig serve              migrate, collect static files, then exec gunicorn
    ivig user create NAME   a user with roles (the first admin); password prompted or on stdin
    ivig user token NAME    a new API token, printed once
    ivig audit verify       walk the audit chain; exit 1 at the first broken link
    ivig audit checkpoint   a signed checkpoint of the audit trail, printed and appended to a file
    ivig backup FILE        a consistent copy while the server runs (SQLite backup API, pg_dump)
    ivig restore FILE       replace the database, after checking the file and its audit chain
    ivig demo               demo users and three fictional LEMS patients with their history
    ivig remind             e-mail tomorrow's booked patients their reminder (once each)
    ivig print / export / import    documents and exchange (the modules that define
                            ``add_commands(app, export, load)``: see :func:`register`)

Errors are :class:`ivig.errors.IvigError` subclasses, so that ``ivig.cli.main`` prints one line
``Error: ...`` and exits 1. Errors about a positional argument name it in the message
(``FILE: ...``, ``USERNAME: ...``). Anything else a command raises reaches ``ivig.cli.main``
too (nothing here catches it to print it): one line ``Error: internal error in <command>: ...``,
exit code 2, the traceback in the data folder's ``errors.log``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import typer

from ivig.commands.audit import audit_checkpoint, audit_verify
from ivig.commands.backup import backup, restore
from ivig.commands.demo import demo
from ivig.commands.serve import serve
from ivig.commands.users import user_create, user_superuser, user_token, user_unlock

__all__ = ["register"]


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
    users.command("unlock", epilog="Example: ivig user unlock alice")(user_unlock)
    users.command("superuser", epilog="Example: ivig user superuser alice --yes")(user_superuser)
    app.add_typer(users, name="user")

    audit = typer.Typer(help="Check the audit trail.", epilog="Example: ivig audit verify", **plain)
    audit.command("verify", epilog="Example: ivig audit verify")(audit_verify)
    audit.command("checkpoint", epilog="Example: ivig audit checkpoint | logger -t ivig-audit")(
        audit_checkpoint
    )
    app.add_typer(audit, name="audit")

    app.command(epilog="Example: ivig backup /srv/backups/ivig-2026-12-01.backup")(backup)
    app.command(epilog="Example: ivig restore /srv/backups/ivig-2026-12-01.backup --yes")(restore)
    app.command(epilog="Example: ivig demo")(demo)

    export = typer.Typer(
        help="Export a patient's records: calendar, FHIR, CSV.",
        epilog="Example: ivig export ics MRN0001",
        **plain,
    )
    load = typer.Typer(
        help="Import records from files.", epilog="Example: ivig import patients p.csv", **plain
    )
    # Documents and exchange: each module of this package with ``add_commands`` adds its own
    # commands (so that they never import Django until run).
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        add = getattr(module, "add_commands", None)
        if add is not None:
            add(app, export, load)
    if export.registered_commands:
        app.add_typer(export, name="export")
    if load.registered_commands:
        app.add_typer(load, name="import")
