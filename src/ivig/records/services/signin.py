"""Signing in, re-authentication and sessions: what the sign-in lockout counts, what the audit
trail keeps of it, and the end of a disabled user's sessions (issue 17 items 2, 5, 13, 17).

- Re-authentication (an override's password, requirement 26, ASVS 4.0.3 V3.7.1) goes through
  the sign-in's own lockout: :func:`reauthenticate` refuses a locked name before any hashing,
  hashes a dummy for an unknown name (Django's ``ModelBackend``, requirement 20), and
  :func:`reauthentication_refused` counts the failure against the name (django-axes, the 5
  failures of requirement 21) and audits it, after the refused write has been rolled back.
- Refusals by nobody signed in (failed sign-ins, sign-ins refused while a name is locked or an
  address slowed down, 401 answers) are counted per address in windows of the cool-off (15
  minutes, ``records.models.RefusalWindow``): one audit event per address per window, with the
  counts, once the window is over (requirement 17 without one event per guess: a guessing
  program must not fill the trail). :func:`report_refusals` writes the windows that are over;
  every sign-in and every refusal counted calls it first.
- An address with ``ADDRESS_FAILURE_LIMIT`` failures in the cool-off is slowed down, never
  locked (requirement 21: a ward computer or a proxy is many users): :func:`address_wait` is
  the growing delay before a name that has failed may be tried again from there.
- Disabling a user ends their sessions (:func:`end_sessions`, on every save of a user that
  turns ``is_active`` off: the staff page, the admin site, the command line).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone

from ivig.errors import Conflict, InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor

__all__ = [
    "ACCESS_ACTIONS",
    "ADDRESS_FAILURE_LIMIT",
    "NOT_ACCEPTED",
    "OWN_NOT_ACCEPTED",
    "SIGNED_IN",
    "Refusal",
    "address_failures",
    "address_wait",
    "end_sessions",
    "end_sessions_when_disabled",
    "lift_failures",
    "name_failures",
    "name_locked",
    "not_accepted",
    "note_refusal",
    "reauthenticate",
    "reauthentication_refused",
    "refusal_of",
    "refused",
    "report_refusals",
    "session_expired",
    "session_started",
    "sign_in_failed",
    "signed_in",
    "signed_out",
    "start_clock",
    "unlock_address",
]

ACCESS_ACTIONS = ("sign-in", "sign-out", "refused")  # the access log's own audit events
ADDRESS_FAILURE_LIMIT = 25  # failed sign-ins from one address within the cool-off (15 minutes)
MAX_WAIT = 15 * 60  # the longest delay for an address slowed down, in seconds
NOT_ACCEPTED = "the signature was not accepted: check the user name and the password"
OWN_NOT_ACCEPTED = "your password was not accepted: enter it again to sign the override"
REAUTH_AGENT = "ivig re-authentication"  # the "user agent" of re-authentication failures


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a re-authentication was refused, and the name tried: for the audit only."""

    username: str
    reason: str


_REFUSAL = "_ivig_reauthentication_refused"  # the attribute of the error that carries it


def not_accepted(username: str, reason: str, *, own: bool = False) -> InvalidInput:
    """A refused re-authentication: one message whatever the reason (requirement 20); the
    reason and the name tried ride along for the audit (:func:`refusal_of`)."""
    error = InvalidInput(OWN_NOT_ACCEPTED if own else NOT_ACCEPTED, field="password")
    setattr(error, _REFUSAL, Refusal(username, reason))
    return error


def refusal_of(error: BaseException) -> Refusal | None:
    """The refused re-authentication ``error`` stands for (:func:`not_accepted`), if any."""
    found = getattr(error, _REFUSAL, None)
    return found if isinstance(found, Refusal) else None


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


# --- refusals by nobody signed in, per address and window (items 5 and 13) ----------------------

MAX_NAMES = 20  # user names kept per window (a guessing program tries thousands)


