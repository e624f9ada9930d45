"""The idle sign-out's clock (requirement 24; issue 16 item 2): the time of the user's last
request is kept in their session under ``LAST_SEEN``; ``ivig.server.middleware.IdleSignOut``
signs them out once ``IDLE_MINUTES`` have passed since, and the pages warn before (the
``idle_attributes`` tag, static/web/idle.js) from what :func:`remaining` says."""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest

__all__ = ["LAST_SEEN", "WARN_SECONDS", "idle_minutes", "idle_seconds", "remaining", "warn_seconds"]

LAST_SEEN = "ivig_last_seen"  # the session key: seconds since the epoch of the last request
WARN_SECONDS = 120  # the countdown shows in the last 2 minutes


def idle_seconds() -> float:
    """The idle limit, in seconds (``IDLE_MINUTES``, a setting: ``IVIG_IDLE_MINUTES``)."""
    return float(settings.IDLE_MINUTES) * 60


def idle_minutes() -> str:
    """The idle limit in minutes as the pages write it (``20``; ``0.2`` in a test)."""
    return f"{float(settings.IDLE_MINUTES):g}"


def warn_seconds() -> int:
    """When the countdown shows: the last 2 minutes, or the last half of a shorter limit."""
    return int(min(WARN_SECONDS, idle_seconds() / 2))


def remaining(request: HttpRequest) -> float:
    """Seconds left before the signed-in user of ``request`` is signed out for being idle."""
    last = float(request.session.get(LAST_SEEN, time.time()))
    return max(0.0, idle_seconds() - (time.time() - last))
