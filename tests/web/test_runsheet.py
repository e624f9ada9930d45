"""The nurse run sheet, through Django's test client: the sheet for every role, a day at the chair
through the page's forms (the start with the visual inspection and the nurse giving it, rate
changes under the library's limits, the reaction state machine, the prescriber's restart order
and tasks), errors next to the field, clock times from the actual start, the print view, and no
inline style or script."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from ivig.core.library import packaged_library
from ivig.records.models import (
    AuditEvent,
    InfusionSession,
    LimitEvent,
    Order,
    PrescriberTask,
    Reaction,
    Vitals,
)
from ivig.records.services import courses, infusions, orders

PACKAGED = packaged_library().version  # the drug library the package ships
EXPIRY = timezone.localdate() + dt.timedelta(days=730)  # the suite's date (tests/conftest.py)
HTMX = {"HX-Request": "true"}
PASSWORD = "infusion-chair-42-Xq"  # the users fixture's (tests/conftest.py)
DASH, TIMES = "\u2013", "\u00d7"  # as the sheet writes 09:00-09:30 and 2 x 40 g
WELL = {"infection": "no", "fever": "no", "feeling_unwell": "no", "hydrated": "yes", "notes": ""}
CALM = {
    "temperature_c": "36.8",
    "pulse_per_min": "76",
    "systolic_mm_hg": "128",
    "diastolic_mm_hg": "78",
    "respiratory_rate_per_min": "16",
    "spo2_percent": "98",
}


def local(moment: dt.datetime) -> str:
    """A time as the datetime-local input sends it, in the service's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def url(order: Order, action: str = "") -> str:
    return f"/orders/{order.pk}/runsheet/" + (f"{action}/" if action else "")


def version(order: Order) -> int:
    return Order.objects.get(pk=order.pk).version


def session_version(order: Order) -> int:
    return Order.objects.get(pk=order.pk).session.version


def nurse_id() -> int:
    return User.objects.get(username="nurse").pk


def start(client: Client, order: Order, at: dt.datetime, **extra: Any) -> Any:
    """The start at ``at``, after the baseline vital signs at ``at`` (issue 16 item 7; unless
    ``baseline=False``)."""
    if extra.pop("baseline", True):
        vitals(client, order, at)
    data = {
        "at": local(at),
        "version": version(order),
        "visual_inspection_ok": "on",
        "administered_by": nurse_id(),
        **extra,
    }
    return client.post(url(order, "start"), data)


def rate(
    client: Client,
    order: Order,
    ml_h: str,
    at: dt.datetime,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    data = {"rate_ml_per_h": ml_h, "at": local(at), "session_version": session_version(order)}
    return client.post(url(order, "rate"), {**data, **fields}, headers=headers or {})


def vitals(client: Client, order: Order, at: dt.datetime, **values: str) -> Any:
    return client.post(url(order, "vitals"), {**CALM, **values, "at": local(at)})


def reaction(client: Client, order: Order, at: dt.datetime, **data: Any) -> Any:
    body = {
        "symptoms": ["headache"],
        "severity": "",
        "action_taken": "pump paused, prescriber told",
        "at": local(at),
        "session_version": session_version(order),
        **data,
    }
    return client.post(url(order, "reaction"), body)


def html(response: Any) -> str:
    text: str = response.content.decode()
    return text


def part(text: str, start: str, end: str = "</form>") -> str:
    """The text from ``start`` to the next ``end`` (a form, a section)."""
    assert start in text, start
    return text.split(start, 1)[1].split(end, 1)[0]


def _prescribe(users: dict[str, Any], patient: Any, first: dt.date) -> Order:
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=first, days=2),
    )  # fmt: skip
    order = course.orders.order_by("sequence").first()
    assert order is not None
    # prepared at the start of the order's day: a start is never before it (issue 14 item 7)
    midnight = dt.datetime.combine(first, dt.time(0), tzinfo=timezone.get_current_timezone())
    order = orders.verify(users["pharmacist"], order.pk, order.version, now=midnight)
    lots = [orders.LotInput("P1", EXPIRY, 40, 2), orders.LotInput("P2", EXPIRY, 5, 1)]
    return orders.dispense(users["pharmacist"], order.pk, order.version, lots, now=midnight)


@pytest.fixture
def ready(users: dict[str, Any], patient: Any) -> Order:
    """Day 1 of a 2-day Privigen (US) induction that began yesterday, dispensed: an infusion
    started hours ago is within the order's day whatever the time the test runs."""
    return _prescribe(users, patient, timezone.localdate() - dt.timedelta(days=1))


