"""Secret tokens: the API's bearer tokens and the patients' invitation links.

Only a token's SHA-256 is stored; the raw token is shown once, when it is made. An API token is
``ivig_`` followed by 32 random bytes (URL-safe base64): the prefix makes a leaked token
recognisable in a log or a repository. :func:`active_token` is the one look-up of a presented
bearer token, for the API's authentication and the idempotency middleware alike.
"""

from __future__ import annotations

import hashlib
import secrets

from django.db.models import F

from ivig.records.actors import remember_group_names
from ivig.records.models import ApiToken

__all__ = ["TOKEN_PREFIX", "active_token", "hash_token", "new_token"]

TOKEN_PREFIX = "ivig_"


def hash_token(raw: str) -> str:
    """What is stored of a token or an invitation link: its SHA-256, in hex."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    """A new API token (shown once; store :func:`hash_token` of it)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def active_token(raw: str) -> ApiToken | None:
    """The API token ``raw`` presents, with its user (and the user's roles), when it is not
    revoked and its user is active; ``None`` otherwise."""
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
    remember_group_names(row.user, (r.role for r in rows))
    return row
