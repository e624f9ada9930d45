"""Who may call what: the role x route matrix, generated from the OpenAPI document, so a new
route without a rule fails here; and the same rule one layer down, in the services
(requirement 15).

Each route is called by an anonymous client and by a user of each role, with real ids (a
patient, a course, orders, a user, a token, a lot) and an empty JSON body for writes:

    anonymous              -> 401
    a role not in x-roles  -> 403, and nothing written (every table, the audit chain)
    a role in x-roles      -> anything but 401/403 (and never a 5xx): 200, 201, 404, 409, 422

The matrix runs twice: signed in with a session, and with a bearer token of the same user.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone

from ivig.api.api import api
from ivig.errors import Forbidden
from ivig.records.services import (
    accounts,
    courses,
    infusions,
    orders,
    outcomes,
    patients,
    renal,
)

ROLES = ("admin", "prescriber", "pharmacist", "nurse")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
SCHEMA = api.get_openapi_schema()
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in SCHEMA["paths"].items()
    for method in item
    if method.upper() in {"GET", *WRITES}
)


def _operation(method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = SCHEMA["paths"][path][method.lower()]
    return op


def _send(client: Client, method: str, url: str, **headers: str) -> Any:
    if method in WRITES:
        return client.generic(method, url, "{}", content_type="application/json", headers=headers)
    return client.generic(method, url, headers=headers)


def _error(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json"), response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) - {"details"} == {"code", "message", "field"}, body
    assert body["error"]["message"], body
    error: dict[str, Any] = body["error"]
    return error


# --- the document itself -----------------------------------------------------------------------


def test_the_matrix_sees_every_route() -> None:
    """Every registered operation is in the OpenAPI document (a route hidden from the schema
    would escape the matrix) and has an auth rule."""
    registered = set()
    for _prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for op in view.operations:
                assert op.include_in_schema, f"{op.methods} {path} is hidden from the schema"
                assert op.auth_callbacks, f"{op.methods} {path} has no auth"
                registered |= {(m, "/api" + path) for m in op.methods}
    assert registered == set(OPERATIONS)
    assert len(OPERATIONS) >= 40


def test_the_document_is_what_the_server_serves(client_for: Callable[[str | None], Client]) -> None:
    served = client_for("admin").get("/api/openapi.json")
    assert served.status_code == 200
    assert served.json()["paths"] == json.loads(json.dumps(SCHEMA["paths"], default=str))


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_route_names_its_roles(method: str, path: str) -> None:
    roles = _operation(method, path).get("x-roles")
    assert isinstance(roles, list), f"{method} {path} has no x-roles: give it a rule(...)"
    assert roles, f"{method} {path} is open to no role"
    assert set(roles) <= set(ROLES), f"{method} {path}: unknown roles {set(roles) - set(ROLES)}"
    assert len(roles) == len(set(roles))
    security = _operation(method, path).get("security")
    assert security == [{"_Session": []}, {"_Token": []}], security


# Who may do what, written out: widening or narrowing a route's roles must change this table
# too, on purpose (the matrix below checks the server does what x-roles says; this checks x-roles
# says what the service intends). A new route fails until it is added here.
EVERYONE = frozenset(ROLES)
P, PH, N, A = "prescriber", "pharmacist", "nurse", "admin"
POLICY: dict[str, frozenset[str]] = {
    "GET /api/products": EVERYONE,
    "GET /api/risks": EVERYONE,
    "GET /api/indications": EVERYONE,
    "GET /api/me": EVERYONE,
    "GET /api/patients": EVERYONE,
    "GET /api/patients/{patient_id}": EVERYONE,
    "GET /api/patients/{patient_id}/eligibility": EVERYONE,
    "GET /api/patients/{patient_id}/courses": EVERYONE,
    "GET /api/patients/{patient_id}/outcomes": EVERYONE,
    "GET /api/patients/{patient_id}/creatinine-results": EVERYONE,
    "GET /api/courses/{course_id}": EVERYONE,
    "GET /api/orders": EVERYONE,
    "GET /api/orders/{order_id}": EVERYONE,
    "GET /api/orders/{order_id}/session": EVERYONE,
    "GET /api/lots/{lot_number}/orders": frozenset({PH, P, A}),
    "POST /api/patients": frozenset({P, A}),
    "PUT /api/patients/{patient_id}": frozenset({P, A}),
    "POST /api/patients/{patient_id}/weights": frozenset({P, N, A}),
    "POST /api/patients/{patient_id}/creatinine-results": frozenset({P, N, A}),
    "PUT /api/patients/{patient_id}/eligibility": frozenset({P}),
    "POST /api/patients/{patient_id}/courses": frozenset({P}),
    "POST /api/patients/{patient_id}/courses/preview": frozenset({P, PH}),
    "POST /api/courses/{course_id}/cancel": frozenset({P}),
    "POST /api/orders/{order_id}/verify": frozenset({PH}),
    "POST /api/orders/{order_id}/dispense": frozenset({PH}),
    "POST /api/orders/{order_id}/defer": frozenset({P, N}),
    "POST /api/orders/{order_id}/cancel": frozenset({P}),
    "POST /api/orders/{order_id}/check": frozenset({N}),
    "POST /api/orders/{order_id}/override": frozenset({P}),
    "POST /api/orders/{order_id}/start": frozenset({N}),
    "POST /api/orders/{order_id}/rates": frozenset({N}),
    "POST /api/orders/{order_id}/vitals": frozenset({N}),
    "POST /api/orders/{order_id}/reactions": frozenset({N}),
    "POST /api/orders/{order_id}/resume": frozenset({N}),
    "POST /api/orders/{order_id}/restart-order": frozenset({P}),
    "GET /api/tasks": frozenset({P}),
    "POST /api/tasks/{task_id}/acknowledge": frozenset({P}),
    "GET /api/alerts": frozenset({P, N}),
    "POST /api/alerts/{kind}/{alert_id}/close": frozenset({P, N}),
    "POST /api/orders/{order_id}/end": frozenset({N}),
    "POST /api/orders/{order_id}/observation": frozenset({N}),
    "POST /api/patients/{patient_id}/outcomes": frozenset({P, N}),
    "GET /api/users": frozenset({A}),
    "POST /api/users": frozenset({A}),
    "PUT /api/users/{user_id}/roles": frozenset({A}),
    "PUT /api/users/{user_id}/active": frozenset({A}),
    "POST /api/users/{user_id}/unlock": frozenset({A}),
    "POST /api/tokens": frozenset({A}),
    "POST /api/tokens/{token_id}/revoke": frozenset({A}),
    "GET /api/audit/verify": frozenset({A}),
    "POST /api/courses/{course_id}/replan": frozenset({P}),
    "POST /api/courses/{course_id}/verify": frozenset({PH}),  # issue 16 item 15
    "POST /api/courses/{course_id}/dispense": frozenset({PH}),
    "GET /api/orders/{order_id}/premedication": EVERYONE,  # issue 16 item 6
    "POST /api/courses/{course_id}/premedication": frozenset({P}),
    "POST /api/orders/{order_id}/premedication/given": frozenset({N}),
    "POST /api/reactions/{entry_id}/decision": frozenset({P}),
    "GET /api/reports/safety": frozenset({A, PH}),
    "GET /api/reports/usage": frozenset({A, PH}),  # issue 18
    "GET /api/patients/{patient_id}/fhir": EVERYONE,
    # corrections: by the roles that record the entry; the history is for everyone
    "POST /api/weights/{entry_id}/corrections": frozenset({P, N, A}),
    "POST /api/weights/{entry_id}/void": frozenset({P, N, A}),
    "GET /api/weights/{entry_id}/history": EVERYONE,
    "POST /api/weights/{entry_id}/confirm": frozenset({P}),  # a changed weight (issue 14)
    "POST /api/vitals/{entry_id}/corrections": frozenset({N}),
    "POST /api/vitals/{entry_id}/void": frozenset({N}),
    "GET /api/vitals/{entry_id}/history": EVERYONE,
    "POST /api/reactions/{entry_id}/corrections": frozenset({N}),
    "POST /api/reactions/{entry_id}/void": frozenset({N}),
    "GET /api/reactions/{entry_id}/history": EVERYONE,
    "POST /api/outcomes/{entry_id}/corrections": frozenset({P, N}),
    "POST /api/outcomes/{entry_id}/void": frozenset({P, N}),
    "GET /api/outcomes/{entry_id}/history": EVERYONE,
    "POST /api/creatinine-results/{entry_id}/corrections": frozenset({P, N, A}),
    "POST /api/creatinine-results/{entry_id}/void": frozenset({P, N, A}),
    "GET /api/creatinine-results/{entry_id}/history": EVERYONE,
    # vial stock (issue 18): the pharmacist; the administrator adds the stores
    "GET /api/stores": frozenset({PH, A}),
    "POST /api/stores": frozenset({A}),
    "GET /api/stock": frozenset({PH}),
    "GET /api/stock/expiring": frozenset({PH}),
    "POST /api/stock/receive": frozenset({PH}),
    "POST /api/stock/lots/{lot_id}/take": frozenset({PH}),
    "POST /api/stock/lots/{lot_id}/return": frozenset({PH}),
    "GET /api/stock/orders/{order_id}": frozenset({PH}),
    "POST /api/stock/quarantine": frozenset({PH}),
    "POST /api/stock/release": frozenset({PH}),
    # issue 18: units (the administrator edits), bookings (nurse, prescriber, admin book)
    "GET /api/units": EVERYONE,
    "POST /api/units": frozenset({A}),
    "PUT /api/units/{unit_id}": frozenset({A}),
    "POST /api/units/{unit_id}/chairs": frozenset({A}),
    "PUT /api/units/{unit_id}/hours/{weekday}": frozenset({A}),
    "POST /api/units/{unit_id}/hours/{weekday}/close": frozenset({A}),
    "GET /api/bookings": EVERYONE,
    "POST /api/bookings": frozenset({N, P, A}),
    "POST /api/bookings/{booking_id}/move": frozenset({N, P, A}),
    "POST /api/bookings/{booking_id}/cancel": frozenset({N, P, A}),
    "GET /api/orders/{order_id}/slots": frozenset({N, P, A}),  # issue 18: suggested slots
    "GET /api/reminders": frozenset({N, A}),  # issue 18: reminders
    "POST /api/reminders/send": frozenset({A}),
    "GET /api/bookings/board": EVERYONE,  # issue 18: the unit's board
}


def test_the_roles_are_the_policy() -> None:
    declared = {f"{m} {p}": frozenset(_operation(m, p).get("x-roles") or ()) for m, p in OPERATIONS}
    assert declared == POLICY


# --- the matrix --------------------------------------------------------------------------------


@pytest.fixture
def ids(users: dict[str, Any], patient: Any, day: Any) -> dict[str, str]:
    """A real object for each path parameter, so a permitted role reaches the handler."""
    token, _ = accounts.create_token(None, users["nurse"].pk, "placeholder", system=True)
    task = _task(day)
    now = timezone.now()
    signs = infusions.record_vitals(
        users["nurse"], day.running.pk, now - dt.timedelta(minutes=30),
        infusions.VitalsInput(pulse_per_min=72), now=now,
    )  # fmt: skip
    measured = now.date() - dt.timedelta(days=30)
    outcome = outcomes.record_outcome(
        users["nurse"], day.patient.pk, "qmg", 12, measured, today=now.date()
    )
    reaction = _reaction(day)
    creatinine = renal.add_creatinine(
        users["nurse"], day.patient.pk, measured, 1.1, "mg/dL", today=now.date()
    )
    return {
        # corrections: one real entry of each kind (the path names the kind)
        "weights:entry_id": str(day.patient.weights.first().pk),
        "vitals:entry_id": str(signs.pk),
        "reactions:entry_id": str(reaction.pk),
        "outcomes:entry_id": str(outcome.pk),
        "creatinine-results:entry_id": str(creatinine.pk),
        "task_id": str(task.pk),
        "patient_id": str(day.patient.pk),
        "course_id": str(day.course.pk),
        "order_id": str(day.running.pk),
        "user_id": str(users["nurse"].pk),
        "token_id": str(token.pk),
        "lot_number": day.running.lots.first().lot_number,
        "alerts:kind": "diary",  # issue 16: no alert here; the handler answers 404
        "alerts:alert_id": "1",
        "stock:lot_id": "1",  # issue 18: no stock lot here; the handler answers 404
        **_booking(users, day),  # issue 18
    }


def _booking(users: dict[str, Any], day: Any) -> dict[str, str]:
    """A unit open every day with a chair, and a booking of day 3 (written directly)."""
    from ivig.records.models import Booking
    from ivig.records.services import units

    unit = units.create_unit(users["admin"], "Matrix ward", "day-ward", 15)
    units.set_hours(users["admin"], unit.pk, 0, dt.time(8), dt.time(18))
    chair = units.add_chair(users["admin"], unit.pk, "M1")
    start = timezone.localtime().replace(hour=9, minute=0)
    booking = Booking.objects.create(
        order=day.planned, chair=chair, start=start + dt.timedelta(days=2), length_minutes=200,
        setup_minutes=15, pump_minutes=125, observation_minutes=60, booked_by=users["nurse"],
    )  # fmt: skip
    return {"unit_id": str(unit.pk), "weekday": "0", "booking_id": str(booking.pk)}


def _task(day: Any) -> Any:
    """A prescriber's task (reaction medicines) on the running infusion."""
    from ivig.records.models import PrescriberTask

    session = day.running.session
    return PrescriberTask.objects.create(
        session=session,
        patient=day.patient,
        kind="reaction-medicines",
        message="paracetamol 1 g given under protocol",
    )


