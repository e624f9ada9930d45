"""No hard delete (requirement 13; OpenMRS "never lose data"): HTTP DELETE on any clinical
resource, in the API or the pages, is 405 and changes nothing; no API route offers DELETE; and
no code issues a delete of a row or ``DELETE FROM`` (a static scan of the source, deny by
default: a new delete fails here until it is reviewed)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

import ivig
from ivig.api.api import api
from ivig.records.models import Order

SCHEMA_PATHS = sorted(api.get_openapi_schema()["paths"])
SOURCE = Path(ivig.__file__).parent


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


RECORD = re.compile(r"<(?:\w+:)?(patient_id|order_id|course_id|entry_id|lot_number|task_id)>")
PAGES = sorted(
    {r for r in _walk(get_resolver().url_patterns) if RECORD.search(r) and not r.startswith("api/")}
)


@pytest.fixture
def ids(patient: Any, dispensed: Order) -> dict[str, str]:
    return {
        "patient_id": str(patient.pk),
        "order_id": str(dispensed.pk),
        "course_id": str(dispensed.course_id),
        "entry_id": str(patient.weights.get().pk),
        "weight_id": str(patient.weights.get().pk),
        "lot_number": dispensed.lots.order_by("id")[0].lot_number,
        "task_id": "1",
        "user_id": "1",
        "token_id": "1",
        "kind": "weight",
        "alert_id": "1",
        "lot_id": "1",  # issue 18: a stock lot
        "unit_id": "1",  # issue 18
        "weekday": "1",
        "booking_id": "1",
    }


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"[{<](?:\w+:)?(\w+)[}>]", lambda m: ids[m.group(1)], path)


@pytest.mark.parametrize("path", SCHEMA_PATHS)
def test_delete_on_every_api_path_is_405_and_changes_nothing(
    path: str,
    ids: dict[str, str],
    client_for: Callable[[str | None], Client],
    db_state: Callable[[], dict[str, Any]],
) -> None:
    """Requirement 13: DELETE is 405 with a JSON error (for the admin as for a nurse), the
    ``Allow`` header naming what the path does offer; nothing written."""
    url = _fill(path, ids)
    before = db_state()
    for role in ("admin", "nurse"):
        response = client_for(role).delete(url)
        assert response.status_code == 405, (role, url, response.content)
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert "DELETE" not in response["Allow"]
        assert "void" in response.json()["error"]["message"]
    assert db_state() == before


@pytest.mark.parametrize("route", PAGES)
def test_delete_on_every_record_page_is_405(
    route: str,
    ids: dict[str, str],
    client_for: Callable[[str | None], Client],
    db_state: Callable[[], dict[str, Any]],
) -> None:
    """Requirement 13: the pages never delete either (and a DELETE is no disguised GET)."""
    url = "/" + _fill(route, ids)
    before = db_state()
    response = client_for("admin").delete(url)
    assert response.status_code == 405, (url, response.content)
    assert db_state() == before


def test_no_api_route_offers_delete() -> None:
    """Requirement 13: no operation in the API document uses DELETE."""
    methods = {m.upper() for item in api.get_openapi_schema()["paths"].values() for m in item}
    assert "DELETE" not in methods
    assert len(SCHEMA_PATHS) > 30


# Reviewed deletes: (file under src/ivig, the exact line). None is of a clinical row.
ALLOWED_DELETES = {
    # an idempotency placeholder whose request failed (500): released so a retry runs again
    (
        "server/middleware.py",
        "IdempotencyKey.objects.filter(pk=row.pk, status=IN_PROGRESS).delete()",
    ),
    # the sessions of a user being disabled end (issue 17 item 17): sign-ins, not records
    (
        "records/services/signin.py",
        "Session.objects.filter(session_key__in=keys).delete()  # sessions, not records",
    ),
}
# SQL that deletes rows; the audit triggers' SQL (which refuses them) may name the statements.
DELETE_SQL = re.compile(
    r"\bDELETE\s+FROM\b|\bTRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?\"?[a-z]+_\w+", re.IGNORECASE
)
DELETE_CALL = re.compile(r"\.delete\(|_raw_delete\(|objects\.raw\(")


def test_no_code_deletes_a_row() -> None:
    """Requirement 13: a static scan of every Python file: no ``.delete(`` (nor a raw query)
    but the reviewed ones, no ``DELETE FROM`` or ``TRUNCATE`` SQL outside the triggers."""
    found = []
    for file in sorted(SOURCE.rglob("*.py")):
        name = file.relative_to(SOURCE).as_posix()
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            text = line.strip()
            if DELETE_CALL.search(text) and (name, text) not in ALLOWED_DELETES:
                found.append(f"{name}:{number}: {text}")
            if DELETE_SQL.search(text) and name != "records/triggers.py":
                found.append(f"{name}:{number}: {text}")
    assert found == [], "a delete was added: void or cancel with a reason instead\n" + "\n".join(
        found
    )
    assert any(SOURCE.rglob("services/*.py")), "the scan found no source"


def test_the_scan_catches_a_delete() -> None:
    """The patterns are not blind: each kind of delete is caught."""
    for text in (
        "WeightRecord.objects.filter(pk=1).delete()",
        "row.delete()",
        'cursor.execute("delete from records_vitals")',
        'cursor.execute("TRUNCATE records_outcome")',
        "Vitals.objects.raw('select 1')",
    ):
        assert DELETE_CALL.search(text) or DELETE_SQL.search(text), text
    assert not DELETE_SQL.search("BEFORE UPDATE OR DELETE ON records_auditevent")
    assert not DELETE_SQL.search("the triggers refuse UPDATE, DELETE and TRUNCATE on the table")
