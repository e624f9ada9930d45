"""The checks a weight gets when it is recorded or corrected (issue 14 item 8).

In its range, dated between the date of birth and today, and compared with the weight in use
(the latest weight in force that needs no confirmation or has one): a change of 10 % or more
(``core.weight_change``) is kept, marked as needing a prescriber's confirmation. Shared by
``patients.add_weight`` and ``corrections.correct`` (a corrected weight is checked again)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q

from ivig.core.weight_change import check_measured_on, weight_change
from ivig.core.weights import WEIGHT_RANGE_KG
from ivig.errors import OutOfRange
from ivig.records.library import current_library
from ivig.records.models import Patient, WeightRecord

__all__ = ["checked_weight", "weight_in_use"]


def weight_in_use(patient_id: int, *, exclude: int | None = None) -> WeightRecord | None:
    """The latest weight in force (neither superseded nor voided) that needs no confirmation
    or has one: what a new weight is compared with."""
    rows = WeightRecord.objects.filter(
        patient_id=patient_id, superseded_by__isnull=True, entered_in_error=False
    ).filter(Q(needs_confirmation=False) | Q(confirmed_at__isnull=False))
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.order_by("-measured_on", "-id").first()


def checked_weight(
    patient: Patient,
    measured_on: dt.date,
    weight_kg: float,
    *,
    today: dt.date,
    exclude: int | None = None,
) -> dict[str, Any]:
    """Refuse a weight out of range, in the future or before birth; return the comparison
    fields to store with it (a new recording: nothing confirmed yet). ``exclude``: the entry a
    correction replaces (not compared with itself)."""
    low, high = WEIGHT_RANGE_KG
    if not low <= weight_kg <= high:
        raise OutOfRange("weight_kg", weight_kg, low, high, "kg", what="weight")
    check_measured_on(measured_on, born=patient.date_of_birth, today=today)
    previous = weight_in_use(patient.pk, exclude=exclude)
    fields: dict[str, Any] = {
        "compared_with": previous,
        "change_percent": None,
        "needs_confirmation": False,
        "confirmed_by": None,
        "confirmed_at": None,
        "confirmation_reason": "",
    }
    if previous is not None:
        change = weight_change(previous.weight_kg, weight_kg, current_library().weight_rule)
        fields["change_percent"] = round(change.percent, 1)
        fields["needs_confirmation"] = change.needs_confirmation
    return fields