def _reaction(day: Any) -> Any:
    """A reaction row on the running infusion, written directly (the service would pause it)."""
    from ivig.records.models import Reaction

    return Reaction.objects.create(
        session=day.running.session,
        at=timezone.now(),
        symptoms=["headache"],
        severity="mild",
        recommended={},
        action_taken="paused",
        recorded_by=day.running.session.started_by,
    )


def _url(path: str, ids: dict[str, str]) -> str:
    kind = path.split("/")[2]
    ids = {**ids, **{k.split(":")[1]: v for k, v in ids.items() if k.startswith(f"{kind}:")}}
    names = re.findall(r"{(\w+)}", path)
    missing = [n for n in names if n not in ids]
    assert not missing, f"{path}: give the matrix a real object for {missing}"
    for name in names:
        path = path.replace("{" + name + "}", ids[name])
    return path


@pytest.fixture(params=["session", "token"])
def caller(
    request: pytest.FixtureRequest, users: dict[str, Any]
) -> Callable[[str | None], Callable[[str, str], Any]]:
    """``caller(role)(method, url)``: a request as that role, by session or by bearer token
    (``None``: anonymous)."""
    tokens = {}
    if request.param == "token":
        tokens = {
            role: accounts.create_token(None, users[role].pk, f"matrix {role}", system=True)[1]
            for role in ROLES
        }

    def make(role: str | None) -> Callable[[str, str], Any]:
        client = Client()
        headers: dict[str, str] = {}
        if role is not None and request.param == "session":
            client.force_login(users[role])
        elif role is not None:
            headers["Authorization"] = f"Bearer {tokens[role]}"
        return lambda method, url: _send(client, method, url, **headers)

    return make


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_role_matrix(
    method: str,
    path: str,
    ids: dict[str, str],
    caller: Callable[[str | None], Callable[[str, str], Any]],
    db_state: Callable[[], dict[str, Any]],
) -> None:
    allowed = set(_operation(method, path).get("x-roles") or ())
    url = _url(path, ids)
    before = db_state()

    # Without permission: anonymous 401, every other role 403; nothing written.
    response = caller(None)(method, url)
    assert response.status_code == 401, (url, response.content)
    assert _error(response)["code"] == "unauthenticated"
    for role in sorted(set(ROLES) - allowed):
        response = caller(role)(method, url)
        assert response.status_code == 403, (role, url, response.content)
        error = _error(response)
        assert error["code"] == "forbidden"
        assert b"Traceback" not in response.content
    assert db_state() == before, f"a refused {method} {path} wrote something"

    # With permission: past the role check, whatever the handler then says.
    for role in sorted(allowed):
        response = caller(role)(method, url)
        assert response.status_code not in (401, 403), (role, url, response.content)
        assert response.status_code < 500, (role, url, response.content)
        assert response["Content-Type"].startswith("application/json"), response.content
        assert b"Traceback" not in response.content


