"""Vital signs at the chair (34, 35): impossible values refused, abnormal ones flagged."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from ivig.core.monitoring import check_vitals
from ivig.core.vitals import VITAL_FIELDS
from ivig.errors import Conflict, InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, Order, OrderStatus, Role, Vitals
from ivig.records.services.access import require
from ivig.records.services.common import locked
from ivig.records.services.infusions._common import clinical_time, not_before
from ivig.records.services.infusions.start import day_start

__all__ = ["VitalsInput", "record_vitals"]


class VitalsInput:
    """One set of vital signs as taken, each by its field (``core.vitals.VITAL_FIELDS``): a
    number, or ``None`` when not taken. A name that is no vital sign is a ``TypeError``."""

    __slots__ = ("values",)
    values: dict[str, float | None]

    def __init__(self, **values: float | None) -> None:
        for field in values:
            if field not in VITAL_FIELDS:
                raise TypeError(f"VitalsInput() got an unexpected keyword argument {field!r}")
        self.values = {field: values.get(field) for field in VITAL_FIELDS}

    def __getattr__(self, field: str) -> float | None:
        if field in VITAL_FIELDS:
            return self.values[field]
        raise AttributeError(field)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VitalsInput) and self.values == other.values

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.values.items() if v is not None)
        return f"VitalsInput({given})"


def record_vitals(
    actor: Actor, order_id: int, at: dt.datetime, values: VitalsInput, *, now: dt.datetime
) -> Vitals:
    """Vital signs: impossible values refused (422), abnormal ones kept and flagged (34); the
    ranges are monitoring.toml's. Not in the future (35); after the pre-infusion check and
    before the start they are the baseline (issue 16 item 7: not before the order's day);
    once started, not before the start."""
    actor = require(actor, "recording vital signs", Role.nurse)
    at = clinical_time(at, now)
    fields = dict(values.values)
    if all(v is None for v in fields.values()):
        raise InvalidInput("record at least one vital sign", field="temperature_c")
    flags = check_vitals(**fields, protocol=current_library().monitoring)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or (session.started_at is None and session.checked_at is None):
            raise Conflict(
                f"do the pre-infusion check of order {order.pk} first: the vital signs are "
                "recorded from the check on"
            )
        if session.observation_ended_at is not None:
            raise Conflict(f"the observation of order {order.pk} is closed")
        if session.started_at is None and order.status != OrderStatus.dispensed:
            raise Conflict(f"order {order.pk} is {order.status}: no infusion is being prepared")
        if session.started_at is None:
            not_before(at, day_start(order), f"the start of the order's day {order.date}")
        else:
            not_before(at, session.started_at, "the start of the infusion")
        row = Vitals.objects.create(
            session=session,
            at=at,
            recorded_by=actor,
            flags=[{"field": f.field, "message": f.message} for f in flags],
            **fields,
        )
        audit.created(actor, "vitals", row, patient_id=order.patient_id)
    return row