def report_refusals() -> int:
    """Write one audit event for each address whose window of refusals is over (requirement
    17): the address, when, the counts by kind and the first names tried; returns how many."""
    from ivig.records.models import RefusalWindow

    reported = 0
    with transaction.atomic():
        ended = RefusalWindow.objects.select_for_update().filter(
            reported=False, started_at__lte=_since()
        )
        for window in ended.order_by("started_at", "pk"):
            cooloff: dt.timedelta = settings.AXES_COOLOFF_TIME
            audit.record(
                None,
                "sign-in-refusals",
                "sign-in-address",
                window.address,
                after={
                    "ip_address": window.address,
                    "from": window.started_at.isoformat(),
                    "to": (window.started_at + cooloff).isoformat(),
                    "refused": window.refused,
                    "names": window.names,
                },
            )
            RefusalWindow.objects.filter(pk=window.pk).update(reported=True)
            reported += 1
    return reported


def note_refusal(address: str | None, kind: str, username: str = "") -> None:
    """Count one refusal of nobody signed in (``kind``: failed, locked, slowed,
    unauthenticated, forbidden) in the current window of ``address``; report the windows that
    are over first."""
    from ivig.records.models import RefusalWindow

    report_refusals()
    where = (address or "unknown")[:64]
    with transaction.atomic():
        window = (
            RefusalWindow.objects.select_for_update()
            .filter(address=where, reported=False, started_at__gt=_since())
            .order_by("-started_at")
            .first()
        )
        if window is None:
            window = RefusalWindow(address=where, started_at=timezone.now(), refused={}, names=[])
        window.refused = {**window.refused, kind: int(window.refused.get(kind, 0)) + 1}
        name = username[:150]
        if name and name not in window.names and len(window.names) < MAX_NAMES:
            window.names = [*window.names, name]
        window.save()


def unlock_address(actor: Actor | None, address: str, *, system: bool = False) -> int:
    """Lift the slow-down of an address at once: its failed sign-ins are cleared (audited, with
    their number); returns that number. ``system``: the server's command line."""
    from ivig.records.models import Role
    from ivig.records.services.access import require

    if not system:
        require(actor, "lifting a sign-in slow-down", Role.admin)
    where = address.strip()
    if not where:
        raise InvalidInput("name the address to unlock", field="address")
    nothing = Conflict(
        f"no failed sign-in is recorded from {where}: nothing to unlock", field="address"
    )
    return lift_failures(
        actor if not system else None,
        {"ip_address": where},
        action="unlock-address",
        entity="sign-in-address",
        nothing=nothing,
        recent=True,
    )


def lift_failures(
    actor: Actor | None,
    axes_filter: dict[str, str],
    *,
    action: str,
    entity: str,
    nothing: Conflict,
    recent: bool = False,
) -> int:
    """Clear the failed sign-ins django-axes recorded under ``axes_filter`` (one column of its
    ``AccessAttempt``: ``{"username": name}`` or ``{"ip_address": address}``), in one
    transaction: their number (``recent``: within the cool-off only), ``nothing`` raised when
    there is none, the attempts reset, and the lift audited as ``action`` on ``entity`` with the
    number before and 0 after; returns the number. Used by :func:`unlock_address` and
    ``accounts.unlock``."""
    from axes.models import AccessAttempt
    from axes.utils import reset

    ((column, value),) = axes_filter.items()
    with transaction.atomic():
        attempts = AccessAttempt.objects.filter(**axes_filter)
        if recent:
            attempts = attempts.filter(attempt_time__gte=_since())
        failures: int = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
        if not failures:
            raise nothing
        reset(**{"ip" if column == "ip_address" else column: value})
        audit.record(
            actor,
            action,
            entity,
            value,
            before={**axes_filter, "failed_attempts": failures},
            after={**axes_filter, "failed_attempts": 0},
        )
    return failures


