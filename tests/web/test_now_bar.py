"""The run sheet at the chair, issue 16 items 4, 5, 7 and 13, through Django's test client:
the sticky "now" bar (the pump, the step, the next action, the vital signs due, the alerts and
buttons to the forms), the baseline vital signs before the start, the restart after vital
signs with the symptoms resolved, the sheet and the chairs board after a reaction (the pump
log, not the plan), and the end with the volume given.

The ``dispensed`` order: Privigen (US) 10 %, 85 g in 850 mL, 25.5 mL/h for 30 minutes, then
51 mL/h..., dated today; the clock is the suite's (tests/conftest.py, 10:00 local)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import Order
from ivig.records.services import infusions

WELL = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)
CALM = {"temperature_c": "36.8", "pulse_per_min": "76", "systolic_mm_hg": "128",
        "diastolic_mm_hg": "78", "spo2_percent": "98"}  # fmt: skip


def local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def url(order: Order, action: str = "") -> str:
    return f"/orders/{order.pk}/runsheet/" + (f"{action}/" if action else "")


def bar(text: str) -> str:
    """The now bar's HTML."""
    assert 'id="now-bar"' in text
    return text.split('id="now-bar"', 1)[1].split("</section>", 1)[0]


def form(text: str, name: str) -> str:
    assert f'id="{name}"' in text, name
    return text.split(f'id="{name}"', 1)[1].split("</form>", 1)[0]


def get(client: Client, order: Order) -> str:
    page = client.get(url(order))
    assert page.status_code == 200
    return str(page.content.decode())


def _version(order: Order) -> int:
    return int(Order.objects.get(pk=order.pk).session.version)


def _running(users: dict[str, Any], order: Order, begin: dt.datetime) -> None:
    """Checked, the baseline taken, and started at ``begin`` through the services."""
    nurse = users["nurse"]
    infusions.pre_check(nurse, order.pk, WELL, now=begin - dt.timedelta(minutes=5))
    calm = infusions.VitalsInput(pulse_per_min=76)
    infusions.record_vitals(nurse, order.pk, begin, calm, now=begin)
    version = Order.objects.get(pk=order.pk).version
    now = timezone.now()
    infusions.start_infusion(nurse, order.pk, version, begin, visual_inspection_ok=True, now=now)


def test_the_bar_and_the_baseline_before_the_start(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Order
) -> None:
    """Before the check: "do the check"; after it, the vital signs form and "record the
    baseline"; the start refused without them (next to the reason's field), accepted after;
    then the pump, the step, the next increase and the buttons to the forms."""
    nurse = client_for("nurse")
    text = get(nurse, dispensed)
    assert "Do the pre-infusion check" in bar(text)
    assert 'href="#check-form"' in bar(text)
    assert 'id="vitals-form"' not in text
    now = timezone.now()
    begin = (now - dt.timedelta(minutes=45)).replace(second=0, microsecond=0)
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=begin - dt.timedelta(minutes=5))
    text = get(nurse, dispensed)
    assert "Record the baseline vital signs, then start" in bar(text)
    assert 'href="#vitals-form"' in bar(text)
    assert "No baseline vital signs yet" in form(text, "start-form")
    start = {"at": local(begin), "version": Order.objects.get(pk=dispensed.pk).version,
             "visual_inspection_ok": "on", "administered_by": users["nurse"].pk}  # fmt: skip
    page = nurse.post(url(dispensed, "start"), start)
    assert page.status_code == 200
    assert 'id="id_start_baseline_vitals_missing_reason_error"' in page.content.decode()
    assert "record the baseline vital signs before starting" in page.content.decode()
    vitals = nurse.post(url(dispensed, "vitals"), {**CALM, "at": local(begin)})
    assert vitals.status_code == 302
    text = get(nurse, dispensed)
    assert "Start the infusion" in bar(text)
    assert "Baseline vital signs recorded at" in form(text, "start-form")
    assert nurse.post(url(dispensed, "start"), start).status_code == 302
    now_bar = bar(get(nurse, dispensed))
    assert "25.5 mL/h" in now_bar
    assert "planned step 2 of 5" in now_bar  # 45 minutes in, the plan is on step 2
    assert "Increase to 102 mL/h at" in now_bar
    assert "overdue" in now_bar  # the 15- and 30-minute checkpoints
    for target in ("#rate-form", "#vitals-form", "#reaction-form", "#end-form"):
        assert f'href="{target}"' in now_bar, target
    # its own refresh: the bar alone, as a poll (not the user's activity)
    polled = nurse.get(url(dispensed), headers={"HX-Request": "true", "HX-Target": "now-bar",
                                                 "X-Ivig-Poll": "runsheet"})  # fmt: skip
    assert polled.status_code == 200
    assert 'id="now-bar"' in polled.content.decode()
    assert "<html" not in polled.content.decode()


