"""The order status flow (issue 3):

    planned -> verified (pharmacist) -> dispensed (pharmacist, lots) -> in-progress (nurse)
            -> completed (nurse); or deferred (prescriber, nurse) / cancelled (prescriber),
            each with a reason.

Only these transitions, by these roles; a stale version gets 409, never an overwrite. The
pharmacist who verifies is neither the prescriber nor whoever last re-planned the order (requirement
16, issue 17 item 6), and verification recomputes the plan on the server from the stored inputs with
the library the order was planned with (requirements 46, 56). A lot of another product or
concentration, or expired on the infusion day, is a hard limit (requirement 64).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from typing import Any, TypeVar

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
from ivig.records.models import Course, Lot, Order, OrderStatus, Role, StockLot
from ivig.records.services import courses, replan_needed, stock
from ivig.records.services.access import require, roles_of
from ivig.records.services.bookings import release_for
from ivig.records.services.common import get, locked, save_versioned
from ivig.records.services.limits import hard_stops

__all__ = [
    "COURSE_RULE",
    "KEEPS_STOCK",
    "TRANSITIONS",
    "CourseLot",
    "LotInput",
    "Shown",
    "cancel",
    "course_lots",
    "defer",
    "dispense",
    "dispense_course",
    "find_lots",
    "lot_problems",
    "planned_by",
    "recomputed_differences",
    "transition",
    "verify",
    "verify_course",
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


def planned_by(order: Order) -> int | None:
    """The user who planned the order's current numbers (issue 17 item 6): the course's
    prescriber, or the last to re-plan it. Prescribing and re-planning are the only writes of
    an order's numbers and each stores its actor on the order (``courses.prescribe``,
    ``courses.replan``; migration 0022 filled it from the audit trail once)."""
    return order.planned_by_id


def _segregation(actor: Actor, order: Order) -> None:
    """Whoever planned an order's numbers does not verify it (requirement 16; ASVS 4.0.3
    4.3.3; issue 17 item 6): neither the course's prescriber nor the user who last re-planned
    the order; a user holding both roles verifies only numbers someone else planned."""
    me = getattr(actor, "pk", None)
    if order.course.prescribed_by_id == me:
        why = "you prescribed this course"
    elif planned_by(order) == me:
        why = "you re-planned this order (its numbers are yours)"
    else:
        return
    refused = Forbidden("verifying an order", (Role.pharmacist,))
    refused.message = f"{why}: another pharmacist must verify its orders (segregation of duties)"
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

    Refused (nothing changes) when: the actor prescribed the course or last re-planned the order
    (Forbidden); the order was planned with another library version than the one in service
    ("re-plan needed"); the numbers the pharmacist's screen showed (``dose_g``, ``volume_ml``: the
    API and the web page send them) are not the order's; the vials do not make the dose or the steps
    the volume; or the server's recomputation of the plan from the stored inputs differs from the
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
    """One lot dispensed: ``product_id`` is the order's product unless said otherwise. With
    ``stock_lot_id`` (issue 18) the lot number, expiry, size and product come from that stock
    lot (those typed too must agree) and the vials are taken from it."""

    lot_number: str
    expiry: dt.date | None
    vial_size_g: float | None
    count: int
    product_id: str | None = None
    stock_lot_id: int | None = None


def _at_row(exc: IvigError, row: int, column: str) -> IvigError:
    """Name the lot's row (1-based) and its field in the error's details, for the page."""
    exc.details = {**exc.details, "row": row, "column": column}
    return exc


def _lot_problems(i: int, lot: LotInput, order: Order, product: Product) -> list[IvigError]:
    """Every problem of one lot against the order, each naming its row and field: a lot
    number, a count, a vial size of the product; a lot of another product or concentration, or
    expiring before the infusion, is a hard limit (requirement 64)."""
    out: list[IvigError] = []
    if not lot.lot_number.strip():
        out.append(_at_row(
            InvalidInput(f"lot {i}: the lot number is required", field="lots"), i, "lot_number"
        ))  # fmt: skip
    if lot.count <= 0:
        out.append(_at_row(
            InvalidInput(f"lot {i}: the vial count must be positive", field="lots"), i, "count"
        ))  # fmt: skip
    if lot.product_id and lot.product_id != product.id:
        out.append(_at_row(_wrong_product(i, lot, product), i, "product_id"))
    out += _missing(i, lot)
    if lot.vial_size_g is not None and lot.vial_size_g not in product.vial_sizes_g.value:
        out.append(_at_row(
            InvalidInput(
                f"lot {i}: {product.display_name} has no {lot.vial_size_g:g} g vial",
                field="lots",
            ),
            i,
            "vial_size_g",
        ))  # fmt: skip
    if lot.expiry is not None and lot.expiry < order.date:
        out.append(_at_row(
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
        ))  # fmt: skip
    return out


def _missing(i: int, lot: LotInput | CourseLot) -> list[IvigError]:
    """A typed lot (not from stock) needs its expiry and vial size."""
    return [
        _at_row(InvalidInput(f"lot {i}: the {words} is required", field="lots"), i, column)
        for column, words in (("expiry", "expiry date"), ("vial_size_g", "vial size"))
        if getattr(lot, column) is None
    ]


def _one_error(problems: list[IvigError]) -> IvigError:
    """All the lots' problems as one error: the first hard limit (counted) else the first
    problem, its message every problem's, and ``details["errors"]`` the list of them (row,
    column, code, message) for the page and the API."""
    first = next((p for p in problems if isinstance(p, HardLimit)), problems[0])
    listed = [
        {
            "row": p.details.get("row"),
            "column": p.details.get("column"),
            "code": p.code,
            "message": p.message,
        }
        for p in problems
    ]
    first.details = {**first.details, "errors": listed}
    if len(problems) > 1:
        first.message = "; ".join(p.message for p in problems)
        first.args = (first.message,)
    return first


def lot_problems(
    order: Order, lots: list[LotInput], rows: list[int] | None = None
) -> list[IvigError]:
    """Every problem of the lots for ``order`` (each row's, then the sum against the ordered
    vials); empty when they may be dispensed. ``rows``: the row number of each lot on the
    pharmacist's screen (default 1, 2, ...)."""
    product = current_catalogue().product(order.course.product_id)
    if not lots:
        return [InvalidInput("record at least one lot", field="lots")]
    problems: list[IvigError] = []
    given: dict[float, int] = {}
    for i, lot in zip(rows or range(1, len(lots) + 1), lots, strict=True):
        problems += _lot_problems(i, lot, order, product)
        if lot.count > 0 and lot.vial_size_g is not None:
            given[lot.vial_size_g] = given.get(lot.vial_size_g, 0) + lot.count
    if given != vial_counts(order.vials):
        want = vial_label(order.vials)
        problems.append(InvalidInput(f"the lots must hold the ordered vials: {want}", field="lots"))
    return problems


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
    exactly the ordered vials, of the ordered product, none expired on the infusion day, of a
    course not marked "re-plan needed" (issue 16 item 3: its vials would be made up on the old
    numbers). An
    expired lot or a lot of another product is a hard limit, refused for every role and counted
    (requirements 48, 64).

    When the service keeps stock (issue 18), each lot names the stock lot its vials come from
    (a typed lot is refused: :data:`KEEPS_STOCK`); they are taken from it in this transaction,
    by ``stock.take``'s rules (not quarantined, no more than on hand), so a refusal leaves the
    order and the stock as they were."""
    actor = _may(actor, S.dispensed, "dispensing an order")
    patient_id = get(Order, order_id, "order").patient_id
    with (
        hard_stops(actor, "lot", patient_id=patient_id, order_id=order_id),
        transaction.atomic(),
    ):
        order = locked(Order, order_id, "order")
        replan_needed.refuse_if_needed(order, "dispensed")  # issue 16 item 3
        rows = list(enumerate(lots, start=1))
        lots, held, problems = _from_stock(rows)
        problems += _stock_refusals(held, [list(enumerate(lots, start=1))])
        problems += lot_problems(order, lots)
        if problems:
            raise _one_error(problems)
        return _record_dispensing(actor, order, version, lots, now, held)


def _record_dispensing(
    actor: User,
    order: Order,
    version: int,
    lots: list[LotInput],
    now: dt.datetime | None,
    held: dict[int, StockLot],
) -> Order:
    """The move to dispensed, one audited row per lot and the vials taken from each stock lot
    (``held``, locked), one audited movement per stock lot (the lots checked already)."""
    order = transition(
        actor, order.pk, S.dispensed, version, dispensed_by=actor,
        dispensed_at=now or timezone.now(),
    )  # fmt: skip
    for lot in lots:
        assert lot.expiry is not None  # checked: _missing
        assert lot.vial_size_g is not None
        row = Lot.objects.create(
            order=order,
            product_id=order.course.product_id,
            lot_number=lot.lot_number.strip(),
            expiry=lot.expiry,
            vial_size_g=lot.vial_size_g,
            count=lot.count,
            stock_lot=held[lot.stock_lot_id] if lot.stock_lot_id is not None else None,
        )
        audit.created(actor, "lot", row, patient_id=order.patient_id)
    for lot_id, (_, count) in _totals([list(enumerate(lots, start=1))]).items():
        stock._draw(actor, held[lot_id], count, order)
    return order


# --- dispensing from stock (issue 18) ------------------------------------------------------------

KEEPS_STOCK = "this service keeps stock: choose the lot from a store"

L = TypeVar("L", "LotInput", "CourseLot")


def _from_stock(rows: list[tuple[int, L]]) -> tuple[list[L], dict[int, StockLot], list[IvigError]]:
    """Each lot chosen from stock filled in from its stock lot, locked in id order (two
    dispensings lock in one order); a typed value that disagrees with it is a problem on its
    row and field. When the service keeps stock, a lot typed without one is refused."""
    keeps = stock.keeps_stock()
    ids = sorted({lot.stock_lot_id for _, lot in rows if lot.stock_lot_id is not None})
    held = {x.pk: x for x in StockLot.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    out: list[L] = []
    problems: list[IvigError] = []
    for i, lot in rows:
        found = held.get(lot.stock_lot_id) if lot.stock_lot_id is not None else None
        if found is None:
            if lot.stock_lot_id is not None:
                problems.append(_at_row(InvalidInput(
                    f"lot {i}: there is no stock lot {lot.stock_lot_id}", field="lots"
                ), i, "stock_lot_id"))  # fmt: skip
            elif keeps:
                problems.append(_at_row(
                    InvalidInput(f"lot {i}: {KEEPS_STOCK}", field="lots"), i, "stock_lot_id"
                ))  # fmt: skip
            out.append(lot)
            continue
        problems += _disagreements(i, lot, found)
        out.append(replace(lot, lot_number=found.lot_number, expiry=found.expiry,
                           vial_size_g=found.vial_size_g, product_id=found.product_id))  # fmt: skip
    return out, held, problems


def _disagreements(i: int, lot: LotInput | CourseLot, found: StockLot) -> list[IvigError]:
    """The values typed beside a stock lot that are not the stock lot's, each on its field."""
    typed: list[tuple[str, str, object, object]] = [
        ("lot_number", "lot number", lot.lot_number.strip().upper() or None,
         found.lot_number.upper()),
        ("expiry", "expiry", lot.expiry, found.expiry),
        ("vial_size_g", "vial size (g)", None if lot.vial_size_g is None
         else float(lot.vial_size_g), found.vial_size_g),
        ("product_id", "product", lot.product_id or None, found.product_id),
    ]  # fmt: skip
    out: list[IvigError] = []
    for column, words, given, stored in typed:
        if given is not None and given != stored:
            out.append(_at_row(InvalidInput(
                f"lot {i}: the {words} of stock lot {found.lot_number} is {_shown(stored)}, not "
                f"{_shown(given)}",
                field="lots",
            ), i, column))  # fmt: skip
    return out


