"""Schemathesis over the OpenAPI document served by the running app (pytest-django's
``live_server``, a real HTTP server in a thread, on the committed test database).

Every operation of the document is fuzzed, each in its own subtest, with data that fits its
schema (positive) and data that does not (negative), signed in with the bearer token of a role
it allows (and now and then of a role it does not). Path ids are mostly those of seeded records
(two patients, a course with orders running, verified and planned, weights, vital signs, an
outcome, lots), so the calls reach the services instead of stopping at 404; sometimes they are
whatever Schemathesis generates. Every response must:

- not be a server error (``not_a_server_error``);
- match the response schema declared for its status (``response_schema_conformance``);
- have a status the operation declares (``status_code_conformance``);
- have the declared content type (``content_type_conformance``).

Bounded for a 2-core CI machine: a fixed number of examples per operation, derandomized (the
same cases every run), no shrinking (a failure reports the case as generated, with a curl line
to replay it).
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pytest
import requests
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ivig.api.api import api
from ivig.records.services import accounts, infusions, outcomes, stock

CHECKS = [
    schemathesis.checks.not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
EXAMPLES = 10  # per operation and generation mode
ROLES = ("admin", "prescriber", "pharmacist", "nurse")

# Operations left out, by name, and why. (None: every operation of the document is fuzzed.)
EXCLUDED: dict[str, str] = {}

DOCUMENT = api.get_openapi_schema()
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if f"{method.upper()} {path}" not in EXCLUDED
]
ROLES_OF = {
    f"{method.upper()} {path}": tuple(op["x-roles"])
    for path, item in DOCUMENT["paths"].items()
    for method, op in item.items()
}


def _seed(users: dict[str, Any], patient: Any, day: Any) -> dict[str, Any]:
    """Records for the path ids, and one token per role (plus a spare user and token that the
    user and token routes may change without locking the fuzzer out)."""
    now = timezone.now()
    vitals = infusions.record_vitals(
        users["nurse"],
        day.running.pk,
        now - dt.timedelta(minutes=20),
        infusions.VitalsInput(pulse_per_min=70, temperature_c=36.8),
        now=now,
    )
    outcome = outcomes.record_outcome(
        users["prescriber"], patient.pk, "qmg", 12, timezone.localdate(), today=timezone.localdate()
    )
    spare = accounts.create_user(None, "spare", "spare-password-42-Xq", ["nurse"], system=True)
    shelf = stock.create_store(users["admin"], "main pharmacy")  # issue 18: a stock lot
    expiry = timezone.localdate() + dt.timedelta(days=365)
    lot = stock.receive(
        users["pharmacist"], shelf.pk, stock.Received(day.course.product_id, 40, "S1", expiry, 20)
    )
    spare_token, _ = accounts.create_token(None, spare.pk, "spare", system=True)
    tokens = {
        role: accounts.create_token(None, users[role].pk, f"fuzz {role}", system=True)
        for role in ROLES
    }
    weights = [w.pk for p in (patient, day.patient) for w in p.weights.all()]
    return {
        "tokens": {role: raw for role, (_, raw) in tokens.items()},
        "protected": {
            "user_id": ({u.pk for u in users.values()}, spare.pk),
            "token_id": ({t.pk for t, _ in tokens.values()}, spare_token.pk),
        },
        "ids": {
            "patient_id": [patient.pk, day.patient.pk],
            "course_id": [day.course.pk],
            "order_id": [o.pk for o in day.course.orders.order_by("sequence")],
            "user_id": [spare.pk],
            "token_id": [spare_token.pk],
            "lot_number": sorted({lot.lot_number for lot in day.running.lots.all()}),
            "weights": weights,
            "vitals": [vitals.pk],
            "outcomes": [outcome.pk],
            "lot_id": [lot.pk],
        },
    }


def _known(path: str, name: str, ids: dict[str, list[Any]]) -> list[Any]:
    if name == "entry_id":
        return ids.get(path.split("/")[2], [])
    return ids.get(name, [])


@pytest.fixture
def base(live_server: Any) -> str:
    """The live server's address, answering without the 40 ms stall of Nagle's algorithm
    meeting delayed ACKs (Django's test server writes the headers and the body apart): every
    connection accepted from now on sends at once."""
    httpd = live_server.thread.httpd
    accept = httpd.get_request

    def get_request() -> tuple[socket.socket, Any]:
        conn, address = accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address

    httpd.get_request = get_request
    # 127.0.0.1, not localhost: no IPv6 attempt first
    return str(live_server.url).replace("//localhost:", "//127.0.0.1:")


@pytest.fixture
def schema(base: str) -> Any:
    """The document as the running server serves it."""
    return schemathesis.openapi.from_url(f"{base}/api/openapi.json")


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_every_operation_keeps_its_contract(
    live_records: None,
    base: str,
    schema: Any,
    users: dict[str, Any],
    patient: Any,
    day: Any,
    subtests: Any,
) -> None:
    seed = _seed(users, patient, day)
    session = requests.Session()
    try:
        for label in OPERATIONS:
            with subtests.test(msg=label):
                _fuzz(schema, label, seed, base, session)
    finally:
        session.close()


def _fuzz(schema: Any, label: str, seed: dict[str, Any], base: str, session: Any) -> None:
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    allowed = ROLES_OF[label]
    # mostly a role the route allows; now and then one it does not (403 must be declared too)
    roles = st.sampled_from([*allowed * 3, *(r for r in ROLES if r not in allowed)])
    names = [p["name"] for p in operation.definition.raw.get("parameters", []) if p["in"] == "path"]
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    if operation.definition.raw.get("parameters") or operation.definition.raw.get("requestBody"):
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    ids = {n: _known(path, n, seed["ids"]) for n in names}
    pick = st.fixed_dictionaries(
        {n: st.one_of(st.none(), st.sampled_from(ids[n])) for n in names if ids[n]}
    )

    @settings(
        max_examples=EXAMPLES * len(strategies),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies), role=roles, known=pick)
    def run(case: Any, role: str, known: dict[str, Any]) -> None:
        for name, value in known.items():
            if value is not None and case.path_parameters is not None:
                case.path_parameters[name] = value
        for name, (mine, spare) in seed["protected"].items():
            if case.path_parameters and case.path_parameters.get(name) in mine:
                case.path_parameters[name] = spare  # keep the fuzzer's own users and tokens
        headers = {"Authorization": f"Bearer {seed['tokens'][role]}"}
        response = case.call(base_url=base, session=session, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def test_nothing_is_left_out_silently() -> None:
    every = {f"{m.upper()} {p}" for p, item in DOCUMENT["paths"].items() for m in item}
    assert set(EXCLUDED) <= every
    assert set(OPERATIONS) | set(EXCLUDED) == every
    assert all(reason.strip() for reason in EXCLUDED.values())
