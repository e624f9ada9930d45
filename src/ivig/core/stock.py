"""Vial stock against the orders to come (issue 18): the vials each product and size needs over
the next days, the vials on hand, and which orders the stock does not cover.

Orders are served in date order (then as given): the orders past the point where the stock runs
out are the ones a shortfall affects, the earliest infusion served first as the pharmacy would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ivig.core.dosing import Vials, vial_counts

__all__ = ["Need", "StockLine", "needs_of", "stock_lines"]

Key = tuple[str, float]  # (product id, vial size in g)


@dataclass(frozen=True, slots=True)
class Need:
    """The vials of one size one order needs."""

    order_id: int
    mrn: str
    date: dt.date
    product_id: str
    vial_size_g: float
    count: int


@dataclass(frozen=True, slots=True)
class StockLine:
    """One product and size: vials usable on hand, vials needed, and the orders not covered."""

    product_id: str
    vial_size_g: float
    on_hand: int
    needed: int
    short_of: tuple[Need, ...]

    @property
    def shortfall(self) -> int:
        return max(0, self.needed - self.on_hand)


def needs_of(order_id: int, mrn: str, date: dt.date, product_id: str, vials: Vials) -> list[Need]:
    """An order's vials (``Order.vials``: ``[{"size_g": 40, "count": 2}, ...]``) as needs."""
    return [
        Need(order_id, mrn, date, product_id, size, count)
        for size, count in vial_counts(vials).items()
        if count > 0
    ]


def stock_lines(on_hand: Mapping[Key, int], needs: Iterable[Need]) -> list[StockLine]:
    """Every product and size on hand or needed, by product then largest size first; an order
    is short when the vials left after the earlier orders do not cover its count."""
    by_key: dict[Key, list[Need]] = {}
    for need in needs:
        by_key.setdefault((need.product_id, float(need.vial_size_g)), []).append(need)
    keys = {(p, float(s)) for p, s in on_hand} | set(by_key)
    lines = []
    for product_id, size in sorted(keys, key=lambda k: (k[0], -k[1])):
        have = sum(n for (p, s), n in on_hand.items() if p == product_id and float(s) == size)
        left, short = have, []
        wanted: Sequence[Need] = sorted(by_key.get((product_id, size), []), key=lambda n: n.date)
        for need in wanted:
            if need.count > left:
                short.append(need)
            left = max(0, left - need.count)
        needed = sum(n.count for n in wanted)
        lines.append(StockLine(product_id, size, have, needed, tuple(short)))
    return lines
