"""Vial stock by store and lot (issue 18): the pharmacist receives vials by product, vial size,
lot and expiry into a store, takes them for an order, gives unopened vials back, and quarantines
a lot (a recall) or releases it; every movement is a :class:`StockMovement`, audited in its
transaction. A take locks the lot's row (``select_for_update``; SQLite's IMMEDIATE transactions
hold the write lock), so the count on hand never goes below zero, under concurrent takes too; a
CHECK constraint stands behind it. The administrator names the stores.

Dispensing takes from stock: when the service keeps stock (a store exists), ``orders.dispense``
and ``orders.dispense_course`` take each lot's vials from the stock lot chosen, in the
transaction that moves the order to dispensed, by the rules of :func:`take` (``_refusals``,
``_draw``); a return (:func:`give_back`) puts back unopened vials taken for an order.

Lists: the lots expiring within N days; the vials usable on hand (not quarantined, not expired)
per product and size against the vials the planned and verified orders of the next N days need,
with the orders a shortfall affects (``ivig.core.stock``); the patients who received a lot
number (``orders.find_lots``), for a quarantine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Sum, Value
from django.db.models.functions import Upper
from django.utils import timezone

from ivig.core.stock import StockLine, needs_of, stock_lines
from ivig.errors import Conflict, InvalidInput, IvigError, NotFound, UnknownProduct
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import (
    Lot,
    MovementKind,
    Order,
    OrderStatus,
    Role,
    StockLot,
    StockMovement,
    Store,
)
from ivig.records.services.access import require
from ivig.records.services.common import get, locked

__all__ = [
    "EXPIRING_DAYS",
    "SHORTFALL_DAYS",
    "Received",
    "Taken",
    "create_store",
    "expiring",
    "give_back",
    "keeps_stock",
    "lots_numbered",
    "quarantine",
    "receive",
    "recipients",
    "release",
    "stock_against_orders",
    "take",
    "taken_for",
    "usable_lots",
]

EXPIRING_DAYS = 30
SHORTFALL_DAYS = 7
MAX_LOT_NUMBER = 60
NEEDING = (OrderStatus.planned, OrderStatus.verified)


@dataclass(frozen=True, slots=True)
class Received:
    """What arrived: ``count`` vials of a product's size, of one lot and expiry."""

    product_id: str
    vial_size_g: float
    lot_number: str
    expiry: dt.date
    count: int


@dataclass(frozen=True, slots=True)
class Taken:
    """The vials of one stock lot taken for an order, and how many came back."""

    lot: StockLot
    taken: int
    returned: int

    @property
    def out(self) -> int:
        """Taken and not returned: the most that can still come back."""
        return self.taken - self.returned


def keeps_stock() -> bool:
    """Whether the service keeps stock (a store exists): then every dispensed lot comes from a
    store (``orders.dispense``)."""
    return Store.objects.exists()


def create_store(actor: Actor, name: str) -> Store:
    """A new store (administrator): a name used once."""
    actor = require(actor, "adding a store", Role.admin)
    name = name.strip()
    if not name:
        raise InvalidInput("a store needs a name", field="name")
    with transaction.atomic():
        if Store.objects.filter(name__iexact=name).exists():
            raise Conflict(f"there is already a store named {name!r}").with_hint(
                "choose another name"
            )
        row = Store.objects.create(name=name)
        audit.created(actor, "store", row, patient_id=None)
    return row


def _count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidInput(
            f"the count must be a whole number of vials, 1 or more: {count}", field="count"
        )
    return count


def _checked(given: Received, today: dt.date) -> Received:
    """The delivery checked against the catalogue and the day: a size the product comes in, a
    lot number, an expiry not past."""
    try:
        product = current_library().catalogue.product(given.product_id)
    except UnknownProduct as exc:
        exc.field = "product_id"
        raise
    sizes = product.vial_sizes_g.value
    if float(given.vial_size_g) not in sizes:
        listed = ", ".join(f"{s:g} g" for s in sizes)
        raise InvalidInput(
            f"{product.display_name} does not come in {given.vial_size_g:g} g vials "
            f"(it comes in {listed})",
            field="vial_size_g",
        )
    number = given.lot_number.strip()
    if not number or len(number) > MAX_LOT_NUMBER:
        raise InvalidInput(
            f"a lot number of 1 to {MAX_LOT_NUMBER} characters is needed", field="lot_number"
        )
    if given.expiry < today:
        raise InvalidInput(
            f"lot {number} expired on {given.expiry.isoformat()}: an expired lot is not received",
            field="expiry",
        )
    return Received(product.id, float(given.vial_size_g), number, given.expiry, _count(given.count))


