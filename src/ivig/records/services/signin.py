"""Signing in, re-authentication and sessions: what the sign-in lockout counts, what the audit
trail keeps of it, and the end of a disabled user's sessions (issue 17 items 2, 5, 13, 17).

- Re-authentication (an override's password, requirement 26, ASVS 4.0.3 V3.7.1) goes through
  the sign-in's own lockout: :func:`reauthenticate` refuses a locked name before any hashing,
  hashes a dummy for an unknown name (Django's ``ModelBackend``, requirement 20), and
  :func:`reauthentication_refused` counts the failure against the name (django-axes, the 5
  failures of requirement 21) and audits it, after the refused write has been rolled back.
- Refusals by nobody signed in (failed sign-ins, sign-ins refused while a name is locked or an
  address slowed down, 401 answers) are counted per address in windows of the cool-off (15
  minutes, ``SignInRefusals``): one audit event per address per window, with the counts, when
  the window is over (requirement 17 without one event per guess: a guessing program must not
  fill the trail). :func:`report_refusals` writes the windows that are over; every sign-in
  attempt calls it.
- An address with ``ADDRESS_FAILURE_LIMIT`` failures in the cool-off is slowed down, never
  locked (requirement 21: a ward computer or a proxy is many users): :func:`address_wait` is
  the growing delay before a name that has failed may be tried again from there.
- Disabling a user ends their sessions (:func:`end_sessions`, on every save of a user that
  turns ``is_active`` off: the staff page, the admin site, the command line).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone

from ivig.errors import InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor

__all__ = [
    "ADDRESS_FAILURE_LIMIT",
    "NOT_ACCEPTED",
    "OWN_NOT_ACCEPTED",
    "SIGNED_IN",
    "ReauthenticationRefused",
    "address_failures",
    "address_wait",
    "end_sessions",
    "end_sessions_when_disabled",
    "name_failures",
    "name_locked",
    "reauthenticate",
    "reauthentication_refused",
    "session_expired",
    "session_started",
]

ADDRESS_FAILURE_LIMIT = 25  # failed sign-ins from one address within the cool-off (15 minutes)
MAX_WAIT = 15 * 60  # the longest delay for an address slowed down, in seconds
NOT_ACCEPTED = "the signature was not accepted: check the user name and the password"
OWN_NOT_ACCEPTED = "your password was not accepted: enter it again to sign the override"
REAUTH_AGENT = "ivig re-authentication"  # the "user agent" of re-authentication failures


class ReauthenticationRefused(InvalidInput):
    """A refused re-authentication: one message whatever the reason (requirement 20); the
    reason and the name tried are for the audit (:func:`reauthentication_refused`)."""

    def __init__(self, username: str, reason: str, *, own: bool = False) -> None:
        super().__init__(OWN_NOT_ACCEPTED if own else NOT_ACCEPTED, field="password")
        self.username = username
        self.reason = reason


def _since() -> dt.datetime:
    cooloff: dt.timedelta = settings.AXES_COOLOFF_TIME
    return timezone.now() - cooloff


def name_failures(username: str) -> int:
    """Failed sign-ins (and re-authentications) of ``username`` within the cool-off, from any
    address."""
    from axes.models import AccessAttempt

    recent = AccessAttempt.objects.filter(username=username, attempt_time__gte=_since())
    total: int | None = recent.aggregate(n=Sum("failures_since_start"))["n"]
    return total or 0


def name_locked(username: str) -> bool:
    """The name is locked (django-axes: ``AXES_FAILURE_LIMIT`` failures in the cool-off)."""
    return name_failures(username) >= settings.AXES_FAILURE_LIMIT


def address_failures(address: str | None) -> int:
    """Failed sign-ins from ``address`` (any user name) within the cool-off."""
    from axes.models import AccessAttempt

    if not address:
        return 0
    recent = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=_since())
    total: int | None = recent.aggregate(n=Sum("failures_since_start"))["n"]
    return total or 0


def address_wait(address: str | None) -> int:
    """Seconds before a name that has failed may be tried again from ``address``: 0 below
    ``ADDRESS_FAILURE_LIMIT`` failures in the cool-off, then 2, 4, 8... seconds after the last
    failure (at most 15 minutes)."""
    from axes.models import AccessAttempt

    failures = address_failures(address)
    if failures < ADDRESS_FAILURE_LIMIT:
        return 0
    last = AccessAttempt.objects.filter(ip_address=address).aggregate(t=Max("attempt_time"))["t"]
    delay = min(MAX_WAIT, 2 ** min(failures - ADDRESS_FAILURE_LIMIT + 1, 20))
    if last is None:
        return 0
    left = delay - (timezone.now() - last).total_seconds()
    return max(0, int(left + 0.999))


# --- re-authentication (item 2) -------------------------------------------------------------------


def reauthenticate(username: str, password: str, *, own: bool = False) -> User:
    """The active user ``username`` whose password is ``password``, as signing in would accept
    them: a locked name is refused before its password is hashed, an unknown or disabled one
    costs the same hashing as a wrong password. Read only (it runs inside the write's
    transaction): a refusal raises :class:`ReauthenticationRefused`, which the caller's
    ``hard_stops`` records after the rollback."""
    if name_locked(username):
        raise ReauthenticationRefused(username, "locked", own=own)
    user = ModelBackend().authenticate(None, username=username, password=password)
    if not isinstance(user, User):
        raise ReauthenticationRefused(username, "wrong user name or password", own=own)
    return user


def _synthetic_request(actor: Actor | None) -> HttpRequest:
    """A request for django-axes' failure handler (it counts per request), naming no address:
    the failure counts against the name only."""
    request = HttpRequest()
    request.META = {"HTTP_USER_AGENT": REAUTH_AGENT, "PATH_INFO": "/re-authentication/"}
    request.path = request.path_info = "/re-authentication/"
    if actor is not None:
        request.user = actor
    return request


def reauthentication_refused(actor: Actor | None, refusal: ReauthenticationRefused) -> None:
    """Count a refused re-authentication against the name tried, as a failed sign-in (the 5th
    locks it, requirement 21), and audit it naming who entered it (requirement 17); in a
    transaction of its own, after the refused write was rolled back."""
    from axes.handlers.proxy import AxesProxyHandler

    name = refusal.username[:150]
    with transaction.atomic():
        AxesProxyHandler.user_login_failed(
            "ivig.records.services.signin",
            {"username": name},
            _synthetic_request(actor),
        )
        user = User.objects.filter(username=name).first()
        audit.record(
            actor,
            "reauth-refused",
            "sign-in",
            name,
            after={"username": name, "user_id": user.pk if user else None,
                   "why": refusal.reason},
        )  # fmt: skip


# --- sessions (items 4 and 17) -------------------------------------------------------------------

SIGNED_IN = "ivig_signed_in"  # the session key: seconds since the epoch of the sign-in


def session_age() -> float:
    """The absolute limit of a session, in seconds (``SESSION_COOKIE_AGE``: 12 hours)."""
    return float(settings.SESSION_COOKIE_AGE)


def session_started(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """At every sign-in (Django's ``user_logged_in``): keep the time in the session, and make
    the stored session and its cookie end 12 hours later, however busy the user (requirement
    24, ASVS 4.0.3 V3.3.2: an absolute limit, not one that slides with each request)."""
    session = getattr(request, "session", None)
    if session is None:
        return
    started = timezone.now()
    session[SIGNED_IN] = started.timestamp()
    session.set_expiry(started + dt.timedelta(seconds=session_age()))


def session_expired(started: object) -> bool:
    """The session signed in at ``started`` (its ``SIGNED_IN``) is past the absolute limit; a
    session without the time (made before it was kept) is past it too."""
    try:
        begun = float(str(started))
    except ValueError:
        return True
    return timezone.now().timestamp() - begun >= session_age()


def end_sessions_when_disabled(sender: Any, instance: User, **kwargs: Any) -> None:
    """``pre_save`` of a user: when the save turns ``is_active`` off (the staff page, the admin
    site, the command line), end their sessions; re-enabling them later revives none."""
    if instance.pk is None or instance.is_active:
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and "is_active" not in update_fields:
        return
    was_active = User.objects.filter(pk=instance.pk, is_active=True).exists()
    if was_active:
        end_sessions(instance.pk)


def end_sessions(user_id: int) -> int:
    """Delete every stored session of the user (they are signed out everywhere); returns how
    many. Run when a user is disabled, so re-enabling them revives none (ASVS 4.0.3 V3.3.1)."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        data: dict[str, Any] = session.get_decoded()
        if str(data.get("_auth_user_id", "")) == str(user_id):
            session.delete()
            ended += 1
    return ended
