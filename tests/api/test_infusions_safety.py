"""The safety layer at the chair through the API (issue 5), on the real clock: a crafted POST
cannot save a hard limit (48-50); a soft limit needs a signed override (47); the session
version and state guard every change (32, 62); a stopped infusion restarts only on a
prescriber's order; reaction medicines make a task (62); the start records the inspection and
the nurse (65), times are checked (35); vitals: impossible 422, abnormal flagged (34).

The infusions start 3 hours ago, on the order's day (the day before, just after midnight).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.utils import timezone

from ivig.records.models import LimitEvent, Order, RateChange
from ivig.records.services import courses, infusions, orders, patients
from ivig.records.services.accounts import create_user
from ivig.records.services.infusions import SessionView

PASSWORD = "infusion-chair-42-Xq"
BASELINE = infusions.VitalsInput(pulse_per_min=74)  # the vital signs before the start
WELL = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)
NORMAL = {"pulse_per_min": 74, "systolic_mm_hg": 124, "diastolic_mm_hg": 76, "spo2_percent": 98}


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def _error(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def _dispensed(users: dict[str, Any], patient_id: int, start: dt.datetime) -> Order:
    """Day 1 of an induction on ``start``'s day, verified and dispensed before ``start`` (a
    start is never before them: issue 14 item 7)."""
    day = timezone.localdate(start)
    course = courses.prescribe(
        users["prescriber"], patient_id,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=day, days=2),
    )  # fmt: skip
    order = course.orders.order_by("sequence")[0]
    order = orders.verify(
        users["pharmacist"], order.pk, order.version, now=start - dt.timedelta(minutes=20)
    )
    lots = [orders.LotInput(f"A{i}", dt.date(2099, 1, 1), float(v["size_g"]), int(v["count"]))
            for i, v in enumerate(order.vials)]  # fmt: skip
    return orders.dispense(
        users["pharmacist"], order.pk, order.version, lots, now=start - dt.timedelta(minutes=10)
    )


class Running:
    """A running infusion and the nurse's API client; times in minutes after the start."""

    def __init__(self, users: dict[str, Any], order: Order, start: dt.datetime, nurse: Client):
        self.users, self.order, self.start, self.nurse = users, order, start, nurse
        self.url = f"/api/orders/{order.pk}"

    def at(self, minute: float) -> dt.datetime:
        return self.start + dt.timedelta(minutes=minute)

    def version(self) -> int:
        return int(self.nurse.get(f"{self.url}/session").json()["version"])

    def vitals(self, minute: float, **values: Any) -> Any:
        return _post(
            self.nurse, f"{self.url}/vitals", {"at": self.at(minute), **(values or NORMAL)}
        )

    def rate(self, minute: float, value: float, client: Client | None = None, **extra: Any) -> Any:
        body = {"version": self.version(), "at": self.at(minute), "rate_ml_per_h": value}
        return _post(client or self.nurse, f"{self.url}/rates", {**body, **extra})

    def up(self, minute: float, value: float) -> None:
        assert self.vitals(minute).status_code == 201
        response = self.rate(minute, value)
        assert response.status_code == 201, response.content

    def reaction(self, minute: float, *symptoms: str, **extra: Any) -> Any:
        body = {
            "version": self.version(),
            "at": self.at(minute),
            "symptoms": list(symptoms or ("headache",)),
            "action_taken": "pump paused",
        }
        return _post(self.nurse, f"{self.url}/reactions", {**body, **extra})

    def resume(self, minute: float, value: float) -> Any:
        """The restart at ``minute``, after vital signs then, the symptoms resolved (issue 16)."""
        assert self.vitals(minute).status_code == 201
        body = {"version": self.version(), "at": self.at(minute), "rate_ml_per_h": value,
                "symptoms_resolved": True}  # fmt: skip
        return _post(self.nurse, f"{self.url}/resume", body)


@pytest.fixture
def running(
    users: dict[str, Any], patient: Any, client_for: Callable[[str | None], Client]
) -> Running:
    """The fixture patient's Privigen infusion (85 kg: 25.5, 51, 102, 204, 408 mL/h), started
    3 hours ago through the services."""
    start = timezone.now() - dt.timedelta(hours=3)
    order = _dispensed(users, patient.pk, start)
    infusions.pre_check(users["nurse"], order.pk, WELL, now=start)
    infusions.record_vitals(users["nurse"], order.pk, start, BASELINE, now=start)  # issue 16
    order.refresh_from_db()
    infusions.start_infusion(
        users["nurse"], order.pk, order.version, start, visual_inspection_ok=True,
        now=timezone.now(),
    )  # fmt: skip
    return Running(users, order, start, client_for("nurse"))


