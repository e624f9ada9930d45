"""Orders: the queues, verification (the numbers shown are sent and the server recomputes the
plan), dispensing with lots, deferral, cancellation, lot look-up; and the re-plan of a course
with the drug library in service."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import (
    DispenseCourseIn,
    DispenseIn,
    Id,
    OrderOut,
    OrderQuery,
    Reason,
    ReplanIn,
    ReplanOut,
    VerifyCourseIn,
    VerifyIn,
    override_of,
)
from ivig.api.serializers import course_out, order_out
from ivig.records.models import Order, Role
from ivig.records.services import courses, orders, reads
from ivig.records.services.common import get

router = Router(tags=["orders"])


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
    found = list(query[:500])
    reads.listed(request, "medication/infusion", (o.patient_id for o in found))  # issue 17
    return [order_out(o) for o in found]


@router.get("/orders/{order_id}", response=OrderOut, **rule(*EVERYONE))
def read_order(request: HttpRequest, order_id: Id) -> dict[str, Any]:
    return order_out(get(Order, order_id, "order"))


@router.post("/orders/{order_id}/verify", response=OrderOut, **rule(Role.pharmacist))
def verify(request: HttpRequest, order_id: Id, data: VerifyIn) -> dict[str, Any]:
    """Verify with the dose and volume your screen showed: refused (409) when they are not the
    order's, when the order was planned with another drug library version (re-plan needed) or
    when the server's recomputation from the stored inputs differs; 403 for the course's own
    prescriber."""
    order = orders.verify(
        request.user, order_id, data.version, dose_g=data.dose_g, volume_ml=data.volume_ml
    )
    return order_out(order)


@router.post("/orders/{order_id}/dispense", response=OrderOut, **rule(Role.pharmacist))
def dispense(request: HttpRequest, order_id: Id, data: DispenseIn) -> dict[str, Any]:
    """An expired lot or a lot of another product is a hard limit (422 hard_limit; the row in
    ``details.row``); every lot's problem at once in ``details.errors`` (row, column, code,
    message). When the service keeps stock (a store exists) each lot names its
    ``stock_lot_id`` and its vials are taken from it: more than on hand or a quarantined lot is
    a 409, and nothing is taken or dispensed; unopened vials go back by
    ``POST /api/stock/lots/{lot_id}/return``."""
    lots = [orders.LotInput(**{**lot.dict(), "lot_number": lot.lot_number or ""})
            for lot in data.lots]  # fmt: skip
    return order_out(orders.dispense(request.user, order_id, data.version, lots))


@router.post("/courses/{course_id}/verify", response=list[OrderOut], **rule(Role.pharmacist))
def verify_course(
    request: HttpRequest, course_id: Id, data: VerifyCourseIn
) -> list[dict[str, Any]]:
    """Verify every planned order of the course at once (issue 16 item 15), each with the
    version, dose and volume your screen showed: each is checked as one order is, and recorded
    and audited on its own; one refusal refuses them all (its date first in the message)."""
    shown = [orders.Shown(o.order_id, o.version, o.dose_g, o.volume_ml) for o in data.orders]
    return [order_out(o) for o in orders.verify_course(request.user, course_id, shown)]


@router.post("/courses/{course_id}/dispense", response=list[OrderOut], **rule(Role.pharmacist))
def dispense_course(
    request: HttpRequest, course_id: Id, data: DispenseCourseIn
) -> list[dict[str, Any]]:
    """Dispense every verified order of the course from its lots: each order takes its own
    count of each size; a size from two or more lots is shared out by date, each lot (in the
    order given) until it runs out (its ``count``, or a stock lot's vials on hand), the last
    the rest. Every problem of every order is returned at once in
    ``details.errors`` (row, column, code, message); an expired lot or another product is a
    hard limit (422 hard_limit)."""
    shown = [orders.Shown(o.order_id, o.version) for o in data.orders]
    lots = [orders.CourseLot(**{**lot.dict(), "lot_number": lot.lot_number or ""})
            for lot in data.lots]  # fmt: skip
    return [order_out(o) for o in orders.dispense_course(request.user, course_id, shown, lots)]


@router.post("/courses/{course_id}/replan", response=ReplanOut, **rule(Role.prescriber))
def replan(request: HttpRequest, course_id: Id, data: ReplanIn) -> dict[str, Any]:
    """Plan the course's planned and verified orders again with the drug library in service
    (verified ones go back to planned); dispensed, in-progress and completed orders are left
    alone. A soft limit needs ``override`` (422 override_required)."""
    done = courses.replan(
        request.user, course_id, data.version, data.reason, override=override_of(data.override)
    )
    return {
        "course": course_out(done.course),
        "replanned": [o.pk for o in done.replanned],
        "kept": [o.pk for o in done.kept],
        "old_catalogue_version": done.old_version,
        "new_catalogue_version": done.new_version,
        "summary": done.summary,
    }


@router.post("/orders/{order_id}/defer", response=OrderOut, **rule(Role.prescriber, Role.nurse))
def defer(request: HttpRequest, order_id: Id, data: Reason) -> dict[str, Any]:
    return order_out(orders.defer(request.user, order_id, data.version, data.reason))


@router.post("/orders/{order_id}/cancel", response=OrderOut, **rule(Role.prescriber))
def cancel(request: HttpRequest, order_id: Id, data: Reason) -> dict[str, Any]:
    return order_out(orders.cancel(request.user, order_id, data.version, data.reason))


@router.get(
    "/lots/{lot_number}/orders",
    response=list[OrderOut],
    **rule(Role.pharmacist, Role.prescriber, Role.admin),
)
def lot_lookup(request: HttpRequest, lot_number: str) -> list[dict[str, Any]]:
    """Which orders (and so which patients) received lot X: the lot number whole, ignoring case
    and surrounding spaces (as the pharmacy page finds it), the orders by date."""
    found = orders.find_lots(lot_number)
    query = Order.objects.filter(lots__in=found).distinct().prefetch_related("lots")
    return [order_out(o) for o in query.order_by("date")]
