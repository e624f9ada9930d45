"""The API's answers built from records: a patient (with the weights in force), a weight, a
course (with its orders) and an order (with its lots), as the routes' response schemas
(``ivig.api.schemas``) declare them. Shared by the routes, which never import each other."""

from __future__ import annotations

from typing import Any

from ivig.api.schemas import CourseOut, OrderOut, PatientOut
from ivig.records.models import Course, Order, Patient, WeightRecord
from ivig.records.services import corrections

__all__ = ["course_out", "order_out", "patient_out", "weight_out"]


def weight_out(w: WeightRecord) -> dict[str, Any]:
    return {
        "id": w.id,
        "measured_on": w.measured_on,
        "weight_kg": w.weight_kg,
        "compared_with": w.compared_with_id,
        "change_percent": w.change_percent,
        "needs_confirmation": w.needs_confirmation,
        "awaiting_confirmation": w.awaiting_confirmation,
        "confirmed_by": w.confirmed_by_id,
        "confirmed_at": w.confirmed_at,
        "confirmation_reason": w.confirmation_reason,
    }


def patient_out(p: Patient) -> dict[str, Any]:
    return {
        **{f: getattr(p, f) for f in PatientOut.model_fields if f != "weights"},
        "weights": [  # corrected or voided: not shown
            weight_out(w) for w in corrections.current(p.weights.all())
        ],
    }


def course_out(c: Course) -> dict[str, Any]:
    return {
        **{f: getattr(c, f) for f in CourseOut.model_fields if f != "orders"},
        "orders": [order_out(o) for o in c.orders.prefetch_related("lots")],
    }


def order_out(o: Order) -> dict[str, Any]:
    return {
        **{f: getattr(o, f) for f in OrderOut.model_fields if f != "lots"},
        "lots": [
            {
                "id": lot.id,
                "product_id": lot.product_id,
                "lot_number": lot.lot_number,
                "expiry": lot.expiry,
                "vial_size_g": lot.vial_size_g,
                "count": lot.count,
                "stock_lot_id": lot.stock_lot_id,
            }
            for lot in o.lots.all()
        ],
    }