def test_an_inactive_user_is_refused(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any
) -> None:
    """A disabled user's session no longer signs them in; their token stops working too."""
    _, raw = accounts.create_token(None, users["nurse"].pk, "chair tablet", system=True)
    nurse = client_for("nurse")
    assert nurse.get(f"/api/patients/{patient.pk}").status_code == 200
    accounts.set_active(users["admin"], users["nurse"].pk, False)
    assert nurse.get(f"/api/patients/{patient.pk}").status_code == 401
    bearer = Client().get(f"/api/patients/{patient.pk}", headers={"Authorization": f"Bearer {raw}"})
    assert bearer.status_code == 401


# --- the services refuse too (requirement 15) --------------------------------------------------

NOW = timezone.now


def _lots(order: Any) -> list[orders.LotInput]:
    return [
        orders.LotInput(f"S{i}", dt.date(2099, 12, 31), float(v["size_g"]), int(v["count"]))
        for i, v in enumerate(order.vials, start=1)
    ]


def _patient_input(mrn: str) -> patients.PatientInput:
    return patients.PatientInput(mrn, "Doe", "Jo", dt.date(1980, 1, 1), "female", 170)


def _course(**changes: Any) -> courses.CourseInput:
    fields: dict[str, Any] = {
        "indication": "lems",
        "phase": "induction",
        "product": "privigen-us",
        "place": "hospital",
        "start": timezone.localdate(),
        "days": 2,
    }
    return courses.CourseInput(**{**fields, **changes})