def _shown(value: object) -> str:
    """A typed value in a message: a date as ISO, a size without trailing zeros."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return f"{value:g}" if isinstance(value, float) else str(value)


def _totals(orders_rows: list[list[tuple[int, LotInput]]]) -> dict[int, tuple[int, int]]:
    """Per stock lot: the first row that takes from it and the vials all the rows take."""
    out: dict[int, tuple[int, int]] = {}
    for rows in orders_rows:
        for i, lot in rows:
            if lot.stock_lot_id is not None and lot.count > 0:
                first, total = out.get(lot.stock_lot_id, (i, 0))
                out[lot.stock_lot_id] = (min(first, i), total + lot.count)
    return out


def _stock_refusals(
    held: dict[int, StockLot], orders_rows: list[list[tuple[int, LotInput]]]
) -> list[IvigError]:
    """``stock.take``'s refusals of each stock lot (quarantined, more than on hand) against
    the total every row takes from it, checked once under its row lock, on its first row."""
    problems: list[IvigError] = []
    for lot_id, (i, total) in _totals(orders_rows).items():
        if lot_id in held:
            for exc in stock._refusals(held[lot_id], total):
                exc.message = f"lot {i}: {exc.message}"
                exc.args = (exc.message,)
                problems.append(_at_row(exc, i, "stock_lot_id"))
    return problems


# --- a course's doses together (issue 16 item 15) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shown:
    """One order as the pharmacist's confirmation showed it: its version, dose and volume."""

    order_id: int
    version: int
    dose_g: float | None = None
    volume_ml: float | None = None


