"""A database that cannot be reached answers 503 (issue 8, faults), made to happen here by
patching a query to raise, so that it is covered without stopping a server: the API's JSON
error (the shape of every API error) and a short HTML page, both with ``Retry-After``; no 500,
no traceback. ``tests/server/test_database_outage.py`` stops a real PostgreSQL under the app."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from ivig.errors import DatabaseUnavailable
from ivig.server.middleware_db import RETRY_AFTER_SECONDS

DOWN = OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')


def _api_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 503, response.content[:500]
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body == DatabaseUnavailable().body()
    assert body["error"]["code"] == "database_unavailable"
    assert body["error"]["message"].startswith("The database is not reachable")
    assert body["error"]["field"] is None
    return body


def _page(response: Any) -> str:
    assert response.status_code == 503, response.content[:500]
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert "The database is unavailable" in text
    assert "try again" in text
    for leak in ("Traceback", "OperationalError", "Connection refused", "Server Error"):
        assert leak not in text
    assert "<script" not in text
    return text


def test_api_get_and_post_answer_503_in_the_api_error_shape(
    client_for: Callable[[str | None], Client], patient: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for("nurse")
    assert client.get(f"/api/patients/{patient.pk}").status_code == 200
    with (
        caplog.at_level(logging.WARNING, logger="ivig.database"),
        mock.patch("ivig.api.routes.patients.get", side_effect=DOWN),
    ):
        _api_error(client.get(f"/api/patients/{patient.pk}"))
    with mock.patch("ivig.api.routes.patients.patients.create_patient", side_effect=DOWN):
        body = {
            "mrn": "MRN0002",
            "family_name": "Down",
            "given_name": "Database",
            "date_of_birth": "1970-01-01",
            "sex": "female",
            "height_cm": 165,
        }
        response = client_for("prescriber").post(
            "/api/patients", json.dumps(body), content_type="application/json"
        )
        _api_error(response)
    assert any("database unavailable" in r.getMessage() for r in caplog.records)
    # Once the database answers again, so does the API, with nothing to restart.
    assert client.get(f"/api/patients/{patient.pk}").status_code == 200


def test_an_interface_error_is_the_same_503(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    gone = InterfaceError("connection already closed")
    with mock.patch("ivig.api.routes.patients.get", side_effect=gone):
        _api_error(client_for("nurse").get(f"/api/patients/{patient.pk}"))


def test_a_page_answers_a_short_503_page(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    client = client_for("nurse")
    assert client.get(f"/patients/{patient.pk}/").status_code == 200
    with mock.patch("ivig.web.views.patients.get", side_effect=DOWN):
        response = client.get(f"/patients/{patient.pk}/")
    _page(response)
    assert response["X-Frame-Options"] == "DENY"
    assert client.get(f"/patients/{patient.pk}/").status_code == 200


def test_the_session_store_down_before_the_view_is_a_503_too(
    users: dict[str, Any], patient: Any
) -> None:
    """The database fails in a middleware (loading the signed-in user's session), before any
    view runs: Django has turned it into a 500 when it reaches the outer middleware, which
    answers the 503 instead (API: JSON, pages: HTML)."""
    client = Client(raise_request_exception=False)
    client.force_login(users["nurse"])
    target = "django.contrib.sessions.backends.db.SessionStore._get_session_from_db"
    with mock.patch(target, side_effect=DOWN):
        _page(client.get("/"))
        _api_error(client.get("/api/me"))


def test_other_database_errors_are_not_called_unavailable(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """A programming error is still a 500 (logged), not a 503 that would hide a bug."""
    from django.db import ProgrammingError

    client = client_for("nurse")
    bug = ProgrammingError("no such column")
    with mock.patch("ivig.api.routes.patients.get", side_effect=bug):
        response = client.get(f"/api/patients/{patient.pk}")
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "internal_error"
