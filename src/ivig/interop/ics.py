"""A patient's planned infusions as an iCalendar file (RFC 5545, the ``icalendar`` library),
from the plan the handout tells (:class:`~ivig.interop.handout.PatientPlan`, read from the
records by ``ivig.records.services.documents.patient_plan``: the orders not cancelled, deferred
or completed, dated today or later). One VEVENT per infusion:

- ``DTSTART``: the infusion's actual start once it has begun; else the booked start (issue 18,
  with ``DTEND`` the booking's end: set-up, drip and observation); else, not booked yet, 09:00
  local time on the order's date (the event says the time is not booked yet);
- ``DURATION`` (when not booked, or begun): the end of the order's last rate step plus the
  observation after it (20 minutes, or 60 after a first infusion, a product switch or a long
  gap: the core's rule, counting the earlier planned infusions as given);
- ``LOCATION``: the booked unit and chair or visiting nurse, else the course's place;
  ``SUMMARY``: "IVIG infusion (day 1 of 2)";
- ``UID``: ``ivig-order-<id>@ivig`` (stable: a re-export updates the same events), with
  ``SEQUENCE`` the infusion's revision (the order's and its booking's record versions: it rises
  when the booking is moved, so a calendar takes the new time, RFC 5545 3.8.7.4);
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
    """The actual start once begun, else the booked start, else 09:00 on the order's date."""
    if infusion.start is not None:
        return infusion.start.astimezone(zone)
    if infusion.booked is not None:
        return infusion.booked.start.astimezone(zone)
    return dt.datetime.combine(infusion.date, DEFAULT_START, tzinfo=zone)


def _location(infusion: Infusion) -> str:
    if infusion.booked is not None:
        return infusion.booked.location
    return PLACES.get(infusion.place, ("", infusion.place))[1]


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
        event.add("sequence", infusion.revision)
        event.add("dtstart", event_start(infusion, zone))
        if infusion.booked is not None and infusion.start is None:
            event.add("dtend", infusion.booked.end.astimezone(zone))
        else:
            event.add("duration", dt.timedelta(minutes=round(infusion.total_minutes)))
        event.add("summary", event_summary(infusion))
        event.add("location", _location(infusion))
        event.add("description", event_description(infusion))
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())
