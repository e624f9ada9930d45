"""The order status flow (issue 3):

    planned -> verified (pharmacist) -> dispensed (pharmacist, lots) -> in-progress (nurse)
            -> completed (nurse); or deferred (prescriber, nurse) / cancelled (prescriber),
            each with a reason.

Only these transitions, by these roles; a stale version gets 409, never an overwrite. The
pharmacist who verifies is not the prescriber (requirement 16), and verification recomputes the
plan on the server from the stored inputs with the library the order was planned with
(requirements 46, 56). A lot of another product or concentration, or expired on the infusion day,
is a hard limit (requirement 64).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ivig.core.catalogue import Product
from ivig.core.dosing import vial_counts, vial_label
from ivig.errors import Conflict, Forbidden, HardLimit, InvalidInput, IvigError, StaleVersion
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_catalogue
from ivig.records.models import Lot, Order, OrderStatus, Role
from ivig.records.services import courses, replan_needed
from ivig.records.services.access import require, roles_of
from ivig.records.services.common import get, locked, save_versioned
from ivig.records.services.limits import hard_stops

__all__ = [
    "TRANSITIONS",
    "LotInput",
    "cancel",
    "defer",
    "dispense",
    "find_lots",
    "recomputed_differences",
    "transition",
    "verify",
]

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
    actor: Actor,
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


def _may(actor: Actor, to: str, action: str) -> User:
    """The role check first, before anything about the order is looked at (requirement 15);
    the user, signed in."""
    roles = {r for (_, target), allowed in TRANSITIONS.items() if target == to for r in allowed}
    return require(actor, action, *sorted(roles))


def _segregation(actor: Actor, order: Order) -> None:
    """The pharmacist who verifies an order is not the prescriber of its course (requirement
    16; ASVS 4.3.3): a user holding both roles verifies only other prescribers' orders."""
    if order.course.prescribed_by_id == getattr(actor, "pk", None):
        refused = Forbidden("verifying an order", (Role.pharmacist,))
        refused.message = (
            "you prescribed this course: another pharmacist must verify its orders "
            "(segregation of duties)"
        )
        refused.args = (refused.message,)
        raise refused


def _same_library(order: Order) -> None:
    """An order is verified only against the library it was planned with (requirement 46)."""
    current = current_catalogue().version
    if order.catalogue_version != current:
        raise Conflict(
            f"order {order.pk} was planned with drug library {order.catalogue_version or '?'}; "
            f"the library in service is {current}: re-plan needed (the prescriber re-plans the "
            "course) before it can be verified",
            field="catalogue_version",
        )


def _as_shown(order: Order, dose_g: float | None, volume_ml: float | None) -> None:
    """The numbers the pharmacist's screen showed are the order's (requirement 56)."""
    if dose_g is not None and not math.isclose(dose_g, order.dose_g, abs_tol=1e-6):
        raise Conflict(
            f"your screen showed {dose_g:g} g; order {order.pk} holds {order.dose_g:g} g: "
            "reload the order and check it again",
            field="dose_g",
        )
    if volume_ml is not None and not math.isclose(volume_ml, order.volume_ml, abs_tol=0.01):
        raise Conflict(
            f"your screen showed {volume_ml:g} mL; order {order.pk} holds "
            f"{order.volume_ml:g} mL: reload the order and check it again",
            field="volume_ml",
        )


def _sums(order: Order) -> None:
    """The vials make the dose and the steps the volume."""
    vial_total = sum(v["size_g"] * v["count"] for v in order.vials)
    step_volume = sum(s["volume_ml"] for s in order.steps)
    if not math.isclose(vial_total, order.dose_g, abs_tol=1e-6):
        raise Conflict(f"the vials make {vial_total:g} g, not the {order.dose_g:g} g ordered")
    if not math.isclose(step_volume, order.volume_ml, abs_tol=0.01):
        raise Conflict(f"the rate steps give {step_volume:g} mL, not {order.volume_ml:g} mL")