def _move(
    actor: User,
    lot: StockLot,
    kind: MovementKind,
    count: int,
    before: dict[str, object],
    *,
    order: Order | None = None,
    note: str = "",
) -> StockMovement:
    """Record one movement of ``lot`` (saved already) and its audit event."""
    row = StockMovement.objects.create(
        lot=lot, kind=kind, count=count, order=order, by=actor, at=timezone.now(), note=note
    )
    audit.record(
        actor,
        str(kind),
        "stock-lot",
        lot.pk,
        patient_id=order.patient_id if order is not None else None,
        before=before,
        after={
            **audit.snapshot(row),
            "on_hand": lot.on_hand,
            "quarantined": lot.quarantined,
            "lot_number": lot.lot_number,
        },
        reason=note,
    )
    return row


def _same_lot(store: Store, given: Received) -> StockLot | None:
    """The store's lot of this number (matched whole, ignoring case: ``Upper`` on both sides, as
    the unique constraint compares them), product and size, locked."""
    return (
        StockLot.objects.select_for_update()
        .alias(number=Upper("lot_number"))
        .filter(
            store=store,
            product_id=given.product_id,
            vial_size_g=given.vial_size_g,
            number=Upper(Value(given.lot_number)),
        )
        .first()
    )


def receive(
    actor: Actor, store_id: int, given: Received, *, today: dt.date | None = None
) -> StockLot:
    """Vials received into a store: the same lot number (matched as dispensing matches it),
    product and size in the same store adds to its lot; an expired lot is refused, as is a
    lot whose expiry differs from the one received before, or a quarantined lot."""
    actor = require(actor, "receiving stock", Role.pharmacist)
    day = today or timezone.localdate()
    given = _checked(given, day)
    with transaction.atomic():
        store = get(Store, store_id, "store")
        lot = _same_lot(store, given)
        if lot is None:
            try:  # a concurrent first delivery of the lot: the unique index decides
                with transaction.atomic():
                    lot = StockLot.objects.create(
                        store=store,
                        product_id=given.product_id,
                        vial_size_g=given.vial_size_g,
                        lot_number=given.lot_number,
                        expiry=given.expiry,
                        on_hand=0,
                    )
            except IntegrityError:
                lot = _same_lot(store, given)
                if lot is None:
                    raise
        if lot.expiry != given.expiry:
            raise InvalidInput(
                f"lot {lot.lot_number} in {store.name} expires {lot.expiry.isoformat()}, not "
                f"{given.expiry.isoformat()}: check the vials' label",
                field="expiry",
            )
        if lot.quarantined:
            raise Conflict(
                f"lot {lot.lot_number} is quarantined ({lot.quarantine_reason}): "
                "release it before receiving more"
            )
        before: dict[str, object] = {"on_hand": lot.on_hand, "quarantined": lot.quarantined}
        StockLot.objects.filter(pk=lot.pk).update(on_hand=F("on_hand") + given.count)
        lot.refresh_from_db()
        _move(actor, lot, MovementKind.receive, given.count, before)
    return lot


def take(
    actor: Actor,
    lot_id: int,
    count: int,
    order_id: int | None = None,
    *,
    today: dt.date | None = None,
) -> StockLot:
    """Take ``count`` vials from a lot (for ``order_id`` when given): refused beyond the count
    on hand, for a quarantined lot, for a lot expired before the infusion day (the order's date,
    else today) and for a lot of another product than the order's."""
    actor = require(actor, "taking stock", Role.pharmacist)
    count = _count(count)
    with transaction.atomic():
        lot = locked(StockLot, lot_id, "stock lot")
        order = get(Order, order_id, "order") if order_id is not None else None
        day = order.date if order is not None else (today or timezone.localdate())
        product_id = order.course.product_id if order is not None else None
        problems = _refusals(lot, count, day=day, product_id=product_id)
        if problems:
            raise problems[0]
        _draw(actor, lot, count, order)
    return lot


