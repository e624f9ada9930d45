"""A patient's planned infusions as an iCalendar file (RFC 5545, the ``icalendar`` library),
and the reading of a patient's plan from the records (shared with the handout).

Which infusions: the orders not cancelled, deferred or completed (planned, verified, dispensed
or in progress) dated today or later: what the patient still has to come for. One VEVENT per
order:

- ``DTSTART``: the infusion's actual start once it has begun, else 09:00 local time on the
  order's date (the service books chairs elsewhere; the event says the time is a placeholder);
- ``DURATION``: the end of the order's last rate step plus the observation after it (20 minutes,
  or 60 after a first infusion, a product switch or a long gap: the core's rule, counting the
  earlier planned infusions as given);
- ``LOCATION``: the course's place; ``SUMMARY``: "IVIG infusion (day 1 of 2)";
- ``UID``: ``ivig-order-<id>@ivig`` (stable: a re-export updates the same events);
- ``DESCRIPTION``: what to do and bring (no dose, product or other clinical detail).
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from icalendar import Calendar, Event

from ivig.interop.handout import PLACES, Infusion, PatientPlan, event_description, event_summary

__all__ = [
    "DEFAULT_START",
    "PLANNED",
    "calendar_bytes",
    "patient_plan",
    "uid",
]

DEFAULT_START = dt.time(9, 0)
PLANNED = ("planned", "verified", "dispensed", "in-progress")
PRODID = "-//ivig//IVIG infusion plan//EN"


def uid(order_id: int) -> str:
    return f"ivig-order-{order_id}@ivig"


def _step_minutes(steps: list[dict[str, Any]]) -> int:
    """The typical length of a step before the top rate (30 minutes on most labels)."""
    ramps = [float(s["end_min"]) - float(s["start_min"]) for s in steps[:-1]]
    return round(statistics.median(ramps)) if ramps else 0


# --- the records -> the plan (Django) ----------------------------------------------------------


def patient_plan(patient: Any, *, today: dt.date) -> PatientPlan:
    """The patient's planned infusions from today on (see the module), with the observation
    each will need, and the indications they are for (those of the planned courses, else of
    the latest course; one the drug library no longer lists is left out)."""
    from ivig.core.monitoring import observation_minutes
    from ivig.records.library import current_library
    from ivig.records.models import Order, OrderStatus

    given = (OrderStatus.completed, OrderStatus.in_progress)
    history = list(
        Order.objects.filter(patient=patient, status__in=(*given, *PLANNED))
        .select_related("course")
        .order_by("date", "sequence", "id")
    )
    coming = [o for o in history if o.status in PLANNED and o.date >= today]
    infusions = []
    for order in coming:
        before = [o for o in history if o.date < order.date]
        last = before[-1] if before else None
        observe = observation_minutes(
            first_infusion=last is None,
            product_switch=last is not None and last.course.product_id != order.course.product_id,
            gap_days=(order.date - last.date).days if last else None,
            protocol=current_library().monitoring,
        )
        siblings = sorted(
            o.sequence
            for o in order.course.orders.all()
            if o.status not in (OrderStatus.cancelled, OrderStatus.deferred)
        )
        session = getattr(order, "session", None) if order.status == "in-progress" else None
        infusions.append(
            Infusion(
                order_id=order.pk,
                date=order.date,
                place=order.course.place,
                pump_minutes=float(order.steps[-1]["end_min"]),
                observation_minutes=observe.minutes,
                steps=len(order.steps),
                step_minutes=_step_minutes(order.steps),
                number=siblings.index(order.sequence) + 1 if order.sequence in siblings else 1,
                of=len(siblings),
                induction=order.course.phase == "induction",
                start=session.started_at if session is not None else None,
            )
        )
    maintenance = [o for o in coming if o.course.phase == "maintenance"]
    every = maintenance[0].course.regimen.get("every_weeks") if maintenance else None
    ids = [o.course.indication for o in coming]
    if not ids:
        latest = patient.courses.order_by("-start", "-id").first()
        ids = [latest.indication] if latest is not None else []
    known = current_library().catalogue.indications
    return PatientPlan(
        given_name=patient.given_name,
        family_name=patient.family_name,
        infusions=tuple(infusions),
        every_weeks=int(every) if every else None,
        today=today,
        indications=tuple(known[i] for i in dict.fromkeys(ids) if i in known),
    )


# --- the plan -> iCalendar (pure) -------------------------------------------------------------


def event_start(infusion: Infusion, zone: dt.tzinfo) -> dt.datetime:
    if infusion.start is not None:
        return infusion.start.astimezone(zone)
    return dt.datetime.combine(infusion.date, DEFAULT_START, tzinfo=zone)


def calendar_bytes(plan: PatientPlan, *, zone: dt.tzinfo, now: dt.datetime) -> bytes:
    """The .ics file of the plan: one event per infusion (times in ``zone``, with its
    VTIMEZONE)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "IVIG infusions")
    stamp = now.astimezone(dt.UTC)
    for infusion in plan.infusions:
        event = Event()
        event.add("uid", uid(infusion.order_id))
        event.add("dtstamp", stamp)
        event.add("dtstart", event_start(infusion, zone))
        event.add("duration", dt.timedelta(minutes=round(infusion.total_minutes)))
        event.add("summary", event_summary(infusion))
        event.add("location", PLACES.get(infusion.place, ("", infusion.place))[1])
        event.add("description", event_description(infusion))
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())
