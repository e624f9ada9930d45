"""Bodies too deep or too big (issue 17 item 10): a JSON body nested deeper than 32 levels is a
400 naming the body, a body over Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB) a 413: the
API's JSON error under ``/api/``, the error page for a page; anonymously and signed in, never a
500 or Django's bare HTML 400 (requirement 14: every route answers its own error, deny by
default; ASVS v4.0.3-13.1.3 and 5.1.4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from ivig.server.middleware import MAX_JSON_DEPTH

DEEP = "[" * 1000
BIG = json.dumps({"notes": "x" * (3 * 1024 * 1024)})


def _post(client: Client, url: str, body: str, **headers: str) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


@pytest.mark.parametrize("role", [None, "prescriber"])
@pytest.mark.parametrize("body", [DEEP, DEEP + "]" * 1000, '{"a":' * 40 + "1" + "}" * 40])
def test_a_deeply_nested_body_is_a_json_400(
    role: str | None, body: str, client_for: Callable[[str | None], Client]
) -> None:
    response = _post(client_for(role), "/api/patients", body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["field"] == "body"
    assert "too deeply nested" in error["message"]
    assert str(MAX_JSON_DEPTH) in error["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", ""])
def test_a_deep_body_of_another_type_is_a_json_400_too(
    content_type: str, client_for: Callable[[str | None], Client]
) -> None:
    """The API reads any body that is not a form as JSON, whatever its type says."""
    response = client_for("prescriber").post("/api/patients", DEEP, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "body"


def test_nesting_within_the_limit_reaches_the_route(
    client_for: Callable[[str | None], Client],
) -> None:
    body = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    response = _post(client_for("prescriber"), "/api/patients", body)
    assert response.status_code == 422  # the route's own answer: not a patient
    # brackets inside a string are text, not nesting
    for notes in ("[" * 100, '"' + "{" * 100 + '\\"'):  # an escaped quote ends no string
        text = json.dumps({"notes": notes})
        assert _post(client_for("prescriber"), "/api/patients", text).status_code == 422


@pytest.mark.parametrize("role", [None, "prescriber"])
def test_a_big_api_body_is_a_json_413(
    role: str | None, client_for: Callable[[str | None], Client]
) -> None:
    assert len(BIG) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = _post(client_for(role), "/api/patients", BIG)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["field"] == "body"
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("role", [None, "prescriber"])
def test_a_big_form_is_the_413_page(
    role: str | None, client_for: Callable[[str | None], Client]
) -> None:
    client = client_for(role)
    response = client.post("/patients/new/", {"notes": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert b"too large" in response.content
