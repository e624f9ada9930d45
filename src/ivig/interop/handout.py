"""The patient handout: the patient's own plan in plain words (about a 6th-8th grade reading
level), for the web page, its PDF and the calendar's event text.

Pure functions over plain data (:class:`PatientPlan`, :class:`Infusion`); no Django, so the text
is tested on its own. ``ivig.records.services.documents.patient_plan`` reads the records into
this data.

What the text says comes from the references only: the founding article
(``reference/000_*.txt``: what IVIG is, the rate raised every 30 minutes, side effects mostly
mild and rate-related, reactions most likely in the first infusions, check before treatment when
unwell or with an infection, tell the doctor about other conditions) and ``clinical-rules.md``
(observation after the infusion 7d, hydration 7a, reaction: slow or stop the drip 8, thrombosis
and kidney risks 7a-7b, live vaccines 3 months after 7g). Why the patient gets IVIG (the
condition, how IVIG may help, how often most people have it) is the words of the patient's own
indication in the drug library (``[indications.handout]`` in ``indications.toml``, with their
source): the handout names no condition the patient's courses do not.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from ivig.core.booked import BookedSlot
from ivig.core.catalogue import Indication
from ivig.core.emergency import EmergencyPhone

__all__ = [
    "PLACES",
    "Block",
    "Handout",
    "Infusion",
    "PatientPlan",
    "Section",
    "booked_words",
    "build_handout",
    "duration_words",
    "emergency_words",
    "event_description",
    "event_summary",
    "handout_text",
    "long_date",
    "place_words",
    "stay_words",
    "where_words",
]

# The course's place: (in a sentence, as a calendar location).
PLACES: dict[str, tuple[str, str]] = {
    "hospital": ("at the hospital", "Hospital"),
    "infusion-centre": ("at the infusion centre", "Infusion centre"),
    "home-with-nurse": ("at your home, with a nurse", "Home (a nurse comes to you)"),
}


@dataclass(frozen=True, slots=True)
class Infusion:
    """One planned infusion, as the patient needs to know it."""

    order_id: int
    date: dt.date
    place: str  # the course's place code (PLACES)
    pump_minutes: float  # the end of the last rate step
    observation_minutes: int  # the watch after the drip ends
    steps: int  # how many rate steps
    step_minutes: int  # how long each step before the top rate runs (typically 30)
    number: int  # 1-based within its course
    of: int  # the course's planned infusions
    induction: bool  # the first course (consecutive days) rather than maintenance
    start: dt.datetime | None = None  # the actual start, when the infusion has begun
    booked: BookedSlot | None = None  # the booked time and place (issue 18), if booked
    revision: int = 0  # rises with every change of the order or its booking (calendar SEQUENCE)

    @property
    def total_minutes(self) -> float:
        return self.pump_minutes + self.observation_minutes

    @property
    def stay_minutes(self) -> float:
        """How long to plan to stay: the booking's length once booked (set-up, drip,
        observation), else the drip and the observation."""
        return self.booked.length_minutes if self.booked is not None else self.total_minutes


@dataclass(frozen=True, slots=True)
class PatientPlan:
    given_name: str
    family_name: str
    infusions: tuple[Infusion, ...]  # planned, date order
    every_weeks: int | None  # the maintenance interval of the next course, if one is planned
    today: dt.date
    # the indications of the planned courses (else of the latest course): why IVIG is given
    indications: tuple[Indication, ...] = ()
    # the service's emergency number (IVIG_COUNTRY / IVIG_EMERGENCY_NUMBER), as the patient
    # pages give it; None: "your local emergency number"
    emergency: EmergencyPhone | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph, then a bulleted list (either may be empty)."""

    text: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Handout:
    title: str
    prepared_for: str
    sections: tuple[Section, ...]


# --- words -------------------------------------------------------------------------------------


