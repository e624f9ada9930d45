"""The chair of the infusion tests (issue 5): one running infusion and the nurse's hands on it.

The order is the ``dispensed`` fixture's: Privigen (US) 10 %, dosing weight 85 kg, steps 25.5,
51, 102, 204 and 408 mL/h (30 minutes each, the last to the end), label maximum 408 mL/h. The
clock is ``chair_now`` (18:00 local today); the infusion starts at 13:00 (the ``chair``
fixture, tests/records/infusions/conftest.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ivig.records.models import AuditEvent, LimitEvent, Order, RateChange, Reaction, Vitals
from ivig.records.services import infusions

PASSWORD = "infusion-chair-42-Xq"
WELL = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)
HOURS_2 = dt.timedelta(hours=2)  # the check, before a start an hour before the clock
NORMAL = {"pulse_per_min": 74, "systolic_mm_hg": 124, "diastolic_mm_hg": 76, "spo2_percent": 98}


@dataclass
class Chair:
    """One running infusion and the nurse's hands on it: times are minutes after the start."""

    users: dict[str, Any]
    order: Order
    start: dt.datetime
    now: dt.datetime

    def at(self, minute: float) -> dt.datetime:
        return self.start + dt.timedelta(minutes=minute)

    def session(self) -> Any:
        return Order.objects.get(pk=self.order.pk).session

    def version(self) -> int:
        return int(self.session().version)

    def vitals(self, minute: float, **values: Any) -> Vitals:
        given = infusions.VitalsInput(**(values or NORMAL))
        return infusions.record_vitals(
            self.users["nurse"], self.order.pk, self.at(minute), given, now=self.now
        )

    def rate(self, minute: float, value: float, **options: Any) -> RateChange:
        return infusions.record_rate(
            options.pop("actor", self.users["nurse"]),
            self.order.pk,
            options.pop("version", None) or self.version(),
            self.at(minute),
            value,
            now=self.now,
            **options,
        )

    def up(self, minute: float, value: float) -> RateChange:
        """The checkpoint's vital signs, then the increase, at the same minute."""
        self.vitals(minute)
        return self.rate(minute, value)

    def reaction(self, minute: float, *symptoms: str, **options: Any) -> Reaction:
        return infusions.record_reaction(
            self.users["nurse"],
            self.order.pk,
            options.pop("version", None) or self.version(),
            self.at(minute),
            list(symptoms or ("headache",)),
            options.pop("action_taken", "pump paused, patient reviewed"),
            now=self.now,
            **options,
        )

    def resume(self, minute: float, value: float, **options: Any) -> RateChange:
        """The restart at ``minute``: by default after vital signs at that minute, with the
        symptoms resolved (issue 16 item 7)."""
        if not options:
            self.vitals(minute)
            options = {"symptoms_resolved": True}
        return infusions.resume_infusion(
            self.users["nurse"], self.order.pk, self.version(), self.at(minute), value,
            now=self.now, **options,
        )  # fmt: skip

    def restart_order(self, value: float, reason: str = "reviewed: settled, restart") -> Any:
        return infusions.order_restart(
            self.users["prescriber"], self.order.pk, self.version(), reason, value, now=self.now
        )

    def end(self, minute: float, **options: Any) -> Any:
        """The end at ``minute``, the pump log's volume; a stop short of the dose confirmed
        (issue 16 item 4: test_volume_given.py tests the refusal)."""
        options = options or {"short_confirmed": True, "short_reason": "ended early"}
        return infusions.end_infusion(
            self.users["nurse"], self.order.pk, self.at(minute), now=self.now, **options
        )

    def rows(self) -> list[tuple[str, float]]:
        return [(r.action, r.rate_ml_per_h) for r in self.session().rate_changes.all()]


def baseline(nurse: Any, order: Order, at: dt.datetime) -> Vitals:
    """Baseline vital signs at ``at``, before the start (issue 16 item 7)."""
    given = infusions.VitalsInput(**NORMAL)
    return infusions.record_vitals(nurse, order.pk, at, given, now=at)


def hard_events(rule: str | None = None) -> list[LimitEvent]:
    """The hard stops counted (requirement 48-50), of one rule or all."""
    events = LimitEvent.objects.filter(kind="hard")
    return list(events.filter(rule=rule) if rule else events)


def audit_count(action: str) -> int:
    """How many audit events of ``action``."""
    return AuditEvent.objects.filter(action=action).count()
