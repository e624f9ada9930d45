"""Users, roles and API tokens; every change to who may do what is audited (requirement 6), and
so are sign-in lockouts and their lifting (requirement 21)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ivig.errors import Conflict, InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import ApiToken, Role
from ivig.records.services.access import require
from ivig.records.services.common import get
from ivig.records.tokens import hash_token, new_token

__all__ = [
    "create_token",
    "create_user",
    "record_lockout",
    "revoke_token",
    "set_active",
    "set_roles",
    "unlock",
]

USER_FIELDS = ("username", "first_name", "last_name", "email", "is_active", "is_staff")


def _roles(roles: list[str]) -> list[Group]:
    unknown = sorted(set(roles) - set(Role.values))
    if unknown:
        raise InvalidInput(
            f"unknown role {', '.join(unknown)}; roles: {', '.join(Role.values)}", field="roles"
        )
    if not roles:
        raise InvalidInput("give at least one role", field="roles")
    return [Group.objects.get_or_create(name=name)[0] for name in sorted(set(roles))]


def _not_a_patient(user: User, what: str) -> None:
    """A patient's own account stays a patient's: no staff role, no API token (issue 7)."""
    from ivig.records.models import PatientAccount

    if PatientAccount.objects.filter(user=user).exists():
        raise Conflict(
            f"{user.username} is a patient's own account: it cannot have {what}", field="user_id"
        )


def _snapshot(user: User) -> dict[str, Any]:
    data = audit.snapshot(user, USER_FIELDS)
    data["roles"] = sorted(user.groups.values_list("name", flat=True))
    return data


def create_user(
    actor: Actor | None,
    username: str,
    password: str,
    roles: list[str],
    *,
    first_name: str = "",
    last_name: str = "",
    system: bool = False,
) -> User:
    """Create a user with roles. ``system=True`` is the command line on the server itself
    (``ivig user create``), which needs no signed-in admin."""
    if not system:
        require(actor, "creating users", Role.admin)
    if not username.strip():
        raise InvalidInput("the user name is required", field="username")
    groups = _roles(roles)
    candidate = User(username=username.strip(), first_name=first_name, last_name=last_name)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from None
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username.strip(),
                password=password,
                first_name=first_name,
                last_name=last_name,
                is_staff=Role.admin in roles,
            )
            user.groups.set(groups)
            audit.record(
                actor if not system else None, "create", "user", user.pk, after=_snapshot(user)
            )
    except IntegrityError:
        raise Conflict(f"the user name {username} is taken", field="username") from None
    return user


def set_roles(actor: Actor, user_id: int, roles: list[str]) -> User:
    actor = require(actor, "changing roles", Role.admin)
    groups = _roles(roles)
    with transaction.atomic():
        user = get(User, user_id, "user")
        _not_a_patient(user, "a staff role")
        before = _snapshot(user)
        user.groups.set(groups)
        User.objects.filter(pk=user.pk).update(is_staff=Role.admin in roles)
        user.refresh_from_db()
        audit.record(actor, "set-roles", "user", user.pk, before=before, after=_snapshot(user))
    return user


def set_active(actor: Actor, user_id: int, active: bool) -> User:
    actor = require(actor, "enabling or disabling users", Role.admin)
    with transaction.atomic():
        user = get(User, user_id, "user")
        before = _snapshot(user)
        User.objects.filter(pk=user.pk).update(is_active=active)
        user.refresh_from_db()
        audit.record(
            actor,
            "enable" if active else "disable",
            "user",
            user.pk,
            before=before,
            after=_snapshot(user),
        )
    return user


def create_token(
    actor: Actor | None, user_id: int, name: str, *, system: bool = False
) -> tuple[ApiToken, str]:
    """A new API token for a user; the raw key is returned once and never stored."""
    if not system:
        require(actor, "creating API tokens", Role.admin)
    if not name.strip():
        raise InvalidInput("name the token (what machine client uses it)", field="name")
    raw = new_token()
    with transaction.atomic():
        user = get(User, user_id, "user")
        _not_a_patient(user, "an API token")
        token = ApiToken.objects.create(
            user=user, name=name.strip(), prefix=raw[:10], key_hash=hash_token(raw)
        )
        audit.record(
            actor if not system else None,
            "create",
            "api-token",
            token.pk,
            after={"user_id": user.pk, "name": token.name, "prefix": token.prefix},
        )
    return token, raw


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    actor = require(actor, "revoking API tokens", Role.admin)
    with transaction.atomic():
        token = get(ApiToken, token_id, "API token")
        if token.revoked_at is not None:
            raise Conflict(f"token {token.pk} is revoked already")
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
        token.refresh_from_db()
        audit.record(
            actor,
            "revoke",
            "api-token",
            token.pk,
            after={"user_id": token.user_id, "name": token.name},
        )
    return token


# --- sign-in lockouts (django-axes; requirement 21) ----------------------------------------------


def record_lockout(
    username: str, ip_address: str | None, *, new: bool, by_address: bool = False
) -> None:
    """Audit a sign-in refused by the lockout: ``new`` when this failure locked the name (the
    5th in 15 minutes), else a further attempt while locked; ``by_address`` when the computer
    is locked (``ivig.web.views.signin``). The name tried is kept whether or not such a user
    exists (the audit is for administrators; the page says the same either way)."""
    name = (username or "")[:150]
    action = "refused-address-locked" if by_address else "lockout" if new else "refused-locked"
    with transaction.atomic():
        user = User.objects.filter(username=name).first()
        audit.record(
            None,
            action,
            "sign-in",
            name,
            after={"username": name, "ip_address": ip_address or "",
                   "user_id": user.pk if user else None},
        )  # fmt: skip


def unlock(actor: Actor | None, username: str, *, system: bool = False) -> int:
    """Lift a sign-in lockout before its 15 minutes are up: the failed attempts recorded for
    ``username`` are cleared (audited, with their number); returns that number. ``system``:
    from the server's own command line (``ivig user unlock``), for when no administrator can
    sign in."""
    from axes.models import AccessAttempt
    from axes.utils import reset

    if not system:
        require(actor, "lifting a sign-in lockout", Role.admin)
    name = username.strip()
    if not name:
        raise InvalidInput("name the user whose sign-in to unlock", field="username")
    with transaction.atomic():
        failures = sum(
            AccessAttempt.objects.filter(username=name).values_list(
                "failures_since_start", flat=True
            )
        )
        if not failures:
            raise Conflict(f"no failed sign-in is recorded for {name}: nothing to unlock",
                           field="username")  # fmt: skip
        reset(username=name)
        audit.record(
            actor if not system else None,
            "unlock",
            "sign-in",
            name,
            before={"username": name, "failed_attempts": failures},
            after={"username": name, "failed_attempts": 0},
        )
    return failures
