"""The calendar file of booked infusions (issue 18): DTSTART/DTEND the booked start and end,
LOCATION the unit and chair or nurse, SEQUENCE the revision (a moved booking: the same UID, new
times, a higher SEQUENCE); an unbooked infusion keeps 09:00 and says it is not booked yet; a
begun one keeps its actual start. With the handout's words of a booked slot."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import pytest
from icalendar import Calendar

from ivig.core.booked import BookedSlot
from ivig.interop.handout import (
    Infusion,
    PatientPlan,
    booked_words,
    build_handout,
    handout_text,
    stay_words,
)
from ivig.interop.ics import calendar_bytes, uid

ZONE = zoneinfo.ZoneInfo("Australia/Sydney")
NOW = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
DAY = dt.date(2027, 3, 9)  # a Tuesday


def slot(hour: int = 8, minute: int = 30, **changes: object) -> BookedSlot:
    values: dict[str, object] = {
        "booking_id": 3, "order_id": 7, "unit": "Day Infusion Unit", "unit_kind": "day-ward",
        "chair": "4", "chair_kind": "chair",
        "start": dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=ZONE),
        "length_minutes": 220, "setup_minutes": 15, "pump_minutes": 145,
        "observation_minutes": 60, "observation_reason": "first infusion", "version": 1,
    }  # fmt: skip
    values.update(changes)
    return BookedSlot(**values)  # type: ignore[arg-type]


def infusion(booked: BookedSlot | None, revision: int = 0, **changes: object) -> Infusion:
    made = Infusion(7, DAY, "hospital", 145.0, 60, 5, 30, 1, 2, True)
    return dataclasses.replace(made, booked=booked, revision=revision, **changes)  # type: ignore[arg-type]


def event(one: Infusion) -> Calendar:
    body = calendar_bytes(PatientPlan("A", "B", (one,), None, NOW.date()), zone=ZONE, now=NOW)
    [found] = Calendar.from_ical(body).walk("VEVENT")
    return found


def test_a_booked_infusion_has_its_time_and_place() -> None:
    found = event(infusion(slot(), revision=1))
    assert found.decoded("DTSTART") == dt.datetime(2027, 3, 9, 8, 30, tzinfo=ZONE)
    assert found.decoded("DTEND") == dt.datetime(2027, 3, 9, 12, 10, tzinfo=ZONE)
    assert "DURATION" not in found
    assert str(found["LOCATION"]) == "Day Infusion Unit, chair 4"
    assert found.decoded("SEQUENCE") == 1
    text = str(found["DESCRIPTION"])
    assert "at the Day Infusion Unit, chair 4" in text
    assert "not booked" not in text
    assert "placeholder" not in text


def test_a_moved_booking_updates_the_same_event() -> None:
    before = event(infusion(slot(), revision=1))
    after = event(infusion(slot(13, 0, chair="2", version=2), revision=2))
    assert before["UID"] == after["UID"] == uid(7)
    assert after.decoded("DTSTART") == dt.datetime(2027, 3, 9, 13, 0, tzinfo=ZONE)
    assert after.decoded("DTEND") == dt.datetime(2027, 3, 9, 16, 40, tzinfo=ZONE)
    assert str(after["LOCATION"]) == "Day Infusion Unit, chair 2"
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")


def test_not_booked_keeps_the_placeholder_and_says_so() -> None:
    found = event(infusion(None))
    assert found.decoded("DTSTART") == dt.datetime(2027, 3, 9, 9, 0, tzinfo=ZONE)
    assert found.decoded("DURATION") == dt.timedelta(minutes=205)
    assert str(found["LOCATION"]) == "Hospital"
    assert found.decoded("SEQUENCE") == 0
    assert "The time is not booked yet." in str(found["DESCRIPTION"])


def test_a_begun_infusion_keeps_its_actual_start() -> None:
    started = dt.datetime(2027, 3, 8, 22, 40, tzinfo=dt.UTC)  # 09:40 in Sydney
    found = event(infusion(slot(), revision=2, start=started))
    assert found.decoded("DTSTART") == started
    assert found.decoded("DURATION") == dt.timedelta(minutes=205)
    assert str(found["LOCATION"]) == "Day Infusion Unit, chair 4"  # still where it is booked


def test_a_home_visit_in_words() -> None:
    home = slot(chair="Nurse Jones", chair_kind="nurse", unit="Home team", unit_kind="home-team")
    found = event(infusion(home, revision=1))
    assert str(found["LOCATION"]) == "Home team, Nurse Jones"
    assert "at your home, with Nurse Jones of the Home team" in str(found["DESCRIPTION"])


@pytest.mark.parametrize(
    ("minutes", "words"),
    [(220, "about 3 h 40 min"), (45, "about 45 min"), (121, "about 2 h"), (2, "about 5 min")],
)
def test_stay_words(minutes: int, words: str) -> None:
    assert stay_words(minutes) == words


def test_the_handout_tells_the_booked_time() -> None:
    assert booked_words(slot()) == (
        "Tuesday 9 March 2027, 08:30 at the Day Infusion Unit, chair 4; "
        "plan to stay about 3 h 40 min"
    )
    booked = infusion(slot())
    later = dataclasses.replace(infusion(None), order_id=8, date=DAY + dt.timedelta(days=1))
    text = handout_text(build_handout(PatientPlan("A", "B", (booked, later), None, NOW.date())))
    assert "Tuesday 9 March 2027, 08:30 at the Day Infusion Unit, chair 4; plan to stay" in text
    assert "Wednesday 10 March 2027, at the hospital." in text
    assert "The time is not booked yet." in text
    booked_only = handout_text(build_handout(PatientPlan("A", "B", (booked,), None, NOW.date())))
    assert "not booked" not in booked_only
    assert "what time to come" not in booked_only