def recomputed_differences(order: Order) -> list[str]:
    """The server's recomputation of an order from the stored inputs (the course's regimen,
    the patient's record and history, the library in service): what differs from the order
    (empty when nothing does). Raises Conflict when the plan can no longer be made."""
    course = order.course
    try:
        plan = courses.plan_for(
            order.patient, courses.course_input(course.regimen), exclude_course=course.pk
        )
    except IvigError as exc:
        raise Conflict(
            f"the plan cannot be made again from its stored inputs ({exc.message}): the "
            "prescriber must re-plan the course"
        ) from None
    dose = next((d for d in plan.as_dict()["doses"] if d["date"] == order.date.isoformat()), None)
    return replan_needed.dose_differences(order, dose)


def verify(
    actor: Actor,
    order_id: int,
    version: int,
    *,
    dose_g: float | None = None,
    volume_ml: float | None = None,
    now: dt.datetime | None = None,
) -> Order:
    """The pharmacist's verification (requirements 16, 46, 56), at ``now`` (default: the
    clock; a start is never before it, issue 14 item 7).

    Refused (nothing changes) when: the actor prescribed the course (Forbidden); the order was
    planned with another library version than the one in service ("re-plan needed"); the
    numbers the pharmacist's screen showed (``dose_g``, ``volume_ml``: the API and the web
    page send them) are not the order's; the vials do not make the dose or the steps the
    volume; or the server's recomputation of the plan from the stored inputs differs from the
    order in the dose, vials, volume or step rates."""
    actor = _may(actor, S.verified, "verifying an order")
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        if order.status != S.planned:
            raise Conflict(
                f"order {order.pk} is {order.status}: it cannot become {S.verified}",
                field="status",
            )
        if order.version != version:
            raise StaleVersion(f"order {order.pk}", version, order.version)
        _segregation(actor, order)
        replan_needed.refuse_if_needed(order, "verified")
        _same_library(order)
        _as_shown(order, dose_g, volume_ml)
        _sums(order)
        differences = recomputed_differences(order)
        if differences:
            raise Conflict(
                f"the server's recomputation of order {order.pk} from the stored inputs differs: "
                + "; ".join(differences)
                + ": the prescriber must re-plan the course"
            )
        return transition(
            actor, order_id, S.verified, version, verified_by=actor,
            verified_at=now or timezone.now(),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class LotInput:
    """One lot dispensed: ``product_id`` is the order's product unless said otherwise."""

    lot_number: str
    expiry: dt.date
    vial_size_g: float
    count: int
    product_id: str | None = None


def _at_row(exc: IvigError, row: int, column: str) -> IvigError:
    """Name the lot's row (1-based) and its field in the error's details, for the page."""
    exc.details = {**exc.details, "row": row, "column": column}
    return exc


def _check_lot(i: int, lot: LotInput, order: Order, product: Product) -> None:
    """One lot against the order: a lot number, a count, a vial size of the product; a lot of
    another product or concentration, or expiring before the infusion, is a hard limit
    (requirement 64)."""
    if not lot.lot_number.strip():
        raise _at_row(
            InvalidInput(f"lot {i}: the lot number is required", field="lots"), i, "lot_number"
        )
    if lot.count <= 0:
        raise _at_row(
            InvalidInput(f"lot {i}: the vial count must be positive", field="lots"), i, "count"
        )
    if lot.product_id and lot.product_id != product.id:
        raise _at_row(_wrong_product(i, lot, product), i, "product_id")
    if lot.vial_size_g not in product.vial_sizes_g.value:
        raise _at_row(
            InvalidInput(
                f"lot {i}: {product.display_name} has no {lot.vial_size_g:g} g vial",
                field="lots",
            ),
            i,
            "vial_size_g",
        )
    if lot.expiry < order.date:
        raise _at_row(
            HardLimit(
                f"lot {i} ({lot.lot_number.strip()}) expires {lot.expiry.isoformat()}, before "
                f"the infusion on {order.date.isoformat()}: an expired lot cannot be dispensed",
                field="lots",
                rule="expired-lot",
                limit=0,
                value=(lot.expiry - order.date).days,
                unit="days",  # of shelf life left on the infusion day
            ),
            i,
            "expiry",
        )


def _wrong_product(i: int, lot: LotInput, product: Product) -> IvigError:
    """A lot of another product: a hard limit, named a concentration mismatch when the
    concentrations differ (a 5 % product for a 10 % order)."""
    catalogue = current_catalogue()
    other = catalogue.products.get(lot.product_id or "")
    if other is None:
        return InvalidInput(
            f"lot {i}: unknown product '{lot.product_id}'; the order is for "
            f"{product.display_name} ('{product.id}')",
            field="lots",
        )
    if not math.isclose(other.concentration, product.concentration):
        return HardLimit(
            f"lot {i} ({lot.lot_number.strip()}) is {other.display_name} at "
            f"{other.concentration / 10:g} %, but the order is for {product.display_name} at "
            f"{product.concentration / 10:g} %: a concentration mismatch changes every rate; "
            "no one can dispense it",
            field="lots",
            rule="concentration-mismatch",
            limit=product.concentration,
            value=other.concentration,
            unit="mg/mL",
        )
    return HardLimit(
        f"lot {i} ({lot.lot_number.strip()}) is {other.display_name}, but the order is for "
        f"{product.display_name}: a lot of another product cannot be dispensed",
        field="lots",
        rule="wrong-product-lot",
    )


def dispense(
    actor: Actor,
    order_id: int,
    version: int,
    lots: list[LotInput],
    *,
    now: dt.datetime | None = None,
) -> Order:
    """Record the lots dispensed, at ``now`` (default: the clock; a start is never before it):
    exactly the ordered vials, of the ordered product, none expired on the infusion day. An
    expired lot or a lot of another product is a hard limit, refused for every role and counted
    (requirements 48, 64)."""
    actor = _may(actor, S.dispensed, "dispensing an order")
    patient_id = get(Order, order_id, "order").patient_id
    with (
        hard_stops(actor, "lot", patient_id=patient_id, order_id=order_id),
        transaction.atomic(),
    ):
        order = locked(Order, order_id, "order")
        product = current_catalogue().product(order.course.product_id)
        if not lots:
            raise InvalidInput("record at least one lot", field="lots")
        given: dict[float, int] = {}
        for i, lot in enumerate(lots, start=1):
            _check_lot(i, lot, order, product)
            given[lot.vial_size_g] = given.get(lot.vial_size_g, 0) + lot.count
        if given != vial_counts(order.vials):
            want = vial_label(order.vials)
            raise InvalidInput(f"the lots must hold the ordered vials: {want}", field="lots")
        order = transition(
            actor, order_id, S.dispensed, version, dispensed_by=actor,
            dispensed_at=now or timezone.now(),
        )  # fmt: skip
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


def defer(actor: Actor, order_id: int, version: int, reason: str) -> Order:
    """Defer a dose not yet started (a prescriber or a nurse: a fever, the patient unwell),
    with the reason; it leaves a "re-plan needed" mark (it will not be given)."""
    actor = _may(actor, S.deferred, "deferring an order")
    with transaction.atomic():
        order = transition(actor, order_id, S.deferred, version, reason=_reason(reason))
        replan_needed.drop_order(actor, order, f"order {order.pk} deferred")
    return order


def cancel(actor: Actor, order_id: int, version: int, reason: str) -> Order:
    """Cancel a dose not yet started (a prescriber), with the reason; it leaves a "re-plan
    needed" mark."""
    actor = _may(actor, S.cancelled, "cancelling an order")
    with transaction.atomic():
        order = transition(actor, order_id, S.cancelled, version, reason=_reason(reason))
        replan_needed.drop_order(actor, order, f"order {order.pk} cancelled")
    return order


def find_lots(lot_number: str) -> QuerySet[Lot]:
    """The lots dispensed under ``lot_number``, each with its order, course and patient, the
    latest infusion first (then by family name): which patients received lot X, for a recall.
    The one look-up of the pharmacy page and the API.

    The number matches whole, ignoring case and the spaces around it (it is stored stripped at
    dispensing): the pharmacist types what is printed on a vial or a recall notice, no
    manufacturer tells two lots apart by the case of a letter, and a look-up that missed a
    patient over "p123" against "P123" is the dangerous error in a recall, where an extra row
    is seen and checked on the page. A blank number finds nothing."""
    number = lot_number.strip()
    if not number:
        return Lot.objects.none()
    return (
        Lot.objects.filter(lot_number__iexact=number)
        .select_related("order__patient", "order__course")
        .order_by("-order__date", "order__patient__family_name", "id")
    )