def _refusals(
    lot: StockLot, count: int, *, day: dt.date | None = None, product_id: str | None = None
) -> list[IvigError]:
    """Why ``count`` vials cannot be taken from ``lot`` (locked by the caller), in this order:
    quarantined, expired before ``day``, of another product than ``product_id``, more than on
    hand. Dispensing passes no day or product: there an expired lot or another product is a
    hard limit (``orders._lot_problems``, requirement 64)."""
    out: list[IvigError] = []
    if lot.quarantined:
        out.append(Conflict(
            f"lot {lot.lot_number} is quarantined ({lot.quarantine_reason}): it cannot be taken"
        ))  # fmt: skip
    if day is not None and lot.expiry < day:
        out.append(Conflict(
            f"lot {lot.lot_number} expires {lot.expiry.isoformat()}, before "
            f"{day.isoformat()}: an expired lot cannot be taken"
        ))  # fmt: skip
    if product_id is not None and product_id != lot.product_id:
        out.append(InvalidInput(
            f"lot {lot.lot_number} is {lot.product_id}, the order is for {product_id}",
            field="lot",
        ))  # fmt: skip
    if count > lot.on_hand:
        out.append(Conflict(
            f"lot {lot.lot_number} has {lot.on_hand} vials on hand, not {count}"
        ).with_hint("take from another lot or receive more"))  # fmt: skip
    return out


def _draw(actor: User, lot: StockLot, count: int, order: Order | None) -> StockMovement:
    """Take ``count`` vials from ``lot`` (locked and checked by :func:`_refusals`): the count
    on hand, the movement and its audit event."""
    before: dict[str, object] = {"on_hand": lot.on_hand, "quarantined": lot.quarantined}
    StockLot.objects.filter(pk=lot.pk).update(on_hand=F("on_hand") - count)
    lot.refresh_from_db()
    return _move(actor, lot, MovementKind.dispense, count, before, order=order)


def give_back(actor: Actor, lot_id: int, count: int, order_id: int, note: str = "") -> StockLot:
    """Unopened vials of an order returned to the lot they were taken from: no more than were
    taken from it for that order and not yet returned."""
    actor = require(actor, "returning stock", Role.pharmacist)
    count = _count(count)
    with transaction.atomic():
        lot = locked(StockLot, lot_id, "stock lot")
        order = get(Order, order_id, "order")
        out = next((t.out for t in taken_for(order.pk) if t.lot.pk == lot.pk), 0)
        if count > out:
            raise Conflict(
                f"{out} vials of lot {lot.lot_number} were taken for order {order.pk} "
                f"and not returned: {count} cannot come back"
            )
        before: dict[str, object] = {"on_hand": lot.on_hand, "quarantined": lot.quarantined}
        StockLot.objects.filter(pk=lot.pk).update(on_hand=F("on_hand") + count)
        lot.refresh_from_db()
        _move(actor, lot, MovementKind.give_back, count, before, order=order, note=note.strip())
    return lot


def taken_for(order_id: int) -> list[Taken]:
    """Per stock lot, the vials taken for an order and those returned (a lot with nothing
    taken for it left out), by store and lot number: what a return can give back."""
    moved = StockMovement.objects.filter(order_id=order_id)
    sums = (
        moved.values("lot")
        .annotate(
            taken=Sum("count", filter=Q(kind=MovementKind.dispense)),
            back=Sum("count", filter=Q(kind=MovementKind.give_back)),
        )
        .order_by("lot")
    )
    lots = StockLot.objects.select_related("store").in_bulk([row["lot"] for row in sums])
    found = [
        Taken(lots[row["lot"]], row["taken"] or 0, row["back"] or 0) for row in sums if row["taken"]
    ]
    return sorted(found, key=lambda t: (t.lot.store.name, t.lot.lot_number, t.lot.pk))