def test_a_crafted_post_cannot_save_a_hard_limit(running: Running) -> None:
    """Requirements 48-50: the API refuses a hard limit with 422 even from a user allowed to
    override who sends an override; every attempt is counted; no pump row is written."""
    both = create_user(None, "both", PASSWORD, ["nurse", "prescriber"], system=True)
    doctor = Client()
    doctor.force_login(both)
    signed = {"reason_code": "clinical-need", "reason_text": "as I say", "password": PASSWORD}
    assert running.vitals(30).status_code == 201
    for value, client, rule in (
        (4.8, running.nurse, "wrong-field"),  # 50: the top step's mL/kg/h in the mL/h field
        (255, doctor, "fold-5x"),  # 49: five times the planned 51 mL/h
        (409, doctor, "label-maximum"),  # 48: above 408 mL/h
    ):
        response = running.rate(30, value, client=client, override=signed)
        assert response.status_code == 422, response.content
        error = _error(response)
        assert (error["code"], error["field"]) == ("hard_limit", "rate_ml_per_h")
        assert LimitEvent.objects.filter(kind="hard", rule=rule).count() == 1
    assert RateChange.objects.count() == 1  # the start only


def test_a_soft_limit_needs_a_signed_override_by_an_allowed_user(
    users: dict[str, Any], client_for: Callable[[str | None], Client]
) -> None:
    """Requirement 47: above the at-risk ceiling (168.3 mL/h) but within the label (408): 422
    override_required listing the limit; 403 for a nurse not allowed; 422 naming the password
    when it is wrong; 201 with a coded reason, a note and the password, audited."""
    today = timezone.localdate()
    start = timezone.now() - dt.timedelta(hours=3)
    person = patients.create_patient(
        users["prescriber"],
        patients.PatientInput(mrn="RISK2", family_name="Sweet", given_name="Ada",
                              date_of_birth=dt.date(1966, 5, 1), sex="male", height_cm=180,
                              risk_codes=("diabetes",)),
        today=today,
    )  # fmt: skip
    patients.add_weight(users["prescriber"], person.pk, today, 100, today=today)
    order = _dispensed(users, person.pk, start)
    infusions.pre_check(users["nurse"], order.pk, WELL, now=start)
    infusions.record_vitals(users["nurse"], order.pk, start, BASELINE, now=start)  # issue 16
    order.refresh_from_db()
    infusions.start_infusion(
        users["nurse"], order.pk, order.version, start, visual_inspection_ok=True,
        now=timezone.now(),
    )  # fmt: skip
    chair = Running(users, order, start, client_for("nurse"))
    for minute, value in ((30, 51), (60, 102), (90, 168.3)):
        chair.up(minute, value)
    assert chair.vitals(120).status_code == 201
    response = chair.rate(120, 200)
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "override_required"
    assert [limit["code"] for limit in error["details"]["limits"]] == ["above-planned-maximum"]
    signed = {"reason_code": "tolerated-before", "reason_text": "200 mL/h in June", "password": ""}
    assert chair.rate(120, 200, override={**signed, "password": PASSWORD}).status_code == 403
    senior = create_user(None, "senior", PASSWORD, ["nurse"], system=True)
    senior.user_permissions.add(Permission.objects.get(codename="override_soft_limit"))
    allowed = Client()
    allowed.force_login(senior)
    wrong = chair.rate(120, 200, client=allowed, override={**signed, "password": "guess"})
    assert (wrong.status_code, _error(wrong)["field"]) == (422, "password")
    done = chair.rate(120, 200, client=allowed, override={**signed, "password": PASSWORD})
    assert done.status_code == 201, done.content
    assert done.json()["rate_ml_per_h"] == 200
    [event] = LimitEvent.objects.filter(kind="soft")
    assert (event.user_id, event.reason_code, event.limit_value) == (
        senior.pk,
        "tolerated-before",
        168.3,
    )
    # the prescriber signs the next one on the nurse's screen (their user name and password)
    cosigned = {**signed, "password": PASSWORD, "signed_by": "prescriber"}
    assert chair.vitals(150).status_code == 201
    wrong = chair.rate(150, 210, override={**cosigned, "password": "guess"})
    assert (wrong.status_code, _error(wrong)["field"]) == (422, "password")
    done = chair.rate(150, 210, override=cosigned)
    assert done.status_code == 201, done.content
    latest = LimitEvent.objects.filter(kind="soft").latest("id")
    assert latest.user_id == users["prescriber"].pk


