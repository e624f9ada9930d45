"""Secret tokens: the API's bearer tokens and the patients' invitation links.

Only a token's SHA-256 is stored; the raw token is shown once, when it is made. An API token is
``ivig_`` followed by 32 random bytes (URL-safe base64): the prefix makes a leaked token
recognisable in a log or a repository. :func:`presented_token` is the one look-up of a presented
bearer token, for the API's authentication (which tells an expired token apart) and, through
:func:`active_token`, the idempotency middleware.

An API token expires (issue 17 item 17; ASVS 4.0.3 3.3.1): :data:`DEFAULT_DAYS` after it is
made unless told, at most :data:`MAX_DAYS`. It may be limited to some of its user's roles
(``roles``; empty: not limited): it acts with its user's current roles, of those it carries, so
a token whose user loses a role loses it too (requirement 14, least privilege: ASVS 4.0.3
4.1.x).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.db.models import F
from django.utils import timezone

from ivig.errors import InvalidInput
from ivig.records.actors import remember_group_names
from ivig.records.models import ApiToken

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "TOKEN_PREFIX",
    "active_token",
    "expires_at",
    "hash_token",
    "new_token",
    "presented_token",
]

TOKEN_PREFIX = "ivig_"
DEFAULT_DAYS = 90
MAX_DAYS = 365


def hash_token(raw: str) -> str:
    """What is stored of a token or an invitation link: its SHA-256, in hex."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    """A new API token (shown once; store :func:`hash_token` of it)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def expires_at(days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> dt.datetime:
    """When a token made ``now`` for ``days`` expires; ``days`` outside 1 to :data:`MAX_DAYS`
    is refused."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(
            f"a token lasts between 1 and {MAX_DAYS} days (default {DEFAULT_DAYS})", field="days"
        )
    return (now or timezone.now()) + dt.timedelta(days=days)


def presented_token(raw: str) -> ApiToken | None:
    """The API token ``raw`` presents, with its user, when it is not revoked and its user is
    active, expired or not (``token.expires_at``); ``None`` otherwise. The user's roles for the
    request are the token's: its user's roles now, of those the token is limited to."""
    # One query: the token (key_hash is unique), its user and the user's roles, one row per
    # role (a user without a role: one row, no role).
    rows = list(
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True)
        .annotate(role=F("user__groups__name"))
    )
    if not rows or not rows[0].user.is_active:
        return None
    row = rows[0]
    limited = set(row.roles)  # empty: not limited
    remember_group_names(row.user, (r.role for r in rows if not limited or r.role in limited))
    return row


def active_token(raw: str) -> ApiToken | None:
    """The API token ``raw`` presents when it is usable: not revoked, not expired, its user
    active (:func:`presented_token`); ``None`` otherwise."""
    row = presented_token(raw)
    if row is None or row.expires_at <= timezone.now():
        return None
    return row