def usable_lots(product_id: str, day: dt.date) -> QuerySet[StockLot]:
    """The stock lots of a product that can be dispensed for an infusion on ``day``: vials on
    hand, not quarantined, not expired on that day; the soonest expiry first."""
    return (
        StockLot.objects.filter(
            product_id=product_id, quarantined=False, expiry__gte=day, on_hand__gt=0
        )
        .select_related("store")
        .order_by("expiry", "-vial_size_g", "store__name", "lot_number")
    )


def lots_numbered(lot_number: str) -> QuerySet[StockLot]:
    """The stock lots of a lot number in every store (matched whole, ignoring case and the
    spaces around it)."""
    number = lot_number.strip()
    if not number:
        return StockLot.objects.none()
    return StockLot.objects.filter(lot_number__iexact=number).select_related("store")


def _flag(actor: Actor, lot_number: str, reason: str, *, on: bool) -> list[StockLot]:
    what = "quarantining a lot" if on else "releasing a lot"
    actor = require(actor, what, Role.pharmacist)
    reason = reason.strip()
    if not reason:
        raise InvalidInput(f"{what} needs a reason", field="reason")
    with transaction.atomic():
        lots = list(lots_numbered(lot_number).select_for_update())
        if not lots:
            raise NotFound("stock lot", lot_number.strip() or "(blank)")
        changing = [lot for lot in lots if lot.quarantined != on]
        if not changing:
            state = "quarantined" if on else "not quarantined"
            raise Conflict(f"lot {lots[0].lot_number} is {state} already")
        for lot in changing:
            before: dict[str, object] = {"quarantined": lot.quarantined,
                                         "quarantine_reason": lot.quarantine_reason}  # fmt: skip
            StockLot.objects.filter(pk=lot.pk).update(
                quarantined=on, quarantine_reason=reason if on else ""
            )
            lot.refresh_from_db()
            kind = MovementKind.quarantine if on else MovementKind.release
            _move(actor, lot, kind, lot.on_hand, before, note=reason)
    return changing


def quarantine(actor: Actor, lot_number: str, reason: str) -> list[StockLot]:
    """Quarantine every stock lot of a lot number (a recall): none can be taken until released.
    The patients who received it: :func:`recipients`."""
    return _flag(actor, lot_number, reason, on=True)


def release(actor: Actor, lot_number: str, reason: str) -> list[StockLot]:
    """Release a quarantined lot number, with the reason (e.g. the recall excluded it)."""
    return _flag(actor, lot_number, reason, on=False)


def recipients(lot_number: str) -> QuerySet[Lot]:
    """Who received a lot number (the dispensing records; ``orders.find_lots``)."""
    from ivig.records.services.orders import find_lots  # orders imports stock: dispensing

    return find_lots(lot_number)


def expiring(days: int = EXPIRING_DAYS, *, today: dt.date | None = None) -> QuerySet[StockLot]:
    """The lots with vials on hand that expire within ``days`` (or have expired), soonest
    first."""
    day = today or timezone.localdate()
    until = day + dt.timedelta(days=max(0, days))
    return (
        StockLot.objects.filter(on_hand__gt=0, expiry__lte=until)
        .select_related("store")
        .order_by("expiry", "product_id", "-vial_size_g", "lot_number")
    )


def stock_against_orders(
    days: int = SHORTFALL_DAYS, *, today: dt.date | None = None
) -> list[StockLine]:
    """Per product and vial size: the vials usable today (in every store, not quarantined, not
    expired) against the vials the planned and verified orders from today to ``days`` days
    ahead need, the orders a shortfall affects named (latest served last)."""
    day = today or timezone.localdate()
    on_hand: dict[tuple[str, float], int] = {}
    usable = StockLot.objects.filter(quarantined=False, expiry__gte=day, on_hand__gt=0)
    for product_id, size, n in usable.values_list("product_id", "vial_size_g", "on_hand"):
        key = (product_id, float(size))
        on_hand[key] = on_hand.get(key, 0) + n
    orders = (
        Order.objects.filter(
            status__in=NEEDING, date__gte=day, date__lt=day + dt.timedelta(days=max(1, days))
        )
        .select_related("patient", "course")
        .order_by("date", "patient__mrn", "id")
    )
    needs = [
        need
        for o in orders
        for need in needs_of(o.pk, o.patient.mrn, o.date, o.course.product_id, o.vials)
    ]
    return stock_lines(on_hand, needs)
