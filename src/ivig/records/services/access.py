"""Roles and the permission check every service calls first (requirement 15)."""

from __future__ import annotations

from typing import Any

from ivig.errors import Forbidden
from ivig.records.models import Role

__all__ = ["has_role", "patient_of", "require", "roles_of"]


def roles_of(user: Any) -> frozenset[str]:
    """The user's roles (group names); none for an anonymous or inactive user."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_ivig_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._ivig_roles = cached
    return cached


def has_role(user: Any, *roles: Role | str) -> bool:
    return bool(roles_of(user) & {str(r) for r in roles})


def require(user: Any, action: str, *roles: Role | str) -> None:
    """Raise :class:`Forbidden` unless the user holds one of ``roles``."""
    if not has_role(user, *roles):
        raise Forbidden(action, tuple(str(r) for r in roles))


def patient_of(user: Any) -> Any:
    """The patient whose own account ``user`` is (issue 7), or ``None`` for staff and anyone
    else. A user holding a staff role is never treated as a patient."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if roles_of(user):
        return None
    from ivig.records.models import PatientAccount

    account = PatientAccount.objects.select_related("patient").filter(user=user).first()
    return account.patient if account is not None else None
