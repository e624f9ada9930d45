"""What the staff see of what patients report (issue 7): the run sheet's "Review before
starting" banner until a nurse or prescriber closes the alert there with the action taken
(audited, issue 16; the infusion may still start), the diary since the last infusion at the
next check, the patient page's diary alert until closed and the prescriber's symptoms by top
rate, and the chairs board's flags."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from ivig.records.models import (
    AuditEvent,
    DayBeforeCheck,
    InfusionSession,
    Order,
    OrderStatus,
    RateChange,
)
from ivig.records.services import alerts
from ivig.records.services import patient_reports as reports

NO = {q.key: False for q in reports.CHECK_QUESTIONS}


@pytest.fixture
def flagged(me: User, dispensed: Order) -> DayBeforeCheck:
    """The patient said, the day before today's infusion, that they pass less urine."""
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    now = timezone.now()
    return reports.day_before_check(
        me, dispensed.pk, {**NO, "less_urine": True}, today=yesterday, now=now
    )


def test_the_run_sheet_says_review_before_starting_until_reviewed(
    client_for: Any, flagged: DayBeforeCheck, dispensed: Order
) -> None:
    url = f"/orders/{dispensed.pk}/runsheet/"
    nurse = client_for("nurse")
    page = nurse.get(url).content.decode()
    assert "Review before starting" in page
    assert "passing less urine" in page
    close = f"/alerts/day-before/{flagged.pk}/close/"
    assert close in page  # the nurse closes it here, with the action taken
    assert "Called the patient" in page
    pharmacist = client_for("pharmacist").get(url).content.decode()
    assert "Review before starting" in pharmacist
    assert close not in pharmacist
    assert client_for("pharmacist").post(close, {"action": "called"}).status_code == 403
    refused = nurse.post(close, {"action": "no_action", "note": "", "next": url})
    assert refused.status_code == 302
    assert DayBeforeCheck.objects.get(pk=flagged.pk).reviewed_at is None
    assert "Say why no action is needed" in nurse.get(url).content.decode()
    start = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    done = nurse.post(close, {"action": "called", "note": "drinking well", "next": url})
    assert done.status_code == 302
    assert done["Location"] == url
    event = AuditEvent.objects.get(seq__gt=start, action="close")
    assert (event.actor, event.reason) == ("nurse", "called the patient: drinking well")
    after = nurse.get(url).content.decode()
    assert "Review before starting" not in after
    assert "Closed by nurse" in after
    assert "called the patient. drinking well" in after
    assert Order.objects.get(pk=dispensed.pk).status == OrderStatus.dispensed  # may start


def test_a_later_clean_check_does_not_hide_an_earlier_flagged_one(
    client_for: Any, me: User, flagged: DayBeforeCheck, dispensed: Order, users: dict[str, Any]
) -> None:
    """The banner shows every flagged check not yet closed and the latest answer too
    (smallfix item 3: a later "nothing to report" hid the earlier one; the worklist kept it)."""
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    later = timezone.now() + dt.timedelta(minutes=5)
    clean = reports.day_before_check(me, dispensed.pk, NO, today=yesterday, now=later)
    url = f"/orders/{dispensed.pk}/runsheet/"
    page = client_for("nurse").get(url).content.decode()
    assert "Review before starting" in page
    assert "passing less urine" in page
    assert "A later answer does not close it." in page
    assert f"/alerts/day-before/{flagged.pk}/close/" in page
    assert f'id="id_review_{flagged.pk}_action_0"' in page
    assert "Latest day-before check" in page
    assert f"{timezone.localtime(clean.submitted_at):%Y-%m-%d %H:%M}): nothing to report" in page
    assert "review before starting" in client_for("nurse").get("/chairs/").content.decode()
    now = timezone.now()
    alerts.close_alert(users["nurse"], "day-before", flagged.pk, "called", "", now=now)
    after = client_for("nurse").get(url).content.decode()
    assert "Review before starting" not in after
    assert "Day-before check" in after
    assert "nothing to report" in after
    assert "review before starting" not in client_for("nurse").get("/chairs/").content.decode()


