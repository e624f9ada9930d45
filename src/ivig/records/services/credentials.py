"""Every credential and privilege change audited, wherever it is made (issue 17 item 3;
requirements 5, 6 and 10; ONC §170.315(d)(2): "changes to user privileges"; ASVS 4.0.3 7.1.x).

Receivers on the model layer see every change saved through Django's models, made on the admin
site, the staff pages, the API, the command line or a shell: a user created or deleted; a
password set (never the hash: the event says "changed"); a user activated or deactivated; the
staff and superuser flags; roles (groups) and permissions granted or taken; an API token made,
changed, revoked or deleted. The services of ``ivig.records.services.accounts`` write their own,
more telling event and silence the receivers for their write (:func:`audited_by_service`): one
event per change.

Who acts: the admin site names its signed-in user (:func:`acting`); the server's command line
names the operating-system account (:func:`from_command_line`); anything else (a shell, a
script) is ``system``, with a reason saying so. Superuser status is given only from the
server's command line (``ivig user superuser NAME --yes``, ``ivig user create --superuser``):
saved anywhere else, it is refused (:class:`ivig.errors.Forbidden`).

Not seen: a queryset ``update()`` or raw SQL bypasses Django's signals; the app's own writes of
that kind (``accounts.set_active``, ``set_roles``, ``revoke_token``) audit themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from ivig.errors import Conflict, Forbidden
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import ApiToken

__all__ = [
    "ADMIN",
    "acting",
    "audited_by_service",
    "connect",
    "from_command_line",
    "keep_an_administrator",
    "lock_administrators",
    "token_snapshot",
]

TRACKED = ("password", "is_active", "is_staff", "is_superuser")
OUTSIDE = "made outside the app's pages, API and commands (a shell or a script)"
SUPERUSER_ONLY = (
    "superuser status is given only from the server's command line "
    "(ivig user superuser USERNAME --yes)"
)

_ACTOR: ContextVar[tuple[User | None, str] | None] = ContextVar("ivig_credential_actor",
                                                                default=None)  # fmt: skip
_SERVICE: ContextVar[bool] = ContextVar("ivig_credential_service", default=False)
_SUPERUSER: ContextVar[bool] = ContextVar("ivig_superuser_allowed", default=False)


@contextlib.contextmanager
def acting(actor: Actor, where: str) -> Iterator[None]:
    """Changes saved inside are audited as ``actor``'s (a signed-in user), ``where`` saying
    how (``"admin site"``)."""
    user = actor if isinstance(actor, User) else None
    token = _ACTOR.set((user, where))
    try:
        yield
    finally:
        _ACTOR.reset(token)


@contextlib.contextmanager
def from_command_line(command: str, operator: str, *, superuser: bool = False) -> Iterator[None]:
    """The server's command line: changes saved inside are audited as ``system`` with the
    command and the operating-system account that ran it; ``superuser``: this command may
    give superuser status (the only place that may)."""
    actor = _ACTOR.set((None, f"{command}, run by {operator} on the server"))
    allowed = _SUPERUSER.set(superuser)
    try:
        yield
    finally:
        _SUPERUSER.reset(allowed)
        _ACTOR.reset(actor)


@contextlib.contextmanager
def audited_by_service() -> Iterator[None]:
    """Inside, the receivers stay silent: the service writes its own event for the change."""
    token = _SERVICE.set(True)
    try:
        yield
    finally:
        _SERVICE.reset(token)


def token_snapshot(token: ApiToken) -> dict[str, Any]:
    """What the audit keeps of a token (never its hash)."""
    return {
        "user_id": token.user_id,
        "name": token.name,
        "prefix": token.prefix,
        "expires_at": audit.snapshot_value(token.expires_at),
        "roles": list(token.roles),
    }


# --- at least one administrator (smallfix item 5) -------------------------------------------------

ADMIN = "admin"  # Role.admin (records.models), the role that manages users


def lock_administrators() -> None:
    """Lock the active administrators' rows for the transaction, so that two administrators
    taking each other's role at once cannot leave none (the second waits, then counts)."""
    ids = User.objects.filter(groups__name=ADMIN, is_active=True).values_list("pk", flat=True)
    list(User.objects.select_for_update().filter(pk__in=list(ids)).values_list("pk", flat=True))


def keep_an_administrator(actor: User | None, user: User, *, disabling: bool) -> None:
    """Refuse, in a signed-in administrator's change (staff pages, API, admin site), an
    administrator removing their own administrator role or disabling themself (another
    administrator must), and a change that leaves no active administrator. Called after the
    change, inside its transaction (the refusal rolls it back). The server's command line
    (``ivig user ...``) is not held to it: it is how a service with none gets one again.
    ``user`` is counted as no longer an active administrator."""
    if actor is not None and actor.pk == user.pk:
        raise Conflict(
            "you cannot disable yourself: ask another administrator"
            if disabling
            else "you cannot remove your own administrator role: ask another administrator",
            field="active" if disabling else "roles",
        )
    others = User.objects.filter(groups__name=ADMIN, is_active=True).exclude(pk=user.pk)
    if not others.exists():
        raise Conflict(
            f"{user.username} is the last active administrator: make another administrator first",
            field="active" if disabling else "roles",
        )