def test_the_session_version_and_state_guard_every_change(running: Running) -> None:
    """Requirements 32 and 62: a change sent with an old session version is 409 stale_version;
    a reaction pauses the pump (the answer carries the new version and state); a rate change
    while paused is 409; a restart above the last tolerated rate is 422; at it, 201."""
    assert running.vitals(30).status_code == 201
    version = running.version()
    assert running.rate(30, 51).status_code == 201
    stale = _post(running.nurse, f"{running.url}/rates",
                  {"version": version, "at": running.at(31), "rate_ml_per_h": 51})  # fmt: skip
    assert (stale.status_code, _error(stale)["code"]) == (409, "stale_version")
    early = running.rate(40, 102)
    assert (early.status_code, _error(early)["field"]) == (409, "at")  # 51 has run 10 minutes
    reaction = running.reaction(40)
    assert reaction.status_code == 201, reaction.content
    assert (reaction.json()["state"], reaction.json()["session_version"]) == (
        "paused",
        running.version(),
    )
    paused = running.rate(45, 25.5)
    assert (paused.status_code, _error(paused)["field"]) == (409, "state")
    above = running.resume(50, 51)
    assert (above.status_code, _error(above)["code"]) == (422, "hard_limit")
    resumed = running.resume(50, 25.5)
    assert resumed.status_code == 201, resumed.content
    assert (resumed.json()["action"], resumed.json()["state"]) == ("resume", "running")
    state = running.nurse.get(f"{running.url}/session").json()
    assert (state["state"], state["last_tolerated_ml_per_h"]) == ("running", 25.5)


def test_the_session_answer_is_the_services_view(running: Running) -> None:
    """The session's answer is ``infusions.session_state`` field by field (``SessionOut``
    mirrors ``SessionView``), the earliest increase under its key ``from``, with a task."""
    running.up(30, 51)
    assert running.reaction(40, "headache", medicines_given="paracetamol 1 g").status_code == 201
    assert running.resume(50, 25.5).status_code == 201
    answer = running.nurse.get(f"{running.url}/session").json()
    view = infusions.session_state(Order.objects.get(pk=running.order.pk), now=timezone.now())
    assert set(answer) == set(SessionView.__dataclass_fields__)
    assert view.may_increase is not None
    since = DjangoJSONEncoder().default(view.may_increase.since)
    assert answer["may_increase"]["from"] == since
    assert answer["may_increase"]["at_most_ml_per_h"] == view.may_increase.at_most_ml_per_h
    assert (answer["state"], answer["version"]) == (view.state, view.version)
    [task] = answer["tasks"]
    assert (task["id"], task["order_id"]) == (view.tasks[0].id, running.order.pk)
    assert [c["status"] for c in answer["checkpoints"]] == [c.status for c in view.checkpoints]
    assert answer["session"]["id"] == (view.session or {})["id"]


def test_a_stopped_infusion_restarts_only_on_a_prescribers_order(
    running: Running, client_for: Callable[[str | None], Client]
) -> None:
    """Requirement 62: a severe reaction stops the infusion; resume is 409 until a prescriber
    orders a restart (nurses may not: 403) at or below the last tolerated rate (above: 422);
    protocol medicines make a task the prescriber acknowledges once."""
    prescriber = client_for("prescriber")
    running.up(30, 51)
    stop = running.reaction(40, "wheeze", medicines_given="chlorphenamine 10 mg IV")
    assert stop.status_code == 201, stop.content
    assert stop.json()["state"] == "stopped"
    refused = running.resume(60, 25.5)
    assert (refused.status_code, _error(refused)["field"]) == (409, "state")
    order_url = f"{running.url}/restart-order"
    body = {"version": running.version(), "reason": "settled after treatment; restart slowly"}
    assert _post(running.nurse, order_url, {**body, "max_rate_ml_per_h": 25.5}).status_code == 403
    high = _post(prescriber, order_url, {**body, "max_rate_ml_per_h": 51})
    assert (high.status_code, _error(high)["field"]) == (422, "max_rate_ml_per_h")
    ordered = _post(prescriber, order_url, {**body, "max_rate_ml_per_h": 25.5})
    assert ordered.status_code == 200, ordered.content
    assert ordered.json()["restart_max_ml_per_h"] == 25.5
    assert running.resume(60, 25.5).status_code == 201

    assert running.nurse.get("/api/tasks").status_code == 403
    [task] = prescriber.get("/api/tasks").json()
    assert task["kind"] == "reaction-medicines"
    assert "chlorphenamine 10 mg IV" in task["message"]
    url = f"/api/tasks/{task['id']}/acknowledge"
    assert _post(prescriber, url, {"note": ""}).status_code == 422
    done = _post(prescriber, url, {"note": "reviewed at the chair"})
    assert done.status_code == 200, done.content
    assert done.json()["acknowledgement"] == "reviewed at the chair"
    assert _post(prescriber, url, {"note": "again"}).status_code == 409
    assert prescriber.get("/api/tasks").json() == []


