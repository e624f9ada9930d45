"""API tokens (bearer, for machine clients) and browser sessions (cookie + CSRF); stale
updates; the OpenAPI document; 404 as JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.http import HttpRequest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ivig.records.models import ApiToken, AuditEvent, Patient
from ivig.records.services import accounts

PASSWORD = "infusion-chair-42-Xq"  # the password of the ``users`` fixture (tests/conftest.py)


def _json(body: Any) -> str:
    return json.dumps(body, default=str)


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _new_token(admin: Client, user_id: int, name: str = "infusion pump bridge") -> dict[str, Any]:
    response = admin.post(
        "/api/tokens", _json({"user_id": user_id, "name": name}), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def csrf_client() -> Client:
    """A client that, like a browser, must prove each unsafe request with the CSRF token."""
    return Client(enforce_csrf_checks=True)


# --- tokens ------------------------------------------------------------------------------------


def test_a_token_works_as_its_user_without_csrf(
    client_for: Callable[[str | None], Client], users: dict[str, Any], day: Any
) -> None:
    token = _new_token(client_for("admin"), users["nurse"].pk)
    raw = token["token"]
    assert raw.startswith("ivig_")
    assert "shown once" in token["note"]
    machine = Client(enforce_csrf_checks=True)  # no cookie, no CSRF token: a machine client

    me = machine.get("/api/me", headers=_bearer(raw))
    assert me.status_code == 200, me.content
    assert (me.json()["username"], me.json()["roles"]) == ("nurse", ["nurse"])

    # a nurse's write, with no CSRF token
    body = {"at": timezone.now() - dt.timedelta(minutes=5), "temperature_c": 36.7}
    response = machine.post(
        f"/api/orders/{day.running.pk}/vitals",
        _json(body),
        content_type="application/json",
        headers=_bearer(raw),
    )
    assert response.status_code == 201, response.content
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert (event.actor, event.roles, event.entity) == ("nurse", ["nurse"], "vitals")

    # and only the nurse's roles
    response = machine.post(
        "/api/patients", _json({}), content_type="application/json", headers=_bearer(raw)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    row = ApiToken.objects.get(pk=token["id"])
    assert row.last_used_at is not None


def test_a_tokens_last_use_is_written_at_most_once_a_minute(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    """A read stays a read: the token's last use is written when it is a minute old or more,
    not on every call (bench/RESULTS.md: the write lock on SQLite, a WAL flush on PostgreSQL)."""
    token = _new_token(client_for("admin"), users["nurse"].pk)
    machine = Client()
    assert machine.get("/api/me", headers=_bearer(token["token"])).status_code == 200
    first = ApiToken.objects.get(pk=token["id"]).last_used_at
    assert first is not None
    assert machine.get("/api/me", headers=_bearer(token["token"])).status_code == 200
    assert ApiToken.objects.get(pk=token["id"]).last_used_at == first  # seconds later: kept
    earlier = first - dt.timedelta(minutes=2)
    ApiToken.objects.filter(pk=token["id"]).update(last_used_at=earlier)
    assert machine.get("/api/me", headers=_bearer(token["token"])).status_code == 200
    assert ApiToken.objects.get(pk=token["id"]).last_used_at > first  # a minute on: written


def test_a_token_follows_its_users_current_roles(
    client_for: Callable[[str | None], Client], users: dict[str, Any], day: Any
) -> None:
    admin = client_for("admin")
    raw = _new_token(admin, users["nurse"].pk)["token"]
    url = f"/api/orders/{day.planned.pk}/verify"
    body = _json(
        {"version": day.planned.version, "dose_g": day.planned.dose_g,
         "volume_ml": day.planned.volume_ml}
    )  # fmt: skip
    refused = Client().post(url, body, content_type="application/json", headers=_bearer(raw))
    assert refused.status_code == 403
    response = admin.put(
        f"/api/users/{users['nurse'].pk}/roles",
        _json({"roles": ["pharmacist"]}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    done = Client().post(url, body, content_type="application/json", headers=_bearer(raw))
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "verified"


def test_a_token_is_read_with_its_user_and_roles_in_one_query(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    """Issue 15: the token, its user and every role of the user in one statement (a read of
    the catalogue then makes none of its own); the roles are all the user's."""
    admin = client_for("admin")
    raw = _new_token(admin, users["admin"].pk, "admin's script")["token"]
    assert (
        admin.put(
            f"/api/users/{users['admin'].pk}/roles",
            _json({"roles": ["admin", "pharmacist"]}),
            content_type="application/json",
        ).status_code
        == 200
    )
    machine = Client()
    assert machine.get("/api/products", headers=_bearer(raw)).status_code == 200  # last use
    with CaptureQueriesContext(connection) as queries:
        assert machine.get("/api/products", headers=_bearer(raw)).status_code == 200
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert machine.get("/api/users", headers=_bearer(raw)).status_code == 200  # admin's
    assert (
        machine.post(  # a pharmacist's: reaches the service (no such order), not 403
            "/api/orders/999999/verify",
            _json({"version": 1, "dose_g": 85, "volume_ml": 850}),
            content_type="application/json",
            headers=_bearer(raw),
        ).status_code
        == 404
    )