def test_a_reason_starts_without_a_baseline(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    begin = (timezone.now() - dt.timedelta(minutes=10)).replace(second=0, microsecond=0)
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=begin - dt.timedelta(minutes=5))
    start = {"at": local(begin), "version": Order.objects.get(pk=dispensed.pk).version,
             "visual_inspection_ok": "on", "administered_by": users["nurse"].pk,
             "baseline_vitals_missing_reason": "patient asleep; pulse by hand 70"}  # fmt: skip
    assert nurse.post(url(dispensed, "start"), start).status_code == 302
    row = Order.objects.get(pk=dispensed.pk).session.rate_changes.get()
    assert row.note == "baseline vital signs not taken: patient asleep; pulse by hand 70"


def test_after_a_reaction_the_sheet_and_the_board_follow_the_pump(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Order
) -> None:
    """Items 5 and 7: paused, the bar says on hold and offers the restart; the restart needs
    vital signs and the symptoms resolved; then the remaining volume at the tolerated rate,
    the expected end by the pump log, no "before rate increase" ahead; the board shows the
    reaction and the restart, not "behind the plan"."""
    nurse_user = users["nurse"]
    now = timezone.now()
    begin = (now - dt.timedelta(minutes=60)).replace(second=0, microsecond=0)
    _running(users, dispensed, begin)
    at30 = begin + dt.timedelta(minutes=30)
    infusions.record_vitals(nurse_user, dispensed.pk, at30, infusions.VitalsInput(pulse_per_min=80),
                            now=now)  # fmt: skip
    infusions.record_rate(nurse_user, dispensed.pk, _version(dispensed), at30, 51, now=now)
    at35 = begin + dt.timedelta(minutes=35)
    infusions.record_reaction(nurse_user, dispensed.pk, _version(dispensed), at35, ["headache"],
                              "pump paused", now=now)  # fmt: skip
    nurse = client_for("nurse")
    text = get(nurse, dispensed)
    assert f"On hold since {timezone.localtime(at35):%H:%M}" in bar(text)
    assert 'href="#resume-form"' in bar(text)
    assert "The symptoms have resolved" in form(text, "resume-form")
    at40 = begin + dt.timedelta(minutes=40)
    resume = {"rate_ml_per_h": "25.5", "at": local(at40), "session_version": _version(dispensed)}
    page = nurse.post(url(dispensed, "resume"), {**resume, "symptoms_resolved": "on"})
    assert page.status_code == 200
    assert "record the vital signs taken after the reaction" in page.content.decode()
    assert nurse.post(url(dispensed, "vitals"), {**CALM, "at": local(at40)}).status_code == 302
    page = nurse.post(url(dispensed, "resume"), {**resume, "symptoms_resolved": "on"})
    assert page.status_code == 302
    text = get(nurse, dispensed)
    assert "Give the remaining" in bar(text)
    assert "the last tolerated rate" in bar(text)
    assert "after the reaction: the planned increases are off" in bar(text)
    assert "Mild reaction at" in bar(text)
    assert "by the pump log" in text  # the steps' caption and the state panel
    checkpoints = text.split('class="checkpoints"', 1)[1].split("</table>", 1)[0]
    after = checkpoints.split("restart at 25.5 mL/h after the reaction", 1)[1]
    assert "before rate increase" not in after
    board = client_for("pharmacist").get("/chairs/").content.decode()
    assert "Mild reaction at" in board
    assert "restarted at <strong>25.5 mL/h</strong>" in board
    assert "behind the plan" not in board
    assert "expected end" in board


def test_the_end_asks_the_volume_given(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Order
) -> None:
    """Item 4: the End form offers the pump log's volume; well short of the dose it needs
    the confirmation and a reason; the sheet and the patient page say the grams given."""
    now = timezone.now()
    begin = (now - dt.timedelta(minutes=20)).replace(second=0, microsecond=0)
    _running(users, dispensed, begin)
    nurse = client_for("nurse")
    end = form(get(nurse, dispensed), "end-form")
    offered = float(end.split('name="volume_given_ml"', 1)[1].split('value="', 1)[1].split('"')[0])
    minutes = (timezone.now() - begin).total_seconds() / 60
    assert abs(offered - 25.5 * minutes / 60) < 0.2  # 25.5 mL/h since the start
    assert "By the pump log" in end
    data = {"at": local(begin + dt.timedelta(minutes=20)), "volume_given_ml": "8.5"}
    page = nurse.post(url(dispensed, "end"), data)
    assert page.status_code == 200
    assert "8.5 of 850 mL given (1 %), well short of the dose" in page.content.decode()
    data |= {"short_confirmed": "on", "short_stop_reason": "patient asked to stop"}
    page = nurse.post(url(dispensed, "end"), data, follow=True)
    assert "8.5 of 850 mL given (0.85 of 85 g)" in page.content.decode()
    text = get(nurse, dispensed)
    assert "given 0.85 of 85 g" in text
    assert "stopped short: patient asked to stop" in text
    patient = client_for("nurse").get(f"/patients/{dispensed.patient_id}/").content.decode()
    assert "given 0.85 of 85 g" in patient
