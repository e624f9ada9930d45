"""The pure stock rules: an order's vials as needs; the orders a shortfall
affects are the later ones, once the stock is used by the earlier."""

from __future__ import annotations

import datetime as dt

from ivig.core.stock import Need, needs_of, stock_lines

DAY = dt.date(2026, 3, 2)


def test_an_orders_vials_become_needs_per_size() -> None:
    vials = [{"size_g": 40, "count": 2}, {"size_g": 5, "count": 1}, {"size_g": 40, "count": 1}]
    needs = needs_of(7, "MRN1", DAY, "privigen-us", vials)
    assert [(n.vial_size_g, n.count) for n in needs] == [(40.0, 3), (5.0, 1)]


def test_the_later_orders_are_the_ones_short() -> None:
    first = Need(1, "A", DAY, "p", 40.0, 2)
    second = Need(2, "B", DAY + dt.timedelta(days=1), "p", 40.0, 2)
    third = Need(3, "C", DAY + dt.timedelta(days=2), "p", 40.0, 1)
    [line] = stock_lines({("p", 40.0): 3}, [third, second, first])
    assert (line.on_hand, line.needed, line.shortfall) == (3, 5, 2)
    assert [n.order_id for n in line.short_of] == [2, 3]


def test_stock_without_orders_and_orders_without_stock_are_both_listed() -> None:
    lines = stock_lines({("p", 10.0): 4}, [Need(1, "A", DAY, "q", 5.0, 1)])
    assert [(x.product_id, x.vial_size_g, x.on_hand, x.shortfall) for x in lines] == [
        ("p", 10.0, 4, 0),
        ("q", 5.0, 0, 1),
    ]
    assert lines[1].short_of[0].mrn == "A"