def _course_orders(course_id: int, status: str, shown: list[Shown]) -> list[Order]:
    """The course's orders in ``status``, by date: exactly those the confirmation showed (a
    dose added or moved since is a 409: reload and confirm again)."""
    course = get(Course, course_id, "course")
    found = list(course.orders.filter(status=status).order_by("date", "sequence"))
    if not found:
        raise Conflict(f"course {course.pk} has no {status} order", field="status")
    if {o.pk for o in found} != {s.order_id for s in shown}:
        raise Conflict(
            f"the {status} orders of course {course.pk} are not the ones your screen showed: "
            "reload the page and confirm again",
            field="orders",
        )
    return found


def _dated(exc: IvigError, order: Order) -> IvigError:
    """Name the order's date in a course-wide error, first."""
    exc.message = f"{order.date.isoformat()} (order {order.pk}): {exc.message}"
    exc.args = (exc.message,)
    exc.details = {**exc.details, "order_id": order.pk}
    return exc


def verify_course(
    actor: Actor, course_id: int, shown: list[Shown], *, now: dt.datetime | None = None
) -> list[Order]:
    """Verify every planned order of a course in one transaction (issue 16 item 15): each one
    by :func:`verify`'s rules and audited on its own; one refusal refuses them all, named by
    its date."""
    actor = _may(actor, S.verified, "verifying an order")
    by_id = {s.order_id: s for s in shown}
    with transaction.atomic():
        done = []
        for order in _course_orders(course_id, S.planned, shown):
            seen = by_id[order.pk]
            try:
                done.append(verify(actor, order.pk, seen.version, dose_g=seen.dose_g,
                                   volume_ml=seen.volume_ml, now=now))  # fmt: skip
            except IvigError as exc:
                raise _dated(exc, order) from None
    return done


