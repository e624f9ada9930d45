"""API tokens expire and may be limited to some of their user's roles (issue 17 item 17;
requirement 14 and ASVS 4.0.3 4.1.x, least privilege; ASVS 3.3.1, expiry): 90 days unless
said otherwise, at most 365; an expired token is a 401 with a JSON message; a token acts with
its user's current roles that it was given, no more."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import ApiToken, AuditEvent
from ivig.records.services import accounts

PASSWORD = "infusion-chair-42-Xq"
Run = Callable[[list[str]], tuple[int, str, str]]


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _create(admin: Client, body: dict[str, Any]) -> Any:
    return admin.post("/api/tokens", json.dumps(body), content_type="application/json")


@pytest.fixture
def both(db: None) -> Any:
    """A user holding the prescriber and pharmacist roles."""
    return accounts.create_user(None, "dr.both", PASSWORD, ["prescriber", "pharmacist"],
                                system=True)  # fmt: skip


def test_a_token_expires_after_90_days_unless_told(
    client_for: Callable[[str | None], Client], users: dict[str, Any], now: dt.datetime
) -> None:
    made = _create(client_for("admin"), {"user_id": users["nurse"].pk, "name": "tablet"})
    assert made.status_code == 201, made.content
    body = made.json()
    token = ApiToken.objects.get(pk=body["id"])
    assert token.expires_at is not None
    assert abs(token.expires_at - (now + dt.timedelta(days=90))) < dt.timedelta(minutes=1)
    shown = dt.datetime.fromisoformat(body["expires_at"])
    assert abs(shown - token.expires_at) < dt.timedelta(milliseconds=1)
    assert (body["roles"], token.roles) == ([], [])  # not limited: every role of its user
    event = AuditEvent.objects.get(entity="api-token", action="create")
    assert event.after["roles"] == []
    assert event.after["expires_at"] == token.expires_at.astimezone(dt.UTC).isoformat()


def test_days_are_between_1_and_365(
    client_for: Callable[[str | None], Client], users: dict[str, Any], now: dt.datetime
) -> None:
    admin = client_for("admin")
    nurse = users["nurse"].pk
    for days in (0, 366):
        refused = _create(admin, {"user_id": nurse, "name": "x", "days": days})
        assert refused.status_code == 422, days
        assert refused.json()["error"]["field"] == "days"
    made = _create(admin, {"user_id": nurse, "name": "x", "days": 365})
    assert made.status_code == 201
    expires = ApiToken.objects.get(pk=made.json()["id"]).expires_at
    assert abs(expires - (now + dt.timedelta(days=365))) < dt.timedelta(minutes=1)
    with pytest.raises(Exception, match="between 1 and 365"):
        accounts.create_token(users["admin"], nurse, "y", days=400)


def test_an_expired_token_is_a_401_with_a_message(users: dict[str, Any], now: dt.datetime) -> None:
    token, raw = accounts.create_token(users["admin"], users["nurse"].pk, "tablet", days=1)
    machine = Client()
    assert machine.get("/api/me", headers=_bearer(raw)).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=now - dt.timedelta(seconds=1))
    refused = machine.get("/api/me", headers=_bearer(raw))
    assert refused.status_code == 401
    assert refused["Content-Type"].startswith("application/json")
    error = refused.json()["error"]
    assert error["code"] == "unauthenticated"
    assert "expired" in error["message"]
    assert raw not in refused.content.decode()


def test_a_token_limited_to_a_role_acts_with_that_role_only(
    users: dict[str, Any], both: Any
) -> None:
    _, raw = accounts.create_token(users["admin"], both.pk, "pharmacy robot",
                                   roles=["pharmacist"])  # fmt: skip
    machine = Client()
    me = machine.get("/api/me", headers=_bearer(raw))
    assert me.json()["roles"] == ["pharmacist"]
    refused = machine.post("/api/patients", "{}", content_type="application/json",
                           headers=_bearer(raw))  # fmt: skip
    assert refused.status_code == 403  # a prescriber's route


def test_a_token_loses_a_role_its_user_loses(users: dict[str, Any], both: Any) -> None:
    _, raw = accounts.create_token(users["admin"], both.pk, "bridge",
                                   roles=["pharmacist", "prescriber"])  # fmt: skip
    machine = Client()
    assert machine.get("/api/me", headers=_bearer(raw)).json()["roles"] == [
        "pharmacist", "prescriber",
    ]  # fmt: skip
    accounts.set_roles(users["admin"], both.pk, ["prescriber"])
    assert machine.get("/api/me", headers=_bearer(raw)).json()["roles"] == ["prescriber"]
    accounts.set_roles(users["admin"], both.pk, ["nurse", "pharmacist"])  # never gains nurse
    assert machine.get("/api/me", headers=_bearer(raw)).json()["roles"] == ["pharmacist"]
    accounts.set_roles(users["admin"], both.pk, ["nurse"])
    assert machine.get("/api/me", headers=_bearer(raw)).status_code == 403  # no role left


def test_a_token_cannot_carry_a_role_its_user_lacks(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    body = {"user_id": users["nurse"].pk, "name": "x", "roles": ["prescriber"]}
    refused = _create(client_for("admin"), body)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "roles"
    assert not ApiToken.objects.exists()


def test_the_command_line_gives_days_and_roles(db: None, run: Run, now: dt.datetime) -> None:
    accounts.create_user(None, "robot-owner", PASSWORD, ["pharmacist", "nurse"], system=True)
    code, _, err = run(["user", "token", "robot-owner", "--name", "robot", "--days", "30",
                          "--role", "nurse"])  # fmt: skip
    assert code == 0, err
    token = ApiToken.objects.get()
    assert token.roles == ["nurse"]
    assert abs(token.expires_at - (now + dt.timedelta(days=30))) < dt.timedelta(minutes=1)
    assert "expires" in err
    code, _, err = run(["user", "token", "robot-owner", "--name", "x", "--days", "366"])
    assert code != 0
    assert "365" in err


def test_the_staff_page_gives_days_and_roles(
    client_for: Callable[[str | None], Client], both: Any, now: dt.datetime
) -> None:
    admin = client_for("admin")
    page = admin.post(f"/staff/{both.pk}/tokens/",
                      {"name": "robot", "days": "7", "roles": ["pharmacist"]})  # fmt: skip
    assert page.status_code == 200, page.content.decode()[:2000]
    token = ApiToken.objects.get()
    assert token.roles == ["pharmacist"]
    assert abs(token.expires_at - (now + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
    html = admin.get(f"/staff/{both.pk}/").content.decode()
    assert "expires" in html
    assert timezone.localtime(token.expires_at).strftime("%Y-%m-%d") in html


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_tokens_the_default_expiry(live_records: None) -> None:
    """0016: a token made before it expires 90 days after the migration and stays unlimited
    (it acts with its user's roles, as before); the change is audited (requirement 5)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    this = ("records", "0016_token_expiry_roles")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("records")
    before = [p.key for p in executor.loader.graph.node_map[this].parents if p.key[0] == "records"]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user = old.get_model("auth", "User").objects.create(username="migrator")
    token = old.get_model("records", "ApiToken").objects.create(
        user=user, name="old bridge", prefix="ivig_old", key_hash="0" * 64
    )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate([this])
        new = executor.loader.project_state([this]).apps.get_model("records", "ApiToken")
        migrated = new.objects.get(pk=token.pk)
        expected = timezone.now() + dt.timedelta(days=90)
        assert abs(migrated.expires_at - expected) < dt.timedelta(minutes=1)
        assert migrated.roles == []
        event = AuditEvent.objects.get(entity="api-token", entity_id=str(token.pk))
        assert (event.action, event.actor) == ("migrate", "system")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