def test_the_start_records_the_inspection_and_the_nurse(
    users: dict[str, Any], patient: Any, client_for: Callable[[str | None], Client]
) -> None:
    """Requirements 65 and 35: the inspection is a required field (false: 422); the nurse giving
    the infusion must be a nurse; a start in the future is 400 invalid_time."""
    nurse = client_for("nurse")
    start = timezone.now() - dt.timedelta(minutes=30)
    order = _dispensed(users, patient.pk, start)
    infusions.pre_check(users["nurse"], order.pk, WELL, now=start)
    infusions.record_vitals(users["nurse"], order.pk, start, BASELINE, now=start)  # issue 16
    order.refresh_from_db()
    url = f"/api/orders/{order.pk}/start"
    body = {"version": order.version, "at": start}
    missing = _post(nurse, url, body)
    assert (missing.status_code, _error(missing)["field"]) == (422, "visual_inspection_ok")
    failed = _post(nurse, url, {**body, "visual_inspection_ok": False})
    assert (failed.status_code, _error(failed)["field"]) == (422, "visual_inspection_ok")
    body["visual_inspection_ok"] = True
    wrong = _post(nurse, url, {**body, "administered_by": users["pharmacist"].pk})
    assert (wrong.status_code, _error(wrong)["field"]) == (422, "administered_by")
    future = _post(nurse, url, {**body, "at": timezone.now() + dt.timedelta(minutes=5)})
    assert (future.status_code, _error(future)["code"]) == (400, "invalid_time")
    started = _post(nurse, url, {**body, "visual_inspection_notes": "clear"})
    assert started.status_code == 200, started.content
    session = started.json()["session"]
    assert (session["visual_inspection_ok"], session["visual_inspection_notes"]) == (True, "clear")
    assert session["administered_by_id"] == users["nurse"].pk


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"spo2_percent": 101}, "spo2_percent"),
        ({"systolic_mm_hg": 120, "diastolic_mm_hg": 120}, "diastolic_mm_hg"),
        ({"temperature_c": 60}, "temperature_c"),
    ],
)
def test_impossible_vitals_are_422(running: Running, values: dict[str, Any], field: str) -> None:
    """Requirement 34: impossible values are refused with 422 naming the field."""
    response = running.vitals(10, **values)
    assert (response.status_code, _error(response)["field"]) == (422, field)


def test_abnormal_vitals_are_flagged_and_times_checked(running: Running) -> None:
    """Requirements 34 and 35: systolic 210 is saved and flagged; vitals in the future (beyond
    2 minutes) or before the start are 400."""
    response = running.vitals(10, systolic_mm_hg=210, diastolic_mm_hg=90)
    assert response.status_code == 201
    assert [f["field"] for f in response.json()["flags"]] == ["systolic_mm_hg"]
    late = running.vitals((timezone.now() - running.start).total_seconds() / 60 + 5)
    assert (late.status_code, _error(late)["code"]) == (400, "invalid_time")
    early = running.vitals(-1)
    assert (early.status_code, _error(early)["code"]) == (400, "invalid_time")


def test_a_backdated_start_is_400_and_a_late_one_is_marked(
    users: dict[str, Any], patient: Any, client_for: Callable[[str | None], Client]
) -> None:
    """Issue 14 item 7, as reported: the check 10 minutes ago, ``POST .../start`` with a time
    before it was accepted. Now 400 invalid_time naming the check; the real start, entered 10
    minutes late, is marked late in the session (the record and the run sheet read it)."""
    nurse = client_for("nurse")
    checked = timezone.now() - dt.timedelta(minutes=10)
    order = _dispensed(users, patient.pk, checked)
    infusions.pre_check(users["nurse"], order.pk, WELL, now=checked)
    infusions.record_vitals(users["nurse"], order.pk, checked, BASELINE, now=checked)  # issue 16
    order.refresh_from_db()
    url = f"/api/orders/{order.pk}/start"
    body = {"version": order.version, "visual_inspection_ok": True}
    early = _post(nurse, url, {**body, "at": checked - dt.timedelta(minutes=110)})
    assert (early.status_code, _error(early)["code"], _error(early)["field"]) == (
        400, "invalid_time", "at",
    )  # fmt: skip
    assert "before the pre-infusion check" in _error(early)["message"]
    started = _post(nurse, url, {**body, "at": checked})
    assert started.status_code == 200, started.content
    session = started.json()["session"]
    assert session["start_late_entry"] is True
    assert session["start_recorded_at"] is not None
    running = Running(users, order, checked, nurse)
    assert running.vitals(10).status_code == 201
    soon = running.rate(10, 51)  # ten minutes into a 30-minute step: not yet
    assert (soon.status_code, _error(soon)["field"]) == (409, "at")
