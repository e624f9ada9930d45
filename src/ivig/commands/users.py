"""``ivig user create``, ``ivig user token`` and ``ivig user unlock``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ivig.commands.common import open_database, operator
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
    superuser: Annotated[
        bool,
        typer.Option(
            "--superuser",
            help="Make them a superuser (every permission): only from this command line.",
        ),
    ] = False,
) -> None:
    """Create a user with roles (the first admin, say); asks for the password twice."""
    with open_database(migrate=True):
        from django.contrib.auth.models import User

        from ivig.records.models import Role
        from ivig.records.services.accounts import create_user
        from ivig.records.services.credentials import from_command_line

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
            with from_command_line("ivig user create", operator(), superuser=superuser):
                user = create_user(None, name, password, role, system=True, superuser=superuser)
        except IvigError as exc:
            if exc.field == "roles":
                exc.field = "role"
            raise _argument(exc, "username", "USERNAME") from None
        roles = sorted(user.groups.values_list("name", flat=True))
    typer.echo(
        f"created {'superuser' if superuser else 'user'} {user.username} with roles "
        f"{', '.join(roles)}"
    )


def user_token(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The token's user.")],
    name: Annotated[
        str, typer.Option("--name", help="What machine client uses the token (a label).")
    ],
    days: Annotated[
        int,
        typer.Option("--days", help="Days until the token expires: 1 to 365.", show_default=True),
    ] = 90,
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            help="A role the token carries, one of the user's (repeat for more; default: all "
            "of the user's roles).",
        ),
    ] = None,
) -> None:
    """Make a new API token for a user and print it once (only its hash is kept). It expires
    after --days and acts with the --role(s) given that its user still holds (issue 17)."""
    with open_database(migrate=True):
        from django.contrib.auth.models import User

        from ivig.records.services.accounts import create_token

        user = User.objects.filter(username=username.strip()).first()
        if user is None:
            raise NotFound("user", username)
        if not user.is_active:
            raise Conflict(f"USERNAME: the user {user.username} is disabled")
        try:
            token, raw = create_token(None, user.pk, name, days=days, roles=role, system=True)
        except IvigError as exc:
            if exc.field in ("roles", "days"):
                exc.field = "role" if exc.field == "roles" else "days"
            raise
    typer.echo(raw)
    typer.echo(
        f"API token '{token.name}' ({token.prefix}...) for {user.username}, roles "
        f"{', '.join(token.roles)}, expires {token.expires_at:%Y-%m-%d %H:%M} UTC: shown once; "
        "store it now (ivig keeps only its hash). Send it as 'Authorization: Bearer <token>'.",
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


def user_superuser(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The user.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: a superuser holds every permission.")
    ] = False,
    remove: Annotated[
        bool, typer.Option("--remove", help="Take superuser status back instead.")
    ] = False,
) -> None:
    """Give a user superuser status (every permission), or take it back with --remove: only
    from the server's command line, never the admin site (issue 17). Audited, with the
    operating-system account that ran it."""
    if not yes:
        raise InvalidInput(
            "superuser status is every permission: add --yes to confirm", field="yes"
        )
    with open_database(migrate=True):
        from ivig.records.services.accounts import set_superuser

        try:
            user = set_superuser(username, not remove, operator=operator())
        except IvigError as exc:
            raise _argument(exc, "user_id", "USERNAME") from None
    state = "no longer a superuser" if remove else "a superuser"
    typer.echo(f"{user.username} is {state} (audited)")