def running(client: Client, order: Order, minutes: int) -> dt.datetime:
    """Checked just before and started ``minutes`` ago; returns the start."""
    begin = (timezone.now() - dt.timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    checked_before(order, begin)
    assert start(client, order, begin).status_code == 302
    return begin


def checked_before(order: Order, begin: dt.datetime) -> None:
    """The nurse's pre-infusion check (well) a minute before ``begin``, through the service: the
    page's check takes the clock's time, and a start is never before it (issue 14 item 7)."""
    answers = infusions.CheckAnswers(
        infection=False, fever=False, feeling_unwell=False, hydrated=True
    )
    nurse = User.objects.get(username="nurse")
    infusions.pre_check(nurse, order.pk, answers, now=begin - dt.timedelta(minutes=1))


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
            PACKAGED,  # the library version, on screen too
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
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    nurse = client_for("nurse")
    begin = (timezone.now() - dt.timedelta(hours=5)).replace(second=0, microsecond=0)
    # the check (through htmx: a step of the day brings the whole sheet anew, in place of the
    # old one): no blocking finding, the first infusion is a warning
    page = nurse.post(url(ready, "check"), WELL, headers=HTMX)
    assert page.status_code == 200
    assert page.headers["HX-Retarget"] == "#sheet"
    assert "<html" not in html(page)
    assert "Check saved." in html(page)
    text = html(nurse.get(url(ready)))
    assert "first-infusion" in text
    assert 'id="start-form"' in text
    assert "must record an override" not in text
    # the page stamps the check with the clock; this day's check was before its start, 5 hours
    # ago (a start is never before the check: issue 14 item 7)
    InfusionSession.objects.filter(order=ready).update(checked_at=begin - dt.timedelta(minutes=5))
    # the start, 5 hours ago, with the vials inspected, given by the nurse, entered now: late
    assert start(nurse, ready, begin, visual_inspection_notes="2 lots, clear").status_code == 302
    assert Order.objects.get(pk=ready.pk).status == "in-progress"
    text = html(nurse.get(url(ready)))
    assert "provisional" not in text.split('id="steps-title"')[1].split("</caption>")[0]
    assert 'id="rate-form"' in text
    assert 'id="vitals-form"' in text
    assert "infusion running" in text  # the state badge
    assert "clear, no particles, within expiry</strong> (2 lots, clear)" in text
    assert "given by <strong>nurse</strong>" in text
    hhmm = timezone.localtime(begin).strftime("%H:%M")
    assert '<strong class="badge late-entry">late entry</strong> (entered ' in text  # issue 14
    assert f"the steps count from {hhmm})" in text
    # vital signs before the increase, then the 2nd step through htmx: a fresh rate form in
    # place of the one sent, and the parts of the sheet it changed out of band (the other
    # forms keep what is typed in them)
    assert vitals(nurse, ready, begin + dt.timedelta(minutes=28)).status_code == 302
    page = nurse.post(
        url(ready, "rate"),
        {
            "rate_ml_per_h": "51",
            "at": local(begin + dt.timedelta(minutes=30)),
            "session_version": session_version(ready),
        },
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
    page = vitals(nurse, ready, begin + dt.timedelta(minutes=31), temperature_c="38.4")
    text = html(nurse.get(url(ready)))
    assert "38.4 °C" in text
    assert "⚠ abnormal" in text
    assert "temperature 38.4 °C: at or above 38 °C" in text
    # the recommended action at once, before saving (the htmx preview of the ticked symptoms)
    preview = nurse.get(url(ready, "reaction-advice"), {"symptoms": ["headache"]}, headers=HTMX)
    assert "Mild reaction: pause the infusion" in html(preview)
    assert "restart at no more than 25.5 mL/h" in html(preview)
    assert "Basis: protocol" in html(preview)
    # a mild reaction pauses the infusion (requirement 62)
    page = reaction(
        nurse, ready, begin + dt.timedelta(minutes=35), action_taken="paused, then 25.5 mL/h"
    )
    assert page.status_code == 302
    text = html(nurse.get(url(ready)))
    reactions = text.split('id="reactions-title"')[1]
    assert "Headache" in reactions
    assert "restart at no more than 25.5 mL/h" in reactions
    assert "Basis: protocol" in reactions
    assert "Source:" in reactions
    assert "paused, then 25.5 mL/h" in reactions
    assert "infusion paused" in text
    assert 'id="rate-form"' not in text  # paused: no rate change, a restart
    resume = part(text, 'id="resume-form"')
    assert 'value="25.5"' in resume
    assert "the last tolerated rate, 25.5 mL/h, given from" in resume
    # the restart at the last tolerated rate, after vital signs, the symptoms resolved
    vitals(nurse, ready, begin + dt.timedelta(minutes=40))
    page = nurse.post(
        url(ready, "resume"),
        {
            "rate_ml_per_h": "25.5",
            "at": local(begin + dt.timedelta(minutes=40)),
            "session_version": session_version(ready),
            "symptoms_resolved": "on",
        },
        follow=True,
    )
    text = html(page)
    assert "Infusion restarted at 25.5 mL/h" in text
    assert "infusion running" in text
    # the end of the infusion: 60 minutes of observation after a first infusion
    ended = {"at": local(begin + dt.timedelta(hours=4)), "volume_given_ml": "200"}
    ended |= {"short_confirmed": "on", "short_stop_reason": "slow after the reaction"}
    page = nurse.post(url(ready, "end"), ended, follow=True)
    assert "Observe for 60 minutes" in html(page)
    assert "200 of 850 mL given (20 of 85 g)" in html(page)
    assert 'id="observation-form"' in html(page)
    # the observation cannot close early: the service's message next to the time
    early = {"at": local(begin + dt.timedelta(hours=4, minutes=20)), "notes": "well"}
    page = nurse.post(url(ready, "observation"), {**early, "version": version(ready)})
    assert page.status_code == 200
    text = html(page)
    assert 'id="id_observation_at_error"' in text
    assert "the observation lasts 60 minutes" in text
    assert Order.objects.get(pk=ready.pk).status == "in-progress"
    # after the full observation it closes, and the order is completed
    page = nurse.post(
        url(ready, "observation"),
        {"at": local(begin + dt.timedelta(hours=5)), "notes": "well", "version": version(ready)},
        follow=True,
    )
    assert "Observation closed" in html(page)
    assert Order.objects.get(pk=ready.pk).status == "completed"
    text = html(page)
    assert "Completed" in text
    assert "infusion closed" in text
    assert 'id="vitals-form"' not in text  # the day is closed


def test_the_start_needs_the_visual_inspection_and_names_the_nurse(
    client_for: Callable[[str | None], Client], users: dict[str, Any], ready: Order
) -> None:
    """Requirement 65: the vials' visual inspection and the administering nurse are required
    at the start; the nurse is chosen among the active nurses, the signed-in one by default."""
    from ivig.records.services.accounts import create_user

    other = create_user(None, "rn.second", "pw-Second-42-xx", ["nurse"], system=True)
    gone = create_user(None, "rn.gone", "pw-Gone-42-xx", ["nurse"], system=True)
    gone.is_active = False
    gone.save()
    nurse = client_for("nurse")
    at = timezone.now() - dt.timedelta(minutes=5)
    checked_before(ready, at)
    form = part(html(nurse.get(url(ready))), 'id="start-form"')
    assert "Vials inspected: clear, no particles, within expiry" in form
    assert 'type="checkbox" name="visual_inspection_ok"' in form
    assert re.search(rf'<option value="{nurse_id()}" selected>nurse</option>', form)
    assert f'<option value="{other.pk}">rn.second</option>' in form
    assert "rn.gone" not in form
    assert "pharmacist" not in form
    # not inspected: refused, the message next to the box, nothing started
    page = start(nurse, ready, at, visual_inspection_ok="")
    assert page.status_code == 200
    error = re.search(
        r'<div class="error" id="id_start_visual_inspection_ok_error">([^<]*)</div>', html(page)
    )
    assert error is not None
    assert "inspect the vials before starting" in error.group(1)
    assert Order.objects.get(pk=ready.pk).status == "dispensed"
    # given by another nurse: recorded
    assert start(nurse, ready, at, administered_by=other.pk).status_code == 302
    session = Order.objects.get(pk=ready.pk).session
    assert session.visual_inspection_ok is True
    assert session.administered_by == other
    assert session.started_by == users["nurse"]
    assert "given by <strong>rn.second</strong>" in html(nurse.get(url(ready)))


def test_a_fever_blocks_the_start_until_a_prescribers_override(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    nurse, prescriber = client_for("nurse"), client_for("prescriber")
    nurse.post(url(ready, "check"), {**WELL, "fever": "yes"})
    text = html(nurse.get(url(ready)))
    assert "fever" in text
    assert "a prescriber must record an override" in text
    assert 'id="start-form"' not in text  # the Start button is replaced by the message
    assert 'id="override-form"' not in text  # a nurse cannot override
    # a start posted anyway is refused by the service, its message shown on the sheet
    page = start(nurse, ready, timezone.now() - dt.timedelta(minutes=1))
    page = nurse.get(url(ready))
    assert "a blocking finding stands (fever)" in html(page)
    assert Order.objects.get(pk=ready.pk).status == "dispensed"
    # a nurse's override is refused before the form is read: 403, and nothing recorded
    page = nurse.post(url(ready, "override"), {"reason": "looks fine"})
    assert page.status_code == 403
    assert "Your role does not allow this" in html(page)
    assert "looks fine" not in html(nurse.get(url(ready)))
    # the prescriber sees the override form; no reason, no override (next to the field)
    assert 'id="override-form"' in html(prescriber.get(url(ready)))
    page = prescriber.post(url(ready, "override"), {"reason": " "})
    assert 'id="id_override_reason_error"' in html(page)
    reason = "37.9 after paracetamol; benefit outweighs risk, reviewed at the chair"
    assert prescriber.post(url(ready, "override"), {"reason": reason}).status_code == 302
    text = html(nurse.get(url(ready)))
    assert reason in text
    assert 'id="start-form"' in text
    now = timezone.now()  # the time left as shown: the moment of saving, after the override
    assert start(nurse, ready, now, shown_at=local(now)).status_code == 302
    assert Order.objects.get(pk=ready.pk).status == "in-progress"


def test_a_hard_limit_is_refused_on_the_field_and_counted(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    """Requirements 48 and 49: above the label's maximum, or 10 times the step, nothing is
    recorded, the nurse reads why on the field, and the attempt is counted."""
    nurse = client_for("nurse")
    begin = running(nurse, ready, 60)
    vitals(nurse, ready, begin + dt.timedelta(minutes=29))
    at = begin + dt.timedelta(minutes=30)
    page = rate(nurse, ready, "500", at)
    assert page.status_code == 200
    text = html(page)
    error = re.search(r'<div class="error" id="id_rate_rate_ml_per_h_error">([^<]*)</div>', text)
    assert error is not None
    assert error.group(1).startswith("Not recorded: 500 mL/h is above the label")
    assert "408 mL/h" in error.group(1)
    assert "— no one can record this" in error.group(1)
    assert 'class="errors hard-stop" role="alert"' in text
    assert 'value="500"' in text  # what the nurse typed is kept
    # through htmx, only the form comes back, with the same error; 5 x the planned step
    page = rate(nurse, ready, "255", at, headers=HTMX)
    assert "<html" not in html(page)
    assert html(page).lstrip().startswith('<form id="rate-form"')
    assert "Not recorded: 255 mL/h is 5 times the planned step (51 mL/h)" in html(page)
    assert Order.objects.get(pk=ready.pk).session.rate_changes.count() == 1  # the start only
    events = LimitEvent.objects.filter(kind="hard", order=ready).order_by("id")
    assert [e.rule for e in events] == ["label-maximum", "fold-5x"]
    # a time in the future is refused next to the time
    page = rate(nurse, ready, "51", timezone.now() + dt.timedelta(hours=1))
    assert 'id="id_rate_at_error"' in html(page)
    assert "in the future" in html(page)


def test_an_increase_asks_for_the_vital_signs_or_a_reason(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    """Requirement 60: without vital signs before it, an increase asks for them or for the
    reason they were not taken; with a reason it is recorded, the reason kept."""
    nurse = client_for("nurse")
    begin = running(nurse, ready, 60)
    at = begin + dt.timedelta(minutes=30)
    form = part(html(nurse.get(url(ready))), 'id="rate-form"')
    assert "vitals_missing_reason" not in form  # asked only when needed
    page = rate(nurse, ready, "51", at)
    text = html(page)
    assert "record the vital signs before increasing the rate" in text
    assert 'name="vitals_missing_reason"' in text
    assert "Reason vital signs were not taken" in text
    assert Order.objects.get(pk=ready.pk).session.rate_changes.count() == 1
    page = rate(nurse, ready, "51", at, vitals_missing_reason="patient asleep, observed well")
    assert page.status_code == 302
    change = Order.objects.get(pk=ready.pk).session.rate_changes.order_by("id").last()
    assert change is not None
    assert change.rate_ml_per_h == 51
    assert change.note == "patient asleep, observed well"


@pytest.fixture
def at_risk(users: dict[str, Any], patient: Any) -> Order:
    """The patient with diabetes (at renal risk): the plan's ceiling (3.3 mg/kg/min, 168.3 mL/h)
    is below the label's maximum (408 mL/h); day 1 yesterday, dispensed."""
    from ivig.records.models import Patient

    Patient.objects.filter(pk=patient.pk).update(risk_codes=["diabetes"])
    return _prescribe(users, patient, timezone.localdate() - dt.timedelta(days=1))


def test_a_rate_above_the_ceiling_needs_an_audited_override(
    client_for: Callable[[str | None], Client], users: dict[str, Any], at_risk: Order
) -> None:
    """Requirement 47: above the plan's ceiling, a nurse without the permission is told to call
    the prescriber; one allowed to override gives a coded reason, a note and the password, and
    the override is audited with the limit and the library version."""
    steps = [s["rate_ml_per_h"] for s in at_risk.steps]
    assert max(steps) == 168.3
    nurse = client_for("nurse")
    begin = running(nurse, at_risk, 60)
    vitals(nurse, at_risk, begin + dt.timedelta(minutes=29))
    at = begin + dt.timedelta(minutes=30)
    page = rate(nurse, at_risk, "200", at)
    text = html(page)
    assert "outside the drug library's soft limits" in text
    assert "200 mL/h is above this order&#x27;s maximum of 168.3 mL/h" in text
    assert "Call the prescriber" in text
    assert 'name="signed_by"' in text  # the prescriber signs it on the nurse's screen
    # ... but a colleague who may not override cannot sign it (a pharmacist), and a wrong
    # password of the prescriber is refused with the same words as an unknown name and as the
    # pharmacist (issue 17 item 2: "not accepted", whatever the reason)
    data = {"reason_code": "prescriber-order", "reason_text": "ordered at the chair"}
    page = rate(nurse, at_risk, "200", at, **data, signed_by="prescriber", password="wrong")
    assert "the signature was not accepted" in html(page)
    page = rate(nurse, at_risk, "200", at, **data, signed_by="nobody", password=PASSWORD)
    assert "the signature was not accepted" in html(page)
    page = rate(nurse, at_risk, "200", at, **data, signed_by="pharmacist", password=PASSWORD)
    assert "the signature was not accepted" in html(page)
    assert Order.objects.get(pk=at_risk.pk).session.rate_changes.count() == 1
    assert not LimitEvent.objects.filter(kind="soft").exists()
    # a senior nurse, allowed to override
    nurse_user = users["nurse"]
    nurse_user.user_permissions.add(Permission.objects.get(codename="override_soft_limit"))
    nurse = client_for("nurse")
    page = rate(nurse, at_risk, "200", at)
    text = html(page)
    assert 'name="password"' in text
    assert 'name="signed_by"' not in text
    assert '<option value="clinical-need">' in text
    assert "Record the rate with the override" in text
    # a wrong password: refused next to the field
    data = {"reason_code": "tolerated-before", "reason_text": "200 mL/h tolerated at the last"}
    page = rate(nurse, at_risk, "200", at, **data, password="wrong")
    assert 'id="id_rate_password_error"' in html(page)
    assert Order.objects.get(pk=at_risk.pk).session.rate_changes.count() == 1
    page = rate(nurse, at_risk, "200", at, **data, password=PASSWORD)
    assert page.status_code == 302
    assert Order.objects.get(pk=at_risk.pk).session.rate_changes.count() == 2
    event = LimitEvent.objects.get(kind="soft", order=at_risk)
    assert (event.rule, event.limit_value, event.attempted_value) == (
        "above-planned-maximum",
        168.3,
        200,
    )
    assert event.reason_code == "tolerated-before"
    assert event.catalogue_version == PACKAGED
    assert event.user == nurse_user
    assert AuditEvent.objects.filter(action="override", entity="limit").count() == 1


def test_the_prescriber_signs_an_override_on_the_nurses_sheet(
    client_for: Callable[[str | None], Client], users: dict[str, Any], at_risk: Order
) -> None:
    """Requirements 47 and 26: a nurse who may not override records the rate when the
    prescriber signs it on the nurse's screen with their own password; the override is the
    prescriber's (LimitEvent user, audit actor) and says who entered it."""
    nurse = client_for("nurse")
    begin = running(nurse, at_risk, 60)
    vitals(nurse, at_risk, begin + dt.timedelta(minutes=29))
    at = begin + dt.timedelta(minutes=30)
    data = {"reason_code": "prescriber-order", "reason_text": "tolerated 200 mL/h last time"}
    page = rate(nurse, at_risk, "200", at, **data, signed_by="prescriber", password=PASSWORD)
    assert page.status_code == 302, html(page)
    assert Order.objects.get(pk=at_risk.pk).session.rate_changes.count() == 2
    event = LimitEvent.objects.get(kind="soft", order=at_risk)
    assert event.user == users["prescriber"]
    audit_row = AuditEvent.objects.get(action="override", entity="limit")
    assert audit_row.actor == "prescriber"
    assert audit_row.reason.endswith("(entered by nurse)")


def test_a_stale_version_asks_to_reload(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    """Requirement 32: a rate sent from a sheet drawn before another change is not recorded;
    the form says where the infusion stands now and offers a reload."""
    nurse = client_for("nurse")
    begin = running(nurse, ready, 60)
    vitals(nurse, ready, begin + dt.timedelta(minutes=29))
    old = session_version(ready)
    data = {"at": local(begin + dt.timedelta(minutes=30)), "session_version": old}
    assert nurse.post(url(ready, "rate"), {**data, "rate_ml_per_h": "51"}).status_code == 302
    page = nurse.post(url(ready, "rate"), {**data, "rate_ml_per_h": "51"}, headers=HTMX)
    text = html(page)
    assert text.lstrip().startswith('<form id="rate-form"')
    assert "Someone else changed this infusion" in text
    assert "Where the infusion stands now: <strong>running</strong>" in text
    assert "Reload the sheet" in text
    assert Order.objects.get(pk=ready.pk).session.rate_changes.count() == 2
    # a reaction from the same old sheet: not recorded either, the same offer to reload
    page = reaction(nurse, ready, begin + dt.timedelta(minutes=31), session_version=old)
    text = html(page)
    assert "Someone else changed this infusion" in part(text, 'id="reaction-form"')
    assert "Reload the sheet" in part(text, 'id="reaction-form"')
    assert not Reaction.objects.exists()


def test_a_restart_above_the_last_tolerated_rate_is_refused(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    """Requirement 62: a paused infusion restarts only at or below the last tolerated rate."""
    nurse = client_for("nurse")
    begin = running(nurse, ready, 60)
    vitals(nurse, ready, begin + dt.timedelta(minutes=29))
    rate(nurse, ready, "51", begin + dt.timedelta(minutes=30))
    reaction(nurse, ready, begin + dt.timedelta(minutes=35))
    text = html(nurse.get(url(ready)))
    assert "Paused after a reaction" in text
    assert 'class="restart-max">25.5 mL/h' in text
    vitals(nurse, ready, begin + dt.timedelta(minutes=40))
    data = {
        "at": local(begin + dt.timedelta(minutes=40)),
        "session_version": session_version(ready),
        "symptoms_resolved": "on",
    }
    page = nurse.post(url(ready, "resume"), {**data, "rate_ml_per_h": "51"})
    text = html(page)
    assert "Not recorded: 51 mL/h is above 25.5 mL/h" in text
    assert Order.objects.get(pk=ready.pk).session.state == "paused"
    assert LimitEvent.objects.filter(kind="hard", rule="above-last-tolerated").count() == 1
    page = nurse.post(url(ready, "resume"), {**data, "rate_ml_per_h": "25.5"})
    assert page.status_code == 302
    assert Order.objects.get(pk=ready.pk).session.state == "running"


def test_a_stop_needs_a_prescribers_restart_order_and_medicines_make_a_task(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    """Requirement 62: a severe reaction stops the infusion, with no restart today without a
    new prescriber order; the medicines given make a task the prescriber acknowledges."""
    nurse, prescriber = client_for("nurse"), client_for("prescriber")
    begin = running(nurse, ready, 60)
    page = reaction(
        nurse,
        ready,
        begin + dt.timedelta(minutes=20),
        symptoms=["wheeze"],
        severity="severe",
        action_taken="stopped, emergency call",
        medicines_given="adrenaline 0.5 mg IM at 10:20",
    )
    assert page.status_code == 302
    text = html(nurse.get(url(ready)))
    assert "infusion stopped" in text
    assert "no restart today without a new prescriber order" in text
    assert "Call the prescriber" in text
    assert 'id="resume-form"' not in text
    assert 'id="restart-form"' not in text  # the prescriber's
    assert "Medicines given: adrenaline 0.5 mg IM at 10:20" in text
    assert "Waiting for a prescriber to acknowledge it" in text
    # the prescriber: the restart order and the task
    text = html(prescriber.get(url(ready)))
    assert 'id="restart-form"' in text
    tasks = part(text, 'id="tasks-title"', "</section>")
    assert "adrenaline 0.5 mg IM" in tasks
    task = PrescriberTask.objects.get()
    page = prescriber.post(
        url(ready, "acknowledge"), {"task_id": task.pk, "note": " "}, headers=HTMX
    )
    assert f'id="id_ack{task.pk}_note_error"' in html(page)
    page = prescriber.post(
        url(ready, "acknowledge"), {"task_id": task.pk, "note": "seen, well now"}, follow=True
    )
    assert "Acknowledged by prescriber" in html(page)
    page = prescriber.post(
        url(ready, "restart"),
        {
            "reason": "resolved, reviewed",
            "max_rate_ml_per_h": "12",
            "session_version": session_version(ready),
        },
        follow=True,
    )
    assert "Restart ordered" in html(page)
    text = html(nurse.get(url(ready)))
    resume = part(text, 'id="resume-form"')
    assert 'value="12"' in resume
    assert "the prescriber's restart order by prescriber" in resume


def test_corrected_entries_are_struck_through_and_linked(
    client_for: Callable[[str | None], Client], users: dict[str, Any], ready: Order
) -> None:
    """Requirements 11-13 on the sheet: a superseded or voided entry stays, struck through
    and marked; the entries in force have a Correct link."""
    nurse = client_for("nurse")
    begin = running(nurse, ready, 60)
    vitals(nurse, ready, begin + dt.timedelta(minutes=5), pulse_per_min="67")
    reaction(nurse, ready, begin + dt.timedelta(minutes=10))
    first = Vitals.objects.get(pulse_per_min=67)
    fixed = Vitals.objects.create(
        session=first.session, at=first.at, pulse_per_min=76, flags=[],
        recorded_by=users["nurse"], supersedes=first, correction_reason="digits swapped",
    )  # fmt: skip
    wrong = Reaction.objects.get()
    Reaction.objects.create(
        session=wrong.session, at=wrong.at, symptoms=wrong.symptoms, severity=wrong.severity,
        recommended=wrong.recommended, action_taken=wrong.action_taken,
        recorded_by=users["nurse"], supersedes=wrong, entered_in_error=True,
        correction_reason="wrong patient",
    )  # fmt: skip
    text = html(nurse.get(url(ready)))
    row = rf'<tr class="[^"]*struck[^"]*" data-vitals="{first.pk}">(.*?)</tr>'
    old = re.search(row, text, re.S)
    assert old is not None
    assert "superseded" in old.group(1)
    assert f"/corrections/vitals/{first.pk}/" not in text
    new = re.search(rf'<tr class="[^"]*" data-vitals="{fixed.pk}">(.*?)</tr>', text, re.S)
    assert new is not None
    assert "struck" not in new.group(0)
    assert "digits swapped" in new.group(1)
    assert f'href="/corrections/vitals/{fixed.pk}/">Correct</a>' in new.group(1)
    reactions = part(text, 'id="reactions-title"', "</section>")
    assert reactions.count('class="reaction finding warn struck"') == 2  # the original, the void
    assert "entered in error" in reactions
    assert "/corrections/reaction/" not in reactions


def test_every_form_sends_a_fresh_idempotency_key(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    """Requirement 29: each form carries a random key, new each time it is drawn (a double
    click sends the same key; a form drawn again after an error gets a new one)."""
    nurse = client_for("nurse")
    nurse.post(url(ready, "check"), WELL)
    key = re.compile(r'<input type="hidden" name="idempotency_key" value="([0-9a-f]{32})"')
    first = key.findall(part(html(nurse.get(url(ready))), 'id="start-form"'))
    again = key.findall(part(html(nurse.get(url(ready))), 'id="start-form"'))
    assert len(first) == len(again) == 1
    assert first != again
    page = start(nurse, ready, timezone.now(), visual_inspection_ok="", idempotency_key=first[0])
    assert key.findall(html(page))
    assert first[0] not in html(page)
    running(nurse, ready, 30)
    text = html(nurse.get(url(ready)))
    for form in ("rate-form", "vitals-form", "reaction-form", "end-form"):
        assert len(key.findall(part(text, f'id="{form}"'))) == 1, form
    keys = key.findall(text)
    assert len(keys) == len(set(keys))


def test_a_double_click_records_once(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    """Requirement 29 at the chair: the same form sent twice (a double click: the same key)
    records one rate change; the second answer is the first one's."""
    nurse = client_for("nurse")
    begin = running(nurse, ready, 60)
    vitals(nurse, ready, begin + dt.timedelta(minutes=29))
    text = html(nurse.get(url(ready)))
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', part(text, 'id="rate-form"'))
    assert key is not None
    data = {
        "rate_ml_per_h": "51",
        "at": local(begin + dt.timedelta(minutes=30)),
        "session_version": session_version(ready),
        "idempotency_key": key.group(1),
    }
    first = nurse.post(url(ready, "rate"), data, headers=HTMX)
    again = nurse.post(url(ready, "rate"), data, headers=HTMX)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == first.content
    assert Order.objects.get(pk=ready.pk).session.rate_changes.count() == 2  # start, 51


def test_impossible_vitals_are_refused_next_to_the_field(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    nurse = client_for("nurse")
    begin = running(nurse, ready, 20)
    page = nurse.post(
        url(ready, "vitals"), {"spo2_percent": "120", "pulse_per_min": "80", "at": local(begin)}
    )
    assert page.status_code == 200
    text = html(page)
    error = re.search(r'<div class="error" id="id_vitals_spo2_percent_error">([^<]*)</div>', text)
    assert error is not None
    assert "outside the accepted range" in error.group(1)
    assert 'value="120"' in text
    assert 'value="80"' in text
    assert Vitals.objects.count() == 1  # the baseline only: nothing of the refused set


def test_the_clock_times_shift_with_the_actual_start(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    nurse = client_for("nurse")
    # started yesterday (the order's day) at 09:00, in the past whatever the time of the test
    nine = timezone.make_aware(dt.datetime.combine(ready.date, dt.time(9, 0)))
    checked_before(ready, nine)
    before = html(nurse.get(url(ready)))
    assert "provisional" in before
    assert start(nurse, ready, nine).status_code == 302
    text = html(nurse.get(url(ready)))
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
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    """A page left open shows a stale 'now': left untouched, the time is that of saving."""
    nurse = client_for("nurse")
    nurse.post(url(ready, "check"), WELL)
    stale = local(timezone.now() - dt.timedelta(minutes=40))
    data = {"pulse_per_min": "74", "at": stale, "shown_at": stale}  # the baseline, saved now
    assert nurse.post(url(ready, "vitals"), data).status_code == 302
    before = timezone.now()
    data = {"at": stale, "shown_at": stale, "version": version(ready)}
    data.update(visual_inspection_ok="on", administered_by=nurse_id())
    assert nurse.post(url(ready, "start"), data).status_code == 302
    started = Order.objects.get(pk=ready.pk).session.started_at
    assert started is not None
    assert started >= before  # the moment of saving, not the stale time shown
    # a time the nurse changed is taken as typed (the vitals: not before the start)
    typed = local(timezone.now() + dt.timedelta(minutes=1))
    data = {"pulse_per_min": "80", "at": typed, "shown_at": stale}
    assert nurse.post(url(ready, "vitals"), data).status_code == 302
    recorded = Order.objects.get(pk=ready.pk).session.vitals.get(pulse_per_min=80)
    assert local(recorded.at) == typed
    # the form says so, and carries the time it shows
    text = html(nurse.get(url(ready)))
    assert "Left as shown, it is the moment you save" in text
    assert 'type="hidden" name="shown_at"' in text


def test_a_finished_step_cannot_be_redone(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    nurse = client_for("nurse")
    begin = running(nurse, ready, 10)
    page = start(nurse, ready, begin)  # a second Start (an old tab): a message, not a 500
    assert page.status_code == 302
    text = html(nurse.get(url(ready)))
    assert "in-progress" in text
    assert 'id="start-form"' not in text


def test_the_current_step_and_the_next_rate_change(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    nurse = client_for("nurse")
    begin = running(nurse, ready, 40)
    text = html(nurse.get(url(ready)))
    current = re.findall(r'<tr class="current"[^>]*>(.*?)</tr>', text, re.S)
    assert len(current) == 1
    assert "51 mL/h" in current[0]
    change = begin + dt.timedelta(minutes=60)
    assert f'Next rate change at <strong class="next-change">{local(change)[-5:]}' in text
    # the live part alone, for the refresh button
    live = nurse.get(url(ready), headers={**HTMX, "HX-Target": "live"})
    assert html(live).lstrip().startswith('<section class="card" id="live"')


def test_the_print_view(client_for: Callable[[str | None], Client], ready: Order) -> None:
    nurse = client_for("nurse")
    begin = running(nurse, ready, 20)  # entered now: 20 minutes late
    for address in (url(ready, "print"), url(ready) + "?print=1"):
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
            PACKAGED,  # the drug library version
            "Vials inspected: <strong>clear, no particles, within expiry</strong>",
            'state-running">running',
            # issue 14 item 7: the late entry marked on the printed sheet too
            f'{timezone.localtime(begin):%H:%M}</strong> <strong class="badge late-entry">late',
        ):
            assert expected in text, expected
        assert 'id="rate-form"' not in text  # a plain page: no action forms
        assert "/corrections/" not in text


def test_no_inline_style_or_script(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    nurse = client_for("nurse")
    pages = [nurse.get(url(ready))]
    nurse.post(url(ready, "check"), {**WELL, "fever": "yes"})
    pages.append(client_for("prescriber").get(url(ready)))
    pages.append(client_for("prescriber").post(url(ready, "override"), {"reason": "ok"}))
    pages.append(start(nurse, ready, timezone.now() - dt.timedelta(minutes=10)))
    pages.append(nurse.get(url(ready)))
    pages.append(nurse.post(url(ready, "vitals"), {"spo2_percent": "120", "at": "x"}))
    pages.append(rate(nurse, ready, "500", timezone.now()))
    pages.append(nurse.post(url(ready, "reaction"), {"symptoms": ["wheeze"]}, headers=HTMX))
    pages.append(nurse.get(url(ready, "reaction-advice"), {"symptoms": ["wheeze"]}))
    pages.append(reaction(nurse, ready, timezone.now(), symptoms=["wheeze"], medicines_given="x"))
    pages.append(nurse.get(url(ready)))
    pages.append(client_for("prescriber").get(url(ready)))
    pages.append(nurse.get(url(ready, "print")))
    for page in pages:
        text = html(page)
        assert 'style="' not in text
        assert re.search(r"<script(?![^>]*\bsrc=)", text) is None
        assert "<style" not in text


def test_the_reaction_form_keeps_its_input_and_previews_the_advice(
    client_for: Callable[[str | None], Client], ready: Order
) -> None:
    nurse = client_for("nurse")
    running(nurse, ready, 10)
    text = html(nurse.get(url(ready)))
    for key in ("headache", "wheeze", "anaphylaxis"):
        assert f'value="{key}"' in text  # the protocol's symptoms as checkboxes
    assert 'hx-get="/orders/' in text
    assert 'hx-target="#reaction-advice"' in text
    assert 'name="medicines_given"' in text
    # saved without the action taken: the error next to it, the symptoms kept ticked, and the
    # recommended action for them already shown
    data = {
        "symptoms": ["wheeze"],
        "at": local(timezone.now()),
        "session_version": session_version(ready),
    }
    page = nurse.post(url(ready, "reaction"), data)
    text = html(page)
    assert 'id="id_reaction_action_taken_error"' in text
    assert re.search(r'value="wheeze"[^>]*checked', text)
    assert "stop the infusion now and do not restart it today" in text
    # saved through htmx: the infusion stops, so the whole sheet comes anew
    page = nurse.post(
        url(ready, "reaction"), {**data, "action_taken": "stopped, prescriber called"}, headers=HTMX
    )
    assert page.headers["HX-Retarget"] == "#sheet"
    text = html(page)
    assert "Reaction saved (severe); the infusion is stopped." in text
    assert 'id="reactions" aria-labelledby="reactions-title"' in text
    assert 'id="rate-form"' not in text
    assert "do not restart it today" in text
    # the preview: nothing ticked, an unknown symptom
    advice = url(ready, "reaction-advice")
    assert "Tick the symptoms" in html(nurse.get(advice))
    assert "unknown symptom" in html(nurse.get(advice, {"symptoms": ["sneezing"]}))
