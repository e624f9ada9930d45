"""The vial stock pages (issue 18): a store added by the administrator, a delivery received on
the form (a size the product does not come in refused next to its field, what was typed kept),
the shortfall against the next days' orders naming the patient, a quarantine from the lot page
that lists who received the lot, and the expiring list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.test import Client

from ivig.records.models import StockLot, Store
from ivig.records.services import stock


def _text(response: Any) -> str:
    return " ".join(response.content.decode().split())


def test_the_administrator_adds_a_store_the_pharmacist_only_sees_them(
    client_for: Callable[[str | None], Client],
) -> None:
    admin = client_for("admin")
    added = admin.post("/pharmacy/stock/stores/", {"name": "day ward fridge"}, follow=True)
    assert "Store day ward fridge added." in _text(added)
    again = admin.post("/pharmacy/stock/stores/", {"name": "Day ward fridge"})
    assert again.status_code == 409
    assert "already a store" in _text(again)
    pharmacist = client_for("pharmacist")
    assert "day ward fridge" in _text(pharmacist.get("/pharmacy/stock/stores/"))
    assert pharmacist.post("/pharmacy/stock/stores/", {"name": "x"}).status_code == 403
    assert Store.objects.count() == 1


def test_receive_shows_the_shortfall_and_a_quarantine_lists_the_patients(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Any,
    today: dt.date,
) -> None:  # fmt: skip
    store = stock.create_store(users["admin"], "main pharmacy")
    pharmacy = client_for("pharmacist")
    expiry = str(today + dt.timedelta(days=20))
    form = {"store": store.pk, "product_id": "privigen-us", "vial_size_g": "2.5",
            "lot_number": "P1", "expiry": expiry, "count": "1"}  # fmt: skip
    wrong = pharmacy.post("/pharmacy/stock/receive/", form)
    assert wrong.status_code == 422
    page = _text(wrong)
    assert "does not come in 2.5 g vials" in page
    assert 'value="P1"' in page  # kept
    done = pharmacy.post("/pharmacy/stock/receive/", {**form, "vial_size_g": "40"}, follow=True)
    assert "Received 1 vials of lot P1: 1 on hand in main pharmacy." in _text(done)
    lot = StockLot.objects.get()

    # day 2 of the course (planned, tomorrow) needs 2 x 40 g and 1 x 5 g: 1 and 1 short
    levels = _text(pharmacy.get("/pharmacy/stock/"))
    assert "2 short" in levels
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert f"MRN0001 on {tomorrow} (2)" in levels
    assert f"MRN0001 on {tomorrow} (1)" in levels

    lot_page = _text(pharmacy.get(f"/pharmacy/stock/lots/{lot.pk}/"))
    assert "Receive" in lot_page
    assert "Quarantine lot P1 in every store" in lot_page
    refused = pharmacy.post("/pharmacy/stock/quarantine/",
                            {"lot_number": "P1", "reason": "", "action": "quarantine"})  # fmt: skip
    assert refused.status_code == 422
    flagged = pharmacy.post(
        "/pharmacy/stock/quarantine/",
        {"lot_number": "p1", "reason": "manufacturer recall", "action": "quarantine"},
        follow=True,
    )
    page = _text(flagged)
    assert "Lot P1 quarantined in 1 store(s)." in page
    assert "Lambert, Edward" in page  # received P1 at dispensing
    lot.refresh_from_db()
    assert lot.quarantined
    shown = _text(pharmacy.get(f"/pharmacy/stock/lots/{lot.pk}/"))
    assert "manufacturer recall" in shown
    assert "Release lot P1 in every store" in shown
    assert "Lambert, Edward" in shown
    # the lot is not usable: none of the 2 x 40 g on hand
    assert "<td>40 g</td> <td>0</td> <td>2</td> <td><strong>2</strong></td>" in _text(
        pharmacy.get("/pharmacy/stock/")
    )


def test_the_expiring_list_follows_the_days_asked(
    client_for: Callable[[str | None], Client], users: dict[str, Any], today: dt.date
) -> None:
    store = stock.create_store(users["admin"], "main pharmacy")
    stock.receive(users["pharmacist"], store.pk, stock.Received(
        "privigen-us", 40, "SOON", today + dt.timedelta(days=20), 2))  # fmt: skip
    pharmacy = client_for("pharmacist")
    assert "SOON" in _text(pharmacy.get("/pharmacy/stock/expiring/"))
    assert "0 lots with vials" in _text(pharmacy.get("/pharmacy/stock/expiring/", {"days": 10}))
    assert pharmacy.get(f"/pharmacy/stock/lots/{999999}/").status_code == 404