def duration_words(minutes: float) -> str:
    """A length of time as a patient says it, to the nearest half hour (the nearest quarter
    hour under an hour): "about 3 and a half hours", "about 1 hour", "about 45 minutes"."""
    if not math.isfinite(minutes) or minutes <= 0:
        raise ValueError(f"a duration must be a positive number of minutes (got {minutes!r})")
    if minutes < 52.5:
        quarter = max(15, math.floor(minutes / 15 + 0.5) * 15)
        return "about half an hour" if quarter == 30 else f"about {quarter} minutes"
    halves = math.floor(minutes / 30 + 0.5)  # half up: 75 minutes is 1 and a half hours
    hours, half = divmod(halves, 2)
    if hours == 0:
        return "about half an hour"
    unit = "hour" if hours == 1 and not half else "hours"
    return f"about {hours}{' and a half' if half else ''} {unit}"


def place_words(place: str) -> str:
    return PLACES.get(place, (f"at the {place.replace('-', ' ')}", ""))[0]


def long_date(day: dt.date) -> str:
    """``Friday 27 November 2026`` (English names whatever the locale)."""
    weekday = (
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    )[day.weekday()]
    month = (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    )[day.month - 1]
    return f"{weekday} {day.day} {month} {day.year}"


def stay_words(minutes: float) -> str:
    """A booked length as a patient plans a day, to 5 minutes: "about 3 h 40 min", "about
    45 min", "about 2 h"."""
    if not math.isfinite(minutes) or minutes <= 0:
        raise ValueError(f"a duration must be a positive number of minutes (got {minutes!r})")
    hours, rest = divmod(max(5, math.floor(minutes / 5 + 0.5) * 5), 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{rest} min"] if rest else [])
    return "about " + " ".join(parts)


def where_words(slot: BookedSlot) -> str:
    """The booked place in plain words: "at the Day Infusion Unit, chair 4"; for a home
    visit, "at your home, with Nurse Jones of the Home team"."""
    if slot.home_visit:
        return f"at your home, with {slot.chair} of the {slot.unit}"
    unit = slot.unit if slot.unit.casefold().startswith("the ") else f"the {slot.unit}"
    return f"at {unit}, {slot.seat}"


def booked_words(slot: BookedSlot) -> str:
    """``Tuesday 9 March 2027, 08:30 at the Day Infusion Unit, chair 4; plan to stay about
    3 h 40 min`` (the start in the service's time zone, as the slot gives it)."""
    return (
        f"{long_date(slot.start.date())}, {slot.start:%H:%M} {where_words(slot)}; "
        f"plan to stay {stay_words(slot.length_minutes)}"
    )


def event_summary(infusion: Infusion) -> str:
    """``IVIG infusion (day 1 of 2)`` for the first course's days, ``(2 of 3)`` for later ones."""
    if infusion.of <= 1:
        return "IVIG infusion"
    if infusion.induction:
        return f"IVIG infusion (day {infusion.number} of {infusion.of})"
    return f"IVIG infusion ({infusion.number} of {infusion.of})"


# --- the handout ---------------------------------------------------------------------------------


def _dates(plan: PatientPlan) -> Section:
    if not plan.infusions:
        return Section(
            "Your infusion dates",
            (
                Block(
                    "You have no infusions planned right now. "
                    "Your care team will tell you when the next one is."
                ),
            ),
        )
    items = tuple(
        f"{booked_words(i.booked)}."
        if i.booked is not None
        else f"{long_date(i.date)}, {place_words(i.place)}. "
        f"Plan to stay {duration_words(i.total_minutes)}. The time is not booked yet."
        for i in plan.infusions
    )
    blocks = [Block("These are your planned infusions:", items)]
    later = "Your care team will tell you what time to come when it is booked. "
    unbooked = any(i.booked is None for i in plan.infusions)
    blocks.append(
        Block(
            (later if unbooked else "")
            + "If you cannot come on a date, call them as soon as you can."
        )
    )
    return Section("Your infusion dates", tuple(blocks))


def _how_often(plan: PatientPlan) -> Section:
    blocks = []
    induction = [i for i in plan.infusions if i.induction]
    if induction:
        blocks.append(
            Block(
                f"Your first course is split over {len(induction)} days. "
                "This first course has a bigger dose. "
                "After it, most people get a smaller dose every few weeks. "
                "The help from IVIG slowly fades, so it is given again."
            )
        )
    if plan.every_weeks:
        blocks.append(
            Block(
                f"You are planned to have IVIG once every {plan.every_weeks} weeks. "
                "The help from IVIG slowly fades over a few weeks. "
                "That is why you need it again."
            )
        )
    if not blocks:
        usual = [i.handout.usual_interval for i in plan.indications if i.handout.usual_interval]
        blocks.append(Block(" ".join([*usual, "Your doctor will tell you how often you need it."])))
    blocks.append(
        Block("Your doctor will check how well it works for you and may change the plan.")
    )
    return Section("How often", tuple(blocks))


def _how_long(plan: PatientPlan) -> Section:
    blocks = []
    if plan.infusions:
        totals = sorted({duration_words(i.pump_minutes) for i in plan.infusions})
        watch = sorted({i.observation_minutes for i in plan.infusions})
        steps = max(i.steps for i in plan.infusions)
        every = plan.infusions[0].step_minutes
        drip = totals[0] if len(totals) == 1 else " or ".join(totals)
        blocks.append(
            Block(
                f"For you, the drip takes {drip}. "
                + (
                    "It starts slowly. "
                    f"The nurse turns it up step by step, every {every} minutes or so. "
                    f"It goes up in {steps} steps until it reaches the top speed set for you. "
                    "Going slowly at first helps your body get used to it."
                    if steps > 1
                    else "It runs at one slow, steady speed the whole time."
                )
            )
        )
        minutes = " or ".join(str(m) for m in watch)
        blocks.append(
            Block(
                f"After the drip ends, the nurse will watch you for {minutes} minutes more. "
                "The list of dates above shows how long to plan to stay in all."
            )
        )
    else:
        blocks.append(
            Block(
                "The drip starts slowly. "
                "The nurse turns it up step by step, about every 30 minutes. "
                "Most infusions take 2 to 5 hours, and some take longer."
            )
        )
    blocks.append(
        Block(
            "The nurse will check your blood pressure, pulse and temperature during the infusion."
        )
    )
    return Section("How long it takes", tuple(blocks))


WHAT_IS = Section(
    "What is IVIG?",
    (
        Block(
            "IVIG is a medicine made of antibodies. "
            "Antibodies are proteins in your blood that help your body fight germs. "
            "The antibodies in IVIG come from the blood of thousands of healthy donors. "
            "The donors are checked with care. "
            "The medicine is cleaned and tested many times to make it safe."
        ),
        Block(
            "IVIG is given as a drip into a vein. "
            "This is also called an IV or an infusion. "
            "A nurse puts a thin tube into a vein in your arm or hand. "
            "The medicine flows in through the tube."
        ),
    ),
)


def _why(plan: PatientPlan) -> Section:
    """Why IVIG: each of the patient's indications in its own plain words (indications.toml)."""
    blocks = []
    for indication in plan.indications:
        words = indication.handout
        name = f"You have {words.plain_name}."
        if words.plain_name.casefold() != indication.short_name.casefold():
            name += f" Its short name is {indication.short_name}."
        blocks.append(Block(f"{name} {words.about}"))
        blocks.append(Block(words.how_ivig_helps))
    if not blocks:
        blocks.append(
            Block(
                "Your doctor will tell you why IVIG may help you. "
                "Ask them if anything is not clear."
            )
        )
    return Section("Why you are getting IVIG", tuple(blocks))


SIDE_EFFECTS = Section(
    "Side effects",
    (
        Block(
            "Most side effects are mild. You may have:",
            (
                "a headache",
                "an upset stomach, or you may throw up",
                "pain in your stomach or back",
            ),
        ),
        Block(
            "These often happen when the drip runs too fast. "
            "Tell your nurse if you feel any of them. "
            "The nurse can slow the drip down or stop it for a while."
        ),
        Block(
            "Side effects are most likely in your first few infusions. "
            "That is why the first ones are given where help is close by. "
            "Serious problems are rare. "
            "They include allergic reactions, kidney problems and blood clots. "
            "They are more likely if you have other illnesses, such as kidney disease."
        ),
    ),
)


def emergency_words(phone: EmergencyPhone | None) -> str:
    """The emergency number as the patient pages say it: "on 000"; "on 999 (UNVERIFIED: check
    this number with your care team)" when the table marks it unverified; "(your local
    emergency number)" when none is set."""
    if phone is None:
        return "(your local emergency number)"
    flag = "" if phone.verified else " (UNVERIFIED: check this number with your care team)"
    return f"on {phone.number}{flag}"


def _at_once(plan: PatientPlan) -> Section:
    return Section(
        "Get help at once",
        (
            Block(
                "Get help right away if you have any of these:",
                (
                    "trouble breathing",
                    "chest pain",
                    "swelling",
                    "hives: raised, itchy red patches on your skin",
                    "a fast heartbeat, or you feel faint",
                    "peeing much less than normal",
                    "pain or swelling in a leg",
                ),
            ),
            Block(
                "During the infusion, tell your nurse right away. "
                "After you go home, call emergency services "
                f"{emergency_words(plan.emergency)} for an ambulance, "
                "or go to the nearest emergency department."
            ),
        ),
    )


BEFORE = Section(
    "Before each infusion",
    (
        Block(
            "Call your care team before you come if you have an infection or a fever. "
            "Call them too if you feel unwell in any way. "
            "An infection can make a reaction to IVIG more likely. "
            "It may be better to wait a day or two. "
            "Your doctor will decide with you."
        ),
        Block(
            "Drink plenty of fluids before your infusion. "
            "If your doctor has told you to limit fluids, follow what they said."
        ),
    ),
)

TELL = Section(
    "What to tell your doctor",
    (
        Block(
            "Tell your doctor or nurse:",
            (
                "about any other health problems you have, such as kidney or heart disease, "
                "diabetes, or a blood clot in the past",
                "about all the medicines you take, even ones you buy without a prescription",
                "if you plan to have a vaccine",
            ),
        ),
        Block(
            "IVIG can stop some vaccines from working well. "
            "For some of them, you may need to wait 3 months after IVIG. "
            "If anything in this sheet is not clear, ask your nurse or doctor."
        ),
    ),
)


def build_handout(plan: PatientPlan) -> Handout:
    """The handout of the patient's plan, section by section."""
    return Handout(
        title="Your IVIG treatment",
        prepared_for=(
            f"For {plan.given_name} {plan.family_name}. Made on {long_date(plan.today)}."
        ),
        sections=(
            WHAT_IS,
            _why(plan),
            _dates(plan),
            _how_long(plan),
            _how_often(plan),
            SIDE_EFFECTS,
            _at_once(plan),
            BEFORE,
            TELL,
        ),
    )


def handout_text(handout: Handout) -> str:
    """The handout as plain text (for the readability test and any text output): headings,
    paragraphs, each list item a sentence of its own."""
    lines = [handout.title + ".", handout.prepared_for]
    for section in handout.sections:
        lines.append(section.heading + ("" if section.heading.endswith("?") else "."))
        for block in section.blocks:
            if block.text:
                lines.append(block.text)
            lines.extend(f"{item[0].upper()}{item[1:].rstrip('.')}." for item in block.items)
    return "\n".join(lines)


def event_description(infusion: Infusion) -> str:
    """The calendar event's text: what to do and bring; no clinical detail beyond that."""
    drip = duration_words(infusion.pump_minutes)
    total = duration_words(infusion.stay_minutes)
    booked = infusion.booked
    start = (
        ""
        if infusion.start is not None or booked is not None
        else "The time is not booked yet. The start time shown is a placeholder. "
        "Your care team will tell you the time.\n"
    )
    where = place_words(infusion.place) if booked is None else where_words(booked)
    return (
        f"Your IVIG infusion {where}.\n"
        f"The drip takes {drip}. After it, the nurse watches you for "
        f"{infusion.observation_minutes} minutes. Plan to stay {total} in all.\n"
        f"{start}"
        "Before you come: drink plenty of fluids, unless your doctor told you to limit them.\n"
        "Call your care team before you come if you have an infection, a fever, "
        "or feel unwell.\n"
        "Bring: a list of all your medicines, and something to do while you wait."
    )
