"""Who acts: the user every records service takes first (``actor``) and names in the audit.

An :data:`Actor` is a request's ``request.user``: Django's ``User`` when someone is signed in
(by session or API token), else ``AnonymousUser``, whom the role check every service makes
first (``ivig.records.services.access.require``) refuses. The few services the server's own
command line calls without a signed-in user (``ivig user create``, ``ivig user unlock``,
``ivig export-fhir``: ``system=True`` or ``channel="cli"``) take ``Actor | None``; ``None`` is
audited as ``system``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from django.contrib.auth.models import AnonymousUser, User

__all__ = ["Actor", "group_names", "remember_group_names"]

Actor: TypeAlias = User | AnonymousUser
"""The acting user: signed in (``User``) or not (``AnonymousUser``, refused by the role check)."""


_ROLES = "_ivig_roles"


def group_names(user: User) -> frozenset[str]:
    """The user's roles, its groups' names: read from the database once per user object (a
    request's user: its role check and its audit events share the one read)."""
    cached: frozenset[str] | None = getattr(user, _ROLES, None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        setattr(user, _ROLES, cached)
    return cached


def remember_group_names(user: User, names: Iterable[str | None]) -> None:
    """The user's roles as read with the user (a token's look-up joins them to its one query):
    :func:`group_names` answers from them for the rest of the request, without a query."""
    setattr(user, _ROLES, frozenset(name for name in names if name))
