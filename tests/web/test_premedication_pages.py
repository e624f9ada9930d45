"""The pages of issue 16 item 6: the last reaction and the prescriber's decision on the next
run sheet, the cap on its steps, premedication ordered on the patient's page and given on the
run sheet, and the decision taken when acknowledging the reaction's task."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ivig.records.models import Order, PremedicationGiven, PrescriberTask, Reaction
from ivig.records.services import infusions, orders, premedication

NORMAL = {"pulse_per_min": 74, "systolic_mm_hg": 124, "diastolic_mm_hg": 76}


@pytest.fixture
def reacted(
    users: dict[str, Any], dispensed: Order, start_chair: Any, now: dt.datetime
) -> Reaction:
    """Day 1 (``dispensed``) started 2 hours before the suite's now; at 30 minutes up to 51
    mL/h; a reaction at 40 minutes (headache, chills) with paracetamol given: a task."""
    start = now - dt.timedelta(hours=2)
    start_chair(dispensed, start, now=now)
    nurse = users["nurse"]
    at30 = start + dt.timedelta(minutes=30)
    infusions.record_vitals(nurse, dispensed.pk, at30, infusions.VitalsInput(**NORMAL), now=now)
    version = Order.objects.get(pk=dispensed.pk).session.version
    infusions.record_rate(nurse, dispensed.pk, version, at30, 51, now=now)
    version = Order.objects.get(pk=dispensed.pk).session.version
    return infusions.record_reaction(
        nurse, dispensed.pk, version, start + dt.timedelta(minutes=40), ["headache", "chills"],
        "pump paused", medicines_given="paracetamol 1 g", now=now,
    )  # fmt: skip


def _day2(dispensed: Order) -> Order:
    return dispensed.course.orders.get(sequence=2)


def test_the_next_run_sheet_shows_the_last_reaction_and_asks_for_a_decision(
    client_for: Callable[[str | None], Client], dispensed: Order, reacted: Reaction
) -> None:
    html = client_for("nurse").get(f"/orders/{_day2(dispensed).pk}/runsheet/").content.decode()
    assert 'id="last-reaction"' in html
    assert "Last reaction</strong>: " + dispensed.date.isoformat() in html
    assert "headache, chills" in html
    assert "at 51 mL/h; tolerated 25.5 mL/h" in html
    assert "No decision recorded yet" in html
    own = client_for("nurse").get(f"/orders/{dispensed.pk}/runsheet/").content.decode()
    assert 'id="last-reaction"' not in own  # the day's own reaction is not "earlier"


def test_the_prescriber_decides_on_the_patient_page_and_the_steps_are_capped(
    client_for: Callable[[str | None], Client],
    dispensed: Order,
    reacted: Reaction,
    patient: Any,
) -> None:
    url = f"/patients/{patient.pk}/premedication/"
    prescriber = client_for("prescriber")
    page = prescriber.get(url).content.decode()
    assert "Record the decision" in page
    data = {"decide": reacted.pk, "decision-ramp": "capped", "decision-note": "slower ramp"}
    assert client_for("nurse").post(url, data).status_code == 403
    assert prescriber.post(url, data).status_code == 302
    sheet = client_for("nurse").get(f"/orders/{_day2(dispensed).pk}/runsheet/").content.decode()
    assert "a slower ramp, capped at the tolerated rate, at most 25.5 mL/h" in sheet
    assert "Rate capped at 25.5 mL/h" in sheet
    assert "25.5, <s>51</s> 25.5, <s>102</s> 25.5" in sheet


def test_after_the_replan_the_steps_table_and_the_end_follow_the_cap(
    client_for: Callable[[str | None], Client],
    dispensed: Order,
    reacted: Reaction,
    patient: Any,
) -> None:
    """Issue 16's closing note: the decision marks day 2 "re-plan needed"; the re-plan page
    shows its new rate steps; after the re-plan day 2's steps table, expected end and
    checkpoints follow the cap, and no rate above it is shown as planned."""
    prescriber = client_for("prescriber")
    data = {"decide": reacted.pk, "decision-ramp": "capped", "decision-note": "slower ramp"}
    assert prescriber.post(f"/patients/{patient.pk}/premedication/", data).status_code == 302
    day2 = _day2(dispensed)
    words = f"prescriber's cap after the reaction of {dispensed.date.isoformat()}: 25.5 mL/h"
    sheet = client_for("nurse").get(f"/orders/{day2.pk}/runsheet/").content.decode()
    assert "re-plan needed" in sheet.lower()
    assert (
        f"Dose 2, {day2.date.isoformat()} (rate steps 25.5 mL/h, not 25.5, 51, 102, 204, 408 "
        "mL/h)." in sheet
    )
    course = day2.course
    url = f"/courses/{course.pk}/replan/"
    page = prescriber.get(url).content.decode()
    assert "25.5, 51, 102, 204, 408 mL/h</td>" in page  # the steps now
    assert '<td class="num">25.5 mL/h</td>' in page  # the new steps
    course.refresh_from_db()
    answer = prescriber.post(url, {"version": course.version, "reason": "capped after day 1"})
    assert answer.status_code == 302
    sheet = client_for("nurse").get(f"/orders/{day2.pk}/runsheet/").content.decode()
    assert "re-plan needed" not in sheet.lower()
    assert 'data-step="1"' in sheet
    assert 'data-step="2"' not in sheet  # one step: 25.5 mL/h until the dose is given
    assert words in html.unescape(sheet)  # the step's basis
    assert "<s>" not in sheet  # nothing struck: no planned rate above the cap
    assert "Rate capped at 25.5 mL/h" in sheet
    found = re.search(
        r"clock times from now \((\d\d):(\d\d)\)[^;]*; expected end (\d\d):(\d\d)", sheet
    )
    assert found is not None
    base_h, base_m, end_h, end_m = map(int, found.groups())
    took = (end_h * 60 + end_m - base_h * 60 - base_m) % (24 * 60)
    assert took == int(850 / 25.5 * 60) % (24 * 60)  # 33 h 20 min at 25.5 mL/h, not 3 h 37


def test_a_dispensed_next_dose_is_told_its_vials_stand(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    dispensed: Order,
    reacted: Reaction,
) -> None:
    day2 = _day2(dispensed)
    from django.utils import timezone

    zone = timezone.get_current_timezone()
    midnight = dt.datetime.combine(dispensed.date, dt.time(0), tzinfo=zone)
    day2 = orders.verify(users["pharmacist"], day2.pk, day2.version, now=midnight)
    expiry = day2.date + dt.timedelta(days=400)
    lots = [orders.LotInput("P1", expiry, 40, 2), orders.LotInput("P2", expiry, 5, 1)]
    orders.dispense(users["pharmacist"], day2.pk, day2.version, lots, now=midnight)
    premedication.decide(
        users["prescriber"], reacted.pk, premedication.Decision("capped"), now=reacted.at
    )
    sheet = client_for("nurse").get(f"/orders/{day2.pk}/runsheet/").content.decode()
    assert "Dispensed: the re-plan gives it the new rate steps, its vials stand." in sheet
    assert "Dispensed on the old numbers" not in sheet


def test_premedication_ordered_and_given(
    chair_clock: dt.datetime,  # 18:00: "09:30" is earlier today, whatever the suite's moment
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    dispensed: Order,
    patient: Any,
) -> None:
    url = f"/patients/{patient.pk}/premedication/"
    data = {
        "premed-order": f"course-{dispensed.course_id}",
        "premed-medicine": "paracetamol",
        "premed-dose": "1 g",
        "premed-route": "oral",
        "premed-timing": "30 min before the start",
    }
    refused = client_for("prescriber").post(url, {**data, "premed-dose": ""})
    assert refused.status_code == 400
    assert client_for("prescriber").post(url, data).status_code == 302
    sheet_url = f"/orders/{dispensed.pk}/runsheet/"
    sheet = client_for("nurse").get(sheet_url).content.decode()
    assert "paracetamol 1 g oral</strong>, 30 min before the start" in sheet
    assert f'action="/orders/{dispensed.pk}/premedication/given/"' in sheet
    ordered = premedication.premedications_for(dispensed).get()
    given = client_for("nurse").post(
        f"/orders/{dispensed.pk}/premedication/given/",
        {"premedication": ordered.pk, "at": "09:30", "note": "with water"},
    )
    assert given.status_code == 302
    assert given["Location"].endswith(sheet_url + "#previous")
    row = PremedicationGiven.objects.get()
    assert (row.given_by, row.note) == (users["nurse"], "with water")
    after = client_for("nurse").get(sheet_url).content.decode()
    assert "Given: paracetamol 1 g at 09:30" in after
    again = {"premedication": ordered.pk, "at": "09:30"}
    given_url = f"/orders/{dispensed.pk}/premedication/given/"
    assert client_for("prescriber").post(given_url, again).status_code == 403


def test_acknowledging_the_task_records_the_decision(
    client_for: Callable[[str | None], Client], dispensed: Order, reacted: Reaction
) -> None:
    task = PrescriberTask.objects.get()
    sheet = client_for("prescriber").get(f"/orders/{dispensed.pk}/runsheet/").content.decode()
    assert "Decide later" in sheet
    prefix = f"ack{task.pk}"
    assert f'id="id_{prefix}_ramp"' in sheet
    names = {"task_id": task.pk, "note": "seen", "ramp": "capped", "premedicate": "on"}
    post = dict(names)
    done = client_for("prescriber").post(f"/orders/{dispensed.pk}/runsheet/acknowledge/", post)
    assert done.status_code == 302
    last = premedication.last_reaction(_day2(dispensed))
    assert last is not None
    assert last.decision is not None
    assert (last.decision.ramp, last.decision.premedicate) == ("capped", True)
