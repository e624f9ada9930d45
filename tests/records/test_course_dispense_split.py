"""A course's vials of one size from two or more lots (smallfix item 4): the doses, by date,
take the size from its lots in row order, each lot until it runs out (its count, or a stock
lot's vials on hand), the last lot the rest; a dose may take from two lots (a Lot row each);
every stock lot's total is checked against its vials on hand under its row lock. Typed lots
and stock lots (issue 18)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ivig.errors import Conflict, InvalidInput
from ivig.records.models import Lot, MovementKind, Order, StockLot, StockMovement, Store
from ivig.records.services import courses, orders, stock
from ivig.records.services.stock import Received

# Every test here runs again on PostgreSQL (scripts/test: ``pytest -m database``).
pytestmark = pytest.mark.database


def _verified(users: dict[str, Any], patient: Any, today: dt.date, days: int) -> list[Order]:
    course = courses.prescribe(
        users["prescriber"], patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today + dt.timedelta(days=3), days=days),
    )  # fmt: skip
    shown = [orders.Shown(o.pk, o.version, o.dose_g, o.volume_ml)
             for o in course.orders.order_by("date")]  # fmt: skip
    return orders.verify_course(users["pharmacist"], course.pk, shown)


def _dispense(users: dict[str, Any], found: list[Order], lots: list[orders.CourseLot]) -> Any:
    shown = [orders.Shown(o.pk, o.version) for o in found]
    return orders.dispense_course(users["pharmacist"], found[0].course_id, shown, lots)


def _taken(order: Order) -> list[tuple[str, float, int]]:
    rows = Lot.objects.filter(order=order).order_by("id")
    return [(x.lot_number, x.vial_size_g, x.count) for x in rows]


def _nothing_dispensed(found: list[Order]) -> None:
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in found]).values_list("status", flat=True)
    ) == {"verified"}
    assert not Lot.objects.filter(order__in=found).exists()


@pytest.fixture
def two_days(users: dict[str, Any], patient: Any, today: dt.date) -> list[Order]:
    """A 2-day induction: each day 85 g = 2 x 40 g + 1 x 5 g (4 vials of 40 g in all)."""
    found = _verified(users, patient, today, days=2)
    assert [o.vials for o in found] == [
        [{"size_g": 40.0, "count": 2}, {"size_g": 5.0, "count": 1}]
    ] * 2
    return found


def _typed(number: str, size: float, today: dt.date, count: int | None = None) -> orders.CourseLot:
    return orders.CourseLot(number, today + dt.timedelta(days=400), size, count=count)


# --- typed lots ----------------------------------------------------------------------------------


def test_five_doses_take_one_size_from_two_lots_in_row_order(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    """Day 1 30 g (20 + 10), days 2-5 35 g (20 + 10 + 5): the first 20 g lot gives 2 vials,
    the second the other 3."""
    found = _verified(users, patient, today, days=5)
    lots = [_typed("A20", 20, today, count=2), _typed("P10", 10, today),
            _typed("P5", 5, today), _typed("B20", 20, today)]  # fmt: skip
    done = _dispense(users, found, lots)
    assert [o.status for o in done] == ["dispensed"] * 5
    twenties = [[t for t in _taken(o) if t[1] == 20] for o in done]
    assert twenties == [[("A20", 20, 1)], [("A20", 20, 1)]] + [[("B20", 20, 1)]] * 3


def test_a_dose_takes_from_both_lots_when_the_first_runs_out(
    users: dict[str, Any], two_days: list[Order], today: dt.date
) -> None:
    lots = [_typed("A40", 40, today, count=3), _typed("B40", 40, today), _typed("P5", 5, today)]
    day1, day2 = _dispense(users, two_days, lots)
    assert _taken(day1) == [("A40", 40, 2), ("P5", 5, 1)]
    assert _taken(day2) == [("A40", 40, 1), ("B40", 40, 1), ("P5", 5, 1)]


def test_the_one_lot_per_size_case_is_unchanged(
    users: dict[str, Any], two_days: list[Order], today: dt.date
) -> None:
    done = _dispense(users, two_days, [_typed("A40", 40, today), _typed("P5", 5, today)])
    assert [_taken(o) for o in done] == [[("A40", 40, 2), ("P5", 5, 1)]] * 2


@pytest.mark.parametrize(
    ("counts", "row", "words"),
    [
        ((None, None), 1, "lot 1: say how many 40 g vials it gives the course"),
        ((1, 2), 2, "lot 2: the lots of 40 g vials give 3 of the 4 the course needs"),
        ((4, None), 2, "lot 2: the course takes no 40 g vial from it"),
        ((0, None), 1, "lot 1: the vial count must be positive"),
    ],
)
def test_lots_that_cannot_share_out_the_vials_are_refused(
    users: dict[str, Any],
    two_days: list[Order],
    today: dt.date,
    counts: tuple[int | None, int | None],
    row: int,
    words: str,
) -> None:
    first, second = counts
    lots = [_typed("A40", 40, today, count=first), _typed("B40", 40, today, count=second),
            _typed("P5", 5, today)]  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        _dispense(users, two_days, lots)
    assert words in refused.value.message
    listed = refused.value.details["errors"]
    assert (listed[0]["row"], listed[0]["column"]) == (row, "count")
    _nothing_dispensed(two_days)


# --- stock lots (issue 18) -----------------------------------------------------------------------


@pytest.fixture
def store(users: dict[str, Any]) -> Store:
    return stock.create_store(users["admin"], "main pharmacy")


def _stock(users: dict[str, Any], store: Store, number: str, size: float, count: int,
           today: dt.date) -> StockLot:  # fmt: skip
    return stock.receive(users["pharmacist"], store.pk, Received(
        "privigen-us", size, number, today + dt.timedelta(days=300), count))  # fmt: skip


def _from(lot: StockLot, count: int | None = None) -> orders.CourseLot:
    return orders.CourseLot("", None, None, stock_lot_id=lot.pk, count=count)


def _on_hand(*lots: StockLot) -> list[int]:
    return [StockLot.objects.get(pk=x.pk).on_hand for x in lots]


def _drawn(lot: StockLot) -> list[tuple[int | None, int]]:
    moves = StockMovement.objects.filter(lot=lot, kind=MovementKind.dispense).order_by("id")
    return [(m.order_id, m.count) for m in moves]


def test_a_stock_lot_gives_its_vials_on_hand_then_the_next(
    users: dict[str, Any], store: Store, two_days: list[Order], today: dt.date
) -> None:
    first = _stock(users, store, "S40A", 40, 3, today)
    second = _stock(users, store, "S40B", 40, 5, today)
    fives = _stock(users, store, "S5", 5, 2, today)
    day1, day2 = _dispense(users, two_days, [_from(first), _from(second), _from(fives)])
    assert _on_hand(first, second, fives) == [0, 4, 0]
    assert _taken(day2) == [("S40A", 40, 1), ("S40B", 40, 1), ("S5", 5, 1)]
    assert _drawn(first) == [(day1.pk, 2), (day2.pk, 1)]  # each order's take audited apart
    assert _drawn(second) == [(day2.pk, 1)]
    assert set(Lot.objects.filter(order=day2).values_list("stock_lot_id", flat=True)) == {
        first.pk,
        second.pk,
        fives.pk,
    }


def test_a_count_takes_fewer_than_on_hand(
    users: dict[str, Any], store: Store, two_days: list[Order], today: dt.date
) -> None:
    first = _stock(users, store, "S40A", 40, 3, today)
    second = _stock(users, store, "S40B", 40, 5, today)
    fives = _stock(users, store, "S5", 5, 2, today)
    _dispense(users, two_days, [_from(first, 1), _from(second), _from(fives)])
    assert _on_hand(first, second, fives) == [2, 2, 0]


def test_the_last_stock_lot_short_takes_nothing(
    users: dict[str, Any], store: Store, two_days: list[Order], today: dt.date
) -> None:
    first = _stock(users, store, "S40A", 40, 2, today)
    second = _stock(users, store, "S40B", 40, 1, today)
    fives = _stock(users, store, "S5", 5, 2, today)
    with pytest.raises(Conflict) as refused:
        _dispense(users, two_days, [_from(first), _from(second), _from(fives)])
    assert "lot 2:" in refused.value.message
    assert "1 vials on hand, not 2" in refused.value.message
    assert _on_hand(first, second, fives) == [2, 1, 2]
    assert not StockMovement.objects.filter(kind=MovementKind.dispense).exists()
    _nothing_dispensed(two_days)
