"""Vial stock (issue 18): stores (the administrator adds them), the stock per product and size
against the next days' orders, expiring lots, and the pharmacist's movements: receive, take,
return, quarantine and release. Dispensing (``POST /api/orders/{id}/dispense`` with
``stock_lot_id``) takes from stock; what was taken for an order, per lot, is what a return can
give back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from ivig.api.auth import rule
from ivig.api.schemas import Id, In
from ivig.records.models import Order, Role, StockLot, Store
from ivig.records.services import stock
from ivig.records.services.common import get

router = Router(tags=["stock"])

PH, A = Role.pharmacist, Role.admin


class StockStoreIn(In):
    name: str = Field(..., min_length=1, max_length=100)


class StockStoreOut(Schema):
    id: int
    name: str


class StockReceiveIn(In):
    store_id: int = Field(..., ge=1)
    product_id: str = Field(..., min_length=1, max_length=40)
    vial_size_g: float = Field(..., gt=0)
    lot_number: str = Field(..., min_length=1, max_length=60)
    expiry: dt.date
    count: int = Field(..., ge=1, le=100000)


class StockTakeIn(In):
    count: int = Field(..., ge=1, le=100000)
    order_id: int | None = Field(None, ge=1, description="the order the vials are for")


class StockReturnIn(In):
    count: int = Field(..., ge=1, le=100000)
    order_id: int = Field(..., ge=1, description="the order the vials were taken for")
    note: str = Field("", max_length=2000)


class StockFlagIn(In):
    lot_number: str = Field(..., min_length=1, max_length=60)
    reason: str = Field(..., min_length=1, max_length=2000)


class StockLotOut(Schema):
    id: int
    store_id: int
    store: str
    product_id: str
    vial_size_g: float
    lot_number: str
    expiry: dt.date
    on_hand: int
    quarantined: bool
    quarantine_reason: str


class StockNeedOut(Schema):
    order_id: int
    mrn: str
    date: dt.date
    count: int


class StockLineOut(Schema):
    product_id: str
    vial_size_g: float
    on_hand: int = Field(..., description="usable vials: not quarantined, not expired")
    needed: int
    shortfall: int
    short_of: list[StockNeedOut] = Field(..., description="the orders the stock does not cover")


class StockOut(Schema):
    days: int
    lines: list[StockLineOut]
    lots: list[StockLotOut]


class StockRecipientOut(Schema):
    order_id: int
    mrn: str
    date: dt.date
    count: int


class StockFlaggedOut(Schema):
    lots: list[StockLotOut]
    recipients: list[StockRecipientOut] = Field(..., description="who received this lot number")


class StockTakenOut(Schema):
    lot: StockLotOut
    taken: int = Field(..., description="vials taken from the lot for the order")
    returned: int = Field(..., description="vials of them returned already")


class StockDaysIn(In):
    days: int | None = Field(None, ge=0, le=366)


def _lot(lot: StockLot) -> dict[str, Any]:
    return {"id": lot.pk, "store_id": lot.store_id, "store": lot.store.name,
            "product_id": lot.product_id, "vial_size_g": lot.vial_size_g,
            "lot_number": lot.lot_number, "expiry": lot.expiry, "on_hand": lot.on_hand,
            "quarantined": lot.quarantined,
            "quarantine_reason": lot.quarantine_reason}  # fmt: skip


def _flagged(lots: list[StockLot], lot_number: str) -> dict[str, Any]:
    return {
        "lots": [_lot(x) for x in lots],
        "recipients": [
            {
                "order_id": r.order_id,
                "mrn": r.order.patient.mrn,
                "date": r.order.date,
                "count": r.count,
            }
            for r in stock.recipients(lot_number)
        ],
    }


@router.get("/stores", response=list[StockStoreOut], **rule(PH, A))
def stores(request: HttpRequest) -> list[Store]:
    """The stores, by name."""
    return list(Store.objects.all())


@router.post("/stores", response=StockStoreOut, **rule(A))
def add_store(request: HttpRequest, data: StockStoreIn) -> Store:
    """A new store (a name used once)."""
    return stock.create_store(request.user, data.name)


@router.get("/stock", response=StockOut, **rule(PH))
def levels(request: HttpRequest, query: Query[StockDaysIn]) -> dict[str, Any]:
    """Usable vials per product and size against the planned and verified orders of the next
    ``days`` days (default 7), the orders a shortfall affects, and every lot with vials."""
    days = stock.SHORTFALL_DAYS if query.days is None else query.days
    lots = StockLot.objects.filter(on_hand__gt=0).select_related("store")
    return {
        "days": days,
        "lines": [
            {
                "product_id": x.product_id,
                "vial_size_g": x.vial_size_g,
                "on_hand": x.on_hand,
                "needed": x.needed,
                "shortfall": x.shortfall,
                "short_of": [
                    {"order_id": n.order_id, "mrn": n.mrn, "date": n.date, "count": n.count}
                    for n in x.short_of
                ],
            }
            for x in stock.stock_against_orders(days)
        ],
        "lots": [_lot(x) for x in lots],
    }


@router.get("/stock/expiring", response=list[StockLotOut], **rule(PH))
def expiring(request: HttpRequest, query: Query[StockDaysIn]) -> list[dict[str, Any]]:
    """Lots with vials on hand expiring within ``days`` days (default 30), or expired."""
    days = stock.EXPIRING_DAYS if query.days is None else query.days
    return [_lot(x) for x in stock.expiring(days)]


@router.post("/stock/receive", response=StockLotOut, **rule(PH))
def receive(request: HttpRequest, data: StockReceiveIn) -> dict[str, Any]:
    """Vials received into a store; the same lot number, product and size adds to its lot."""
    given = stock.Received(
        data.product_id, data.vial_size_g, data.lot_number, data.expiry, data.count
    )
    return _lot(stock.receive(request.user, data.store_id, given))


@router.post("/stock/lots/{lot_id}/take", response=StockLotOut, **rule(PH))
def take(request: HttpRequest, lot_id: Id, data: StockTakeIn) -> dict[str, Any]:
    """Take vials from a lot: refused beyond the count on hand, for a quarantined lot or one
    expired before the infusion day."""
    return _lot(stock.take(request.user, lot_id, data.count, data.order_id))


@router.post("/stock/lots/{lot_id}/return", response=StockLotOut, **rule(PH))
def give_back(request: HttpRequest, lot_id: Id, data: StockReturnIn) -> dict[str, Any]:
    """Unopened vials of an order back into the lot they were taken from."""
    return _lot(stock.give_back(request.user, lot_id, data.count, data.order_id, data.note))


@router.get("/stock/orders/{order_id}", response=list[StockTakenOut], **rule(PH))
def taken_for(request: HttpRequest, order_id: Id) -> list[dict[str, Any]]:
    """What was taken from stock for an order, per lot, and how much came back: a return
    (``POST /api/stock/lots/{lot_id}/return``) gives back at most the difference."""
    order = get(Order, order_id, "order")
    return [
        {"lot": _lot(t.lot), "taken": t.taken, "returned": t.returned}
        for t in stock.taken_for(order.pk)
    ]


@router.post("/stock/quarantine", response=StockFlaggedOut, **rule(PH))
def quarantine(request: HttpRequest, data: StockFlagIn) -> dict[str, Any]:
    """Quarantine a lot number in every store (a recall), and who received it."""
    return _flagged(stock.quarantine(request.user, data.lot_number, data.reason), data.lot_number)


@router.post("/stock/release", response=StockFlaggedOut, **rule(PH))
def release(request: HttpRequest, data: StockFlagIn) -> dict[str, Any]:
    """Release a quarantined lot number, with the reason."""
    return _flagged(stock.release(request.user, data.lot_number, data.reason), data.lot_number)
