"""The patient handout's text: plain words at a 6th-8th grade level or easier (textstat), built
from the patient's own plan (dates, place, time from the rate steps, how often), with what the
issue asks it to say."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import textstat

from ivig.core.emergency import EmergencyPhone
from ivig.core.library import packaged_library
from ivig.interop.handout import (
    Infusion,
    PatientPlan,
    build_handout,
    duration_words,
    emergency_words,
    event_summary,
    handout_text,
    long_date,
)

TODAY = dt.date(2026, 11, 25)


def infusion(n: int, **changes: Any) -> Infusion:
    values: dict[str, Any] = {
        "order_id": 40 + n,
        "date": dt.date(2026, 11, 27) + dt.timedelta(weeks=4 * (n - 1)),
        "place": "infusion-centre",
        "pump_minutes": 356.0,
        "observation_minutes": 20,
        "steps": 4,
        "step_minutes": 30,
        "number": n,
        "of": 3,
        "induction": False,
    }
    values.update(changes)
    return Infusion(**values)


def plan(
    *infusions: Infusion, every_weeks: int | None = 4, indications: tuple[str, ...] = ("lems",)
) -> PatientPlan:
    catalogue = packaged_library().catalogue
    chosen = tuple(catalogue.indication(i) for i in indications)
    return PatientPlan("Margaret", "Hartley", infusions, every_weeks, TODAY, chosen)


@pytest.mark.parametrize(
    ("minutes", "words"),
    [
        (20, "about 15 minutes"),
        (30, "about half an hour"),
        (45, "about 45 minutes"),
        (55, "about 1 hour"),
        (75, "about 1 and a half hours"),
        (120, "about 2 hours"),
        (210, "about 3 and a half hours"),
        (222, "about 3 and a half hours"),
        (356, "about 6 hours"),
        (376, "about 6 and a half hours"),
    ],
)
def test_durations_in_words(minutes: float, words: str) -> None:
    assert duration_words(minutes) == words


@pytest.mark.parametrize("minutes", [0, -5, float("nan"), float("inf")])
def test_a_duration_must_be_positive(minutes: float) -> None:
    with pytest.raises(ValueError, match="positive number of minutes"):
        duration_words(minutes)


def test_the_plan_in_the_text() -> None:
    text = handout_text(build_handout(plan(infusion(1), infusion(2), infusion(3))))
    assert "For Margaret Hartley. Made on Wednesday 25 November 2026." in text
    for day in ("Friday 27 November 2026", "Friday 25 December 2026", "Friday 22 January 2027"):
        assert f"{day}, at the infusion centre. Plan to stay about 6 and a half hours." in text
    assert "For you, the drip takes about 6 hours." in text
    assert "step by step, every 30 minutes or so" in text
    assert "It goes up in 4 steps" in text
    assert "the nurse will watch you for 20 minutes more" in text
    assert "once every 4 weeks" in text


def test_first_course_days_and_longer_watch() -> None:
    days = (
        infusion(1, place="hospital", number=1, of=2, induction=True, observation_minutes=60),
        infusion(2, place="hospital", number=2, of=2, induction=True),
    )
    text = handout_text(build_handout(plan(*days, every_weeks=None)))
    assert "at the hospital. Plan to stay about 7 hours." in text  # 356 + 60
    assert "watch you for 20 or 60 minutes more" in text
    assert "Your first course is split over 2 days." in text
    assert "once every" not in text
    assert [event_summary(d) for d in days] == [
        "IVIG infusion (day 1 of 2)",
        "IVIG infusion (day 2 of 2)",
    ]
    assert event_summary(infusion(2)) == "IVIG infusion (2 of 3)"


def test_one_step_only() -> None:
    text = handout_text(build_handout(plan(infusion(1, steps=1, step_minutes=0))))
    assert "one slow, steady speed" in text
    assert "step by step" not in text


def test_nothing_planned() -> None:
    text = handout_text(build_handout(plan(every_weeks=None)))
    assert "You have no infusions planned right now." in text
    assert "Most people with LEMS who get IVIG have it every 3 to 4 weeks." in text
    assert "Your doctor will tell you how often you need it." in text


@pytest.mark.parametrize("indication", ["cidp", "mg", "mmn"])
def test_no_usual_interval_without_a_source(indication: str) -> None:
    """Only LEMS's source gives a usual interval: the others leave it to the doctor."""
    text = handout_text(build_handout(plan(every_weeks=None, indications=(indication,))))
    assert "Your doctor will tell you how often you need it." in text
    assert "Most people" not in text
    assert "weeks" not in text.split("How often.")[1].split("Side effects.")[0]


# Each indication's name in a sentence, with its short name, and a phrase of its own words.
NAMED = {
    "lems": ("Lambert-Eaton myasthenic syndrome", "LEMS", "attack the ends of your nerves"),
    "cidp": ("chronic inflammatory demyelinating polyneuropathy", "CIDP", "coating"),
    "mg": ("myasthenia gravis", "MG", "block the signals from your nerves"),
    "mmn": ("multifocal motor neuropathy", "MMN", "movement more than feeling"),
}