@dataclass(frozen=True, slots=True)
class CourseLot:
    """A lot of one vial size for the orders of a course. One lot of a size serves every
    order's vials of that size. A size may come from two or more lots: the orders, by date,
    take their vials of it from its lots in row order, each lot until it runs out (``count``:
    at most that many vials from it for the whole course; a stock lot without one, its vials
    on hand), the size's last lot taking the rest; a typed lot before the last of its size
    needs its ``count``. With ``stock_lot_id`` (issue 18) the lot comes from that stock lot, as
    for :class:`LotInput`, and the vials are taken from it."""

    lot_number: str
    expiry: dt.date | None
    vial_size_g: float | None
    product_id: str | None = None
    stock_lot_id: int | None = None
    count: int | None = None


COURSE_RULE = (
    "the doses, by date, take each size from its lots in row order: a lot until it runs out "
    "(the vials given for it, or a stock lot's vials on hand), the last lot of a size the rest"
)


def _capacity(lot: CourseLot, held: dict[int, StockLot]) -> int | None:
    """The most vials a lot gives the course: its count, else a stock lot's vials on hand,
    else ``None`` (no bound: the last lot of its size)."""
    if lot.count is not None:
        return lot.count
    found = held.get(lot.stock_lot_id) if lot.stock_lot_id is not None else None
    return found.on_hand if found is not None else None


