"""Vial stock (issue 18): receiving checked against the catalogue and the day, one lot per number
(matched as dispensing matches it), takes refused beyond the count on hand or from an expired or
quarantined lot, returns bounded by what was taken, every movement audited, the shortfall against
the next days' orders, and concurrent takes that never drive the count below zero (real commits,
on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, InvalidInput, NotFound, UnknownProduct
from ivig.records.models import AuditEvent, MovementKind, StockLot, StockMovement, Store
from ivig.records.services import courses, stock
from ivig.records.services.accounts import create_user
from ivig.records.services.stock import Received

# Every test here runs again on PostgreSQL (scripts/test: ``pytest -m database``).
pytestmark = pytest.mark.database

PASSWORD = "infusion-chair-42-Xq"


def _delivery(
    number: str = "P1", count: int = 10, size: float = 40, *, expiry: dt.date | None = None
) -> Received:
    when = expiry or timezone.localdate() + dt.timedelta(days=365)
    return Received("privigen-us", size, number, when, count)


@pytest.fixture
def store(users: dict[str, Any]) -> Store:
    return stock.create_store(users["admin"], "main pharmacy")


def test_only_the_administrator_adds_a_store_and_names_are_once(users: dict[str, Any]) -> None:
    with pytest.raises(Forbidden):
        stock.create_store(users["pharmacist"], "fridge")
    stock.create_store(users["admin"], "Day ward fridge")
    with pytest.raises(Conflict):
        stock.create_store(users["admin"], " day ward FRIDGE ")
    assert AuditEvent.objects.filter(entity="store", action="create").count() == 1


def test_receiving_adds_to_the_same_lot_whatever_the_case(
    users: dict[str, Any], store: Store
) -> None:
    first = stock.receive(users["pharmacist"], store.pk, _delivery("ab12", 4))
    again = stock.receive(users["pharmacist"], store.pk, _delivery(" AB12 ", 6))
    assert again.pk == first.pk
    assert (again.on_hand, again.lot_number) == (10, "ab12")
    other_size = stock.receive(users["pharmacist"], store.pk, _delivery("AB12", 3, 20))
    assert other_size.pk != first.pk
    events = AuditEvent.objects.filter(entity="stock-lot", action="receive")
    assert events.count() == 3
    last = events.order_by("-seq").first()
    assert last is not None
    assert last.after is not None
    assert last.after["on_hand"] == 3


@pytest.mark.parametrize(
    ("delivery", "field"),
    [
        (Received("privigen-us", 2.5, "P1", dt.date(2099, 1, 1), 1), "vial_size_g"),
        (Received("privigen-us", 40, "  ", dt.date(2099, 1, 1), 1), "lot_number"),
        (Received("privigen-us", 40, "P1", dt.date(2099, 1, 1), 0), "count"),
    ],
)
def test_a_delivery_the_catalogue_or_the_count_refuses_names_the_field(
    users: dict[str, Any], store: Store, delivery: Received, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        stock.receive(users["pharmacist"], store.pk, delivery)
    assert refused.value.field == field
    assert not StockLot.objects.exists()


def test_an_unknown_product_an_expired_lot_or_another_expiry_is_refused(
    users: dict[str, Any], store: Store, today: dt.date
) -> None:
    with pytest.raises(UnknownProduct):
        stock.receive(users["pharmacist"], store.pk, Received("nope", 40, "P1", today, 1))
    with pytest.raises(InvalidInput) as expired:
        stock.receive(users["pharmacist"], store.pk,
                      _delivery(expiry=today - dt.timedelta(days=1)))  # fmt: skip
    assert expired.value.field == "expiry"
    stock.receive(users["pharmacist"], store.pk, _delivery(expiry=today))  # today: still good
    with pytest.raises(InvalidInput) as other:
        stock.receive(users["pharmacist"], store.pk,
                      _delivery(expiry=today + dt.timedelta(days=9)))  # fmt: skip
    assert other.value.field == "expiry"
    with pytest.raises(Forbidden):
        stock.receive(users["nurse"], store.pk, _delivery())


def test_take_refuses_more_than_on_hand_and_returns_are_bounded(
    users: dict[str, Any],
    dispensed: Any,
    store: Store,  # dispensed before the store was kept
) -> None:
    lot = stock.receive(users["pharmacist"], store.pk, _delivery("P1", 3))
    with pytest.raises(Conflict):
        stock.take(users["pharmacist"], lot.pk, 4)
    lot = stock.take(users["pharmacist"], lot.pk, 2, dispensed.pk)
    assert lot.on_hand == 1
    with pytest.raises(Conflict):
        stock.give_back(users["pharmacist"], lot.pk, 3, dispensed.pk)
    lot = stock.give_back(users["pharmacist"], lot.pk, 2, dispensed.pk, "not opened")
    assert lot.on_hand == 3
    with pytest.raises(Conflict):  # both returned already
        stock.give_back(users["pharmacist"], lot.pk, 1, dispensed.pk)
    kinds = list(StockMovement.objects.filter(lot=lot).values_list("kind", "count"))
    assert kinds == [("receive", 3), ("dispense", 2), ("return", 2)]
    take = AuditEvent.objects.get(entity="stock-lot", action="dispense")
    assert take.patient_id == dispensed.patient_id
    assert take.before == {"on_hand": 3, "quarantined": False}
    with pytest.raises(Forbidden):
        stock.take(users["nurse"], lot.pk, 1)
    with pytest.raises(NotFound):
        stock.take(users["pharmacist"], 999999, 1)


def test_take_refuses_a_lot_expired_before_the_infusion_or_of_another_product(
    users: dict[str, Any], store: Store, patient: Any, today: dt.date
) -> None:
    later = courses.prescribe(
        users["prescriber"], patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today + dt.timedelta(days=20), days=2),
    )  # fmt: skip
    order = later.orders.order_by("date").first()
    assert order is not None
    lot = stock.receive(users["pharmacist"], store.pk,
                        _delivery("SHORT", 5, expiry=today + dt.timedelta(days=10)))  # fmt: skip
    with pytest.raises(Conflict, match="expires"):
        stock.take(users["pharmacist"], lot.pk, 1, order.pk)
    stock.take(users["pharmacist"], lot.pk, 1)  # today it is good
    good = today + dt.timedelta(days=99)
    octagam = stock.receive(
        users["pharmacist"], store.pk, Received("octagam-10", 10, "O1", good, 2)
    )
    with pytest.raises(InvalidInput) as other:
        stock.take(users["pharmacist"], octagam.pk, 1, order.pk)
    assert other.value.field == "lot"


def test_a_quarantined_lot_cannot_be_taken_and_lists_who_received_it(
    users: dict[str, Any],
    dispensed: Any,
    store: Store,  # dispensed before the store was kept
) -> None:
    fridge = stock.create_store(users["admin"], "day ward fridge")
    one = stock.receive(users["pharmacist"], store.pk, _delivery("P1", 4))
    two = stock.receive(users["pharmacist"], fridge.pk, _delivery("p1", 2))
    with pytest.raises(InvalidInput):
        stock.quarantine(users["pharmacist"], "P1", " ")
    flagged = stock.quarantine(users["pharmacist"], " p1 ", "manufacturer recall 2026-07")
    assert {lot.pk for lot in flagged} == {one.pk, two.pk}
    with pytest.raises(Conflict, match="quarantined"):
        stock.take(users["pharmacist"], one.pk, 1)
    with pytest.raises(Conflict):
        stock.quarantine(users["pharmacist"], "P1", "again")
    with pytest.raises(NotFound):
        stock.quarantine(users["pharmacist"], "NOPE", "recall")
    assert [r.order_id for r in stock.recipients("p1")] == [dispensed.pk]
    assert stock.stock_against_orders()[0].on_hand == 0  # quarantined: not usable
    stock.release(users["pharmacist"], "P1", "recall excludes this lot")
    assert stock.take(users["pharmacist"], one.pk, 1).on_hand == 3
    actions = AuditEvent.objects.filter(entity="stock-lot").values_list("action", flat=True)
    assert list(actions).count("quarantine") == 2
    assert list(actions).count("release") == 2


def test_expiring_lists_lots_with_vials_within_the_days(
    users: dict[str, Any], store: Store, today: dt.date
) -> None:
    soon = stock.receive(users["pharmacist"], store.pk,
                         _delivery("S", 2, expiry=today + dt.timedelta(days=20)))  # fmt: skip
    stock.receive(users["pharmacist"], store.pk,
                  _delivery("L", 2, expiry=today + dt.timedelta(days=90)))  # fmt: skip
    empty = stock.receive(users["pharmacist"], store.pk,
                          _delivery("E", 1, expiry=today + dt.timedelta(days=5)))  # fmt: skip
    stock.take(users["pharmacist"], empty.pk, 1)
    assert [lot.pk for lot in stock.expiring()] == [soon.pk]
    assert [lot.lot_number for lot in stock.expiring(100)] == ["S", "L"]
    assert list(stock.expiring(10)) == []


def test_shortfall_names_the_orders_the_stock_does_not_cover(
    users: dict[str, Any], store: Store, patient: Any, today: dt.date
) -> None:
    course = courses.prescribe(
        users["prescriber"], patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today + dt.timedelta(days=1), days=2),
    )  # fmt: skip
    first, second = course.orders.order_by("date")
    assert first.vials == second.vials  # 85 g: 2 x 40 g + 1 x 5 g a day
    stock.receive(users["pharmacist"], store.pk, _delivery("B40", 3, 40))
    stock.receive(users["pharmacist"], store.pk, _delivery("B5", 5, 5))
    lines = {(x.product_id, x.vial_size_g): x for x in stock.stock_against_orders()}
    forty = lines[("privigen-us", 40.0)]
    assert (forty.on_hand, forty.needed, forty.shortfall) == (3, 4, 1)
    assert [(n.order_id, n.mrn, n.date) for n in forty.short_of] == [
        (second.pk, patient.mrn, second.date)
    ]
    assert lines[("privigen-us", 5.0)].shortfall == 0
    assert stock.stock_against_orders(1)[0].needed == 0  # tomorrow is beyond one day


def test_the_database_refuses_a_negative_count(users: dict[str, Any], store: Store) -> None:
    lot = stock.receive(users["pharmacist"], store.pk, _delivery("P1", 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLot.objects.filter(pk=lot.pk).update(on_hand=-1)


def test_concurrent_takes_never_go_below_zero(
    live_records: None, race: Callable[..., list[Any]]
) -> None:
    admin = create_user(None, "admin", PASSWORD, ["admin"], system=True)
    pharmacist = create_user(None, "pharmacist", PASSWORD, ["pharmacist"], system=True)
    where = stock.create_store(admin, "main pharmacy")
    lot = stock.receive(pharmacist, where.pk, _delivery("RACE", 3))
    results = race(*[lambda: stock.take(pharmacist, lot.pk, 2) for _ in range(3)])
    taken = [r for r in results if isinstance(r, StockLot)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(taken) == 1, results
    assert len(refused) == 2
    assert all(isinstance(r, Conflict) for r in refused), refused
    lot.refresh_from_db()
    assert lot.on_hand == 1
    assert StockMovement.objects.filter(lot=lot, kind=MovementKind.dispense).count() == 1


def test_concurrent_first_deliveries_of_a_lot_make_one_lot(
    live_records: None, race: Callable[..., list[Any]]
) -> None:
    admin = create_user(None, "admin", PASSWORD, ["admin"], system=True)
    pharmacist = create_user(None, "pharmacist", PASSWORD, ["pharmacist"], system=True)
    where = stock.create_store(admin, "main pharmacy")
    results = race(
        lambda: stock.receive(pharmacist, where.pk, _delivery("NEW", 2)),
        lambda: stock.receive(pharmacist, where.pk, _delivery("new", 3)),
    )
    assert all(isinstance(r, StockLot) for r in results), results
    lot = StockLot.objects.get()
    assert lot.on_hand == 5
    assert lot.movements.count() == 2
