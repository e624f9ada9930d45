"""Reads of a patient's record are audited (requirement 2): opening the run sheet writes one
``read`` event naming the patient and the category; a page's polling does not flood the log;
every route that shows a patient's record is covered, checked from the URL patterns themselves
so that a new route without a line in ``READS`` fails here."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from ivig.records import audit
from ivig.records.models import (
    AuditEvent,
    CreatinineResult,
    InfusionSession,
    Order,
    Outcome,
    Reaction,
    Vitals,
)
from ivig.records.services import accounts
from ivig.server import middleware_audit
from ivig.server.middleware_audit import EXEMPT, READS

PASSWORD = "infusion-chair-42-Xq"


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


# A route takes a patient's record when its URL names one of these.
RECORD = re.compile(
    r"<(?:\w+:)?(patient_id|order_id|course_id|entry_id|lot_number|task_id|object_id)>"
)
ADMIN_RECORD = re.compile(r"admin/records/(patient|course|order|lot)/")
ROUTES = sorted(
    {
        route
        for route in _walk(get_resolver().url_patterns)
        if RECORD.search(route) and (not route.startswith("admin/") or ADMIN_RECORD.match(route))
    }
)


def _reads(after: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=after, action="read").order_by("seq"))


def _last() -> int:
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    return int(last or 0)


@pytest.fixture
def everyone(users: dict[str, Any]) -> Client:
    """A client signed in as a user holding every role (and so the admin's site)."""
    user = accounts.create_user(
        None, "all-roles", PASSWORD, ["admin", "prescriber", "pharmacist", "nurse"], system=True
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ids(users: dict[str, Any], patient: Any, dispensed: Order) -> dict[str, str]:
    """A real record for each URL parameter (all of one patient); an entry of each kind."""
    nurse, now = users["nurse"], timezone.now()
    session = InfusionSession.objects.create(
        order=dispensed, state="running", started_at=now - dt.timedelta(hours=1)
    )
    vitals = Vitals.objects.create(session=session, at=now, pulse_per_min=80, recorded_by=nurse)
    reaction = Reaction.objects.create(
        session=session, at=now, symptoms=["headache"], severity="mild", recommended={},
        action_taken="slowed", recorded_by=nurse,
    )  # fmt: skip
    outcome = Outcome.objects.create(
        patient=patient, measure="3tug", value=20, measured_on=now.date(), recorded_by=nurse
    )
    creatinine = CreatinineResult.objects.create(
        patient=patient, measured_on=now.date(), value=1.0, unit="mg/dL", recorded_by=nurse
    )
    return {
        "patient_id": str(patient.pk),
        "order_id": str(dispensed.pk),
        "course_id": str(dispensed.course_id),
        "lot_number": dispensed.lots.order_by("id")[0].lot_number,
        "kind": "weight",
        "task_id": "1",
        "weight_id": str(patient.weights.get().pk),  # the patient page's weight confirmation
        "entry/weights": str(patient.weights.get().pk),
        "entry/vitals": str(vitals.pk),
        "entry/reactions": str(reaction.pk),
        "entry/outcomes": str(outcome.pk),
        "entry/creatinine-results": str(creatinine.pk),
    }


def _url(route: str, ids: dict[str, str], patient: Any, order: Order) -> str:
    kind = re.match(r"api/([\w-]+)/<entry_id>", route)
    ids = {**ids, "entry_id": ids["entry/" + (kind.group(1) if kind else "weights")]}
    admin = ADMIN_RECORD.match(route)
    if admin:
        model = admin.group(1)
        objects = {
            "patient": patient.pk,
            "course": order.course_id,
            "order": order.pk,
            "lot": order.lots.order_by("id")[0].pk,
        }
        ids = {**ids, "object_id": str(objects[model])}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"{route}: give the test a real value for {name}"
        return ids[name]

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


def test_opening_the_run_sheet_writes_one_read_naming_the_patient(
    client_for: Any, patient: Any, dispensed: Order
) -> None:
    """Requirement 2: one ``read`` row, the patient, the category "medication/infusion"."""
    nurse = client_for("nurse")  # signing in is audited too (issue 17 item 13)
    start = _last()
    page = nurse.get(f"/orders/{dispensed.pk}/runsheet/")
    assert page.status_code == 200
    reads = _reads(start)
    assert len(reads) == 1
    event = reads[0]
    assert (event.actor, event.action, event.entity) == ("nurse", "read", "medication/infusion")
    assert event.patient_id == patient.pk
    assert event.entity_id == str(dispensed.pk)
    assert event.after == {"url": f"/orders/{dispensed.pk}/runsheet/"}
    # nothing else was written by a read
    assert AuditEvent.objects.filter(seq__gt=start).count() == 1


def test_polling_is_not_logged_again_but_each_full_load_is(
    client_for: Any, patient: Any, dispensed: Order
) -> None:
    """Requirement 2: the page's own polling (X-Ivig-Poll) writes nothing; loads always do."""
    nurse = client_for("nurse")
    start = _last()
    url = f"/orders/{dispensed.pk}/runsheet/"
    assert nurse.get(url).status_code == 200
    for _ in range(3):
        polled = nurse.get(url, headers={"HX-Request": "true", "X-Ivig-Poll": "runsheet"})
        assert polled.status_code == 200
    assert len(_reads(start)) == 1
    assert nurse.get(url).status_code == 200
    assert len(_reads(start)) == 2


def test_api_reads_are_audited_for_the_token_user(
    client_for: Any, users: dict[str, Any], patient: Any, dispensed: Order
) -> None:
    """Requirement 2: a machine client's read names its user; a list for one patient too."""
    _, raw = accounts.create_token(None, users["pharmacist"].pk, "lab", system=True)
    bearer = Client(headers={"Authorization": f"Bearer {raw}"})
    start = _last()
    assert bearer.get(f"/api/patients/{patient.pk}/outcomes").status_code == 200
    assert bearer.get(f"/api/orders?patient_id={patient.pk}").status_code == 200
    assert bearer.get("/api/orders?status=dispensed").status_code == 200  # a worklist
    assert bearer.get("/api/patients/999999").status_code == 404  # nothing shown
    reads = _reads(start)
    assert [(e.actor, e.entity, e.patient_id) for e in reads] == [
        ("pharmacist", "outcomes", patient.pk),
        ("pharmacist", "medication/infusion", patient.pk),
        ("pharmacist", "medication/infusion", patient.pk),  # the worklist lists it (issue 17)
    ]


def test_no_unaudited_read(client_for: Any, dispensed: Order, monkeypatch: Any) -> None:
    """Requirement 2: if the read cannot be recorded, the record is not shown."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit table unavailable")

    nurse = client_for("nurse")  # signed in (an audited event) before the audit breaks
    monkeypatch.setattr(audit, "record_all", broken)  # record goes through it
    page = nurse.get(f"/orders/{dispensed.pk}/runsheet/")
    assert page.status_code == 503
    assert b"Edward" not in page.content


def test_the_table_names_real_routes() -> None:
    every = set(_walk(get_resolver().url_patterns))
    assert set(READS) - every == set(), "READS names a route that does not exist"
    assert set(EXEMPT) - every == set(), "EXEMPT names a route that does not exist"
    assert len(ROUTES) > 40


def _open_unit(admin: Any) -> int:
    """A unit open every day with one chair (issue 18: the suggested slots of an order)."""
    from ivig.records.services import units

    unit = units.create_unit(admin, "Read ward", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, unit.pk, weekday, dt.time(8), dt.time(18))
    units.add_chair(admin, unit.pk, "R1")
    return unit.pk


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_showing_a_record_is_audited(
    route: str,
    everyone: Client,
    ids: dict[str, str],
    patient: Any,
    dispensed: Order,
    users: dict[str, Any],
) -> None:
    """Requirement 2, deny by default: each route that takes a patient's record and answers a
    GET with the record (200) must write one ``read`` per patient shown, with its category."""
    url = _url(route, ids, patient, dispensed)
    if route == "api/orders/<order_id>/slots":  # issue 18: the unit is a query parameter
        url += f"?unit={_open_unit(users['admin'])}"
    start = _last()
    response = everyone.get(url)
    reads = _reads(start)
    if route in READS:
        assert response.status_code == 200, (url, response.status_code)
        expected = READS[route].category
        if expected == "by kind":
            expected = middleware_audit.ENTRY_CATEGORY[ids["kind"]]
        assert [(e.patient_id, e.entity, e.actor) for e in reads] == [
            (patient.pk, expected, "all-roles")
        ], url
    elif response.status_code == 200:
        assert route in EXEMPT, (
            f"GET {url} shows a patient's record: add {route!r} to READS in "
            "ivig/server/middleware_audit.py (or to EXEMPT, with the reason)"
        )
        assert reads == []
    else:  # a submission only (405), a redirect to the page (302) or refused
        assert response.status_code in (302, 403, 405), (url, response.status_code)
        assert reads == []
