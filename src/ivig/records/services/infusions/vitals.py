"""Vital signs at the chair (34, 35): impossible values refused, abnormal ones flagged."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.db import transaction

from ivig.core.monitoring import check_vitals
from ivig.errors import Conflict, InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, Order, Role, Vitals
from ivig.records.services.access import require
from ivig.records.services.common import locked
from ivig.records.services.infusions._common import clinical_time, not_before

__all__ = ["VitalsInput", "record_vitals"]


@dataclass(frozen=True, slots=True)
class VitalsInput:
    temperature_c: float | None = None
    pulse_per_min: int | None = None
    systolic_mm_hg: int | None = None
    diastolic_mm_hg: int | None = None
    respiratory_rate_per_min: int | None = None
    spo2_percent: int | None = None


def record_vitals(
    actor: Actor, order_id: int, at: dt.datetime, values: VitalsInput, *, now: dt.datetime
) -> Vitals:
    """Vital signs: impossible values refused (422), abnormal ones kept and flagged (34); the
    ranges are monitoring.toml's. Not in the future, not before the start (35)."""
    actor = require(actor, "recording vital signs", Role.nurse)
    at = clinical_time(at, now)
    fields = asdict(values)
    if all(v is None for v in fields.values()):
        raise InvalidInput("record at least one vital sign", field="temperature_c")
    flags = check_vitals(**fields, protocol=current_library().monitoring)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.started_at is None:
            raise Conflict(f"the infusion of order {order.pk} has not started")
        if session.observation_ended_at is not None:
            raise Conflict(f"the observation of order {order.pk} is closed")
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