def _signed_in_actor() -> User | None:
    """The signed-in user a change is made by on the admin site (:func:`acting`), else
    ``None`` (the command line, a shell: not held to :func:`keep_an_administrator`)."""
    found = _ACTOR.get()
    return found[0] if found is not None else None


def _who() -> tuple[User | None, str]:
    return _ACTOR.get() or (None, OUTSIDE)


def _record(action: str, entity: str, entity_id: object, **data: Any) -> None:
    user, where = _who()
    with transaction.atomic():  # inside the write's transaction when there is one
        audit.record(user, action, entity, entity_id, reason=where, **data)


# --- users: created, password, active, staff and superuser flags ---------------------------------


def _refuse_superuser() -> None:
    refused = Forbidden("making a superuser", ("the server's command line",))
    refused.message = SUPERUSER_ONLY
    refused.args = (refused.message,)
    raise refused


def _user_before_save(sender: Any, instance: User, raw: bool = False,
                      update_fields: Any = None, **kwargs: Any) -> None:  # fmt: skip
    """Remember the stored credentials and flags; refuse superuser status outside the
    command line."""
    if raw:
        return
    fields = [f for f in TRACKED if update_fields is None or f in update_fields]
    stored = None
    if instance.pk is not None and fields:
        stored = User.objects.filter(pk=instance.pk).values(*TRACKED).first()
    was_superuser = bool(stored and stored["is_superuser"])
    becomes = instance.is_superuser and not was_superuser and "is_superuser" in fields
    if becomes and not _SUPERUSER.get():
        _refuse_superuser()
    actor = _signed_in_actor()
    disables = bool(stored and stored["is_active"]) and not instance.is_active
    if actor is not None and disables and "is_active" in fields and not _SERVICE.get():
        lock_administrators()
        if instance.groups.filter(name=ADMIN).exists():
            keep_an_administrator(actor, instance, disabling=True)
    # only the fields this save writes are compared (``update_fields``)
    instance.__dict__["_ivig_stored"] = {f: stored[f] for f in fields} if stored else None


def _user_after_save(sender: Any, instance: User, created: bool, raw: bool = False,
                     **kwargs: Any) -> None:  # fmt: skip
    stored = instance.__dict__.pop("_ivig_stored", None)
    if raw or _SERVICE.get():
        return
    name = instance.username
    if created:
        _record("create", "user", instance.pk, after={
            "username": name, "is_active": instance.is_active, "is_staff": instance.is_staff,
            "is_superuser": instance.is_superuser,
            "password": "set" if instance.has_usable_password() else "none",
        })  # fmt: skip
        return
    if stored is None:
        return
    if "password" in stored and stored["password"] != instance.password:
        given = getattr(instance, "_password", None) is not None  # set_password() was called
        _record("set-password", "user", instance.pk, after={
            "username": name,
            "password": "changed" if given else "hash replaced without a new password (a "
            "hasher upgrade at sign-in, or a hash written directly)",
        })  # fmt: skip
    if "is_active" in stored and stored["is_active"] != instance.is_active:
        _record("enable" if instance.is_active else "disable", "user", instance.pk,
                before={"username": name, "is_active": stored["is_active"]},
                after={"username": name, "is_active": instance.is_active})  # fmt: skip
    flags = [f for f in ("is_staff", "is_superuser") if f in stored]
    if any(stored[f] != getattr(instance, f) for f in flags):
        _record("set-privileges", "user", instance.pk,
                before={"username": name, **{f: stored[f] for f in flags}},
                after={"username": name, **{f: getattr(instance, f) for f in flags}})  # fmt: skip


def _user_deleted(sender: Any, instance: User, **kwargs: Any) -> None:
    _record("delete", "user", instance.pk, before={"username": instance.username})


# --- roles and permissions -----------------------------------------------------------------------


def _names(user_ids: list[int], relation: str) -> dict[int, list[str]]:
    """Each user's roles (``groups``) or permissions (``user_permissions``), by name."""
    out: dict[int, list[str]] = {pk: [] for pk in user_ids}
    if relation == "groups":
        for pk, name in User.groups.through.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "group__name"
        ):
            out[pk].append(name)
    else:
        for pk, app, code in User.user_permissions.through.objects.filter(
            user_id__in=user_ids
        ).values_list("user_id", "permission__content_type__app_label", "permission__codename"):
            out[pk].append(f"{app}.{code}")
    return {pk: sorted(labels) for pk, labels in out.items()}