def _eligibility(**changes: Any) -> patients.EligibilityInput:
    fields: dict[str, Any] = {
        "indication": "lems",
        "diagnosed_by_neurologist": True,
        "answers": {
            "vgcc_antibodies": "positive",
            "electrophysiology": "consistent",
            "severity_measure": "adl",
        },
        "alternative_therapy_failed": True,
        "review_date": timezone.localdate() + dt.timedelta(days=180),
    }
    return patients.EligibilityInput(**{**fields, **changes})


CHECK = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)

# (name, roles allowed, a call with VALID input: (actor, context) -> Any)
Call = Callable[[Any, dict[str, Any]], Any]
SERVICES: list[tuple[str, tuple[str, ...], Call]] = [
    (
        "patients.create_patient",
        ("prescriber", "admin"),
        lambda u, c: patients.create_patient(u, _patient_input("NEW1"), today=c["today"]),
    ),
    (
        "patients.update_patient",
        ("prescriber", "admin"),
        lambda u, c: patients.update_patient(
            u, c["patient"].pk, c["patient"].version, _patient_input("MRN0001"), today=c["today"]
        ),
    ),
    (
        "patients.add_weight",
        ("prescriber", "nurse", "admin"),
        lambda u, c: patients.add_weight(u, c["patient"].pk, c["today"], 90, today=c["today"]),
    ),
    (
        "patients.record_eligibility",
        ("prescriber",),
        lambda u, c: patients.record_eligibility(u, c["patient"].pk, _eligibility()),
    ),
    (
        "courses.prescribe",
        ("prescriber",),
        lambda u, c: courses.prescribe(u, c["patient"].pk, _course()),
    ),
    (
        "courses.cancel_course",
        ("prescriber",),
        lambda u, c: courses.cancel_course(u, c["day"].course.pk, c["day"].course.version, "x"),
    ),
    (
        "courses.replan",
        ("prescriber",),
        lambda u, c: courses.replan(u, c["day"].course.pk, c["day"].course.version, "library"),
    ),
    (
        "orders.verify",
        ("pharmacist",),
        lambda u, c: orders.verify(u, c["day"].planned.pk, c["day"].planned.version),
    ),
    (
        "orders.dispense",
        ("pharmacist",),
        lambda u, c: orders.dispense(
            u, c["day"].verified.pk, c["day"].verified.version, _lots(c["day"].verified)
        ),
    ),
    (
        "orders.defer",
        ("prescriber", "nurse"),
        lambda u, c: orders.defer(u, c["day"].planned.pk, c["day"].planned.version, "unwell"),
    ),
    (
        "orders.cancel",
        ("prescriber",),
        lambda u, c: orders.cancel(u, c["day"].planned.pk, c["day"].planned.version, "stop"),
    ),
    (
        "infusions.pre_check",
        ("nurse",),
        lambda u, c: infusions.pre_check(u, c["day"].verified.pk, CHECK, now=NOW()),
    ),
    (
        "infusions.override",
        ("prescriber",),
        lambda u, c: infusions.override(u, c["day"].running.pk, "benefit outweighs", now=NOW()),
    ),
    (
        "infusions.start_infusion",
        ("nurse",),
        lambda u, c: infusions.start_infusion(
            u,
            c["day"].verified.pk,
            c["day"].verified.version,
            NOW(),
            visual_inspection_ok=True,
            now=NOW(),
        ),
    ),
    (
        "infusions.record_rate",
        ("nurse",),
        lambda u, c: infusions.record_rate(
            u, c["day"].running.pk, c["session"].version, NOW(), 10, now=NOW()
        ),
    ),
    (
        "infusions.resume_infusion",
        ("nurse",),
        lambda u, c: infusions.resume_infusion(
            u, c["day"].running.pk, c["session"].version, NOW(), 10, now=NOW()
        ),
    ),
    (
        "infusions.order_restart",
        ("prescriber",),
        lambda u, c: infusions.order_restart(
            u, c["day"].running.pk, c["session"].version, "settled", 10, now=NOW()
        ),
    ),
    (
        "infusions.open_tasks",
        ("prescriber",),
        lambda u, c: infusions.open_tasks(u),
    ),
    (
        "infusions.acknowledge_task",
        ("prescriber",),
        lambda u, c: infusions.acknowledge_task(u, c["task"].pk, "seen", now=NOW()),
    ),
    (
        "infusions.record_vitals",
        ("nurse",),
        lambda u, c: infusions.record_vitals(
            u, c["day"].running.pk, NOW(), infusions.VitalsInput(temperature_c=36.6), now=NOW()
        ),
    ),
    (
        "infusions.record_reaction",
        ("nurse",),
        lambda u, c: infusions.record_reaction(
            u,
            c["day"].running.pk,
            c["session"].version,
            NOW(),
            ["headache"],
            "slowed",
            now=NOW(),
        ),
    ),
    (
        "infusions.end_infusion",
        ("nurse",),
        lambda u, c: infusions.end_infusion(u, c["day"].running.pk, NOW(), now=NOW()),
    ),
    (
        "infusions.finish_observation",
        ("nurse",),
        lambda u, c: infusions.finish_observation(
            u, c["day"].running.pk, c["day"].running.version, NOW(), "", now=NOW()
        ),
    ),
    (
        "outcomes.record_outcome",
        ("prescriber", "nurse"),
        lambda u, c: outcomes.record_outcome(
            u, c["patient"].pk, "qmg", 12, c["today"], today=c["today"]
        ),
    ),
    (
        "accounts.create_user",
        ("admin",),
        lambda u, c: accounts.create_user(u, "newbie", "infusion-chair-42-Xq", ["nurse"]),
    ),
    (
        "accounts.set_roles",
        ("admin",),
        lambda u, c: accounts.set_roles(u, c["users"]["nurse"].pk, ["nurse", "prescriber"]),
    ),
    (
        "accounts.set_active",
        ("admin",),
        lambda u, c: accounts.set_active(u, c["users"]["nurse"].pk, False),
    ),
    (
        "accounts.create_token",
        ("admin",),
        lambda u, c: accounts.create_token(u, c["users"]["nurse"].pk, "tablet"),
    ),
    (
        "accounts.revoke_token",
        ("admin",),
        lambda u, c: accounts.revoke_token(u, c["token"].pk),
    ),
]