def course_lots(
    found: list[Order], lots: list[CourseLot], held: dict[int, StockLot]
) -> tuple[dict[int, list[tuple[int, LotInput]]], list[IvigError]]:
    """Each order's lots (by order id: each row's number on the screen and the lot with the
    vials the order takes from it), by :data:`COURSE_RULE`, and the problems of sharing
    them out: a lot left with no vial to give, the size's lots holding too few (only a last
    lot with a count can run short: without one it takes the rest, checked against stock by
    ``_stock_refusals``)."""
    out: dict[int, list[tuple[int, LotInput]]] = {o.pk: [] for o in found}
    problems: list[IvigError] = []
    sizes = dict.fromkeys(lot.vial_size_g for lot in lots if lot.vial_size_g is not None)
    for size in sizes:
        rows = [(i, lot) for i, lot in enumerate(lots, start=1) if lot.vial_size_g == size]
        last = rows[-1][0]
        left = {i: _capacity(lot, held) if i != last or lot.count is not None else None
                for i, lot in rows}  # fmt: skip
        used: dict[int, int] = dict.fromkeys(left, 0)
        short = 0
        for order in found:
            need = vial_counts(order.vials).get(size, 0)
            for i, lot in rows:
                room = left[i]
                take = need if room is None else min(need, room - used[i])
                if take <= 0:
                    continue
                used[i] += take
                need -= take
                out[order.pk].append((i, LotInput(
                    lot.lot_number, lot.expiry, size, take, lot.product_id, lot.stock_lot_id
                )))  # fmt: skip
            short += need
        wanted = sum(vial_counts(o.vials).get(size, 0) for o in found)
        if short and wanted:
            problems.append(_at_row(InvalidInput(
                f"lot {last}: the lots of {size:g} g vials give {wanted - short} of the "
                f"{wanted} the course needs",
                field="lots"), last, "count"))  # fmt: skip
        for i, _ in rows:
            if wanted and not used[i] and not short:
                problems.append(_at_row(InvalidInput(
                    f"lot {i}: the course takes no {size:g} g vial from it: the lots of "
                    f"that size above it give all {wanted}",
                    field="lots"), i, "count"))  # fmt: skip
    return out, problems


