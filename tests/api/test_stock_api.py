"""The stock API (issue 18): a store added by the administrator, a delivery received, a take,
a return and a quarantine that lists who received the lot, refusals as the error tree's JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.test import Client

from ivig.records.models import AuditEvent, StockLot


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def test_receive_take_return_and_quarantine_through_the_api(
    client_for: Callable[[str | None], Client], dispensed: Any, today: dt.date
) -> None:
    admin, pharmacy = client_for("admin"), client_for("pharmacist")
    made = _post(admin, "/api/stores", {"name": "main pharmacy"})
    assert made.status_code == 200, made.content
    store_id = made.json()["id"]
    assert _post(pharmacy, "/api/stores", {"name": "x"}).status_code == 403
    expiry = today + dt.timedelta(days=20)
    delivery = {"store_id": store_id, "product_id": "privigen-us", "vial_size_g": 40,
                "lot_number": "P1", "expiry": expiry, "count": 3}  # fmt: skip
    got = _post(pharmacy, "/api/stock/receive", delivery)
    assert got.status_code == 200, got.content
    lot = got.json()
    assert (lot["on_hand"], lot["store"]) == (3, "main pharmacy")

    wrong = _post(pharmacy, "/api/stock/receive", {**delivery, "vial_size_g": 2.5})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "vial_size_g"

    too_many = _post(pharmacy, f"/api/stock/lots/{lot['id']}/take", {"count": 4})
    assert too_many.status_code == 409
    taken = _post(pharmacy, f"/api/stock/lots/{lot['id']}/take",
                  {"count": 2, "order_id": dispensed.pk})  # fmt: skip
    assert taken.json()["on_hand"] == 1
    back = _post(pharmacy, f"/api/stock/lots/{lot['id']}/return",
                 {"count": 1, "order_id": dispensed.pk, "note": "unopened"})  # fmt: skip
    assert back.json()["on_hand"] == 2

    levels = pharmacy.get("/api/stock", {"days": 3}).json()
    assert levels["days"] == 3
    # day 2 of the course (planned, tomorrow) needs 2 x 40 g + 1 x 5 g
    lines = [(x["vial_size_g"], x["on_hand"], x["needed"], x["shortfall"]) for x in levels["lines"]]
    assert lines == [(40.0, 2, 2, 0), (5.0, 0, 1, 1)]
    assert levels["lines"][1]["short_of"][0]["mrn"] == "MRN0001"
    assert [x["lot_number"] for x in pharmacy.get("/api/stock/expiring").json()] == ["P1"]
    assert pharmacy.get("/api/stock/expiring", {"days": 10}).json() == []

    flagged = _post(pharmacy, "/api/stock/quarantine", {"lot_number": "p1", "reason": "recall"})
    assert flagged.status_code == 200, flagged.content
    assert flagged.json()["lots"][0]["quarantined"] is True
    assert flagged.json()["recipients"] == [{"order_id": dispensed.pk, "mrn": "MRN0001",
                                             "date": str(dispensed.date), "count": 2}]  # fmt: skip
    refused = _post(pharmacy, f"/api/stock/lots/{lot['id']}/take", {"count": 1})
    assert refused.status_code == 409
    released = _post(pharmacy, "/api/stock/release", {"lot_number": "P1", "reason": "cleared"})
    assert released.json()["lots"][0]["quarantined"] is False
    assert StockLot.objects.get().on_hand == 2
    actions = set(AuditEvent.objects.filter(entity="stock-lot").values_list("action", flat=True))
    assert actions == {"receive", "dispense", "return", "quarantine", "release"}


def test_the_nurse_cannot_see_or_move_stock(client_for: Callable[[str | None], Client]) -> None:
    nurse = client_for("nurse")
    assert nurse.get("/api/stock").status_code == 403
    refused = _post(nurse, "/api/stock/quarantine", {"lot_number": "P1", "reason": "x"})
    assert refused.status_code == 403
