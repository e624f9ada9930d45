"""``GET /health/`` (requirement 43): 200 when the database answers and its schema is this
version's; 503 with the reason when a newer ivig upgraded the database or it cannot be reached.
Open without signing in, and says nothing about patients. (A served app's /health/ and
``ivig serve`` refusing such a database: tests/commands/test_commands.py.)"""

from __future__ import annotations

from typing import Any
from unittest import mock

from django.db import OperationalError, connection
from django.test import Client

from ivig import __version__


def test_the_health_check_says_ok(db: None) -> None:
    response = Client().get("/health/")
    assert response.status_code == 200
    assert response.json() == {"version": __version__, "status": "ok", "database": "ok",
                               "schema": "current"}  # fmt: skip
    assert response["Cache-Control"] == "no-store"
    assert "sessionid" not in response.cookies
    assert Client().post("/health/").status_code == 405


def test_a_database_upgraded_by_a_newer_ivig_fails_the_health_check(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('records', '9999_from_a_newer_ivig', CURRENT_TIMESTAMP)"
        )
    response = Client().get("/health/")
    assert response.status_code == 503
    body: dict[str, Any] = response.json()
    assert (body["status"], body["database"]) == ("unavailable", "ok")
    assert "records.9999_from_a_newer_ivig" in body["schema"]
    assert response["Retry-After"] == "5"


def test_an_unreachable_database_fails_the_health_check(db: None) -> None:
    with mock.patch(
        "django.db.migrations.recorder.MigrationRecorder.applied_migrations",
        side_effect=OperationalError("connection refused"),
    ):
        response = Client().get("/health/")
    assert response.status_code == 503
    assert response.json() == {"version": __version__, "status": "unavailable",
                               "database": "unreachable"}  # fmt: skip
