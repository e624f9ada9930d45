"""An order's place in its course, in words: "maintenance, dose 1 of 3" (issue 16 item 21),
and whether an infusion is still to come (one that ended today is not "next").

The doses are counted as the patient's handout counts them (``documents.patient_plan``): the
course's orders that are not cancelled or deferred, by sequence; a cancelled or deferred order
keeps its place among all the course's orders.
"""

from __future__ import annotations

from django.db.models import Q

from ivig.records.models import Order, OrderStatus

__all__ = ["NOT_ENDED", "dose_of", "order_name"]

SET_ASIDE = (OrderStatus.cancelled, OrderStatus.deferred)

# An order whose infusion has not ended (no session yet, or the pump not stopped): a filter.
NOT_ENDED = Q(session__ended_at__isnull=True)


def dose_of(order: Order) -> tuple[int, int]:
    """``(n, of)``: the order is dose ``n`` of the ``of`` doses of its course."""
    rows = sorted((o.sequence, o.status) for o in order.course.orders.all())
    counted = [seq for seq, status in rows if status not in SET_ASIDE]
    if order.sequence in counted:
        return counted.index(order.sequence) + 1, len(counted)
    every = [seq for seq, _ in rows]
    return every.index(order.sequence) + 1, len(every)


def order_name(order: Order) -> str:
    """The order as the pages name it: ``maintenance, dose 1 of 3``."""
    n, of = dose_of(order)
    return f"{order.course.phase}, dose {n} of {of}"
