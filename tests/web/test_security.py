"""Security of signing in (issue 8): lockout, no user enumeration, session expiry. Issue 17:
tests/web/test_signin_sessions.py, tests/web/test_signin_refusals.py.

Who may open which page, CSRF refusal on every form and the security headers on every page are
tested in tests/web/test_page_access.py (generated from the URL patterns); the API's matrix,
tokens and CSRF in tests/api/test_access.py and tests/api/test_tokens_and_sessions.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.utils import timezone

from ivig.records.models import AuditEvent

PASSWORD = "infusion-chair-42-Xq"  # the users fixture's password (tests/conftest.py)


def _sign_in(client: Client, username: str, password: str) -> Any:
    return client.post("/signin/", {"username": username, "password": password})


def _signed_in(client: Client) -> bool:
    return client.get("/patients/").status_code == 200


# --- lockout ------------------------------------------------------------------------------------


def test_five_failures_lock_the_user_name_even_with_the_right_password(
    users: dict[str, Any],
) -> None:
    """django-axes: after 5 failed sign-ins for one user name, the right password is refused
    too (429, the lock page) until the cool-off; a success before that resets the count."""
    client = Client()
    for _ in range(4):
        assert _sign_in(client, "nurse", "wrong-password").status_code == 200
    assert _sign_in(client, "nurse", PASSWORD).status_code == 302  # 4 failures: not locked
    client.post("/signout/")
    for _ in range(5):
        _sign_in(client, "nurse", "wrong-password")
    locked = _sign_in(client, "nurse", PASSWORD)
    assert locked.status_code == 429
    assert b"Signing in is locked" in locked.content
    assert not _signed_in(client)
    # another user, at this computer or another, is not locked out by the nurse's failures
    assert _sign_in(Client(), "prescriber", PASSWORD).status_code == 302
    assert _sign_in(Client(REMOTE_ADDR="10.0.0.9"), "pharmacist", PASSWORD).status_code == 302


def test_a_lockout_is_audited_and_refusals_while_locked_are_counted(
    users: dict[str, Any],
) -> None:
    """Requirement 21: the failure that locks a name leaves an audit event (the name tried,
    the address), for a real user or not; the sign-ins refused while it is locked are counted
    in the address's window, reported once (issue 17 item 13: tests/web/test_signin_refusals.py;
    a computer is slowed down, never locked, item 5: there too)."""
    from ivig.records.models import RefusalWindow

    cases = (("nurse", users["nurse"].pk, "10.1.2.3"), ("no-such-user", None, "10.1.2.4"))
    for name, user_id, address in cases:  # two computers: each address has its own count too
        client = Client(REMOTE_ADDR=address)
        for _ in range(5):
            _sign_in(client, name, "wrong-password")
        assert _sign_in(client, name, PASSWORD).status_code == 429
        events = list(AuditEvent.objects.filter(entity="sign-in", entity_id=name).order_by("seq"))
        assert [e.action for e in events] == ["lockout"], name
        assert events[0].after == {"username": name, "ip_address": address, "user_id": user_id}
        assert events[0].actor == "system"
        window = RefusalWindow.objects.get(address=address)
        assert window.refused == {"failed": 5, "locked": 1}


def test_an_administrator_lifts_a_lockout(
    users: dict[str, Any], client_for: Callable[[str | None], Client]
) -> None:
    """Before the 15 minutes are up, an administrator can unlock the name (audited); another
    role cannot; a name with no failures has nothing to unlock (409)."""
    client = Client()
    for _ in range(5):
        _sign_in(client, "nurse", "wrong-password")
    assert _sign_in(client, "nurse", PASSWORD).status_code == 429
    url = f"/api/users/{users['nurse'].pk}/unlock"
    assert client_for("prescriber").post(url).status_code == 403
    response = client_for("admin").post(url)
    assert response.status_code == 200, response.content
    # the 5 failures and the refused sign-in while locked
    assert response.json() == {"username": "nurse", "failed_attempts_cleared": 6}
    event = AuditEvent.objects.filter(action="unlock").get()
    assert (event.actor, event.entity_id) == ("admin", "nurse")
    assert _sign_in(client, "nurse", PASSWORD).status_code == 302
    again = client_for("admin").post(url)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "username"


def test_the_lock_ends_after_the_cool_off(users: dict[str, Any]) -> None:
    from axes.models import AccessAttempt

    client = Client()
    for _ in range(5):
        _sign_in(client, "nurse", "wrong-password")
    assert _sign_in(client, "nurse", PASSWORD).status_code == 429
    # 16 minutes later (the cool-off is 15)
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert _sign_in(client, "nurse", PASSWORD).status_code == 302
    assert _signed_in(client)


# --- no user enumeration ------------------------------------------------------------------------


def _page_text(response: Any) -> str:
    """The page without what differs between any two requests (the CSRF tokens)."""
    text = response.content.decode()
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", text)


def test_an_unknown_user_name_reads_as_a_wrong_password(users: dict[str, Any]) -> None:
    """The same status and the same page for a user name that does not exist and for a wrong
    password; the lock works the same way for both (so it tells nothing either)."""
    wrong_password = _sign_in(Client(), "nurse", "wrong-password")
    unknown_user = _sign_in(Client(), "no-such-user", "wrong-password")
    assert wrong_password.status_code == unknown_user.status_code == 200
    assert _page_text(wrong_password).replace("nurse", "X") == _page_text(unknown_user).replace(
        "no-such-user", "X"
    )
    for name in ("nurse", "no-such-user"):
        client = Client()
        for _ in range(5):
            _sign_in(client, name, "wrong-password")
        assert _sign_in(client, name, "wrong-password").status_code == 429


class CountingHasher(MD5PasswordHasher):
    """A fast hasher that counts its work: a sign-in must cost one hash whether or not the user
    exists, or the time it takes would tell which names exist."""

    algorithm = "counting-md5"
    calls: ClassVar[list[str]] = []
    _verifying = False

    def encode(self, password: str, salt: str) -> str:
        if not self._verifying:  # MD5's verify encodes too: count that once
            self.calls.append("encode")
        return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        self.calls.append("verify")
        self._verifying = True
        try:
            return super().verify(password, encoded)
        finally:
            self._verifying = False


@pytest.fixture
def counting_hasher(users: dict[str, Any]) -> Iterator[list[str]]:
    with override_settings(PASSWORD_HASHERS=[f"{__name__}.CountingHasher"]):
        users["nurse"].set_password(PASSWORD)
        users["nurse"].save()
        CountingHasher.calls.clear()
        yield CountingHasher.calls


def test_an_unknown_user_name_costs_the_same_hashing(counting_hasher: list[str]) -> None:
    _sign_in(Client(), "nurse", "wrong-password")
    assert len(counting_hasher) == 1  # the stored hash checked
    counting_hasher.clear()
    _sign_in(Client(), "no-such-user", "wrong-password")
    assert len(counting_hasher) == 1  # a hash made all the same (Django's ModelBackend)


# --- CSRF at sign-in ---


def test_the_sign_in_form_needs_the_csrf_token(users: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    assert _sign_in(client, "nurse", PASSWORD).status_code == 403
    assert not _signed_in(client)
    page = client.get("/signin/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert token
    response = client.post(
        "/signin/",
        {"username": "nurse", "password": PASSWORD, "csrfmiddlewaretoken": token.group(1).decode()},
    )
    assert response.status_code == 302
    assert _signed_in(client)


# --- sessions -----------------------------------------------------------------------------------


def test_a_session_lasts_twelve_hours_at_most(users: dict[str, Any]) -> None:
    """The session cookie and the stored session end 12 hours after sign-in, however busy the
    user; the idle sign-out (20 minutes by default) is tested in tests/web/test_pages.py."""
    client = Client()
    response = _sign_in(client, "nurse", PASSWORD)
    cookie = response.cookies["sessionid"]
    assert 12 * 60 * 60 - 2 <= cookie["max-age"] <= 12 * 60 * 60  # from the sign-in (issue 17)
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert _signed_in(client)
    session = Session.objects.get(session_key=cookie.value)
    assert session.expire_date <= timezone.now() + dt.timedelta(hours=12)
    # the 12 hours are up
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - dt.timedelta(1))
    response = client.get("/patients/")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_signing_in_gives_a_new_session_key(users: dict[str, Any]) -> None:
    """No session fixation: the key before sign-in is not the key after."""
    client = Client()
    client.get("/signin/")
    client.session.save()
    before = client.cookies["sessionid"].value
    _sign_in(client, "nurse", PASSWORD)
    assert client.cookies["sessionid"].value != before
    assert not Session.objects.filter(session_key=before).exists()


def test_a_disabled_user_is_signed_out_at_the_next_request(
    users: dict[str, Any], client_for: Callable[[str | None], Client]
) -> None:
    nurse = client_for("nurse")
    assert _signed_in(nurse)
    users["nurse"].is_active = False
    users["nurse"].save()
    assert not _signed_in(nurse)