# --- sign-in, sign-out and refusals of the signed in (item 13) ------------------------------------


def _address(request: HttpRequest | None) -> str:
    from axes.helpers import get_client_ip_address

    if request is None or not getattr(request, "META", None):
        return ""
    return get_client_ip_address(request) or ""


def signed_in(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """Django's ``user_logged_in``: audit the sign-in (requirement 17); report the refusal
    windows that are over."""
    report_refusals()
    with transaction.atomic():
        audit.record(user, "sign-in", "session", user.get_username(),
                     after={"ip_address": _address(request)})  # fmt: skip


SIGN_OUT_WHY = "ivig_sign_out_why"  # a request attribute: why the middleware signs out


def signed_out(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    """Django's ``user_logged_out``: audit the sign-out, and why (the user, being idle, the 12
    hours; requirement 17)."""
    if user is None:
        return
    why = getattr(request, SIGN_OUT_WHY, "signed out")
    with transaction.atomic():
        audit.record(user, "sign-out", "session", user.get_username(),
                     after={"ip_address": _address(request), "why": why})  # fmt: skip


def sign_in_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None,
                   **kwargs: Any) -> None:  # fmt: skip
    """Django's ``user_login_failed``: counted in the address's window (``locked`` when
    django-axes refused a locked name), not one event per guess."""
    if request is None:
        return
    failures = getattr(request, "axes_failures_since_start", None) or 0
    locked_before = getattr(request, "axes_locked_out", False) and (
        failures > settings.AXES_FAILURE_LIMIT  # not the failure that locked it
    )
    kind = "locked" if locked_before else "failed"
    note_refusal(_address(request), kind, str(credentials.get("username") or ""))


def refused(request: HttpRequest, status: int) -> None:
    """A 401 or 403 answer (requirement 17): a signed-in user's is one event naming them, the
    method and the path (no patient data beyond the path's ids); nobody's is counted in the
    address's window."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        with transaction.atomic():
            audit.record(user, "refused", "access", request.path[:200],
                         after={"method": request.method, "path": request.path[:200],
                                "status": status})  # fmt: skip
        return
    note_refusal(_address(request), "unauthenticated" if status == 401 else "forbidden")


# --- re-authentication (item 2) -------------------------------------------------------------------


def reauthenticate(username: str, password: str, *, own: bool = False) -> User:
    """The active user ``username`` whose password is ``password``, as signing in would accept
    them: a locked name is refused before its password is hashed, an unknown or disabled one
    costs the same hashing as a wrong password. Read only (it runs inside the write's
    transaction): a refusal raises :func:`not_accepted`, which the caller's ``hard_stops``
    records after the rollback."""
    if name_locked(username):
        raise not_accepted(username, "locked", own=own)
    user = ModelBackend().authenticate(None, username=username, password=password)
    if not isinstance(user, User):
        raise not_accepted(username, "wrong user name or password", own=own)
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


def reauthentication_refused(actor: Actor | None, refusal: Refusal) -> None:
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
    if session is not None:
        start_clock(session)


def start_clock(session: Any) -> None:
    """Start the session's 12 hours now: the time kept under ``SIGNED_IN``, and the stored
    session and its cookie set to end then (not 12 hours after each request)."""
    started = timezone.now()
    session[SIGNED_IN] = started.timestamp()
    session.set_expiry(started + dt.timedelta(seconds=session_age()))


def session_expired(session: Any) -> bool:
    """The session is past its absolute limit, 12 hours after its ``SIGNED_IN`` time. A
    session signed in before the time was kept (an older version) gets its 12 hours from now
    (:func:`start_clock`)."""
    started = session.get(SIGNED_IN)
    if started is None:
        start_clock(session)
        return False
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
    keys = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get(SESSION_KEY, "")) == str(user_id)
    ]
    Session.objects.filter(session_key__in=keys).delete()  # sessions, not records
    return len(keys)
