"""A patient signed in with their own account reaches only ``/me/...`` (issue 7): every other
page and every API route, generated from the URL patterns and the OpenAPI document so that a
new route is covered without a line here, answers 404 for them, with their own ids and with
another patient's, and writes nothing. Their account never gets a staff role or an API token.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from ivig.api.api import api
from ivig.errors import Conflict
from ivig.records.models import AuditEvent
from ivig.records.services import accounts
from ivig.server.middleware import PATIENT_PATHS

PASSWORD = "infusion-chair-42-Xq"


def _routes(patterns: list[Any], prefix: str = "") -> list[str]:
    """Every URL route of the site, as text (``patients/<int:patient_id>/``)."""
    out: list[str] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            out += _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            out.append(prefix + str(p.pattern))
    return out


def _fill(route: str, ids: dict[str, Any]) -> str | None:
    """The route with real ids (``None`` for a regex route)."""
    if route.startswith("^") or "(?P" in route:
        return None
    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m.group(1), 1)), route)
    return path


@pytest.fixture
def portal(
    users: dict[str, Any], patient: Any, me: User, dispensed: Any
) -> tuple[Client, dict[str, Any]]:
    """A patient's own signed-in client, and the ids of their record (an order with lots)."""
    client = Client()
    client.force_login(me)
    lot = dispensed.lots.first()
    ids = {
        "patient_id": patient.pk,
        "order_id": dispensed.pk,
        "course_id": dispensed.course_id,
        "lot_number": lot.lot_number,
        "user_id": me.pk,
        "entry_id": 1,
        "task_id": 1,
        "token_id": 1,
        "kind": "weight",
        "path": "x",
    }
    return client, ids


def test_the_home_page_takes_a_patient_to_their_own(portal: tuple[Client, dict[str, Any]]) -> None:
    client, _ = portal
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/me/")


def test_no_staff_page_is_reachable(portal: tuple[Client, dict[str, Any]]) -> None:
    """Every page outside the patient's own, with the ids of their own record: 404 (GET and
    POST), and nothing written."""
    client, ids = portal
    before = AuditEvent.objects.count()
    checked = 0
    for route in _routes(get_resolver().url_patterns):
        url = _fill(route, ids)
        if url is None or url.startswith(PATIENT_PATHS) or url == "/":
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 404, (method, url, response.status_code)
            checked += 1
    assert checked > 40
    assert AuditEvent.objects.count() == before


def test_no_api_route_is_reachable(portal: tuple[Client, dict[str, Any]]) -> None:
    client, ids = portal
    paths = api.get_openapi_schema()["paths"]
    assert paths
    for path, item in paths.items():
        url = re.sub(r"{(\w+)}", lambda m: str(ids.get(m.group(1), 1)), path)
        for method in item:
            response = client.generic(method.upper(), url)
            assert response.status_code == 404, (method, url, response.content)
            assert response.json()["error"]["code"] == "not_found"


def test_a_patient_account_gets_no_staff_role_or_token(users: dict[str, Any], me: User) -> None:
    with pytest.raises(Conflict):
        accounts.set_roles(users["admin"], me.pk, ["nurse"])
    with pytest.raises(Conflict):
        accounts.create_token(users["admin"], me.pk, "phone")
    assert not me.groups.exists()


def test_staff_are_not_confined(client_for: Any, patient: Any) -> None:
    """The portal rule applies to patients only: a nurse still opens the patient page."""
    assert client_for("nurse").get(f"/patients/{patient.pk}/").status_code == 200


def test_a_user_with_no_role_reads_nothing(users: dict[str, Any], patient: Any) -> None:
    """Deny by default: a signed-in user whose roles were all taken away (no patient account
    either) reaches no page of the record and no API route."""
    user = User.objects.create_user("former", password=PASSWORD)
    client = Client()
    client.force_login(user)
    for url in ("/", "/patients/", f"/patients/{patient.pk}/", "/me/", "/chairs/"):
        assert client.get(url).status_code == 404, url
    response = client.get(f"/api/patients/{patient.pk}")
    assert response.status_code == 404
