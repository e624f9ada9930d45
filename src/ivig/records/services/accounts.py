"""Users, roles and API tokens; every change to who may do what is audited (requirement 6), and
so are sign-in lockouts and their lifting (requirement 21).

Every credential change leaves an audit event too (OWASP ASVS 4.0.3 V7.2.2, V2.5): a password
set by an administrator, a set-password link made for a new or locked-out member of staff
(Django's stateless password-reset token: it works once, until the password changes or
``PASSWORD_RESET_TIMEOUT`` passes), and the password set through such a link. The password
itself is never in the audit trail. The soft-limit override (``records.override_soft_limit``,
held by the prescriber role) can be granted to, or taken from, one member of staff (issue 16,
item 19).

Each service here writes its own event and silences the model-layer receivers of
``ivig.records.services.credentials`` for its write (one event per change); those audit the
same changes made anywhere else (issue 17 item 3). API tokens expire and may be limited to
some of their user's roles (issue 17 item 17, ``ivig.records.tokens``); superuser status is
given only from the server's command line (:func:`set_superuser`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.models import Group, Permission, User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, InvalidInput, NotFound
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import ApiToken, Role
from ivig.records.services import credentials, signin
from ivig.records.services.access import require
from ivig.records.services.common import get
from ivig.records.tokens import DEFAULT_DAYS, expires_at, hash_token, new_token

__all__ = [
    "OVERRIDE",
    "create_token",
    "create_user",
    "invite_user",
    "override_by_role",
    "override_granted",
    "password_link",
    "record_lockout",
    "revoke_token",
    "set_active",
    "set_override",
    "set_password",
    "set_password_from_link",
    "set_roles",
    "set_superuser",
    "unlock",
]

OVERRIDE = ("records", "override_soft_limit")  # app label, codename (records.models.LimitEvent)

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


def _check_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from None


def create_user(
    actor: Actor | None,
    username: str,
    password: str | None,
    roles: list[str],
    *,
    first_name: str = "",
    last_name: str = "",
    system: bool = False,
    superuser: bool = False,
) -> User:
    """Create a user with roles. ``system=True`` is the command line on the server itself
    (``ivig user create``), which needs no signed-in admin; only it may make a ``superuser``
    (inside ``credentials.from_command_line``: issue 17 item 3). ``password=None``: no password
    yet (the user sets one through a link: :func:`invite_user`)."""
    if not system:
        require(actor, "creating users", Role.admin)
        if superuser:
            raise Forbidden("making a superuser", ("the server's command line",))
    if not username.strip():
        raise InvalidInput("the user name is required", field="username")
    groups = _roles(roles)
    candidate = User(username=username.strip(), first_name=first_name, last_name=last_name)
    if password is not None:
        _check_password(password, candidate)
    try:
        with transaction.atomic(), credentials.audited_by_service():
            user = User.objects.create_user(
                username=username.strip(),
                password=password,
                first_name=first_name,
                last_name=last_name,
                is_staff=Role.admin in roles,
                is_superuser=superuser,
            )
            user.groups.set(groups)
            after = _snapshot(user) | ({"is_superuser": True} if superuser else {})
            audit.record(actor if not system else None, "create", "user", user.pk, after=after)
    except IntegrityError:
        raise Conflict(f"the user name {username} is taken", field="username") from None
    return user


def invite_user(
    actor: Actor,
    username: str,
    roles: list[str],
    *,
    first_name: str = "",
    last_name: str = "",
) -> tuple[User, str]:
    """Create a user without a password, and the link token with which they set their own
    (:func:`password_link`); both audited, in one transaction."""
    with transaction.atomic():
        user = create_user(actor, username, None, roles, first_name=first_name, last_name=last_name)
        token = password_link(actor, user.pk)
    return user, token


def password_link(actor: Actor, user_id: int) -> str:
    """The token of a one-time link with which a member of staff sets their password (a new
    user, or one who forgot it): Django's password-reset token, which stops working once the
    password changes, the user signs in, or ``PASSWORD_RESET_TIMEOUT`` passes. Audited; the
    token is not kept."""
    actor = require(actor, "making a set-password link", Role.admin)
    with transaction.atomic():
        user = get(User, user_id, "user")
        _not_a_patient(user, "a staff set-password link (patients are invited from their page)")
        if not user.is_active:
            raise Conflict(f"{user.username} is deactivated: reactivate them first")
        token = default_token_generator.make_token(user)
        audit.record(actor, "password-link", "user", user.pk, after={"username": user.username})
    return token


def set_password_from_link(user_id: int, token: str, password: str) -> User:
    """The member of staff sets their own password through a link (:func:`password_link`);
    audited as their own act. An expired or used link is refused."""
    with transaction.atomic(), credentials.audited_by_service():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None or not default_token_generator.check_token(user, token):
            raise Conflict(
                "this link has expired or has been used: ask an administrator for a new one"
            )
        _check_password(password, user)
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(
            user, "set-password", "user", user.pk, after={"username": user.username},
            reason="through a set-password link",
        )  # fmt: skip
    return user


def set_password(actor: Actor, user_id: int, password: str) -> User:
    """An administrator sets a member of staff's password (to tell them in person); audited,
    the password itself is not."""
    actor = require(actor, "setting passwords", Role.admin)
    with transaction.atomic(), credentials.audited_by_service():
        user = get(User, user_id, "user")
        _not_a_patient(user, "a password set by the service (patients set their own)")
        _check_password(password, user)
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(
            actor, "set-password", "user", user.pk, after={"username": user.username},
            reason="set by an administrator",
        )  # fmt: skip
    return user


def _override_permission() -> Permission:
    app_label, codename = OVERRIDE
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def override_granted(user: User) -> bool:
    """The user holds the override permission themselves (granted to them, not by a role)."""
    app_label, codename = OVERRIDE
    return user.user_permissions.filter(
        content_type__app_label=app_label, codename=codename
    ).exists()


def override_by_role(user: User) -> list[str]:
    """The user's roles that carry the override permission (the prescriber's)."""
    app_label, codename = OVERRIDE
    return sorted(
        user.groups.filter(
            permissions__content_type__app_label=app_label, permissions__codename=codename
        ).values_list("name", flat=True)
    )


def set_override(actor: Actor, user_id: int, allowed: bool) -> User:
    """Grant the soft-limit override to one member of staff (e.g. a senior nurse), or take it
    back; a role that carries it (the prescriber's) is changed with the roles instead."""
    actor = require(actor, "granting the override", Role.admin)
    with transaction.atomic(), credentials.audited_by_service():
        user = get(User, user_id, "user")
        _not_a_patient(user, "the override")
        held = override_granted(user)
        if held == allowed:
            raise Conflict(
                f"{user.username} {'holds' if held else 'does not hold'} the override already"
            )
        if allowed:
            user.user_permissions.add(_override_permission())
        else:
            user.user_permissions.remove(_override_permission())
        audit.record(
            actor,
            "grant-override" if allowed else "revoke-override",
            "user",
            user.pk,
            before={"username": user.username, "override": held},
            after={"username": user.username, "override": allowed,
                   "by_role": override_by_role(user)},
        )  # fmt: skip
    return user


def set_roles(actor: Actor, user_id: int, roles: list[str]) -> User:
    """Give a user their roles (audited). An administrator cannot take their own administrator
    role, nor the last active administrator's (``credentials.keep_an_administrator``)."""
    actor = require(actor, "changing roles", Role.admin)
    groups = _roles(roles)
    with transaction.atomic(), credentials.audited_by_service():
        credentials.lock_administrators()
        user = get(User, user_id, "user")
        _not_a_patient(user, "a staff role")
        before = _snapshot(user)
        user.groups.set(groups)
        User.objects.filter(pk=user.pk).update(is_staff=Role.admin in roles)
        user.refresh_from_db()
        if Role.admin in before["roles"] and Role.admin not in roles:
            credentials.keep_an_administrator(actor, user, disabling=False)
        audit.record(actor, "set-roles", "user", user.pk, before=before, after=_snapshot(user))
    return user


def set_active(actor: Actor, user_id: int, active: bool) -> User:
    """Enable or disable a user (audited; disabling ends their sessions). An administrator
    cannot disable themself, nor the last active administrator."""
    actor = require(actor, "enabling or disabling users", Role.admin)
    with transaction.atomic(), credentials.audited_by_service():
        credentials.lock_administrators()
        user = get(User, user_id, "user")
        before = _snapshot(user)
        User.objects.filter(pk=user.pk).update(is_active=active)
        if before["is_active"] and not active and Role.admin in before["roles"]:
            credentials.keep_an_administrator(actor, user, disabling=True)
        if not active:  # their sessions end; enabling them again revives none (issue 17)
            signin.end_sessions(user.pk)
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


def _token_roles(user: User, roles: list[str] | None) -> list[str]:
    """The roles a new token is limited to (issue 17 item 17): those given, each one its
    user's; none given: not limited (``[]``, every role its user holds at each use)."""
    if not roles:
        return []
    unknown = sorted(set(roles) - set(Role.values))
    if unknown:
        raise InvalidInput(
            f"unknown role {', '.join(unknown)}; roles: {', '.join(Role.values)}", field="roles"
        )
    lacking = sorted(set(roles) - set(user.groups.values_list("name", flat=True)))
    if lacking:
        raise InvalidInput(
            f"{user.username} does not hold the role {', '.join(lacking)}: a token carries only "
            "roles of its user",
            field="roles",
        )
    return sorted(set(roles))


def create_token(
    actor: Actor | None,
    user_id: int,
    name: str,
    *,
    days: int = DEFAULT_DAYS,
    roles: list[str] | None = None,
    system: bool = False,
) -> tuple[ApiToken, str]:
    """A new API token for a user; the raw key is returned once and never stored. It expires
    after ``days`` (1 to 365, default 90) and may be limited to ``roles`` (some of the user's):
    it acts with those its user still holds (issue 17 item 17). Audited."""
    if not system:
        require(actor, "creating API tokens", Role.admin)
    if not name.strip():
        raise InvalidInput("name the token (what machine client uses it)", field="name")
    expiry = expires_at(days)
    raw = new_token()
    with transaction.atomic(), credentials.audited_by_service():
        user = get(User, user_id, "user")
        _not_a_patient(user, "an API token")
        token = ApiToken.objects.create(
            user=user,
            name=name.strip(),
            prefix=raw[:10],
            key_hash=hash_token(raw),
            expires_at=expiry,
            roles=_token_roles(user, roles),
        )
        audit.record(
            actor if not system else None,
            "create",
            "api-token",
            token.pk,
            after=credentials.token_snapshot(token),
        )
    return token, raw


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    actor = require(actor, "revoking API tokens", Role.admin)
    with transaction.atomic(), credentials.audited_by_service():
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


def set_superuser(username: str, superuser: bool, *, operator: str) -> User:
    """Give or take superuser status: only from the server's command line (``ivig user
    superuser``; issue 17 item 3), audited (``set-privileges``) with the operating-system
    account that ran it, ``operator``."""
    with (
        transaction.atomic(),
        credentials.from_command_line("ivig user superuser", operator, superuser=True),
    ):
        user = User.objects.select_for_update().filter(username=username.strip()).first()
        if user is None:
            raise NotFound("user", username.strip())
        _not_a_patient(user, "superuser status")
        if user.is_superuser == superuser:
            raise Conflict(f"{user.username} {'is' if superuser else 'is not'} a superuser already")
        user.is_superuser = superuser
        user.save(update_fields=["is_superuser"])
    return user


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
    if not system:
        require(actor, "lifting a sign-in lockout", Role.admin)
    name = username.strip()
    if not name:
        raise InvalidInput("name the user whose sign-in to unlock", field="username")
    nothing = Conflict(f"no failed sign-in is recorded for {name}: nothing to unlock",
                       field="username")  # fmt: skip
    return signin.lift_failures(
        actor if not system else None,
        {"username": name},
        action="unlock",
        entity="sign-in",
        nothing=nothing,
    )
