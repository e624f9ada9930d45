"""Authentication (session cookie with CSRF, or a bearer token) and the role rule of each route.

Every route declares the roles allowed: ``auth=allow(Role.nurse)``. The rule is checked before
the request body is read, so a user without the role gets 403 whatever they send, and an
anonymous client gets 401. The roles also appear in the OpenAPI document (``x-roles``), which
the access-matrix test reads: a route without a rule fails it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth

from ivig.errors import Forbidden
from ivig.records.models import ApiToken, Role
from ivig.records.services.access import roles_of
from ivig.records.tokens import presented_token

__all__ = ["ALL_ROLES", "EVERYONE", "ExpiredToken", "allow", "rule"]

ALL_ROLES = tuple(Role)
LAST_USED_EVERY = dt.timedelta(minutes=1)  # how often a token's last use is written


def _check(request: HttpRequest, user: User, roles: tuple[str, ...]) -> User:
    if not roles_of(user) & set(roles):
        raise Forbidden(f"{request.method} {request.path}", roles)
    request.user = user
    return user


class _Session(SessionAuth):
    def __init__(self, roles: tuple[str, ...]) -> None:
        super().__init__(csrf=True)
        self.roles = roles

    def _get_key(self, request: HttpRequest) -> str | None:
        # No signed-in session (no cookie, or a stale one): not a browser session, so no CSRF
        # check; a bearer token may follow.
        if self.param_name not in request.COOKIES or not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key is None:
            return None
        user = super().authenticate(request, key)
        return _check(request, user, self.roles) if user else None


class ExpiredToken(AuthenticationError):
    """A bearer token past its expiry (issue 17 item 17): 401, saying so (``ivig.api.api``
    answers with :attr:`message`); the token itself is never echoed."""

    def __init__(self, token: ApiToken) -> None:
        when = token.expires_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(
            message=f"this API token ({token.prefix}...) expired on {when}: ask an "
            "administrator for a new one"
        )


class _Token(HttpBearer):
    def __init__(self, roles: tuple[str, ...]) -> None:
        super().__init__()
        self.roles = roles

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        row = presented_token(token)
        if row is None:
            return None
        now = timezone.now()
        if row.expires_at <= now:
            raise ExpiredToken(row)
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
            # at most once a minute: a read stays a read (no write lock, no WAL flush per call)
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        return _check(request, row.user, self.roles)


def allow(*roles: Role | str) -> list[Any]:
    """The auth of a route open to ``roles`` (by session or by token)."""
    names = tuple(str(r) for r in roles)
    return [_Session(names), _Token(names)]


def rule(*roles: Role | str, errors: tuple[int, ...] = ()) -> dict[str, Any]:
    """Keyword arguments for a route open to ``roles``: its auth and its ``x-roles``;
    ``errors``: error statuses it answers beyond those of its method (``x-errors``: a read
    that can meet a record in the wrong state, 409, or a time outside its window, 400)."""
    names = [str(r) for r in roles]
    extra: dict[str, Any] = {"x-roles": names}
    if errors:
        extra["x-errors"] = list(errors)
    return {"auth": allow(*roles), "openapi_extra": extra}


EVERYONE = ALL_ROLES
