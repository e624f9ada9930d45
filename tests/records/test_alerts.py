"""The alerts worklist (issue 16, item 9): a serious diary entry and a day-before check that
calls for a review are open alerts, newest first, until a nurse or prescriber closes each with
the action taken and a note (required to say why no action is needed), audited; once only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, InvalidInput, NotFound
from ivig.records.models import AuditEvent, DayBeforeCheck, DiaryEntry, Order, OrderStatus
from ivig.records.services import alerts
from ivig.records.services import patient_reports as reports

NO = {q.key: False for q in reports.CHECK_QUESTIONS}


@pytest.fixture
def reported(me: User, dispensed: Order) -> dict[str, Any]:
    """Today's infusion given; then the patient's diary (one mild entry, one serious) and the
    day-before check of tomorrow's dose with a fever, in that order, a minute apart."""
    Order.objects.filter(pk=dispensed.pk).update(status=OrderStatus.completed)
    now = timezone.now()
    today = timezone.localdate(now)
    mild = reports.diary_entry(me, today, {"headache": "mild"}, today=today, now=now)
    serious = reports.diary_entry(
        me, today, {"breathing": "mild"}, "short of breath", today=today, now=now
    )
    tomorrow = dispensed.course.orders.get(sequence=2)
    fever = reports.day_before_check(
        me,
        tomorrow.pk,
        {**NO, "fever": True},
        today=today,
        now=now + dt.timedelta(minutes=1),
    )
    medicines_only = reports.day_before_check(
        me,
        tomorrow.pk,
        {**NO, "new_medicines": True},
        today=today,
        now=now + dt.timedelta(minutes=2),
    )
    return {"mild": mild, "serious": serious, "fever": fever, "medicines": medicines_only}


def test_the_worklist_holds_what_needs_acting_on_newest_first(reported: dict[str, Any]) -> None:
    rows = alerts.worklist(now=timezone.now())
    assert [(a.kind, a.id) for a in rows] == [
        ("day-before", reported["fever"].pk),  # newest first
        ("diary", reported["serious"].pk),
    ]  # the mild entry and the new-medicines-only check are not alerts
    check, diary = rows
    assert check.open
    assert diary.open
    assert check.reported == ("fever",)
    assert diary.reported == ("breathing trouble (mild)",)
    assert diary.patient_note == "short of breath"
    assert diary.patient.startswith("Lambert, Edward")
    assert alerts.open_count() == 2


def test_closing_records_the_action_and_the_note_audited(
    reported: dict[str, Any], users: dict[str, Any], now: dt.datetime
) -> None:
    entry = reported["serious"]
    start = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    closed = alerts.close_alert(
        users["nurse"], "diary", entry.pk, "emergency", " told to call 000 ", now=now
    )
    assert (closed.action, closed.action_words, closed.note) == (
        "emergency",
        "advised emergency care",
        "told to call 000",
    )
    row = DiaryEntry.objects.get(pk=entry.pk)
    assert (row.acknowledged_by, row.acknowledged_at, row.action) == (
        users["nurse"],
        now,
        "emergency",
    )
    event = AuditEvent.objects.get(seq__gt=start)
    assert (event.action, event.entity, event.actor) == ("close", "diary entry", "nurse")
    assert event.reason == "advised emergency care: told to call 000"
    assert event.after["action"] == "emergency"
    assert event.before["acknowledged_at"] is None
    assert alerts.open_count() == 1
    # closed, it stays on the list, below the open ones
    assert [(a.kind, a.open) for a in alerts.worklist(now=now)] == [
        ("day-before", True),
        ("diary", False),
    ]
    with pytest.raises(Conflict):  # once only: nothing is overwritten
        alerts.close_alert(users["prescriber"], "diary", entry.pk, "called", "", now=now)


def test_closing_a_day_before_alert_is_its_review(
    reported: dict[str, Any], users: dict[str, Any], now: dt.datetime
) -> None:
    check = reported["fever"]
    alerts.close_alert(users["prescriber"], "day-before", check.pk, "deferred", "", now=now)
    row = DayBeforeCheck.objects.get(pk=check.pk)
    assert (row.reviewed_by, row.action, row.review_note) == (users["prescriber"], "deferred", "")
    assert row.reviewed_at == now  # reviewed: the run sheet's banner goes
    assert alerts.open_count() == 1


@pytest.mark.parametrize(
    ("action", "note", "field"),
    [
        ("no_action", "", "note"),  # why no action is needed
        ("no_action", "   ", "note"),
        ("other", "", "note"),
        ("ignored", "x", "action"),
        ("called", "x" * 1001, "note"),
    ],
)
def test_a_close_without_its_note_or_with_an_unknown_action_is_refused(
    reported: dict[str, Any], users: dict[str, Any], now: dt.datetime, action: str, note: str,
    field: str,
) -> None:  # fmt: skip
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as caught:
        alerts.close_alert(users["nurse"], "diary", reported["serious"].pk, action, note, now=now)
    assert caught.value.field == field
    assert AuditEvent.objects.count() == before
    assert alerts.open_count() == 2


def test_only_nurses_and_prescribers_close_alerts(
    reported: dict[str, Any], users: dict[str, Any], me: User, now: dt.datetime
) -> None:
    for who in (users["pharmacist"], users["admin"], me, None):
        with pytest.raises(Forbidden):
            alerts.close_alert(who, "diary", reported["serious"].pk, "called", "", now=now)
    assert alerts.open_count() == 2


def test_what_is_not_an_alert_cannot_be_closed(
    reported: dict[str, Any], users: dict[str, Any], now: dt.datetime
) -> None:
    nurse = users["nurse"]
    with pytest.raises(NotFound):
        alerts.close_alert(nurse, "diary", reported["mild"].pk, "called", "", now=now)
    with pytest.raises(NotFound):
        alerts.close_alert(nurse, "day-before", reported["medicines"].pk, "called", "", now=now)
    with pytest.raises(NotFound):
        alerts.close_alert(nurse, "weight", reported["serious"].pk, "called", "", now=now)
    with pytest.raises(NotFound):
        alerts.close_alert(nurse, "diary", 999999, "called", "", now=now)


def test_closed_alerts_leave_the_list_after_14_days(
    reported: dict[str, Any], users: dict[str, Any], now: dt.datetime
) -> None:
    alerts.close_alert(users["nurse"], "diary", reported["serious"].pk, "called", "", now=now)
    later = now + dt.timedelta(days=alerts.CLOSED_DAYS, minutes=1)
    assert [a.kind for a in alerts.worklist(now=later)] == ["day-before"]


def test_one_patients_alerts(reported: dict[str, Any], patient: Any) -> None:
    assert len(alerts.worklist(now=timezone.now(), patient_id=patient.pk)) == 2
    assert alerts.worklist(now=timezone.now(), patient_id=patient.pk + 1000) == []


def test_the_count_is_two_queries_on_the_open_alerts_index(reported: dict[str, Any]) -> None:
    """The menu counts on every page: two COUNTs, each served by its partial index."""
    with CaptureQueriesContext(connection) as captured:
        assert alerts.open_count() == 2
    assert len(captured.captured_queries) == 2
    if connection.vendor == "sqlite":
        for q in captured.captured_queries:
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN QUERY PLAN {q['sql']}")
                plan = " ".join(str(r[-1]) for r in cursor.fetchall())
            assert "open_alert" in plan, plan
