"""A patient's planned infusions as an iCalendar file (RFC 5545, the ``icalendar`` library),
from the plan the handout tells (:class:`~ivig.interop.handout.PatientPlan`, read from the
records by ``ivig.records.services.documents.patient_plan``: the orders not cancelled, deferred
or completed, dated today or later). One VEVENT per infusion:

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

from icalendar import Calendar, Event

from ivig.interop.handout import PLACES, Infusion, PatientPlan, event_description, event_summary

__all__ = [
    "DEFAULT_START",
    "calendar_bytes",
    "event_start",
    "uid",
]

DEFAULT_START = dt.time(9, 0)
PRODID = "-//ivig//IVIG infusion plan//EN"


def uid(order_id: int) -> str:
    return f"ivig-order-{order_id}@ivig"


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