@pytest.fixture
def context(users: dict[str, Any], patient: Any, day: Any) -> dict[str, Any]:
    token, _ = accounts.create_token(None, users["nurse"].pk, "spare", system=True)
    patient.refresh_from_db()
    return {
        "users": users,
        "patient": patient,
        "day": day,
        "session": day.running.session,
        "task": _task(day),
        "token": token,
        "today": timezone.localdate(),
    }


def _without(roles: tuple[str, ...]) -> list[str]:
    return [r for r in ROLES if r not in roles]


@pytest.mark.parametrize(("name", "roles", "call"), SERVICES, ids=[name for name, _, _ in SERVICES])
def test_a_service_refuses_a_user_without_the_role(
    name: str,
    roles: tuple[str, ...],
    call: Call,
    context: dict[str, Any],
    db_state: Callable[[], dict[str, Any]],
) -> None:
    from django.contrib.auth.models import User

    from ivig.records.services.accounts import create_user

    inactive = create_user(None, "gone", "infusion-chair-42-Xq", list(roles), system=True)
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    inactive.refresh_from_db()
    actors = [
        *(context["users"][r] for r in _without(roles)),
        None,
        AnonymousUser(),
        inactive,  # holds the role, but is disabled
    ]
    before = db_state()
    for actor in actors:
        with pytest.raises(Forbidden) as caught:
            call(actor, context)
        assert caught.value.http_status == 403
        assert caught.value.code == "forbidden"
    assert db_state() == before