def test_a_revoked_token_is_refused(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    admin = client_for("admin")
    token = _new_token(admin, users["pharmacist"].pk)
    assert Client().get("/api/me", headers=_bearer(token["token"])).status_code == 200
    response = admin.post(f"/api/tokens/{token['id']}/revoke")
    assert response.status_code == 200, response.content
    assert response.json()["revoked_at"]
    response = Client().get("/api/me", headers=_bearer(token["token"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    # revoking twice is a conflict, and changes nothing
    events = AuditEvent.objects.count()
    assert admin.post(f"/api/tokens/{token['id']}/revoke").status_code == 409
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ivig_not-a-token",  # a made-up key
        "Bearer ",  # no key
        "Bearer",  # no key, no space
        "Token {raw}",  # the right key, the wrong scheme
        "{raw}",  # the right key, no scheme
        "Bearer {raw}x",  # the right key with a character more
        "Bearer {raw_short}",  # the right key with a character less
        "Bearer {hash}",  # the stored hash is not a key
        "Basic bnVyc2U6aW5mdXNpb24tY2hhaXItNDItWHE=",  # the nurse's password, by Basic auth
    ],
)
def test_a_wrong_token_is_refused(
    header: str,
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    db_state: Callable[[], Any],
) -> None:
    token = _new_token(client_for("admin"), users["nurse"].pk)
    raw = token["token"]
    stored = ApiToken.objects.get(pk=token["id"]).key_hash
    value = header.format(raw=raw, raw_short=raw[:-1], hash=stored)
    before = db_state()
    for response in (
        Client().get("/api/me", headers={"Authorization": value}),
        Client().post(
            "/api/patients/1/weights",
            _json({"measured_on": "2025-06-01", "weight_kg": 80}),
            content_type="application/json",
            headers={"Authorization": value},
        ),
    ):
        assert response.status_code == 401, (value, response.content)
        assert response.json()["error"]["code"] == "unauthenticated"
    assert db_state() == before


def test_only_the_hash_of_a_token_is_stored(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    admin = client_for("admin")
    token = _new_token(admin, users["nurse"].pk)
    raw = token["token"]
    secret = raw[len("ivig_") :]
    row = ApiToken.objects.get(pk=token["id"])
    assert row.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(row.prefix)
    assert len(row.prefix) < len(raw) // 2  # the prefix names the token; it is not the key

    def leaks(text: str) -> bool:
        return raw in text or secret in text or secret[:16] in text

    for values in ApiToken.objects.values():
        assert not leaks(_json(values)), values
    for values in AuditEvent.objects.values():
        assert not leaks(_json(values)), values
    # the key is not shown again anywhere
    assert not leaks(admin.get("/api/users").content.decode())
    assert not leaks(admin.get("/api/me").content.decode())


def test_a_token_of_a_disabled_user_is_refused(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    admin = client_for("admin")
    raw = _new_token(admin, users["nurse"].pk)["token"]
    response = admin.put(
        f"/api/users/{users['nurse'].pk}/active",
        _json({"active": False}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert Client().get("/api/me", headers=_bearer(raw)).status_code == 401


def test_only_an_admin_makes_tokens(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    for role in ("prescriber", "pharmacist", "nurse"):
        response = client_for(role).post(
            "/api/tokens",
            _json({"user_id": users[role].pk, "name": "mine"}),
            content_type="application/json",
        )
        assert response.status_code == 403
    assert ApiToken.objects.count() == 0
    with pytest.raises(Exception, match="needs the role admin"):
        accounts.create_token(users["nurse"], users["nurse"].pk, "mine")


# --- sessions and CSRF -------------------------------------------------------------------------


def _weight(client: Client, patient: Any, **extra: Any) -> Any:
    return client.post(
        f"/api/patients/{patient.pk}/weights",
        _json({"measured_on": "2025-06-01", "weight_kg": 99}),
        content_type="application/json",
        **extra,
    )


def test_a_session_post_without_the_csrf_token_is_refused(
    csrf_client: Client, users: dict[str, Any], patient: Any, db_state: Callable[[], Any]
) -> None:
    assert csrf_client.login(request=HttpRequest(), username="nurse", password=PASSWORD)
    # reading needs no CSRF token
    assert csrf_client.get(f"/api/patients/{patient.pk}").status_code == 200
    before = db_state()
    response = _weight(csrf_client, patient)
    assert response.status_code == 403, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert "csrf" in error["message"].lower()
    # a CSRF cookie without the matching header is not enough either
    csrf_client.cookies["csrftoken"] = _get_new_csrf_string()
    assert _weight(csrf_client, patient).status_code == 403
    # nor a header that does not match the cookie
    response = _weight(csrf_client, patient, headers={"X-CSRFToken": _get_new_csrf_string()})
    assert response.status_code == 403
    assert db_state() == before


def test_a_session_post_with_the_csrf_token_passes(
    csrf_client: Client, users: dict[str, Any], patient: Any
) -> None:
    assert csrf_client.login(request=HttpRequest(), username="nurse", password=PASSWORD)
    secret = _get_new_csrf_string()
    csrf_client.cookies["csrftoken"] = secret
    events = AuditEvent.objects.count()
    response = _weight(csrf_client, patient, headers={"X-CSRFToken": secret})
    assert response.status_code == 201, response.content
    assert AuditEvent.objects.count() == events + 1
    # the role rule still holds behind a good CSRF token
    response = csrf_client.post(
        "/api/patients", _json({}), content_type="application/json", headers={"X-CSRFToken": secret}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_signing_out_ends_the_session(
    csrf_client: Client, users: dict[str, Any], patient: Any
) -> None:
    assert csrf_client.login(request=HttpRequest(), username="pharmacist", password=PASSWORD)
    assert csrf_client.get("/api/me").json()["username"] == "pharmacist"
    csrf_client.logout()
    assert csrf_client.get("/api/me").status_code == 401


def test_a_wrong_password_signs_nobody_in(csrf_client: Client, users: dict[str, Any]) -> None:
    assert not csrf_client.login(request=HttpRequest(), username="nurse", password=PASSWORD + "x")
    assert csrf_client.get("/api/me").status_code == 401


# --- stale updates -----------------------------------------------------------------------------


def _update(client: Client, patient: Any, version: int, **changes: Any) -> Any:
    body = {
        "version": version,
        "mrn": patient.mrn,
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "date_of_birth": patient.date_of_birth,
        "sex": patient.sex,
        "height_cm": patient.height_cm,
        **changes,
    }
    return client.put(f"/api/patients/{patient.pk}", _json(body), content_type="application/json")


def test_a_stale_patient_update_is_refused_and_changes_nothing(
    client_for: Callable[[str | None], Client], patient: Any, db_state: Callable[[], Any]
) -> None:
    first, second = client_for("prescriber"), client_for("admin")
    read = first.get(f"/api/patients/{patient.pk}").json()
    assert read["version"] == 1
    # both read version 1; the first saves
    response = _update(first, patient, 1, height_cm=181, notes="measured again")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    # the second saves over version 1: refused, nothing overwritten
    before = db_state()
    response = _update(second, patient, 1, height_cm=150, notes="typo")
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("stale_version", "version")
    assert "reload" in error["message"]
    assert db_state() == before
    stored = Patient.objects.get(pk=patient.pk)
    assert (stored.version, stored.height_cm, stored.notes) == (2, 181, "measured again")
    # a version from the future is no better
    assert _update(second, patient, 3, height_cm=150).status_code == 409
    assert Patient.objects.get(pk=patient.pk).height_cm == 181


# --- the document and 404 ----------------------------------------------------------------------


def test_the_openapi_document_is_served(client_for: Callable[[str | None], Client]) -> None:
    response = client_for("nurse").get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "ivig API"
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert operations
    assert all(op.get("x-roles") for op in operations)
    assert set(document["components"]["securitySchemes"]) == {"_Session", "_Token"}
    assert client_for("nurse").get("/api/docs").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/patients/999999",
        "/api/patients/999999/courses",
        "/api/patients/999999/eligibility",
        "/api/patients/999999/outcomes",
        "/api/courses/999999",
        "/api/orders/999999",
        "/api/orders/999999/session",
    ],
)
def test_an_unknown_id_is_404_json(
    url: str, client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    raw = accounts.create_token(None, users["pharmacist"].pk, "x", system=True)[1]
    for response in (
        client_for("pharmacist").get(url),
        Client().get(url, headers=_bearer(raw)),
    ):
        assert response.status_code == 404, response.content
        assert response["Content-Type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "not_found"
        assert "999999" in error["message"]
        assert b"Traceback" not in response.content
    # and anonymous is still 401, not 404: no probing for ids without signing in
    assert Client().get(url).status_code == 401
