"""Dispensing takes from stock (issue 18): a lot chosen from a store fills the lot's number,
expiry, size and product and its vials are taken in the transaction that dispenses the order; a
refusal (more than on hand, quarantined, expired on the infusion day, another product, a typed
value that disagrees, a typed lot when stock is kept) leaves the order and the stock as they
were; a course's doses share a lot, its total checked once; returns of what was taken; two
pharmacists racing for the last vials (real commits, on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import Conflict, HardLimit, InvalidInput
from ivig.records import audit
from ivig.records.models import (
    AuditEvent,
    Course,
    LimitEvent,
    Lot,
    MovementKind,
    Order,
    StockLot,
    StockMovement,
    Store,
)
from ivig.records.services import courses, orders, stock
from ivig.records.services.accounts import create_user
from ivig.records.services.patients import PatientInput, add_weight, create_patient
from ivig.records.services.stock import Received

# Every test here runs again on PostgreSQL (scripts/test: ``pytest -m database``).
pytestmark = pytest.mark.database

PASSWORD = "infusion-chair-42-Xq"


def _course(users: dict[str, Any], patient_id: int, start: dt.date, days: int = 2) -> Course:
    return courses.prescribe(
        users["prescriber"], patient_id,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=start, days=days),
    )  # fmt: skip


def _verified(users: dict[str, Any], course: Course) -> list[Order]:
    shown = [orders.Shown(o.pk, o.version, o.dose_g, o.volume_ml)
             for o in course.orders.order_by("date")]  # fmt: skip
    return orders.verify_course(users["pharmacist"], course.pk, shown)


def _lot(
    users: dict[str, Any], store: Store, number: str, size: float, count: int,
    expiry: dt.date, product: str = "privigen-us",
) -> StockLot:  # fmt: skip
    return stock.receive(users["pharmacist"], store.pk,
                         Received(product, size, number, expiry, count))  # fmt: skip


def _from(lot: StockLot, count: int, **typed: Any) -> orders.LotInput:
    """``count`` vials from a stock lot, with the values typed beside it (none by default)."""
    number, expiry = typed.pop("lot_number", ""), typed.pop("expiry", None)
    size = typed.pop("vial_size_g", None)
    return orders.LotInput(number, expiry, size, count, stock_lot_id=lot.pk, **typed)


@pytest.fixture
def store(users: dict[str, Any]) -> Store:
    return stock.create_store(users["admin"], "main pharmacy")


@pytest.fixture
def order(users: dict[str, Any], patient: Any, today: dt.date) -> Order:
    """Day 1 of a 2-day induction three days ahead, verified: 85 g = 2 x 40 g + 1 x 5 g."""
    first = _verified(users, _course(users, patient.pk, today + dt.timedelta(days=3)))[0]
    assert first.vials == [{"size_g": 40.0, "count": 2}, {"size_g": 5.0, "count": 1}]
    return first


def _on_hand(*lots: StockLot) -> list[int]:
    return [StockLot.objects.get(pk=x.pk).on_hand for x in lots]


def _untouched(order: Order, *lots: StockLot, on_hand: list[int]) -> None:
    assert Order.objects.get(pk=order.pk).status == "verified"
    assert not Lot.objects.filter(order=order).exists()
    assert not StockMovement.objects.filter(order=order).exists()
    assert _on_hand(*lots) == on_hand


def test_dispensing_takes_the_vials_from_the_stock_lots_chosen(
    users: dict[str, Any], store: Store, order: Order, today: dt.date
) -> None:
    expiry = today + dt.timedelta(days=200)
    forty, five = _lot(users, store, "A40", 40, 5, expiry), _lot(users, store, "A5", 5, 3, expiry)
    done = orders.dispense(users["pharmacist"], order.pk, order.version,
                           [_from(forty, 2), _from(five, 1, lot_number=" a5 ")])  # fmt: skip
    assert done.status == "dispensed"
    rows = Lot.objects.filter(order=order).order_by("-vial_size_g")
    assert [(r.lot_number, r.expiry, r.vial_size_g, r.count, r.product_id, r.stock_lot_id)
            for r in rows] == [("A40", expiry, 40, 2, "privigen-us", forty.pk),
                               ("A5", expiry, 5, 1, "privigen-us", five.pk)]  # fmt: skip
    assert _on_hand(forty, five) == [3, 2]
    moves = StockMovement.objects.filter(order=order, kind=MovementKind.dispense)
    assert sorted(moves.values_list("lot_id", "count")) == sorted([(forty.pk, 2), (five.pk, 1)])
    taken = AuditEvent.objects.filter(entity="stock-lot", action="dispense")
    assert taken.count() == 2
    assert {e.patient_id for e in taken} == {order.patient_id}
    assert AuditEvent.objects.filter(entity="lot", action="create").count() == 2
    assert AuditEvent.objects.filter(entity="order", action="dispensed").count() == 1
    assert [r.order_id for r in stock.recipients("a40")] == [order.pk]
    assert audit.verify_chain().ok


def test_two_rows_of_one_lot_are_taken_against_its_count_once(
    users: dict[str, Any], store: Store, order: Order, today: dt.date
) -> None:
    expiry = today + dt.timedelta(days=200)
    forty, five = _lot(users, store, "B40", 40, 1, expiry), _lot(users, store, "B5", 5, 3, expiry)
    rows = [_from(forty, 1), _from(forty, 1), _from(five, 1)]
    with pytest.raises(Conflict) as refused:
        orders.dispense(users["pharmacist"], order.pk, order.version, rows)
    assert refused.value.details["errors"][0]["row"] == 1
    assert "1 vials on hand, not 2" in refused.value.message
    _untouched(order, forty, five, on_hand=[1, 3])


def test_a_typed_lot_is_refused_when_the_service_keeps_stock(
    users: dict[str, Any], store: Store, order: Order, today: dt.date
) -> None:
    expiry = today + dt.timedelta(days=200)
    five = _lot(users, store, "C5", 5, 3, expiry)
    typed = orders.LotInput("C40", expiry, 40, 2, "privigen-us")
    with pytest.raises(InvalidInput) as refused:
        orders.dispense(users["pharmacist"], order.pk, order.version, [typed, _from(five, 1)])
    assert orders.KEEPS_STOCK in refused.value.message
    assert refused.value.details["errors"][0] == {
        "row": 1, "column": "stock_lot_id", "code": "invalid_input",
        "message": f"lot 1: {orders.KEEPS_STOCK}",
    }  # fmt: skip
    _untouched(order, five, on_hand=[3])


@pytest.mark.parametrize(
    ("case", "error", "column"),
    [
        ("more than on hand", Conflict, "stock_lot_id"),
        ("quarantined", Conflict, "stock_lot_id"),
        ("expired on the infusion day", HardLimit, "expiry"),
        ("another product", HardLimit, "product_id"),
        ("a typed number that disagrees", InvalidInput, "lot_number"),
        ("a typed size that disagrees", InvalidInput, "vial_size_g"),
        ("no such stock lot", InvalidInput, "stock_lot_id"),
    ],
)
def test_a_refusal_leaves_the_order_and_the_stock_as_they_were(
    users: dict[str, Any], store: Store, order: Order, today: dt.date,
    case: str, error: type[Exception], column: str,
) -> None:  # fmt: skip
    good = today + dt.timedelta(days=200)
    five = _lot(users, store, "D5", 5, 3, good)
    forty = _lot(users, store, "D40", 40, 1 if case == "more than on hand" else 4,
                 today + dt.timedelta(days=1) if case.startswith("expired") else good,
                 "privigen-eu" if case == "another product" else "privigen-us")  # fmt: skip
    if case == "quarantined":
        stock.quarantine(users["pharmacist"], "D40", "manufacturer's recall")
    typed: dict[str, Any] = {
        "a typed number that disagrees": {"lot_number": "D41"},
        "a typed size that disagrees": {"vial_size_g": 20.0},
    }.get(case, {})
    row = _from(forty, 2, **typed)
    if case == "no such stock lot":
        row = orders.LotInput("", None, None, 2, stock_lot_id=999999)
    before = _on_hand(forty, five)
    with pytest.raises(error) as refused:
        orders.dispense(users["pharmacist"], order.pk, order.version, [row, _from(five, 1)])
    problems = refused.value.details["errors"]  # type: ignore[attr-defined]
    assert (problems[0]["row"], problems[0]["column"]) == (1, column), problems
    if case == "a typed size that disagrees":
        assert "the vial size (g) of stock lot D40 is 40, not 20" in problems[0]["message"]
    _untouched(order, forty, five, on_hand=before)
    hard = LimitEvent.objects.filter(kind="hard", entity="lot").count()
    assert hard == (1 if error is HardLimit else 0)


def test_a_course_takes_every_dose_from_one_lot_per_size(
    users: dict[str, Any], store: Store, patient: Any, today: dt.date
) -> None:
    course = _course(users, patient.pk, today + dt.timedelta(days=3), days=5)
    found = _verified(users, course)
    # 170 g in whole vials: day 1 30 g (20 + 10), days 2-5 35 g (20 + 10 + 5)
    expiry = today + dt.timedelta(days=300)
    lots = {size: _lot(users, store, f"E{size}", size, n, expiry)
            for size, n in ((20, 5), (10, 6), (5, 4))}  # fmt: skip
    shown = [orders.Shown(o.pk, o.version) for o in found]
    chosen = [orders.CourseLot("", None, None, stock_lot_id=lots[s].pk) for s in (20, 10, 5)]
    done = orders.dispense_course(users["pharmacist"], course.pk, shown, chosen)
    assert [o.status for o in done] == ["dispensed"] * 5
    assert _on_hand(lots[20], lots[10], lots[5]) == [0, 1, 0]
    assert StockMovement.objects.filter(lot=lots[20], kind=MovementKind.dispense).count() == 5
    assert set(Lot.objects.filter(order__course=course).values_list("stock_lot_id", flat=True)) == {
        x.pk for x in lots.values()
    }


def test_a_course_short_of_one_vial_takes_nothing(
    users: dict[str, Any], store: Store, patient: Any, today: dt.date
) -> None:
    course = _course(users, patient.pk, today + dt.timedelta(days=3), days=5)
    found = _verified(users, course)
    expiry = today + dt.timedelta(days=300)
    lots = [_lot(users, store, f"F{size}", size, n, expiry) for size, n in ((20, 4), (10, 5),
                                                                           (5, 4))]  # fmt: skip
    shown = [orders.Shown(o.pk, o.version) for o in found]
    chosen = [orders.CourseLot("", None, None, stock_lot_id=x.pk) for x in lots]
    with pytest.raises(Conflict) as refused:
        orders.dispense_course(users["pharmacist"], course.pk, shown, chosen)
    assert "4 vials on hand, not 5" in refused.value.message
    assert refused.value.details["errors"][0]["row"] == 1
    assert _on_hand(*lots) == [4, 5, 4]
    assert set(Order.objects.filter(course=course).values_list("status", flat=True)) == {"verified"}
    assert not StockMovement.objects.filter(kind=MovementKind.dispense).exists()


def test_returns_put_back_no_more_than_was_taken_for_the_order(
    users: dict[str, Any], store: Store, order: Order, today: dt.date
) -> None:
    expiry = today + dt.timedelta(days=200)
    forty, five = _lot(users, store, "G40", 40, 5, expiry), _lot(users, store, "G5", 5, 3, expiry)
    orders.dispense(users["pharmacist"], order.pk, order.version,
                    [_from(forty, 2), _from(five, 1)])  # fmt: skip
    assert [(t.lot.lot_number, t.taken, t.returned) for t in stock.taken_for(order.pk)] == [
        ("G40", 2, 0), ("G5", 1, 0)
    ]  # fmt: skip
    stock.give_back(users["pharmacist"], forty.pk, 1, order.pk, "the dose was reduced")
    with pytest.raises(Conflict):
        stock.give_back(users["pharmacist"], forty.pk, 2, order.pk)
    assert [(t.lot.lot_number, t.out) for t in stock.taken_for(order.pk)] == [("G40", 1),
                                                                            ("G5", 1)]  # fmt: skip
    assert _on_hand(forty, five) == [4, 2]
    back = AuditEvent.objects.get(entity="stock-lot", action="return")
    assert (back.patient_id, back.reason) == (order.patient_id, "the dose was reduced")


def test_without_a_store_typed_lots_are_dispensed_as_before(
    users: dict[str, Any], order: Order, today: dt.date
) -> None:
    expiry = today + dt.timedelta(days=200)
    typed = [orders.LotInput("H40", expiry, 40, 2, "privigen-us"),
             orders.LotInput("H5", expiry, 5, 1, "privigen-us")]  # fmt: skip
    assert orders.dispense(users["pharmacist"], order.pk, order.version, typed).status == (
        "dispensed"
    )
    assert list(Lot.objects.filter(order=order).values_list("stock_lot", flat=True)) == [None] * 2
    assert stock.taken_for(order.pk) == []


def test_two_pharmacists_racing_for_the_last_vials(
    live_records: None, race: Callable[..., list[Any]]
) -> None:
    day = timezone.localdate()
    users = {r: create_user(None, r, PASSWORD, [r], system=True)
             for r in ("prescriber", "pharmacist", "admin")}  # fmt: skip
    other = create_user(None, "pharmacist2", PASSWORD, ["pharmacist"], system=True)
    patient = create_patient(
        users["prescriber"],
        PatientInput(mrn="RACE2", family_name="Race", given_name="Bo",
                     date_of_birth=dt.date(1960, 1, 1), sex="male", height_cm=190),
        today=day,
    )  # fmt: skip
    add_weight(users["prescriber"], patient.pk, day, 86.4, today=day)
    one, two = _verified(users, _course(users, patient.pk, day + dt.timedelta(days=3)))
    assert one.vials == two.vials == [{"size_g": 40.0, "count": 2}, {"size_g": 5.0, "count": 1}]
    store = stock.create_store(users["admin"], "main pharmacy")
    expiry = day + dt.timedelta(days=200)
    forty, five = _lot(users, store, "R40", 40, 3, expiry), _lot(users, store, "R5", 5, 5, expiry)
    results = race(
        lambda: orders.dispense(users["pharmacist"], one.pk, one.version,
                                [_from(forty, 2), _from(five, 1)]),
        lambda: orders.dispense(other, two.pk, two.version, [_from(forty, 2), _from(five, 1)]),
    )  # fmt: skip
    won = [r for r in results if isinstance(r, Order)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1, results
    assert len(lost) == 1
    assert isinstance(lost[0], Conflict), lost[0]
    assert "on hand" in lost[0].message
    assert _on_hand(forty, five) == [1, 4]
    loser = two if won[0].pk == one.pk else one
    assert Order.objects.get(pk=loser.pk).status == "verified"
    assert not StockMovement.objects.filter(order=loser).exists()
    assert audit.verify_chain().ok