def test_two_open_flagged_checks_each_have_their_own_close(
    client_for: Any, me: User, flagged: DayBeforeCheck, dispensed: Order
) -> None:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    later = timezone.now() + dt.timedelta(minutes=5)
    fever = reports.day_before_check(
        me, dispensed.pk, {**NO, "fever": True}, today=yesterday, now=later
    )
    page = client_for("nurse").get(f"/orders/{dispensed.pk}/runsheet/").content.decode()
    assert page.count("Review before starting") == 2
    for check in (flagged, fever):
        assert f"/alerts/day-before/{check.pk}/close/" in page
        assert page.count(f'id="id_review_{check.pk}_note"') == 1
    assert "Latest day-before check" not in page


def test_the_chairs_board_flags_review_and_diary_alerts(
    client_for: Any, flagged: DayBeforeCheck, dispensed: Order, users: dict[str, Any]
) -> None:
    board = client_for("nurse").get("/chairs/").content.decode()
    assert "review before starting" in board
    assert "diary alert" not in board
    now = timezone.now()
    alerts.close_alert(users["nurse"], "day-before", flagged.pk, "other", "fine", now=now)
    assert "review before starting" not in client_for("nurse").get("/chairs/").content.decode()


@pytest.fixture
def given(dispensed: Order, users: dict[str, Any]) -> Order:
    now = timezone.now()
    session = InfusionSession.objects.create(order=dispensed, state="closed", started_at=now)
    for rate in (50, 336):
        RateChange.objects.create(
            session=session, at=now, rate_ml_per_h=rate, recorded_by=users["nurse"]
        )
    Order.objects.filter(pk=dispensed.pk).update(status=OrderStatus.completed)
    return Order.objects.get(pk=dispensed.pk)


def _diary(me: User, **symptoms: str) -> Any:
    now = timezone.now()
    today = timezone.localdate(now)
    return reports.diary_entry(me, today, symptoms, today=today, now=now)


def test_the_patient_page_alerts_until_closed(
    client_for: Any, me: User, given: Order, patient: Any
) -> None:
    _diary(me, headache="mild")
    url = f"/patients/{patient.pk}/"
    assert "Diary alert" not in client_for("nurse").get(url).content.decode()
    entry = _diary(me, breathing="mild")
    page = client_for("nurse").get(url).content.decode()
    assert "Diary alert" in page
    assert "breathing trouble (mild)" in page
    assert "diary alert" in client_for("nurse").get("/chairs/").content.decode()  # a flag
    assert f"/alerts/?patient={patient.pk}#alert-diary-{entry.pk}" in page  # act on it there
    assert "/acknowledge/" not in page  # no one-click clear (issue 16)
    done = client_for("nurse").post(
        f"/alerts/diary/{entry.pk}/close/", {"action": "emergency", "note": "sent to ED"}
    )
    assert done.status_code == 302
    assert AuditEvent.objects.filter(action="close", entity="diary entry").count() == 1
    assert "Diary alert" not in client_for("nurse").get(url).content.decode()


def test_the_prescriber_sees_symptoms_next_to_the_top_rate(
    client_for: Any, me: User, given: Order, patient: Any
) -> None:
    _diary(me, headache="mild")
    url = f"/patients/{patient.pk}/"
    page = client_for("prescriber").get(url).content.decode()
    assert "headache (mild) after <strong>336 mL/h</strong>" in page
    assert "Symptoms after infusions" not in client_for("nurse").get(url).content.decode()


def test_mild_symptoms_show_at_the_next_run_sheet(client_for: Any, me: User, given: Order) -> None:
    _diary(me, headache="mild", nausea="mild")
    tomorrow = given.course.orders.get(sequence=2)
    page = client_for("nurse").get(f"/orders/{tomorrow.pk}/runsheet/").content.decode()
    assert "Since the last infusion" in page
    assert "headache (mild), feeling sick (nausea) (mild)" in page
