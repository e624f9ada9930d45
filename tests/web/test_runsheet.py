"""The nurse run sheet, through Django's test client: the sheet for every role, a day at the chair
through the page's forms, the override rule, errors next to the field, clock times from the
actual start, the print view, and no inline style or script."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import Order

HTMX = {"HX-Request": "true"}
DASH, TIMES = "\u2013", "\u00d7"  # as the sheet writes 09:00-09:30 and 2 x 40 g
WELL = {"infection": "no", "fever": "no", "feeling_unwell": "no", "hydrated": "yes", "notes": ""}


def local(moment: dt.datetime) -> str:
    """A time as the datetime-local input sends it, in the service's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def url(order: Order, action: str = "") -> str:
    return f"/orders/{order.pk}/runsheet/" + (f"{action}/" if action else "")


def version(order: Order) -> int:
    return Order.objects.get(pk=order.pk).version


def start(client: Client, order: Order, at: dt.datetime) -> Any:
    return client.post(url(order, "start"), {"at": local(at), "version": version(order)})


def html(response: Any) -> str:
    text: str = response.content.decode()
    return text


def test_the_sheet_renders_for_every_role(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    assert client_for(None).get(url(dispensed)).status_code == 302  # to the sign-in page
    for role in ("admin", "prescriber", "pharmacist", "nurse"):
        page = client_for(role).get(url(dispensed))
        assert page.status_code == 200, role
        text = html(page)
        for expected in (
            "Lambert, Edward",
            "MRN0001",
            "1966-05-01",
            "Privigen (US)",
            "100 mg/mL",
            "85 g",  # the dose
            f"2 {TIMES} 40 g + 1 {TIMES} 5 g",  # the vials
            "P1",  # the lots dispensed
            "P2",
            "85.0 kg",  # the dosing weight
            "adjusted weight",
            "850 mL",
            "25.5 mL/h",
            "provisional",  # not started: clock times from now
        ):
            assert expected in text, (role, expected)
        assert ('id="check-form"' in text) == (role == "nurse")
    assert client_for("nurse").get("/orders/999999/runsheet/").status_code == 404


def test_an_order_not_yet_dispensed_has_no_check(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    planned = Order.objects.get(course=dispensed.course, sequence=2)  # day 2: still planned
    page = client_for("nurse").get(url(planned))
    assert page.status_code == 200
    text = html(page)
    assert "the pharmacy has not dispensed it yet" in text
    assert 'id="check-form"' not in text
    assert "No lot recorded yet" in text
    assert "provisional" in text  # the steps on the clock from now


def test_a_nurse_runs_the_whole_day_through_the_sheet(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    begin = timezone.now() - dt.timedelta(hours=5)
    # the check (through htmx: a step of the day brings the whole sheet anew, in place of the
    # old one): no blocking finding, the first infusion is a warning
    page = nurse.post(url(dispensed, "check"), WELL, headers=HTMX)
    assert page.status_code == 200
    assert page.headers["HX-Retarget"] == "#sheet"
    assert "<html" not in html(page)
    assert "Check saved." in html(page)
    text = html(nurse.get(url(dispensed)))
    assert "first-infusion" in text
    assert 'id="start-form"' in text
    assert "must record an override" not in text
    # the start, 5 hours ago
    assert start(nurse, dispensed, begin).status_code == 302
    assert Order.objects.get(pk=dispensed.pk).status == "in-progress"
    text = html(nurse.get(url(dispensed)))
    assert "provisional" not in text.split('id="steps-title"')[1].split("</caption>")[0]
    assert 'id="rate-form"' in text
    assert 'id="vitals-form"' in text
    # a rate change, through htmx: a fresh rate form in place of the one sent, and the parts
    # of the sheet it changed out of band (the other forms keep what is typed in them)
    page = nurse.post(
        url(dispensed, "rate"),
        {"rate_ml_per_h": "51", "at": local(begin + dt.timedelta(minutes=30))},
        headers=HTMX,
    )
    assert page.status_code == 200
    assert "HX-Retarget" not in page.headers
    text = html(page)
    assert text.lstrip().startswith('<form id="rate-form"')
    assert 'id="live" aria-labelledby="steps-title" hx-swap-oob="true"' in text
    assert 'id="runsheet-messages" role="status" hx-swap-oob="innerHTML"' in text
    assert "Rate 51 mL/h from" in text
    assert 'id="vitals-form"' not in text
    # vital signs: abnormal values kept and flagged
    page = nurse.post(
        url(dispensed, "vitals"),
        {
            "temperature_c": "38.4",
            "pulse_per_min": "88",
            "systolic_mm_hg": "128",
            "diastolic_mm_hg": "76",
            "respiratory_rate_per_min": "16",
            "spo2_percent": "97",
            "at": local(begin + dt.timedelta(minutes=31)),
        },
        follow=True,
    )
    text = html(page)
    assert "38.4 °C" in text
    assert "⚠ abnormal" in text
    assert "temperature 38.4 °C: at or above 38 °C" in text
    # the recommended action at once, before saving (the htmx preview of the ticked symptoms)
    preview = nurse.get(url(dispensed, "reaction-advice"), {"symptoms": ["headache"]}, headers=HTMX)
    assert "Mild reaction: slow the infusion to 25.5 mL/h" in html(preview)
    assert "Basis: protocol" in html(preview)
    # a mild reaction, saved with its recommended action, basis and source
    page = nurse.post(
        url(dispensed, "reaction"),
        {
            "symptoms": ["headache"],
            "severity": "",
            "action_taken": "slowed to 25.5 mL/h",
            "at": local(begin + dt.timedelta(minutes=35)),
        },
        follow=True,
    )
    text = html(page)
    reactions = text.split('id="reactions-title"')[1]
    assert "Headache" in reactions
    assert "slow the infusion to 25.5 mL/h" in reactions
    assert "Basis: protocol" in reactions
    assert "Source:" in reactions
    assert "slowed to 25.5 mL/h" in reactions
    # the planned increases are on hold, and the rate form offers no more than the limit
    assert "The planned increases are on hold" in text
    assert "Next rate change" not in text
    rate_form = text.split('id="rate-form"')[1].split("</form>")[0]
    assert 'value="25.5"' in rate_form
    # the end of the infusion: 60 minutes of observation after a first infusion
    page = nurse.post(
        url(dispensed, "end"), {"at": local(begin + dt.timedelta(hours=4))}, follow=True
    )
    assert "Observe for 60 minutes" in html(page)
    assert 'id="observation-form"' in html(page)
    # the observation cannot close early: the service's message next to the time
    early = {"at": local(begin + dt.timedelta(hours=4, minutes=20)), "notes": "well"}
    page = nurse.post(url(dispensed, "observation"), {**early, "version": version(dispensed)})
    assert page.status_code == 200
    text = html(page)
    assert 'id="id_observation_at_error"' in text
    assert "the observation lasts 60 minutes" in text
    assert Order.objects.get(pk=dispensed.pk).status == "in-progress"
    # after the full observation it closes, and the order is completed
    page = nurse.post(
        url(dispensed, "observation"),
        {
            "at": local(begin + dt.timedelta(hours=5)),
            "notes": "well",
            "version": version(dispensed),
        },
        follow=True,
    )
    assert "Observation closed" in html(page)
    assert Order.objects.get(pk=dispensed.pk).status == "completed"
    text = html(page)
    assert "Completed" in text
    assert 'id="vitals-form"' not in text  # the day is closed


def test_a_fever_blocks_the_start_until_a_prescribers_override(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse, prescriber = client_for("nurse"), client_for("prescriber")
    nurse.post(url(dispensed, "check"), {**WELL, "fever": "yes"})
    text = html(nurse.get(url(dispensed)))
    assert "fever" in text
    assert "a prescriber must record an override" in text
    assert 'id="start-form"' not in text  # the Start button is replaced by the message
    assert 'id="override-form"' not in text  # a nurse cannot override
    # a start posted anyway is refused by the service, its message shown on the sheet
    page = nurse.post(
        url(dispensed, "start"),
        {"at": local(timezone.now()), "version": version(dispensed)},
        follow=True,
    )
    assert "a blocking finding stands (fever)" in html(page)
    assert Order.objects.get(pk=dispensed.pk).status == "dispensed"
    # a nurse's override is refused by the service: its Forbidden comes back as a message
    page = nurse.post(url(dispensed, "override"), {"reason": "looks fine"}, follow=True)
    assert "overriding a blocking finding needs the role prescriber" in html(page)
    # the prescriber sees the override form; no reason, no override (next to the field)
    assert 'id="override-form"' in html(prescriber.get(url(dispensed)))
    page = prescriber.post(url(dispensed, "override"), {"reason": " "})
    assert 'id="id_override_reason_error"' in html(page)
    reason = "37.9 after paracetamol; benefit outweighs risk, reviewed at the chair"
    assert prescriber.post(url(dispensed, "override"), {"reason": reason}).status_code == 302
    text = html(nurse.get(url(dispensed)))
    assert reason in text
    assert 'id="start-form"' in text
    assert start(nurse, dispensed, timezone.now() - dt.timedelta(minutes=1)).status_code == 302
    assert Order.objects.get(pk=dispensed.pk).status == "in-progress"


def test_a_rate_above_the_highest_planned_rate_is_shown_next_to_the_field(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    nurse.post(url(dispensed, "check"), WELL)
    begin = timezone.now() - dt.timedelta(hours=1)
    start(nurse, dispensed, begin)
    data = {"rate_ml_per_h": "500", "at": local(begin + dt.timedelta(minutes=30))}
    page = nurse.post(url(dispensed, "rate"), data)
    assert page.status_code == 200
    text = html(page)
    error = re.search(r'<div class="error" id="id_rate_rate_ml_per_h_error">([^<]*)</div>', text)
    assert error is not None
    assert "408 mL/h, the highest planned rate" in error.group(1)
    assert 'value="500"' in text  # what the nurse typed is kept
    # through htmx, only the form comes back, with the same error
    page = nurse.post(url(dispensed, "rate"), data, headers=HTMX)
    assert "<html" not in html(page)
    assert html(page).lstrip().startswith('<form id="rate-form"')
    assert 'id="id_rate_rate_ml_per_h_error"' in html(page)
    # a time in the future is refused next to the time
    page = nurse.post(
        url(dispensed, "rate"),
        {"rate_ml_per_h": "51", "at": local(timezone.now() + dt.timedelta(hours=1))},
    )
    assert 'id="id_rate_at_error"' in html(page)
    assert "in the future" in html(page)


def test_impossible_vitals_are_refused_next_to_the_field(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    nurse.post(url(dispensed, "check"), WELL)
    begin = timezone.now() - dt.timedelta(minutes=20)
    start(nurse, dispensed, begin)
    page = nurse.post(
        url(dispensed, "vitals"), {"spo2_percent": "120", "pulse_per_min": "80", "at": local(begin)}
    )
    assert page.status_code == 200
    text = html(page)
    error = re.search(r'<div class="error" id="id_vitals_spo2_percent_error">([^<]*)</div>', text)
    assert error is not None
    assert "outside the accepted range" in error.group(1)
    assert 'value="120"' in text
    assert 'value="80"' in text
    assert "No vital signs recorded yet" in text


def test_the_clock_times_shift_with_the_actual_start(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    nurse.post(url(dispensed, "check"), WELL)
    before = html(nurse.get(url(dispensed)))
    assert "provisional" in before
    # started yesterday at 09:00 (in the past whatever the time of the test)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    nine = timezone.make_aware(dt.datetime.combine(yesterday, dt.time(9, 0)))
    assert start(nurse, dispensed, nine).status_code == 302
    text = html(nurse.get(url(dispensed)))
    steps = text.split('class="steps"')[1].split("</table>")[0]
    assert "clock times from the actual start at <strong>09:00</strong>" in steps
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", steps, re.S)
    assert f"09:00{DASH}09:30" in rows[1]  # step 1 (rows[0] is the heading)
    assert f"09:30{DASH}10:00" in rows[2]  # step 2
    assert f"10:00{DASH}10:30" in rows[3]
    assert "12:36" in rows[5]  # the last step ends when the volume is given (216.9 min)
    assert "provisional" not in steps
    # the checkpoints too: the baseline at 09:00, overdue as nothing was recorded
    checks = text.split('class="checkpoints"')[1].split("</table>")[0]
    assert "09:00" in checks
    assert "overdue" in checks


def test_the_check_needs_every_answer(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    page = client_for("nurse").post(url(dispensed, "check"), {"fever": "no", "notes": "tired"})
    assert page.status_code == 200
    text = html(page)
    for name in ("infection", "feeling_unwell", "hydrated"):
        assert f'id="id_check_{name}_error"' in text
    assert 'id="id_check_fever_error"' not in text
    assert re.search(r'value="no"[^>]*id="id_check_fever_1"[^>]*>', text) is not None
    assert re.search(r'<input[^>]*name="fever"[^>]*value="no"[^>]*checked', text) is not None
    assert re.search(r">\s*tired</textarea>", text) is not None
    # the legend names each group and every option has its own label
    assert "<legend>Signs of an infection today?" in text
    assert '<label for="id_check_hydrated_0">Yes</label>' in text


def test_a_time_left_as_shown_is_the_moment_of_saving(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    """A page left open shows a stale 'now': left untouched, the time is that of saving."""
    nurse = client_for("nurse")
    nurse.post(url(dispensed, "check"), WELL)
    stale = local(timezone.now() - dt.timedelta(minutes=40))
    before = timezone.now()
    start_data = {"at": stale, "shown_at": stale, "version": version(dispensed)}
    assert nurse.post(url(dispensed, "start"), start_data).status_code == 302
    started = Order.objects.get(pk=dispensed.pk).session.started_at
    assert started is not None
    assert started >= before  # the moment of saving, not the stale time shown
    # a time the nurse changed is taken as typed
    typed = local(timezone.now() - dt.timedelta(minutes=5))
    data = {"pulse_per_min": "80", "at": typed, "shown_at": stale}
    assert nurse.post(url(dispensed, "vitals"), data).status_code == 302
    vitals = Order.objects.get(pk=dispensed.pk).session.vitals.get()
    assert local(vitals.at) == typed
    # the form says so, and carries the time it shows
    text = html(nurse.get(url(dispensed)))
    assert "Left as shown, it is the moment you save" in text
    assert 'type="hidden" name="shown_at"' in text


def test_a_finished_step_cannot_be_redone(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    nurse.post(url(dispensed, "check"), WELL)
    begin = timezone.now() - dt.timedelta(minutes=10)
    assert start(nurse, dispensed, begin).status_code == 302
    page = start(nurse, dispensed, begin)  # a second Start (an old tab): a message, not a 500
    assert page.status_code == 302
    assert "in-progress" in html(nurse.get(url(dispensed)))
    text = html(nurse.get(url(dispensed)))
    assert 'id="start-form"' not in text


def test_the_current_step_and_the_next_rate_change(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    nurse.post(url(dispensed, "check"), WELL)
    begin = timezone.now() - dt.timedelta(minutes=40)
    start(nurse, dispensed, begin)
    text = html(nurse.get(url(dispensed)))
    current = re.findall(r'<tr class="current"[^>]*>(.*?)</tr>', text, re.S)
    assert len(current) == 1
    assert "51 mL/h" in current[0]
    change = (begin + dt.timedelta(minutes=60)).replace(second=0, microsecond=0)
    assert f'Next rate change at <strong class="next-change">{local(change)[-5:]}' in text
    # the live part alone, for the refresh button
    live = nurse.get(url(dispensed), headers={**HTMX, "HX-Target": "live"})
    assert html(live).lstrip().startswith('<section class="card" id="live"')


def test_the_print_view(client_for: Callable[[str | None], Client], dispensed: Order) -> None:
    nurse = client_for("nurse")
    nurse.post(url(dispensed, "check"), WELL)
    start(nurse, dispensed, timezone.now() - dt.timedelta(minutes=20))
    for address in (url(dispensed, "print"), url(dispensed) + "?print=1"):
        page = client_for("pharmacist").get(address)
        assert page.status_code == 200
        text = html(page)
        assert "data-print" in text
        for expected in (
            "MRN0001",
            "Dose",
            "Lots dispensed",
            "P1",
            "Premedication",
            'class="steps"',
            "408 mL/h",
            "850 mL",  # the total volume
            "Vital-sign checkpoints",
            "Reactions",
            "Signatures",
            "Nurse administering",
            "Signature",
            "Printed snapshot",
            "2026.11.0",  # the drug library version
        ):
            assert expected in text, expected
        assert 'id="rate-form"' not in text  # a plain page: no action forms


def test_no_inline_style_or_script(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    pages = [nurse.get(url(dispensed))]
    nurse.post(url(dispensed, "check"), {**WELL, "fever": "yes"})
    pages.append(client_for("prescriber").get(url(dispensed)))
    pages.append(client_for("prescriber").post(url(dispensed, "override"), {"reason": "ok"}))
    pages.append(start(nurse, dispensed, timezone.now() - dt.timedelta(minutes=10)))
    pages.append(nurse.get(url(dispensed)))
    pages.append(nurse.post(url(dispensed, "vitals"), {"spo2_percent": "120", "at": "x"}))
    pages.append(nurse.post(url(dispensed, "reaction"), {"symptoms": ["wheeze"]}, headers=HTMX))
    pages.append(nurse.get(url(dispensed, "reaction-advice"), {"symptoms": ["wheeze"]}))
    pages.append(nurse.get(url(dispensed, "print")))
    for page in pages:
        text = html(page)
        assert 'style="' not in text
        assert re.search(r"<script(?![^>]*\bsrc=)", text) is None
        assert "<style" not in text


def test_the_reaction_form_keeps_its_input_and_previews_the_advice(
    client_for: Callable[[str | None], Client], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    nurse.post(url(dispensed, "check"), WELL)
    start(nurse, dispensed, timezone.now() - dt.timedelta(minutes=10))
    text = html(nurse.get(url(dispensed)))
    for key in ("headache", "wheeze", "anaphylaxis"):
        assert f'value="{key}"' in text  # the protocol's symptoms as checkboxes
    assert 'hx-get="/orders/' in text
    assert 'hx-target="#reaction-advice"' in text
    # saved without the action taken: the error next to it, the symptoms kept ticked, and the
    # recommended action for them already shown
    data = {"symptoms": ["wheeze"], "at": local(timezone.now())}
    page = nurse.post(url(dispensed, "reaction"), data)
    text = html(page)
    assert 'id="id_reaction_action_taken_error"' in text
    assert re.search(r'value="wheeze"[^>]*checked', text)
    assert "stop the infusion now and do not restart it today" in text
    # saved through htmx: a fresh reaction form, the reactions, and the rate form (its offer
    # follows the advice: a stop offers no rate), out of band
    data = {"symptoms": ["wheeze"], "action_taken": "stopped, prescriber called"}
    page = nurse.post(
        url(dispensed, "reaction"), {**data, "at": local(timezone.now())}, headers=HTMX
    )
    text = html(page)
    assert text.lstrip().startswith('<form id="reaction-form"')
    assert 'id="reactions" aria-labelledby="reactions-title" hx-swap-oob="true"' in text
    rate_form = text.split('<form id="rate-form"')[1].split("</form>")[0]
    assert 'hx-swap-oob="true"' in rate_form
    assert 'name="rate_ml_per_h" step' in rate_form  # no value offered after a stop
    assert "do not restart it today" in text
    # the preview: nothing ticked, a severity chosen (a second reaction today: stop for the
    # day), an unknown symptom
    advice = url(dispensed, "reaction-advice")
    assert "Tick the symptoms" in html(nurse.get(advice))
    second = html(nurse.get(advice, {"severity": "moderate"}))
    assert "Moderate reaction, reaction 2 today: stop the infusion now" in second
    assert "unknown symptom" in html(nurse.get(advice, {"symptoms": ["sneezing"]}))
