"""Dispensing from stock through the API (issue 18): lots named by ``stock_lot_id`` alone, the
vials taken and listed per order, a return, a typed lot refused once a store exists, more than
on hand a 409 that takes nothing, and a course from one stock lot per size."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.test import Client

from ivig.records.models import Order, StockLot, Store
from ivig.records.services import courses, orders, stock


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def _verified(users: dict[str, Any], patient: Any, today: dt.date, days: int = 2) -> list[Order]:
    course = courses.prescribe(
        users["prescriber"], patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today + dt.timedelta(days=2), days=days),
    )  # fmt: skip
    shown = [orders.Shown(o.pk, o.version, o.dose_g, o.volume_ml)
             for o in course.orders.order_by("date")]  # fmt: skip
    return orders.verify_course(users["pharmacist"], course.pk, shown)


def _stock(users: dict[str, Any], today: dt.date, **counts: int) -> dict[float, StockLot]:
    """A store and one lot per size (``s40=3``: three 40 g vials of lot S40)."""
    store = Store.objects.first() or stock.create_store(users["admin"], "main pharmacy")
    expiry = today + dt.timedelta(days=300)
    return {
        float(name[1:]): stock.receive(
            users["pharmacist"],
            store.pk,
            stock.Received("privigen-us", float(name[1:]), name.upper(), expiry, n),
        )
        for name, n in counts.items()
    }


def test_dispense_by_stock_lot_then_return_a_vial(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any,
    today: dt.date,
) -> None:  # fmt: skip
    pharmacy, nurse = client_for("pharmacist"), client_for("nurse")
    order = _verified(users, patient, today)[0]
    lots = _stock(users, today, s40=3, s5=2)
    body = {"version": order.version,
            "lots": [{"stock_lot_id": lots[40].pk, "count": 2},
                     {"stock_lot_id": lots[5].pk, "count": 1, "lot_number": "s5"}]}  # fmt: skip
    done = _post(pharmacy, f"/api/orders/{order.pk}/dispense", body)
    assert done.status_code == 200, done.content
    got = sorted(done.json()["lots"], key=lambda x: -x["vial_size_g"])
    assert [(x["lot_number"], x["count"], x["stock_lot_id"], x["product_id"]) for x in got] == [
        ("S40", 2, lots[40].pk, "privigen-us"), ("S5", 1, lots[5].pk, "privigen-us")
    ]  # fmt: skip

    assert nurse.get(f"/api/stock/orders/{order.pk}").status_code == 403
    taken = pharmacy.get(f"/api/stock/orders/{order.pk}")
    assert taken.status_code == 200, taken.content
    assert [(t["lot"]["lot_number"], t["taken"], t["returned"]) for t in taken.json()] == [
        ("S40", 2, 0), ("S5", 1, 0)
    ]  # fmt: skip
    back = _post(pharmacy, f"/api/stock/lots/{lots[40].pk}/return",
                 {"count": 1, "order_id": order.pk, "note": "unopened"})  # fmt: skip
    assert back.status_code == 200, back.content
    assert back.json()["on_hand"] == 2
    again = pharmacy.get(f"/api/stock/orders/{order.pk}").json()
    assert (again[0]["taken"], again[0]["returned"]) == (2, 1)
    assert pharmacy.get("/api/stock/orders/999999").status_code == 404


def test_refusals_are_the_error_tree_and_take_nothing(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any,
    today: dt.date,
) -> None:  # fmt: skip
    pharmacy = client_for("pharmacist")
    order = _verified(users, patient, today)[0]
    lots = _stock(users, today, s40=1, s5=2)
    url = f"/api/orders/{order.pk}/dispense"
    short = _post(pharmacy, url, {"version": order.version,
                                  "lots": [{"stock_lot_id": lots[40].pk, "count": 2},
                                           {"stock_lot_id": lots[5].pk, "count": 1}]})  # fmt: skip
    assert short.status_code == 409, short.content
    error = short.json()["error"]
    assert error["code"] == "conflict"
    assert (error["details"]["errors"][0]["row"],
            error["details"]["errors"][0]["column"]) == (1, "stock_lot_id")  # fmt: skip
    typed = {"lot_number": "T40", "expiry": today + dt.timedelta(days=90), "vial_size_g": 40,
             "count": 2, "product_id": "privigen-us"}  # fmt: skip
    both = [typed, {"stock_lot_id": lots[5].pk, "count": 1}]
    refused = _post(pharmacy, url, {"version": order.version, "lots": both})
    assert refused.status_code == 422, refused.content
    assert orders.KEEPS_STOCK in refused.json()["error"]["message"]
    half = _post(pharmacy, url, {"version": order.version, "lots": [{"count": 2}]})
    assert half.status_code == 422
    assert half.json()["error"]["field"] == "lots.0.lot_number"
    assert "required without stock_lot_id" in half.json()["error"]["message"]
    assert [x.on_hand for x in StockLot.objects.order_by("-vial_size_g")] == [1, 2]
    assert Order.objects.get(pk=order.pk).status == "verified"


def test_a_course_from_one_stock_lot_per_size(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any,
    today: dt.date,
) -> None:  # fmt: skip
    found = _verified(users, patient, today, days=5)
    lots = _stock(users, today, s20=5, s10=5, s5=4)
    course_id = found[0].course_id
    body = {"orders": [{"order_id": o.pk, "version": o.version} for o in found],
            "lots": [{"stock_lot_id": x.pk} for x in lots.values()]}  # fmt: skip
    done = _post(client_for("pharmacist"), f"/api/courses/{course_id}/dispense", body)
    assert done.status_code == 200, done.content
    assert [o["status"] for o in done.json()] == ["dispensed"] * 5
    assert [x.on_hand for x in StockLot.objects.order_by("-vial_size_g")] == [0, 0, 0]