def _members(instance: Any, reverse: bool, pk_set: set[int] | None, relation: str) -> list[int]:
    if not reverse:
        return [instance.pk]
    if pk_set is not None:
        return sorted(pk_set)
    through = User.groups.through if relation == "groups" else User.user_permissions.through
    column = "group_id" if relation == "groups" else "permission_id"
    return sorted(through.objects.filter(**{column: instance.pk}).values_list("user_id", flat=True))


def _relation_changed(relation: str, action_name: str) -> Any:
    """The receiver of ``m2m_changed`` on ``User.<relation>`` (either side): one event per user
    whose roles or permissions changed, with before and after."""

    def receiver(sender: Any, instance: Any, action: str, reverse: bool,
                 pk_set: set[int] | None, **kwargs: Any) -> None:  # fmt: skip
        if _SERVICE.get():
            return
        key = f"_ivig_{relation}_before"
        if action in ("pre_add", "pre_remove", "pre_clear"):
            ids = _members(instance, reverse, pk_set, relation)
            if relation == "groups" and action != "pre_add" and _signed_in_actor() is not None:
                lock_administrators()
            instance.__dict__[key] = _names(ids, relation)
        elif action in ("post_add", "post_remove", "post_clear"):
            before: dict[int, list[str]] = instance.__dict__.pop(key, {})
            after = _names(list(before), relation)
            names = dict(User.objects.filter(pk__in=list(before)).values_list("pk", "username"))
            actor = _signed_in_actor()
            if relation == "groups" and actor is not None:
                for pk, labels in before.items():
                    if ADMIN in labels and ADMIN not in after[pk]:
                        keep_an_administrator(actor, User.objects.get(pk=pk), disabling=False)
            for pk, labels in before.items():
                if after[pk] != labels:
                    _record(action_name, "user", pk,
                            before={"username": names.get(pk, ""), relation: labels},
                            after={"username": names.get(pk, ""), relation: after[pk]})  # fmt: skip

    return receiver


# --- API tokens ----------------------------------------------------------------------------------

TOKEN_FIELDS = ("user_id", "name", "expires_at", "roles", "revoked_at")


def _token_before_save(sender: Any, instance: ApiToken, raw: bool = False, **kwargs: Any) -> None:
    stored = None
    if not raw and instance.pk is not None:
        stored = ApiToken.objects.filter(pk=instance.pk).values(*TOKEN_FIELDS).first()
    instance.__dict__["_ivig_stored"] = stored


def _token_after_save(sender: Any, instance: ApiToken, created: bool, raw: bool = False,
                      **kwargs: Any) -> None:  # fmt: skip
    stored = instance.__dict__.pop("_ivig_stored", None)
    if raw or _SERVICE.get():
        return
    if created:
        _record("create", "api-token", instance.pk, after=token_snapshot(instance))
        return
    if stored is None:
        return
    if stored["revoked_at"] is None and instance.revoked_at is not None:
        _record("revoke", "api-token", instance.pk,
                after={"user_id": instance.user_id, "name": instance.name})  # fmt: skip
    changed = [f for f in TOKEN_FIELDS if f != "revoked_at"
               and stored[f] != getattr(instance, f)]  # fmt: skip
    if changed:
        _record("update", "api-token", instance.pk,
                before={f: stored[f] for f in changed},
                after={f: getattr(instance, f) for f in changed})  # fmt: skip


def _token_deleted(sender: Any, instance: ApiToken, **kwargs: Any) -> None:
    _record("delete", "api-token", instance.pk, before=token_snapshot(instance))


def connect() -> None:
    """Connect the receivers (``RecordsConfig.ready``)."""
    uid = "ivig-credentials-"
    pre_save.connect(_user_before_save, sender=User, dispatch_uid=uid + "user-pre")
    post_save.connect(_user_after_save, sender=User, dispatch_uid=uid + "user-post")
    post_delete.connect(_user_deleted, sender=User, dispatch_uid=uid + "user-delete")
    m2m_changed.connect(_relation_changed("groups", "set-roles"), sender=User.groups.through,
                        dispatch_uid=uid + "groups", weak=False)  # fmt: skip
    m2m_changed.connect(_relation_changed("user_permissions", "set-permissions"),
                        sender=User.user_permissions.through, dispatch_uid=uid + "permissions",
                        weak=False)  # fmt: skip
    pre_save.connect(_token_before_save, sender=ApiToken, dispatch_uid=uid + "token-pre")
    post_save.connect(_token_after_save, sender=ApiToken, dispatch_uid=uid + "token-post")
    post_delete.connect(_token_deleted, sender=ApiToken, dispatch_uid=uid + "token-delete")
