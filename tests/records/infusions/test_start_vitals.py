"""Baseline vital signs before the start (issue 16 item 7): a start without vital signs
recorded for this session before its time is refused unless a reason is given (kept with the
start's pump row and audited); the baseline is recorded after the pre-infusion check, within
the order's day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from at_the_chair import HOURS_2, NORMAL, WELL

from ivig.errors import Conflict, InvalidTime
from ivig.records.models import AuditEvent, Order, RateChange
from ivig.records.services import corrections, infusions


def _start(users: dict[str, Any], order: Order, at: dt.datetime, now: dt.datetime,
           **options: Any) -> Any:  # fmt: skip
    version = Order.objects.get(pk=order.pk).version
    return infusions.start_infusion(
        users["nurse"], order.pk, version, at, visual_inspection_ok=True, now=now, **options
    )


def _vitals(users: dict[str, Any], order: Order, at: dt.datetime, now: dt.datetime) -> Any:
    values = infusions.VitalsInput(**NORMAL)
    return infusions.record_vitals(users["nurse"], order.pk, at, values, now=now)


def test_no_start_without_baseline_vitals_or_a_reason(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    """Refused (409, naming the reason's field), nothing written; vital signs after the start
    time do not make a baseline; vital signs at or before it do."""
    checked = chair_now - HOURS_2
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=checked)
    start = chair_now - dt.timedelta(hours=1)
    _vitals(users, dispensed, start + dt.timedelta(minutes=5), chair_now)  # after: no baseline
    with pytest.raises(Conflict, match="record the baseline vital signs before starting") as e:
        _start(users, dispensed, start, chair_now)
    assert (e.value.http_status, e.value.field) == (409, "baseline_vitals_missing_reason")
    assert Order.objects.get(pk=dispensed.pk).status == "dispensed"
    assert not RateChange.objects.exists()
    _vitals(users, dispensed, start - dt.timedelta(minutes=10), chair_now)
    session = _start(users, dispensed, start, chair_now)
    assert session.state == "running"
    assert session.rate_changes.get().note == ""


def test_a_reason_lets_the_start_go_ahead_and_is_audited(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=chair_now - HOURS_2)
    start = chair_now - dt.timedelta(hours=1)
    session = _start(users, dispensed, start, chair_now,
                     baseline_vitals_missing_reason="monitor broken; manual pulse 72")  # fmt: skip
    words = "baseline vital signs not taken: monitor broken; manual pulse 72"
    assert session.rate_changes.get().note == words
    reason = AuditEvent.objects.get(action="start", entity="infusion").reason
    assert reason == f"late entry: started 17:00, recorded 18:00 (60 min later); {words}"


def test_a_voided_baseline_is_no_baseline(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=chair_now - HOURS_2)
    start = chair_now - dt.timedelta(hours=1)
    row = _vitals(users, dispensed, start, chair_now)
    corrections.void(users["nurse"], "vitals", row.pk, "wrong patient", now=chair_now)
    with pytest.raises(Conflict, match="baseline"):
        _start(users, dispensed, start, chair_now)


def test_baseline_vitals_come_after_the_check_within_the_orders_day(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    """Before the check there is no session to record them on (409); before the order's day
    (local midnight) they are refused (400); a deferred order takes none."""
    with pytest.raises(Conflict, match="pre-infusion check"):
        _vitals(users, dispensed, chair_now, chair_now)
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=chair_now - HOURS_2)
    midnight = chair_now.replace(hour=0, minute=0)
    with pytest.raises(InvalidTime, match="order's day"):
        _vitals(users, dispensed, midnight - dt.timedelta(minutes=1), chair_now)
    assert _vitals(users, dispensed, midnight, chair_now).at == midnight
    Order.objects.filter(pk=dispensed.pk).update(status="deferred")
    with pytest.raises(Conflict, match="deferred"):
        _vitals(users, dispensed, chair_now, chair_now)
