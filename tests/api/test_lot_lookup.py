"""``GET /api/lots/{lot_number}/orders``: the orders that received a lot, found as the pharmacy
page finds it (``orders.find_lots``: the whole number, ignoring case and surrounding spaces)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.test import Client


def test_the_api_finds_a_lot_as_the_page_does(
    client_for: Callable[[str | None], Client], dispensed: Any
) -> None:
    pharmacist = client_for("pharmacist")
    for typed in ("P1", "p1", " p1 "):
        response = pharmacist.get(f"/api/lots/{quote(typed)}/orders")
        assert response.status_code == 200, response.content
        rows = response.json()
        assert [row["id"] for row in rows] == [dispensed.pk]
        assert {lot["lot_number"] for lot in rows[0]["lots"]} == {"P1", "P2"}
    assert pharmacist.get("/api/lots/P/orders").json() == []
    page = pharmacist.get("/pharmacy/lots/?lot=p1").content.decode()
    assert dispensed.patient.mrn in page
