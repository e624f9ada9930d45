"""``ivig serve``: migrate, collect static files, then run gunicorn."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from ivig.commands.common import apply_migrations, database_label, open_database
from ivig.errors import Conflict, InvalidInput

# --- ivig serve ----------------------------------------------------------------------------------

# The access log on standard output, without the token of an invitation or set-password link
# (issue 17 item 17: ivig.server.accesslog).
GUNICORN_LOG = (
    "--access-logfile",
    "-",
    "--logger-class",
    "ivig.server.accesslog.AccessLogger",
)


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
    with open_database():
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        _check_port(host, port)
        applied = apply_migrations()
        from ivig.server.schema import schema_state

        state = schema_state()
        if state.unknown:  # a newer ivig upgraded this database (requirement 43)
            raise Conflict(f"refusing to serve: {state.describe()}")
        call_command("collectstatic", interactive=False, verbosity=0)
        where, data_dir = database_label(), settings.BASE_DIR
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
        *GUNICORN_LOG,
        "--no-control-socket",  # gunicorn's default is one shared socket in the home folder
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(argv[0], argv)
