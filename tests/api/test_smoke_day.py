"""One LEMS patient's day through the API: prescribe, verify, dispense, check, start, rate,
vitals, a mild reaction, end, observation; the audit chain holds."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records import audit


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def test_a_day_at_the_chair(client_for: Callable[[str | None], Client], patient: Any) -> None:
    prescriber, pharmacist, nurse = (client_for(r) for r in ("prescriber", "pharmacist", "nurse"))
    today = timezone.localdate()
    r = _post(
        prescriber,
        f"/api/patients/{patient.pk}/courses",
        {"phase": "induction", "product": "privigen-us", "days": 2, "start": today},
    )
    assert r.status_code == 201, r.content
    course = r.json()
    order = course["orders"][0]
    assert order["dose_g"] == 85
    assert course["dosing_weight_kg"] == 85.0

    r = _post(pharmacist, f"/api/orders/{order['id']}/verify", {"version": order["version"]})
    assert r.status_code == 200, r.content
    order = r.json()
    lots = [
        {"lot_number": "P123", "expiry": "2027-06-30", "vial_size_g": 40, "count": 2},
        {"lot_number": "P124", "expiry": "2027-06-30", "vial_size_g": 5, "count": 1},
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
    start = timezone.now() - dt.timedelta(hours=5)
    r = _post(nurse, f"/api/orders/{order['id']}/start", {"version": order["version"], "at": start})
    assert r.status_code == 200, r.content
    r = _post(
        nurse,
        f"/api/orders/{order['id']}/vitals",
        {
            "at": start + dt.timedelta(minutes=1),
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
        {"at": start + dt.timedelta(minutes=30), "rate_ml_per_h": 51},
    )
    assert r.status_code == 201, r.content
    r = _post(
        nurse,
        f"/api/orders/{order['id']}/reactions",
        {
            "at": start + dt.timedelta(minutes=40),
            "symptoms": ["headache"],
            "action_taken": "slowed to 25.5 mL/h",
        },
    )
    assert r.status_code == 201, r.content
    assert r.json()["recommended"]["basis"] == "protocol"
    r = _post(nurse, f"/api/orders/{order['id']}/end", {"at": start + dt.timedelta(hours=4)})
    assert r.status_code == 200, r.content
    state = r.json()
    assert state["checkpoints"], state
    fresh = client_for("nurse").get(f"/api/orders/{order['id']}").json()
    r = _post(
        nurse,
        f"/api/orders/{order['id']}/observation",
        {"version": fresh["version"], "at": start + dt.timedelta(hours=5)},
    )
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "completed"
    assert audit.verify_chain().ok