def _course_lot_problems(found: list[Order], lots: list[CourseLot]) -> list[IvigError]:
    """Each lot of a size some order of the course holds; a typed lot before the last of its
    size says how many vials it gives (:data:`COURSE_RULE`)."""
    problems: list[IvigError] = []
    ordered = {size for order in found for size in vial_counts(order.vials)}
    rows = list(enumerate(lots, start=1))
    for i, lot in rows:
        later = any(j > i and other.vial_size_g == lot.vial_size_g for j, other in rows)
        if lot.count is not None and lot.count <= 0:
            problems.append(_at_row(
                InvalidInput(f"lot {i}: the vial count must be positive", field="lots"), i, "count"
            ))  # fmt: skip
        if lot.vial_size_g is None:
            problems += _missing(i, lot)
        elif lot.vial_size_g not in ordered:
            problems.append(_at_row(InvalidInput(
                f"lot {i}: no order of this course holds {lot.vial_size_g:g} g vials",
                field="lots"), i, "vial_size_g"))  # fmt: skip
        elif later and lot.count is None and lot.stock_lot_id is None:
            problems.append(_at_row(InvalidInput(
                f"lot {i}: say how many {lot.vial_size_g:g} g vials it gives the course: "
                "another lot of that size follows, which takes over when this one runs out",
                field="lots"), i, "count"))  # fmt: skip
    return problems


def dispense_course(
    actor: Actor,
    course_id: int,
    shown: list[Shown],
    lots: list[CourseLot],
    *,
    now: dt.datetime | None = None,
) -> list[Order]:
    """Dispense every verified order of a course from its lots (issue 16 item 15): one lot of
    a size serves every order; a size may come from two or more lots, shared out by
    :data:`COURSE_RULE`. Each order's lots are checked against its vials as :func:`dispense`
    checks them, every problem of every order named at once (a hard limit counted); then each
    order is moved and its lots (one row per lot it takes from) recorded and audited on its
    own, all in one transaction. A stock lot (issue 18): the total every order takes from it
    is checked against its count on hand once, under its row lock, and each order's take is
    its own audited movement."""
    actor = _may(actor, S.dispensed, "dispensing an order")
    course = get(Course, course_id, "course")
    by_id = {s.order_id: s for s in shown}
    with (
        hard_stops(actor, "lot", patient_id=course.patient_id),
        transaction.atomic(),
    ):
        found = [locked(Order, o.pk, "order") for o in _course_orders(course_id, S.verified, shown)]
        for order in found:
            replan_needed.refuse_if_needed(order, "dispensed")  # issue 16 item 3
        lots, held, problems = _from_stock(list(enumerate(lots, start=1)))
        shape = _course_lot_problems(found, lots) if lots else []
        taken, sharing = course_lots(found, lots, held)
        problems += shape + ([] if shape else sharing)  # sharing out needs sound rows
        problems += _stock_refusals(held, [taken[order.pk] for order in found])
        for order in found:
            numbers, rows = [i for i, _ in taken[order.pk]], [lot for _, lot in taken[order.pk]]
            problems += [_dated(p, order) for p in lot_problems(order, rows, numbers)]
        if problems:
            raise _one_error(problems)
        return [
            _record_dispensing(
                actor, order, by_id[order.pk].version, [t for _, t in taken[order.pk]], now, held
            )
            for order in found
        ]


def _reason(reason: str) -> str:
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    return reason.strip()


def defer(actor: Actor, order_id: int, version: int, reason: str) -> Order:
    """Defer a dose not yet started (a prescriber or a nurse: a fever, the patient unwell),
    with the reason; it leaves a "re-plan needed" mark (it will not be given) and cancels its
    booking."""
    actor = _may(actor, S.deferred, "deferring an order")
    with transaction.atomic():
        order = transition(actor, order_id, S.deferred, version, reason=_reason(reason))
        replan_needed.drop_order(actor, order, f"order {order.pk} deferred")
        release_for(actor, order, order.status_reason)  # its booking, if any (issue 18)
    return order


def cancel(actor: Actor, order_id: int, version: int, reason: str) -> Order:
    """Cancel a dose not yet started (a prescriber), with the reason; it leaves a "re-plan
    needed" mark and cancels its booking."""
    actor = _may(actor, S.cancelled, "cancelling an order")
    with transaction.atomic():
        order = transition(actor, order_id, S.cancelled, version, reason=_reason(reason))
        replan_needed.drop_order(actor, order, f"order {order.pk} cancelled")
        release_for(actor, order, order.status_reason)  # its booking, if any (issue 18)
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
