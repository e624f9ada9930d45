"""Session limits, the same for pages and API calls (issue 17 item 4, requirement 24; ASVS
4.0.3 V3.3.2): 20 minutes without a request, and 12 hours after signing in whatever the
activity; and a disabled user's sessions end (issue 17 item 17; ASVS V3.3.1).

The clock travels with time-machine from the suite's moment (tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from ivig.records.services import accounts

PASSWORD = "infusion-chair-42-Xq"  # tests/conftest.py


@contextmanager
def _at(moment: dt.datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False):
        yield


def _signed_in(role: str = "nurse") -> Client:
    client = Client()
    assert client.post("/signin/", {"username": role, "password": PASSWORD}).status_code == 302
    return client


def _api_ok(client: Client) -> bool:
    response = client.get("/api/me")
    assert response.status_code in (200, 401), response.content
    if response.status_code == 401:
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "unauthenticated"
    return response.status_code == 200


def _page_ok(client: Client) -> bool:
    response = client.get("/patients/")
    if response.status_code == 302:
        assert response["Location"].startswith("/signin/")
    return response.status_code == 200


def test_api_calls_with_a_session_are_signed_out_after_20_idle_minutes(
    users: dict[str, Any], now: dt.datetime
) -> None:
    client = _signed_in()
    with _at(now + dt.timedelta(minutes=19)):
        assert _api_ok(client)  # an API call is activity, as a page is
    with _at(now + dt.timedelta(minutes=38)):
        assert _api_ok(client)
    with _at(now + dt.timedelta(minutes=59)):
        assert not _api_ok(client)  # 21 minutes without a request
        assert not _page_ok(client)  # and the session is over for the pages too


def test_a_page_after_idle_api_minutes_measures_the_same(
    users: dict[str, Any], now: dt.datetime
) -> None:
    """API activity keeps the pages signed in, and the other way round."""
    client = _signed_in()
    with _at(now + dt.timedelta(minutes=15)):
        assert _api_ok(client)
    with _at(now + dt.timedelta(minutes=30)):
        assert _page_ok(client)
    with _at(now + dt.timedelta(minutes=45)):
        assert _api_ok(client)
    with _at(now + dt.timedelta(minutes=60)):
        assert _page_ok(client)  # 30 minutes after the last page, 15 after the API call
    with _at(now + dt.timedelta(minutes=81)):
        assert not _api_ok(client)
        assert not _page_ok(client)


def test_twelve_hours_after_signing_in_the_session_ends_however_busy(
    users: dict[str, Any], now: dt.datetime
) -> None:
    """The 12 hours do not slide with each request: the stored session ends 12 hours after
    the sign-in, and a request every 15 minutes does not keep it."""
    client = _signed_in()
    key = client.cookies["sessionid"].value
    end = Session.objects.get(session_key=key).expire_date
    assert abs((end - (now + dt.timedelta(hours=12))).total_seconds()) < 5
    minutes = 15
    while minutes < 12 * 60:
        with _at(now + dt.timedelta(minutes=minutes)):
            assert _page_ok(client) if minutes % 30 else _api_ok(client), minutes
        minutes += 15
    assert Session.objects.get(session_key=key).expire_date == end  # never moved
    with _at(now + dt.timedelta(hours=12, minutes=1)):
        assert not _api_ok(client)
        assert not _page_ok(client)


def test_the_twelve_hours_hold_for_the_api_without_the_stored_expiry(
    users: dict[str, Any], now: dt.datetime
) -> None:
    """The sign-in time kept in the session ends it too (a session whose stored expiry was
    pushed on, by an older version or by hand)."""
    client = _signed_in()
    key = client.cookies["sessionid"].value
    later = timezone.now() + dt.timedelta(days=2)
    minutes = 5
    while minutes <= 12 * 60 + 5:
        Session.objects.filter(session_key=key).update(expire_date=later)
        with _at(now + dt.timedelta(minutes=minutes)):
            signed_in = _api_ok(client)
        assert signed_in == (minutes < 12 * 60), minutes
        minutes += 15


def test_stay_signed_in_keeps_its_meaning(users: dict[str, Any], now: dt.datetime) -> None:
    """``/signin/stay/`` (the idle warning's button) is activity: the idle clock starts again,
    not the 12 hours."""
    client = _signed_in()
    with _at(now + dt.timedelta(minutes=19)):
        assert client.post("/signin/stay/").json()["remaining"] == 1200.0
    with _at(now + dt.timedelta(minutes=38)):
        assert _api_ok(client)


# --- a disabled user's sessions (issue 17 item 17) ----------------------------------------------


def test_disabling_a_user_ends_their_sessions_and_enabling_revives_none(
    users: dict[str, Any],
) -> None:
    """Disabled by the service (the staff page, the API), then enabled again: the old cookie
    signs nobody in, on the pages or the API."""
    browser, other = _signed_in(), _signed_in()
    assert _page_ok(browser)
    assert _api_ok(other)
    accounts.set_active(users["admin"], users["nurse"].pk, False)
    accounts.set_active(users["admin"], users["nurse"].pk, True)
    assert not _page_ok(browser)
    assert not _api_ok(other)
    assert _page_ok(_signed_in())  # signing in again works


def test_disabling_through_a_save_ends_the_sessions_too(
    users: dict[str, Any], client_for: Callable[[str | None], Client]
) -> None:
    """The admin site and the command line save the user: the sessions end as well; the
    sessions of others stay."""
    nurse, pharmacist = _signed_in(), _signed_in("pharmacist")
    user = users["nurse"]
    user.is_active = False
    user.save()
    user.is_active = True
    user.save()
    assert not _page_ok(nurse)
    assert _page_ok(pharmacist)


def test_a_session_from_before_the_sign_in_time_was_kept_gets_12_hours_from_now(
    users: dict[str, Any], now: dt.datetime
) -> None:
    """A session signed in by an older version (no sign-in time in it) is not cut short, and
    ends 12 hours after its first request here."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    nurse = users["nurse"]
    store[SESSION_KEY] = str(nurse.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = nurse.get_session_auth_hash()
    store.create()
    client = Client()
    client.cookies["sessionid"] = store.session_key or ""
    assert _api_ok(client)
    for minutes in range(15, 12 * 60, 15):
        with _at(now + dt.timedelta(minutes=minutes)):
            assert _page_ok(client), minutes
    with _at(now + dt.timedelta(hours=12, minutes=5)):
        assert not _page_ok(client)
