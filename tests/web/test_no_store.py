"""``Cache-Control: no-store`` on every answer that is not a static file (issue 17 item 16):
a page, a form's answer, an API call, a download (PDF, calendar, FHIR) shown to a user on a
shared ward computer is never kept by the browser's or a proxy's cache for the next user
(requirement 25: after signing out the back button shows nothing; ASVS v4.0.3-8.2.1).

Generated from the site's URL patterns (the table of tests/web/test_page_access.py) and the
API's OpenAPI document, so that a new route is covered without a new line."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from test_page_access import PAGES, PATIENT_ONLY, STAFF, _url
from test_page_access import ids as ids  # the fixture: real ids for the URL patterns

from ivig.api.api import api

NO_STORE = "no-store"


def _no_store(response: Any) -> bool:
    return NO_STORE in [p.strip() for p in response.get("Cache-Control", "").split(",")]


@pytest.mark.parametrize("role", [None, *sorted(STAFF)])
def test_every_page_answer_is_not_stored(
    role: str | None, ids: dict[str, Any], client_for: Callable[[str | None], Client]
) -> None:
    client = client_for(role)
    wrong = []
    for route in PAGES:
        if route == "signout/":
            continue
        url = _url(route, ids)
        response = client.get(url)
        if not _no_store(response):
            wrong.append((url, response.status_code, response.get("Cache-Control")))
    for url in ("/admin/", "/no-such-page/", f"/admin/records/patient/{ids['patient_id']}/change/"):
        response = client.get(url)
        if not _no_store(response):
            wrong.append((url, response.status_code, response.get("Cache-Control")))
    assert not wrong, wrong


def test_the_patient_s_own_pages_and_downloads_are_not_stored(me: Any) -> None:
    client = Client()
    client.force_login(me)
    routes = [r for r, (get_rule, _) in PAGES.items() if get_rule == PATIENT_ONLY]
    assert {"me/calendar.ics", "me/handout.pdf"} <= set(routes)
    wrong = [r for r in routes if not _no_store(client.get("/" + r))]
    assert not wrong, wrong


def _api_gets() -> list[str]:
    return sorted(p for p, item in api.get_openapi_schema()["paths"].items() if "get" in item)


@pytest.mark.parametrize("auth", ["session", "token"])
def test_every_api_answer_is_not_stored(
    auth: str, ids: dict[str, Any], users: dict[str, Any], dispensed: Any
) -> None:
    from ivig.records.services import accounts

    client = Client()
    headers: dict[str, str] = {}
    if auth == "session":
        client.force_login(users["nurse"])
    else:
        raw = accounts.create_token(None, users["nurse"].pk, "no-store", system=True)[1]
        headers = {"Authorization": f"Bearer {raw}"}
    values = {**ids, "lot_number": "P1", "kind": "weight"}
    wrong = []
    paths = _api_gets()
    assert any(p.endswith("/fhir") for p in paths)
    for path in paths:
        url = re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), 1)), path)
        response = client.get(url, headers=headers)
        if not _no_store(response):
            wrong.append((url, response.status_code))
    assert not wrong, wrong
    assert _no_store(Client().get("/api/patients"))  # refused, and not stored either
