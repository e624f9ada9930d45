"""``ivig user create``, ``ivig user token`` and ``ivig audit verify``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ivig.commands.common import open_database, require_records
from ivig.errors import Conflict, InvalidInput, IvigError, NotFound

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
    with open_database(migrate=True):
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
    with open_database(migrate=True):
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


def user_unlock(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The locked-out user.")] = "",
    address: Annotated[
        str, typer.Option(help="Lift the slow-down of this address (IP) instead.")
    ] = "",
) -> None:
    """Lift a sign-in lockout (5 failed sign-ins lock a name for 15 minutes) at once: for when
    the only administrator is locked out; or, with --address, the slow-down of a computer
    (beyond 25 failures from one address). Audited."""
    with open_database(migrate=True):
        from ivig.records.services.accounts import unlock
        from ivig.records.services.signin import unlock_address

        try:
            if address.strip():
                cleared = unlock_address(None, address, system=True)
            else:
                cleared = unlock(None, username, system=True)
        except IvigError as exc:
            raise _argument(exc, "username", "USERNAME") from None
    what = address.strip() or username.strip()
    typer.echo(f"unlocked {what}: {cleared} failed sign-in(s) cleared")


# --- ivig audit verify ---------------------------------------------------------------------------


def audit_verify() -> None:
    """Walk the whole audit chain; exit 1 at the first broken link (edited, missing, swapped)."""
    with open_database():
        from ivig.records.audit import verify_chain

        require_records()
        report = verify_chain()
    if report.ok:
        typer.echo(f"audit chain ok: {report.checked} events")
        return
    typer.echo(f"audit chain BROKEN at event {report.first_bad_seq}: {report.problem}", err=True)
    raise typer.Exit(1)
