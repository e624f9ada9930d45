"""Orders: the queues, verification, dispensing with lots, deferral, cancellation, lot look-up."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import DispenseIn, OrderOut, OrderQuery, Reason, Versioned
from ivig.records.models import Order, Role
from ivig.records.services import orders
from ivig.records.services.common import get

router = Router(tags=["orders"])


def order_out(o: Order) -> dict[str, Any]:
    return {
        **{f: getattr(o, f) for f in OrderOut.model_fields if f != "lots"},
        "lots": [
            {
                "id": lot.id,
                "product_id": lot.product_id,
                "lot_number": lot.lot_number,
                "expiry": lot.expiry,
                "vial_size_g": lot.vial_size_g,
                "count": lot.count,
            }
            for lot in o.lots.all()
        ],
    }


@router.get("/orders", response=list[OrderOut], **rule(*EVERYONE))
def list_orders(request: HttpRequest, filters: Query[OrderQuery]) -> list[dict[str, Any]]:
    """Orders by status, date or patient (e.g. the pharmacy queue: ``?status=planned``)."""
    query = Order.objects.prefetch_related("lots").order_by("date", "sequence")
    if filters.status:
        query = query.filter(status=filters.status)
    if filters.date:
        query = query.filter(date=filters.date)
    if filters.patient_id:
        query = query.filter(patient_id=filters.patient_id)
    return [order_out(o) for o in query[:500]]


@router.get("/orders/{order_id}", response=OrderOut, **rule(*EVERYONE))
def read_order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    return order_out(get(Order, order_id, "order"))


@router.post("/orders/{order_id}/verify", response=OrderOut, **rule(Role.pharmacist))
def verify(request: HttpRequest, order_id: int, data: Versioned) -> dict[str, Any]:
    return order_out(orders.verify(request.user, order_id, data.version))


@router.post("/orders/{order_id}/dispense", response=OrderOut, **rule(Role.pharmacist))
def dispense(request: HttpRequest, order_id: int, data: DispenseIn) -> dict[str, Any]:
    lots = [orders.LotInput(**lot.dict()) for lot in data.lots]
    return order_out(orders.dispense(request.user, order_id, data.version, lots))


@router.post("/orders/{order_id}/defer", response=OrderOut, **rule(Role.prescriber, Role.nurse))
def defer(request: HttpRequest, order_id: int, data: Reason) -> dict[str, Any]:
    return order_out(orders.defer(request.user, order_id, data.version, data.reason))


@router.post("/orders/{order_id}/cancel", response=OrderOut, **rule(Role.prescriber))
def cancel(request: HttpRequest, order_id: int, data: Reason) -> dict[str, Any]:
    return order_out(orders.cancel(request.user, order_id, data.version, data.reason))


@router.get(
    "/lots/{lot_number}/orders",
    response=list[OrderOut],
    **rule(Role.pharmacist, Role.prescriber, Role.admin),
)
def lot_lookup(request: HttpRequest, lot_number: str) -> list[dict[str, Any]]:
    """Which orders (and so which patients) received lot X."""
    query = Order.objects.filter(lots__lot_number=lot_number).distinct().prefetch_related("lots")
    return [order_out(o) for o in query.order_by("date")]
