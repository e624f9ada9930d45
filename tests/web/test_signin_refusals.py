"""An address is slowed down, never locked (issue 17 item 5, requirement 21), and sign-ins,
sign-outs and refusals are audited without one event per guess (issue 17 item 13, requirement
17; ASVS 4.0.3 V7.1.3 and V7.2.1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine
from django.test import Client

from ivig.records.models import AuditEvent
from ivig.records.services import signin

PASSWORD = "infusion-chair-42-Xq"  # tests/conftest.py
WARD = "10.2.0.1"


@contextmanager
def _at(moment: dt.datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False):
        yield


def _sign_in(client: Client, username: str, password: str) -> Any:
    return client.post("/signin/", {"username": username, "password": password})


def _guesses(client: Client, count: int, prefix: str = "guess") -> None:
    for i in range(count):
        assert _sign_in(client, f"{prefix}{i}", "wrong-password").status_code in (200, 429)


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


# --- item 5: the address slowed down, not locked ------------------------------------------------


def test_an_address_over_the_limit_still_signs_in_a_user_who_has_not_failed(
    users: dict[str, Any],
) -> None:
    """25 failures from one ward computer (a guessing program, or a proxy in front of the whole
    site) lock nobody out: a user without failures signs in there with the right password."""
    ward = Client(REMOTE_ADDR=WARD)
    _guesses(ward, 30)
    assert signin.address_failures(WARD) == 30
    assert _sign_in(ward, "prescriber", PASSWORD).status_code == 302


def test_an_address_over_the_limit_is_slowed_down(users: dict[str, Any], now: dt.datetime) -> None:
    """Beyond 25 failures, a name that has failed is refused from that address (429, "try again
    in N seconds") until a delay that doubles with each further failure has passed."""
    ward = Client(REMOTE_ADDR=WARD)
    with _at(now):
        _guesses(ward, 24)
        assert _sign_in(ward, "nurse", "wrong-password").status_code == 200  # the 25th
        slowed = _sign_in(ward, "nurse", PASSWORD)  # nurse has failed: wait 2 s
    assert slowed.status_code == 429
    assert slowed["Retry-After"] == "2"
    assert "Try again in 2 seconds" in slowed.content.decode()
    with _at(now + dt.timedelta(seconds=3)):
        again = _sign_in(ward, "nurse", "wrong-password")  # the 26th failure: 4 s
    assert again.status_code == 429
    assert again["Retry-After"] == "4"
    with _at(now + dt.timedelta(seconds=5)):
        assert _sign_in(ward, "nurse", PASSWORD).status_code == 429
    with _at(now + dt.timedelta(seconds=8)):
        assert _sign_in(ward, "nurse", PASSWORD).status_code == 302
    # another computer is not slowed down
    assert _sign_in(Client(REMOTE_ADDR="10.2.0.2"), "guess3", "x").status_code == 200


def test_an_administrator_lifts_an_address_s_slow_down(
    users: dict[str, Any], run: Callable[[list[str]], tuple[int, str, str]]
) -> None:
    ward = Client(REMOTE_ADDR=WARD)
    _guesses(ward, 25)
    assert _sign_in(ward, "guess1", "wrong-password").status_code == 429
    code, out, err = run(["user", "unlock", "--address", WARD])
    assert code == 0, err
    assert "25 failed sign-in(s) cleared" in out
    assert signin.address_failures(WARD) == 0
    assert _sign_in(ward, "guess1", "wrong-password").status_code == 200
    [event] = _events("unlock-address")
    assert (event.actor, event.entity, event.entity_id) == ("system", "sign-in-address", WARD)
    assert event.before == {"ip_address": WARD, "failed_attempts": 25}
    code, out, err = run(["user", "unlock", "--address", "10.9.9.9"])
    assert code != 0
    assert "nothing to unlock" in err + out


def test_the_per_name_lock_stays(users: dict[str, Any]) -> None:
    """5 failures still lock a name, from any address (requirement 21)."""
    for i in range(5):
        _sign_in(Client(REMOTE_ADDR=f"10.3.0.{i}"), "nurse", "wrong-password")
    assert _sign_in(Client(REMOTE_ADDR="10.3.0.99"), "nurse", PASSWORD).status_code == 429


# --- item 13: sign-in events, refusals aggregated -----------------------------------------------


def test_refusals_of_an_address_are_one_event_per_window(
    users: dict[str, Any], now: dt.datetime
) -> None:
    """25 failed sign-ins, the last refused as the name was locked, and 401 API answers from
    one address: no event per attempt, one event for the address when its 15-minute window is
    over, with the counts and the names tried."""
    ward = Client(REMOTE_ADDR=WARD)
    with _at(now):
        _guesses(ward, 19)
        for _ in range(6):
            _sign_in(ward, "nurse", "wrong-password")  # the 5th locks the name
        for _ in range(3):
            assert ward.get("/api/patients").status_code == 401
    assert not _events("sign-in-refusals")
    assert [e.action for e in AuditEvent.objects.filter(entity="sign-in")] == ["lockout"]
    with _at(now + dt.timedelta(minutes=16)):
        # the next sign-in (or refusal) anywhere reports it
        assert _sign_in(Client(REMOTE_ADDR="10.5.5.5"), "prescriber", PASSWORD).status_code == 302
    [event] = _events("sign-in-refusals")
    assert (event.actor, event.entity, event.entity_id) == ("system", "sign-in-address", WARD)
    after = event.after
    assert after is not None
    assert after["refused"] == {"failed": 24, "locked": 1, "unauthenticated": 3}
    assert after["names"][:2] == ["guess0", "guess1"]
    assert "nurse" in after["names"]
    assert after["from"] <= after["to"]


def test_signing_in_and_out_are_audited(users: dict[str, Any], now: dt.datetime) -> None:
    client = Client(REMOTE_ADDR="10.7.0.1")
    assert _sign_in(client, "nurse", PASSWORD).status_code == 302
    [event] = _events("sign-in")
    assert (event.actor, event.entity, event.entity_id) == ("nurse", "session", "nurse")
    assert event.after == {"ip_address": "10.7.0.1"}
    client.post("/signout/")
    [out] = _events("sign-out")
    assert (out.actor, out.after) == ("nurse", {"ip_address": "10.7.0.1", "why": "signed out"})
    # signed out for being idle: said so
    assert _sign_in(client, "nurse", PASSWORD).status_code == 302
    with _at(now + dt.timedelta(minutes=25)):
        assert client.get("/patients/").status_code == 302
    idle = _events("sign-out")[-1]
    assert idle.after == {"ip_address": "10.7.0.1", "why": "20 minutes without a request"}


def test_a_403_of_a_signed_in_user_is_one_event_naming_user_and_path(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    nurse = client_for("nurse")
    assert nurse.get("/staff/").status_code == 403
    response = nurse.post("/api/patients", "{}", content_type="application/json")
    assert response.status_code == 403
    events = _events("refused")
    assert [(e.actor, e.entity, e.entity_id) for e in events] == [
        ("nurse", "access", "/staff/"),
        ("nurse", "access", "/api/patients"),
    ]
    assert events[1].after == {"method": "POST", "path": "/api/patients", "status": 403}
    assert events[1].patient_id is None


@pytest.mark.parametrize("path", ["/api/patients", "/api/me"])
def test_an_anonymous_401_writes_no_event_at_once(path: str, users: dict[str, Any]) -> None:
    before = AuditEvent.objects.count()
    assert Client().get(path).status_code == 401
    assert AuditEvent.objects.count() == before
