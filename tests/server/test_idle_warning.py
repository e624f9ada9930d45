"""The idle sign-out without losing the nurse's entry (issue 16 item 2): the pages carry the
idle limit for the warning, the warning asks the server how long is left or for more time,
the sign-out after an htmx or form POST returns to the page (never the POST-only action), a GET
of an action goes to its page, and the sign-in page says why it is shown. The browser side
(the countdown, the entry kept and restored): tests/web/browser/test_session_idle.py."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from django.test import Client, override_settings

from ivig.server.middleware import action_page
from ivig.web.idle import LAST_SEEN

PASSWORD = "infusion-chair-42-Xq"
RUNSHEET = "/orders/7/runsheet/"


def _idle(client: Client, minutes: float) -> None:
    """Make the client's last request ``minutes`` ago."""
    session = client.session
    session[LAST_SEEN] = time.time() - minutes * 60
    session.save()


def _signed_in(users: dict[str, Any], role: str = "nurse") -> Client:
    client = Client()
    client.post("/signin/", {"username": users[role].username, "password": PASSWORD})
    return client


def test_every_page_carries_the_idle_limit_and_the_warning_script(
    users: dict[str, Any], me: Any
) -> None:
    staff = _signed_in(users).get("/patients/").content.decode()
    body = re.search(r"<body[^>]*>", staff)
    assert body is not None
    assert 'data-idle-seconds="1200"' in body.group(0)  # IVIG_IDLE_MINUTES: 20 by default
    assert 'data-idle-warn-seconds="120"' in body.group(0)  # the last 2 minutes
    assert 'data-stay-url="/signin/stay/"' in body.group(0)
    assert "/static/web/idle.js" in staff
    patient = Client()
    patient.force_login(me)
    mine = patient.get("/me/").content.decode()
    assert 'data-idle-seconds="1200"' in mine
    assert "/static/web/idle.js" in mine
    signed_out = Client().get("/signin/").content.decode()
    assert "data-idle-seconds" not in signed_out  # nobody to warn
    assert "/static/web/idle.js" in signed_out  # it marks a kept entry "to restore"


@override_settings(IDLE_MINUTES=0.5)
def test_the_limit_comes_from_the_setting(users: dict[str, Any]) -> None:
    page = _signed_in(users).get("/patients/").content.decode()
    assert 'data-idle-seconds="30"' in page
    assert 'data-idle-warn-seconds="15"' in page  # half of a limit shorter than 4 minutes


def test_asking_how_long_is_left_is_not_activity(users: dict[str, Any]) -> None:
    client = _signed_in(users)
    _idle(client, 19)
    answer = client.get("/signin/stay/", headers={"X-Ivig-Poll": "idle"}).json()
    assert answer["signed_in"] is True
    assert 55 <= answer["remaining"] <= 60  # one minute left, and still one after asking
    assert answer["idle_seconds"] == 1200
    again = client.get("/signin/stay/", headers={"X-Ivig-Poll": "idle"}).json()
    assert again["remaining"] <= answer["remaining"]


def test_stay_signed_in_starts_the_idle_clock_again(users: dict[str, Any]) -> None:
    client = _signed_in(users)
    _idle(client, 19)
    answer = client.post("/signin/stay/").json()
    assert answer == {"signed_in": True, "remaining": 1200.0, "idle_seconds": 1200.0}
    _idle(client, 19.5)  # another 19.5 minutes: still signed in
    assert client.get("/patients/").status_code == 200


def test_stay_signed_in_needs_the_csrf_token(users: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["nurse"])
    assert client.post("/signin/stay/").status_code == 403


def test_too_late_to_stay_signed_in(users: dict[str, Any]) -> None:
    client = _signed_in(users)
    _idle(client, 21)
    response = client.get("/signin/stay/", headers={"X-Ivig-Poll": "idle"})
    assert response.status_code == 302  # the middleware signed them out: not JSON
    assert response["Location"].startswith("/signin/?")
    after = client.get("/signin/stay/", headers={"X-Ivig-Poll": "idle"}).json()
    assert after == {"signed_in": False, "remaining": 0, "idle_seconds": 1200.0}