@pytest.mark.parametrize("indication", sorted(NAMED))
def test_the_handout_names_the_patients_own_indication(indication: str) -> None:
    """Issue 15: the handout says the patient's own condition, from indications.toml, and no
    other; every indication's words read at grade 8 or below like the rest."""
    name, short, words = NAMED[indication]
    text = handout_text(build_handout(plan(infusion(1), indications=(indication,))))
    assert f"You have {name}. Its short name is {short}." in text
    assert words in text
    for other, (other_name, other_short, other_words) in NAMED.items():
        if other != indication:
            assert other_name.lower() not in text.lower()
            assert f" {other_short} " not in f" {text} ".replace(".", " ")
            assert other_words not in text
    if indication != "lems":
        assert "LEMS" not in text
        assert "Lambert" not in text
    assert grade(text) <= 8.0
    assert textstat.words_per_sentence(text) <= 12


def test_two_indications_each_in_its_words() -> None:
    text = handout_text(build_handout(plan(infusion(1), indications=("mg", "lems"))))
    assert text.index("You have myasthenia gravis.") < text.index(
        "You have Lambert-Eaton myasthenic syndrome."
    )


def test_no_indication_names_no_condition() -> None:
    """A patient without a course (or whose indication the library no longer lists) is told
    nothing wrong: the doctor explains."""
    text = handout_text(build_handout(plan(every_weeks=None, indications=())))
    assert "Your doctor will tell you why IVIG may help you." in text
    assert "You have " not in text.replace("You have no infusions", "")
    for name, _, _ in NAMED.values():
        assert name.lower() not in text.lower()


def test_what_the_issue_asks_to_say() -> None:
    text = handout_text(build_handout(plan(infusion(1)))).lower()
    for words in (
        "ivig is a medicine made of antibodies",  # what IVIG is
        "lambert-eaton myasthenic syndrome",  # why, for LEMS
        "attack the ends of your nerves",
        "step by step",  # the rate goes up
        "headache",  # side effects
        "get help right away",  # and which to report at once
        "trouble breathing",
        "chest pain",
        "swelling",
        "hives",
        "peeing much less than normal",  # reduced urine
        "pain or swelling in a leg",
        "call your care team before you come if you have an infection",
        "a reaction to ivig more likely",  # why
        "other health problems",  # what to tell the doctor
        "all the medicines you take",
        "vaccine",
    ):
        assert words in text, words


@pytest.mark.parametrize(
    ("phone", "words"),
    [
        (EmergencyPhone("000"), "call emergency services on 000 for an ambulance"),
        (
            EmergencyPhone("999", verified=False),
            "call emergency services on 999 (UNVERIFIED: check this number with your care "
            "team) for an ambulance",
        ),
        (None, "call emergency services (your local emergency number) for an ambulance"),
    ],
)
def test_the_handout_gives_the_emergency_number(phone: EmergencyPhone | None, words: str) -> None:
    """The number the patient pages give, and its flag where the table marks it unverified
    (smallfix item 1: the handout said "call for an ambulance" without it)."""
    chosen = plan(infusion(1))
    text = handout_text(build_handout(PatientPlan(**{**_fields(chosen), "emergency": phone})))
    assert words in text
    assert grade(text) <= 8.0
    assert emergency_words(phone) in words


def _fields(chosen: PatientPlan) -> dict[str, Any]:
    return {f: getattr(chosen, f) for f in PatientPlan.__dataclass_fields__}


def test_long_date_in_english() -> None:
    assert long_date(dt.date(2027, 1, 4)) == "Monday 4 January 2027"


def grade(text: str) -> float:
    return float(textstat.flesch_kincaid_grade(text))


def test_the_readability_check_can_fail() -> None:
    """The measure tells hard text from plain text (so the band below means something)."""
    hard = (
        "Intravenous immunoglobulin administration necessitates individualised titration of "
        "infusion velocity, contingent upon demonstrated tolerability and comorbidity-associated "
        "thromboembolic and nephrotoxic susceptibility considerations."
    )
    assert grade(hard) > 12


def test_demo_handouts_read_at_grade_8_or_below(demo: dict[str, Any]) -> None:
    """Every demo patient's handout: Flesch-Kincaid grade 8 or below (issue 6: about 6th-8th
    grade), easy on Flesch reading ease, and a real handout (not a few words)."""
    from django.utils import timezone

    from ivig.records.models import Patient
    from ivig.records.services.documents import patient_plan

    patients = list(Patient.objects.order_by("mrn"))
    assert len(patients) == 3
    for patient in patients:
        p = patient_plan(patient, today=timezone.localdate())
        assert len(p.infusions) == 3
        text = handout_text(build_handout(p))
        assert textstat.lexicon_count(text) >= 500
        assert grade(text) <= 8.0, patient.mrn
        assert textstat.flesch_reading_ease(text) >= 60, patient.mrn
        assert textstat.smog_index(text) <= 9, patient.mrn
        assert textstat.words_per_sentence(text) <= 12, patient.mrn
