"""Roles and the permission check every service calls first (requirement 15)."""

from __future__ import annotations

from django.contrib.auth.models import User

from ivig.errors import Forbidden
from ivig.records.actors import Actor, group_names
from ivig.records.models import Patient, Role

__all__ = ["has_role", "patient_of", "require", "roles_of"]


def roles_of(user: Actor | None) -> frozenset[str]:
    """The user's roles (group names); none for an anonymous or inactive user."""
    if not isinstance(user, User) or not user.is_active:
        return frozenset()
    return group_names(user)


def has_role(user: Actor | None, *roles: Role | str) -> bool:
    return bool(roles_of(user) & {str(r) for r in roles})


def require(user: Actor | None, action: str, *roles: Role | str) -> User:
    """Raise :class:`Forbidden` unless the user holds one of ``roles``; the user, signed in (a
    service writes it as who did it: ``actor = require(actor, ...)``)."""
    if not isinstance(user, User) or not has_role(user, *roles):
        raise Forbidden(action, tuple(str(r) for r in roles))
    return user


def patient_of(user: Actor | None) -> Patient | None:
    """The patient whose own account ``user`` is (issue 7), or ``None`` for staff and anyone
    else. A user holding a staff role is never treated as a patient."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if roles_of(user):
        return None
    from ivig.records.models import PatientAccount

    account = PatientAccount.objects.select_related("patient").filter(user=user).first()
    return account.patient if account is not None else None
