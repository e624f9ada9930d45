"""The order status flow (issue 3):

    planned -> verified (pharmacist) -> dispensed (pharmacist, lots) -> in-progress (nurse)
            -> completed (nurse); or deferred (prescriber, nurse) / cancelled (prescriber),
            each with a reason.

Only these transitions, by these roles; a stale version gets 409, never an overwrite.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ivig.core.catalogue import load_catalogue
from ivig.errors import Conflict, Forbidden, InvalidInput
from ivig.records import audit
from ivig.records.models import Lot, Order, OrderStatus, Role
from ivig.records.services.access import require, roles_of
from ivig.records.services.common import locked, save_versioned

__all__ = ["TRANSITIONS", "LotInput", "cancel", "defer", "dispense", "transition", "verify"]

S = OrderStatus
OPEN = (S.planned, S.verified, S.dispensed)

# (from, to) -> the roles that may make the move
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    (S.planned, S.verified): (Role.pharmacist,),
    (S.verified, S.dispensed): (Role.pharmacist,),
    (S.dispensed, S.in_progress): (Role.nurse,),
    (S.in_progress, S.completed): (Role.nurse,),
    **{(s, S.deferred): (Role.prescriber, Role.nurse) for s in OPEN},
    **{(s, S.cancelled): (Role.prescriber,) for s in (*OPEN, S.deferred)},
}


def transition(
    actor: Any,
    order_id: int,
    to: str,
    version: int | None,
    *,
    reason: str = "",
    **changes: Any,
) -> Order:
    """Move an order to ``to``: check the move, the role and the version; audit it. Runs in
    the caller's transaction if there is one."""
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        allowed = TRANSITIONS.get((order.status, to))
        if allowed is None:
            raise Conflict(
                f"order {order.pk} is {order.status}: it cannot become {to}", field="status"
            )
        if not roles_of(actor) & set(allowed):
            raise Forbidden(f"making an order {to}", allowed)
        before = audit.snapshot(order)
        save_versioned(
            order, version, f"order {order.pk}", status=to, status_reason=reason, **changes
        )
        audit.record(
            actor,
            to,
            "order",
            order.pk,
            patient_id=order.patient_id,
            before=before,
            after=audit.snapshot(order),
            reason=reason,
        )
    return order


def _may(actor: Any, to: str, action: str) -> None:
    """The role check first, before anything about the order is looked at (requirement 15)."""
    roles = {r for (_, target), allowed in TRANSITIONS.items() if target == to for r in allowed}
    require(actor, action, *sorted(roles))


def verify(actor: Any, order_id: int, version: int) -> Order:
    """The pharmacist's verification: the vials must make the dose and the steps the volume."""
    _may(actor, S.verified, "verifying an order")
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        vial_total = sum(v["size_g"] * v["count"] for v in order.vials)
        step_volume = sum(s["volume_ml"] for s in order.steps)
        if not math.isclose(vial_total, order.dose_g, abs_tol=1e-6):
            raise Conflict(f"the vials make {vial_total:g} g, not the {order.dose_g:g} g ordered")
        if not math.isclose(step_volume, order.volume_ml, abs_tol=0.01):
            raise Conflict(f"the rate steps give {step_volume:g} mL, not {order.volume_ml:g} mL")
        return transition(
            actor, order_id, S.verified, version, verified_by=actor, verified_at=timezone.now()
        )


@dataclass(frozen=True, slots=True)
class LotInput:
    lot_number: str
    expiry: dt.date
    vial_size_g: float
    count: int


def dispense(actor: Any, order_id: int, version: int, lots: list[LotInput]) -> Order:
    """Record the lots dispensed: exactly the ordered vials, none expired on the infusion day."""
    _may(actor, S.dispensed, "dispensing an order")
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        product = load_catalogue().product(order.course.product_id)
        if not lots:
            raise InvalidInput("record at least one lot", field="lots")
        given: dict[float, int] = {}
        for i, lot in enumerate(lots, start=1):
            if not lot.lot_number.strip():
                raise InvalidInput(f"lot {i}: the lot number is required", field="lots")
            if lot.count <= 0:
                raise InvalidInput(f"lot {i}: the vial count must be positive", field="lots")
            if lot.vial_size_g not in product.vial_sizes_g.value:
                raise InvalidInput(
                    f"lot {i}: {product.display_name} has no {lot.vial_size_g:g} g vial",
                    field="lots",
                )
            if lot.expiry < order.date:
                raise InvalidInput(
                    f"lot {i} ({lot.lot_number}) expires {lot.expiry.isoformat()}, before the "
                    f"infusion on {order.date.isoformat()}",
                    field="lots",
                )
            given[lot.vial_size_g] = given.get(lot.vial_size_g, 0) + lot.count
        ordered = {float(v["size_g"]): int(v["count"]) for v in order.vials}
        if given != ordered:
            want = " + ".join(f"{n} x {s:g} g" for s, n in sorted(ordered.items(), reverse=True))
            raise InvalidInput(f"the lots must hold the ordered vials: {want}", field="lots")
        order = transition(
            actor, order_id, S.dispensed, version, dispensed_by=actor, dispensed_at=timezone.now()
        )
        for lot in lots:
            row = Lot.objects.create(
                order=order,
                product_id=product.id,
                lot_number=lot.lot_number.strip(),
                expiry=lot.expiry,
                vial_size_g=lot.vial_size_g,
                count=lot.count,
            )
            audit.created(actor, "lot", row, patient_id=order.patient_id)
    return order


def _reason(reason: str) -> str:
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    return reason.strip()


def defer(actor: Any, order_id: int, version: int, reason: str) -> Order:
    _may(actor, S.deferred, "deferring an order")
    return transition(actor, order_id, S.deferred, version, reason=_reason(reason))


def cancel(actor: Any, order_id: int, version: int, reason: str) -> Order:
    _may(actor, S.cancelled, "cancelling an order")
    return transition(actor, order_id, S.cancelled, version, reason=_reason(reason))
