"""Secret tokens: the API's bearer tokens and the patients' invitation links.

Only a token's SHA-256 is stored; the raw token is shown once, when it is made. An API token is
``ivig_`` followed by 32 random bytes (URL-safe base64): the prefix makes a leaked token
recognisable in a log or a repository. :func:`active_token` is the one look-up of a presented
bearer token, for the API's authentication and the idempotency middleware alike.
"""

from __future__ import annotations

import hashlib
import secrets

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
    """The API token ``raw`` presents, with its user, when it is not revoked and its user is
    active; ``None`` otherwise."""
    # key_hash is unique: at most one row, so no ORDER BY (``first()``'s) to build and run
    found = ApiToken.objects.select_related("user").filter(
        key_hash=hash_token(raw), revoked_at__isnull=True
    )[:1]
    row = next(iter(found), None)
    if row is None or not row.user.is_active:
        return None
    return row
