"""One LEMS patient's day through the API: prescribe, verify, dispense, check, start (vials
inspected), vitals and a rate increase, a mild reaction with paracetamol (the pump pauses; the
prescriber acknowledges the task), a restart at the last tolerated rate, end, observation; the
audit chain holds."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import time_machine
from django.test import Client, override_settings
from django.utils import timezone

from ivig.records import audit


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


# The day's steps travel hours on the clock with the same sessions: the 20 idle minutes, which
# apply to API calls too (issue 17 item 4), would sign them out between the steps.
@override_settings(IDLE_MINUTES=12 * 60)
def test_a_day_at_the_chair(client_for: Callable[[str | None], Client], patient: Any) -> None:
    prescriber, pharmacist, nurse = (client_for(r) for r in ("prescriber", "pharmacist", "nurse"))
    # the infusion starts 5 hours ago, on the order's day (yesterday's date just after midnight)
    start = timezone.now() - dt.timedelta(hours=5)
    r = _post(
        prescriber,
        f"/api/patients/{patient.pk}/courses",
        {
            "indication": "lems",
            "phase": "induction",
            "product": "privigen-us",
            "days": 2,
            "start": timezone.localdate(start),
        },
    )
    assert r.status_code == 201, r.content
    course = r.json()
    order = course["orders"][0]
    assert order["dose_g"] == 85
    assert course["dosing_weight_kg"] == 85.0

    # the pharmacy and the check happen before the start (issue 14 item 7): on the clock then
    before_start = time_machine.travel(start - dt.timedelta(minutes=40), tick=True)
    before_start.start()
    shown = {"dose_g": order["dose_g"], "volume_ml": order["volume_ml"]}
    r = _post(
        pharmacist, f"/api/orders/{order['id']}/verify", {"version": order["version"], **shown}
    )
    assert r.status_code == 200, r.content
    order = r.json()
    expiry = timezone.localdate() + dt.timedelta(days=365)  # a year after the suite's date
    lots = [
        {
            "lot_number": "P123",
            "expiry": expiry,
            "vial_size_g": 40,
            "count": 2,
            "product_id": course["product_id"],
        },
        {
            "lot_number": "P124",
            "expiry": expiry,
            "vial_size_g": 5,
            "count": 1,
            "product_id": course["product_id"],
        },
    ]
    r = _post(
        pharmacist,
        f"/api/orders/{order['id']}/dispense",
        {"version": order["version"], "lots": lots},
    )
    assert r.status_code == 200, r.content
    order = r.json()

    r = _post(
        nurse,
        f"/api/orders/{order['id']}/check",
        {"infection": False, "fever": False, "feeling_unwell": False, "hydrated": True},
    )
    assert r.status_code == 200, r.content
    before_start.stop()  # back on the suite's clock: the start is entered now, 5 hours late
    baseline = {"at": start, "pulse_per_min": 74}  # before the start (issue 16 item 7)
    r = _post(nurse, f"/api/orders/{order['id']}/vitals", baseline)
    assert r.status_code == 201, r.content
    r = _post(
        nurse,
        f"/api/orders/{order['id']}/start",
        {
            "version": order["version"],
            "at": start,
            "visual_inspection_ok": True,
            "visual_inspection_notes": "clear, no particles",
        },
    )
    assert r.status_code == 200, r.content
    session = r.json()
    assert (session["state"], session["session"]["administered_by_id"]) == (
        "running",
        session["session"]["started_by_id"],
    )
    assert session["session"]["start_late_entry"] is True  # entered 5 hours after the start
    for minute in (1, 30):
        r = _post(
            nurse,
            f"/api/orders/{order['id']}/vitals",
            {
                "at": start + dt.timedelta(minutes=minute),
                "temperature_c": 36.8,
                "pulse_per_min": 72,
                "systolic_mm_hg": 128,
                "diastolic_mm_hg": 78,
                "spo2_percent": 98,
            },
        )
        assert r.status_code == 201, r.content
    r = _post(
        nurse,
        f"/api/orders/{order['id']}/rates",
        {
            "version": session["version"],
            "at": start + dt.timedelta(minutes=30),
            "rate_ml_per_h": 51,
        },
    )
    assert r.status_code == 201, r.content
    r = _post(
        nurse,
        f"/api/orders/{order['id']}/reactions",
        {
            "version": r.json()["session_version"],
            "at": start + dt.timedelta(minutes=40),
            "symptoms": ["headache"],
            "action_taken": "pump paused; paracetamol",
            "medicines_given": "paracetamol 1 g orally",
        },
    )
    assert r.status_code == 201, r.content
    reaction = r.json()
    assert reaction["recommended"]["basis"] == "protocol"
    assert reaction["state"] == "paused"
    [task] = prescriber.get("/api/tasks").json()
    r = _post(prescriber, f"/api/tasks/{task['id']}/acknowledge", {"note": "seen; fine"})
    assert r.status_code == 200, r.content
    after = {"at": start + dt.timedelta(minutes=55), "pulse_per_min": 76}  # after the reaction
    assert _post(nurse, f"/api/orders/{order['id']}/vitals", after).status_code == 201
    r = _post(
        nurse,
        f"/api/orders/{order['id']}/resume",
        {
            "version": reaction["session_version"],
            "at": start + dt.timedelta(minutes=55),
            "rate_ml_per_h": 25.5,  # the last tolerated rate
            "symptoms_resolved": True,
        },
    )
    assert r.status_code == 201, r.content
    assert r.json()["state"] == "running"
    ended = {"at": start + dt.timedelta(hours=4), "volume_given_ml": 99.9,  # the pump's
             "short_confirmed": True, "short_reason": "slow after the reaction"}  # fmt: skip
    r = _post(nurse, f"/api/orders/{order['id']}/end", ended)
    assert r.status_code == 200, r.content
    state = r.json()
    assert state["checkpoints"], state
    assert state["state"] == "ended"
    fresh = client_for("nurse").get(f"/api/orders/{order['id']}").json()
    r = _post(
        nurse,
        f"/api/orders/{order['id']}/observation",
        {"version": fresh["version"], "at": start + dt.timedelta(hours=5), "notes": "well"},
    )
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "completed"
    assert r.json()["state"] == "closed"
    assert audit.verify_chain().ok
