"""The patient's own report pages (issue 7): the day-before check (a flagging answer tells
them to call and cancels nothing), the diary (a serious symptom tells them at once to get
urgent care), the MG-ADL check-in (saved as patient-reported, marked on the chart); the pages
are for patients only, audited reads, and written at a 6th-8th grade level (textstat)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

import pytest
import textstat
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from ivig.records.models import (
    AuditEvent,
    DayBeforeCheck,
    DiaryEntry,
    Order,
    OrderStatus,
    Outcome,
)
from ivig.records.services import patient_reports as reports

NO = {q.key: "no" for q in reports.CHECK_QUESTIONS}
NONE = dict.fromkeys(reports.SYMPTOMS, "none")


@pytest.fixture
def me(me: User) -> Client:
    """The patient's own client, signed in (``me``: their account, tests/conftest.py)."""
    client = Client()
    client.force_login(me)
    return client


@pytest.fixture
def given(dispensed: Order) -> Order:
    Order.objects.filter(pk=dispensed.pk).update(status=OrderStatus.completed)
    return Order.objects.get(pk=dispensed.pk)


BLOCK = re.compile(r"</(p|li|h1|h2|h3|legend|label|button|option|div)>")


def _text(html: bytes) -> str:
    """The words of the page's main part (no tags, no navigation), each paragraph, heading,
    list item, question and answer choice read as its own sentence (as a reader meets them)."""
    page = html.decode()
    main = page[page.index("<main") : page.index("</main>")]
    main = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", main, flags=re.S)
    pieces = []
    for block in BLOCK.split(main)[::2]:
        words = " ".join(unescape(re.sub(r"<[^>]+>", " ", block)).split())
        if words:
            pieces.append(words if words[-1] in ".?!:" else words + ".")
    return " ".join(pieces)


def grade(text: str) -> float:
    return float(textstat.flesch_kincaid_grade(text))


def test_staff_do_not_have_these_pages(client_for: Any) -> None:
    for url in ("/me/check/", "/me/diary/", "/me/outcomes/"):
        assert client_for("nurse").get(url).status_code == 404
        assert client_for(None).get(url).status_code == 302  # to the sign-in page


def test_the_check_flags_tells_to_call_and_cancels_nothing(
    me: Client, dispensed: Order, patient: Any
) -> None:
    tomorrow = dispensed.course.orders.get(sequence=2)
    start = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    page = me.get("/me/check/")
    assert page.status_code == 200
    assert tomorrow.date.strftime("%-d %B") in page.content.decode()
    read = AuditEvent.objects.get(seq__gt=start, action="read")
    assert (read.patient_id, read.entity) == (patient.pk, "day-before check")
    done = me.post("/me/check/", {**NO, "vaccine": "yes"})
    assert done.status_code == 200
    text = _text(done.content)
    assert "call the infusion service" in text.lower()
    assert "not cancelled" in text
    check = DayBeforeCheck.objects.get()
    assert check.order == tomorrow
    assert check.needs_review
    assert Order.objects.get(pk=tomorrow.pk).status == tomorrow.status
    calm = me.post("/me/check/", NO)
    assert "Thank you" in _text(calm.content)
    assert "please call the infusion service today" not in _text(calm.content).lower()


def test_an_unanswered_question_is_asked_again(me: Client, dispensed: Order) -> None:
    page = me.post("/me/check/", {"fever": "no"})
    assert page.status_code == 200
    assert not DayBeforeCheck.objects.exists()
    assert "required" in page.content.decode()


def test_a_serious_symptom_says_get_help_now(me: Client, given: Order) -> None:
    today = timezone.localdate().isoformat()
    mild = me.post("/me/diary/", {**NONE, "day": today, "headache": "mild"})
    assert "Get help now" not in mild.content.decode()
    page = me.post("/me/diary/", {**NONE, "day": today, "chest_pain": "mild", "note": "tight"})
    assert page.status_code == 200
    text = _text(page.content)
    assert "Get help now" in text
    assert "Call emergency services now" in text
    entry = DiaryEntry.objects.filter(serious=True).get()
    assert (entry.order, entry.note) == (given, "tight")


def test_no_recent_infusion_no_diary_form(me: Client, dispensed: Order) -> None:
    page = me.get("/me/diary/")
    assert "have not had an infusion in the last 7 days" in _text(page.content)
    assert 'name="headache"' not in page.content.decode()


def test_the_check_in_is_saved_and_marked_on_the_chart(
    me: Client, patient: Any, users: dict[str, Any]
) -> None:
    Outcome.objects.create(
        patient=patient, measure="mg-adl", value=9, recorded_by=users["nurse"],
        measured_on=timezone.localdate() - dt.timedelta(days=30),
    )  # fmt: skip
    answers = {key: "2" for key, _, _ in reports.MGADL_ITEMS}
    page = me.post("/me/outcomes/", answers)
    assert page.status_code == 200
    assert "16 out of 24" in _text(page.content)
    row = Outcome.objects.get(patient_reported=True)
    assert (row.measure, row.value) == ("mg-adl", 16.0)
    html = page.content.decode()
    assert html.count('class="reported"') == 1  # the patient's own point, not the clinic's
    assert "(patient-reported)" in html
    staff = Client()
    staff.force_login(users["prescriber"])
    staff_page = staff.get(f"/patients/{patient.pk}/").content.decode()
    assert "open circle: reported by the patient" in staff_page  # the chart's key (issue 16)


def test_the_pages_read_at_a_6th_to_8th_grade_level(me: Client, dispensed: Order) -> None:
    """Every page a patient sees here, and each answer page (the call, the urgent care, the
    thanks), at grade 8 or easier."""
    today = timezone.localdate().isoformat()
    texts = [_text(me.get(url).content) for url in ("/me/check/", "/me/diary/", "/me/outcomes/")]
    texts.append(_text(me.post("/me/check/", {**NO, "fever": "yes", "leg": "yes"}).content))
    texts.append(_text(me.post("/me/check/", {**NO, "new_medicines": "yes"}).content))
    Order.objects.filter(pk=dispensed.pk).update(status=OrderStatus.completed)
    texts.append(_text(me.get("/me/diary/").content))
    texts.append(_text(me.post("/me/diary/", {**NONE, "day": today, "breathing": "mild"}).content))
    texts.append(_text(me.post("/me/diary/", {**NONE, "day": today}).content))
    texts.append(
        _text(me.post("/me/outcomes/", {k: "1" for k, _, _ in reports.MGADL_ITEMS}).content)
    )
    for text in texts:
        assert len(text.split()) > 20, text
        assert grade(text) <= 8, (grade(text), text[:300])


def test_the_readability_measure_can_fail() -> None:
    hard = (
        "Intravenous immunoglobulin administration necessitates individualised titration of "
        "infusion velocity, contingent upon demonstrated tolerability considerations."
    )
    assert grade(hard) > 8