# The role is checked before anything else: a user without the role who also sends bad input,
# or names a record in the wrong state, is told "forbidden", never what was wrong with the input
# (access.require is "the permission check every service calls first").
BAD_INPUT: list[Any] = [
    # a nurse prescribing 7 induction days
    pytest.param(
        "nurse",
        lambda u, c: courses.prescribe(u, c["patient"].pk, _course(days=7)),
        id="prescribe-7-days",
    ),
    # a pharmacist creating a patient without an MRN
    pytest.param(
        "pharmacist",
        lambda u, c: patients.create_patient(u, _patient_input(" "), today=c["today"]),
        id="create-patient-empty-mrn",
    ),
    # a pharmacist writing an impossible temperature
    pytest.param(
        "pharmacist",
        lambda u, c: infusions.record_vitals(
            u, c["day"].running.pk, NOW(), infusions.VitalsInput(temperature_c=50), now=NOW()
        ),
        id="vitals-temperature-50",
    ),
    # a prescriber creating a user with an unknown role
    pytest.param(
        "prescriber",
        lambda u, c: accounts.create_user(u, "x", "infusion-chair-42-Xq", ["wizard"]),
        id="create-user-unknown-role",
    ),
    # a nurse recording an outcome is allowed; a pharmacist with a bad measure is not
    pytest.param(
        "pharmacist",
        lambda u, c: outcomes.record_outcome(
            u, c["patient"].pk, "nope", 1, c["today"], today=c["today"]
        ),
        id="outcome-unknown-measure",
    ),
    # a nurse verifying an order that is already verified
    pytest.param(
        "nurse",
        lambda u, c: orders.verify(u, c["day"].verified.pk, c["day"].verified.version),
        id="verify-a-verified-order",
    ),
    # a nurse dispensing lots that do not hold the ordered vials
    pytest.param(
        "nurse",
        lambda u, c: orders.dispense(
            u,
            c["day"].verified.pk,
            c["day"].verified.version,
            [orders.LotInput("X", dt.date(2099, 1, 1), 7.0, 1)],
        ),
        id="dispense-wrong-lots",
    ),
    # a pharmacist deferring without a reason
    pytest.param(
        "pharmacist",
        lambda u, c: orders.defer(u, c["day"].planned.pk, c["day"].planned.version, " "),
        id="defer-without-reason",
    ),
    # a nurse cancelling an order that is in progress
    pytest.param(
        "nurse",
        lambda u, c: orders.cancel(u, c["day"].running.pk, c["day"].running.version, "stop"),
        id="cancel-a-running-order",
    ),
]


@pytest.mark.parametrize(("role", "call"), BAD_INPUT)
def test_a_service_checks_the_role_before_the_input(
    role: str, call: Call, context: dict[str, Any]
) -> None:
    with pytest.raises(Forbidden):
        call(context["users"][role], context)