def test_an_htmx_post_after_the_limit_returns_to_the_page_not_the_action(
    users: dict[str, Any],
) -> None:
    client = _signed_in(users)
    _idle(client, 21)
    response = client.post(
        RUNSHEET + "vitals/",
        {"pulse": "88"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{RUNSHEET}?x=1"},
    )
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/signin/?next=/orders/7/runsheet/%3Fx%3D1&idle=1"


def test_a_form_post_after_the_limit_returns_to_the_page_it_was_sent_from(
    users: dict[str, Any],
) -> None:
    client = _signed_in(users)
    _idle(client, 21)
    response = client.post(
        RUNSHEET + "vitals/", {"pulse": "88"}, headers={"Referer": f"http://testserver{RUNSHEET}"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/signin/?next=/orders/7/runsheet/&idle=1"
    # without a Referer (or from another site): the page of the action
    client = _signed_in(users)
    _idle(client, 21)
    response = client.post(
        RUNSHEET + "vitals/", {"pulse": "88"}, headers={"Referer": "https://elsewhere.example/"}
    )
    assert response["Location"] == "/signin/?next=/orders/7/runsheet/&idle=1"


def test_a_page_load_after_the_limit_returns_to_that_page(users: dict[str, Any]) -> None:
    client = _signed_in(users)
    _idle(client, 21)
    response = client.get("/patients/?q=lam")
    assert response["Location"] == "/signin/?next=/patients/%3Fq%3Dlam&idle=1"


def test_a_get_of_a_post_only_action_opens_its_page(users: dict[str, Any]) -> None:
    client = _signed_in(users)
    response = client.get(RUNSHEET + "vitals/")
    assert response.status_code == 302
    assert response["Location"] == RUNSHEET
    assert client.head(RUNSHEET + "end/")["Location"] == RUNSHEET
    # the API keeps its 405
    assert client.get("/api/orders/7/start").status_code in (404, 405)


@pytest.mark.parametrize(
    ("action", "page"),
    [
        ("/orders/7/runsheet/vitals/", "/orders/7/runsheet/"),
        ("/orders/7/runsheet/", "/"),  # /orders/7/ and /orders/ are no pages: on up
        ("/patients/3/weights/", "/patients/3/"),
        ("/nowhere/at/all/", "/"),
    ],
)
def test_the_page_of_an_action(action: str, page: str) -> None:
    assert action_page(action) == page


def test_the_sign_in_page_says_why_and_comes_back(users: dict[str, Any]) -> None:
    client = Client()
    page = client.get("/signin/?next=/orders/7/runsheet/&idle=1").content.decode()
    assert "You were signed out after 20 minutes without activity" in page
    assert "data-idle-restore hidden>; your unsaved entry will be restored</span>" in page
    assert 'value="/orders/7/runsheet/"' in page
    plain = client.get("/signin/").content.decode()
    assert "signed out after" not in plain
    response = client.post(
        "/signin/?next=/orders/7/runsheet/&idle=1",
        {"username": "nurse", "password": PASSWORD, "next": "/orders/7/runsheet/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/orders/7/runsheet/"


@override_settings(IDLE_MINUTES=1)
def test_one_minute_is_written_in_the_singular() -> None:
    page = Client().get("/signin/?idle=1").content.decode()
    assert "after 1 minute without activity" in page


def test_the_answer_is_json_and_not_cached(users: dict[str, Any]) -> None:
    client = _signed_in(users)
    response = client.get("/signin/stay/", headers={"X-Ivig-Poll": "idle"})
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert set(json.loads(response.content)) == {"signed_in", "remaining", "idle_seconds"}
