"""The Prescribe page: the course form, its live plan preview (htmx, saves nothing), the error
next to the field at fault, and the saved course."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.core.library import packaged_library
from ivig.records.models import AuditEvent, Course, LimitEvent, Order

PACKAGED = packaged_library().version  # the drug library the package ships
HTMX = {"HX-Request": "true"}
X, DASH = "\u00d7", "\u2013"  # as the page writes vials (2 x 40 g) and minutes (0-30)

TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = TODAY + dt.timedelta(days=5)


def day(n: int) -> str:
    """The course's day ``n`` (0: its start) as the page writes it."""
    return (START + dt.timedelta(days=n)).isoformat()


def in_words(n: int) -> str:
    """The course's day ``n`` as the cap refusal says it (issue 16 item 14): '4 January 2027'."""
    when = START + dt.timedelta(days=n)
    return f"{when.day} {when:%B} {when.year}"


# The fixture patient (100 kg, 180 cm, a man born 1966): LEMS induction over 2 days.
INDUCTION = {
    "indication": "lems",
    "phase": "induction",
    "product": "privigen-us",
    "place": "hospital",
    "start": day(0),
    "days": "2",
    "total_g_per_kg": "",
    "dose_g_per_kg": "",
    "every_weeks": "",
    "count": "",
    "weight_basis": "auto",
    "egfr": "",
}


def url(patient: Any, preview: bool = False) -> str:
    return f"/patients/{patient.pk}/prescribe/" + ("preview/" if preview else "")


def text(response: Any) -> str:
    """What the page says: tags dropped (each as a space), entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", response.content.decode())).split())


def markup(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def prescriber(client_for: Callable[[str | None], Client]) -> Client:
    return client_for("prescriber")


def test_the_page_is_for_prescribers_only(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    page = client_for("prescriber").get(url(patient))
    assert page.status_code == 200
    assert b'<label for="id_days">' in page.content
    for role in ("nurse", "pharmacist"):
        assert client_for(role).get(url(patient)).status_code == 403
        assert client_for(role).post(url(patient, True), INDUCTION).status_code == 403
    anonymous = client_for(None).get(url(patient))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/signin/")
    assert client_for("prescriber").get("/patients/999999/prescribe/").status_code == 404


def test_the_patient_page_links_to_it(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    assert url(patient).encode() in client_for("prescriber").get(f"/patients/{patient.pk}/").content
    assert url(patient).encode() not in client_for("nurse").get(f"/patients/{patient.pk}/").content


def test_the_preview_shows_the_plan_and_saves_nothing(prescriber: Client, patient: Any) -> None:
    before = (Course.objects.count(), Order.objects.count(), AuditEvent.objects.count())
    preview = prescriber.post(url(patient, True), INDUCTION, headers=HTMX)
    assert preview.status_code == 200
    assert b"<html" not in preview.content  # the partial only
    page = text(preview)
    # The dosing weight and why.
    assert "85.0 kg (adjusted weight)" in page
    assert "Actual 86.4 kg Ideal (Devine) 84.0 kg Adjusted 85.0 kg BMI 23.9 kg/m²" in page
    assert "Why: adjusted weight = IBW + 0.4 x (actual - IBW)" in page
    # Two doses of 85 g (prescribed 85 g, no change), each in 2 x 40 g + 1 x 5 g, 850 mL.
    rows = re.findall(r"<tr><td>(\d)</td><td[^>]*>([\d-]+)</td>(.*?)</tr>", markup(preview), re.S)
    assert [(n, date) for n, date, _ in rows] == [("1", day(0)), ("2", day(1))]
    for _, _, row in rows:
        cells = [" ".join(c.split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        vials = f"2 {X} 40 g + 1 {X} 5 g"
        assert cells == ["85 g", "<strong>85 g</strong>", "0%", vials, "850 mL"]
    assert "2 doses, 170 g (1700 mL) in all" in page
    # The rate steps: from 25.5 mL/h (0.5 mg/kg/min, label) to 408 mL/h (8 mg/kg/min).
    assert f"Dose 1 ({day(0)}), 850 mL" in page
    assert f"1 0{DASH}30 25.5 mL/h 0.5 12.75 mL label" in page
    assert f"5 120{DASH}216.9 408 mL/h 8 658.75 mL protocol" in page
    assert "Total time 3 h 37 min (216.9 min)" in page
    assert f"Dose 2 ({day(1)}): the same steps as dose 1 (total time 3 h 37 min)." in page
    # The schedule used, off-label for LEMS, with its source.
    assert "US PI, CIDP schedule (label; off-label for LEMS); maximum 8 mg/kg/min" in page
    assert "Source: Privigen US Prescribing Information" in page
    assert "Service protocol (not label): double the rate at each step" in page
    # The fullest 28 days against the cap.
    assert "2.00 of the 2 g/kg cap (170 of 170 g on 85.0 kg)." in page
    # The findings (with their source), the catalogue version, the unverified values.
    assert "warn first-infusion : first IVIG infusion: reactions are most likely" in page
    assert "Source: EU SmPC wording" in page
    assert f"catalogue version {PACKAGED}" in page
    assert "Unverified This plan uses catalogue values not yet verified" in page
    assert "privigen-us vial sizes" in page
    assert "BLOCK" not in page
    # Nothing was saved, not even an audit event.
    assert (Course.objects.count(), Order.objects.count(), AuditEvent.objects.count()) == before


def test_the_preview_needs_a_post_and_a_product(prescriber: Client, patient: Any) -> None:
    got = prescriber.get(url(patient, True))  # a GET opens the page (issue 16 item 2)
    assert (got.status_code, got["Location"]) == (302, url(patient))
    preview = prescriber.post(url(patient, True), {**INDUCTION, "product": ""}, headers=HTMX)
    assert "To see the plan, fill in: Product ." in text(preview)  # no silent default product
    page = text(prescriber.get(url(patient)))  # the first preview comes with the page
    assert "To see the plan, fill in: Indication , Product ." in page  # no default indication


def test_the_preview_shows_an_error_of_the_planner(prescriber: Client, patient: Any) -> None:
    preview = prescriber.post(url(patient, True), {**INDUCTION, "days": "7"}, headers=HTMX)
    assert (
        "No plan: Induction: consecutive days : induction is given over 2 to 5 consecutive days "
        "for LEMS (asked for 7)"
    ) in text(preview)
    assert '<a href="#id_days">' in markup(preview)
    preview = prescriber.post(url(patient, True), {**INDUCTION, "egfr": "x"}, headers=HTMX)
    assert '<a href="#id_egfr">' in markup(preview)
    assert "Enter a number." in text(preview)


def test_a_bad_input_is_shown_next_to_its_field_and_the_rest_is_kept(
    prescriber: Client, patient: Any
) -> None:
    page = prescriber.post(url(patient), {**INDUCTION, "days": "7", "egfr": "75"})
    assert page.status_code == 200
    content = markup(page)
    field = re.search(r'<div class="field has-error">(.*?)</div>\s*</div>', content, re.S)
    assert field is not None  # the days field, with its error inside
    assert 'name="days" value="7"' in field.group(1)
    assert '<div class="error" id="id_days_error">induction is given over 2 to 5' in field.group(1)
    assert 'aria-invalid="true"' in field.group(1)
    assert f'value="{day(0)}"' in content
    assert 'name="egfr" value="75"' in content
    assert '<option value="privigen-us" selected>' in content
    assert "No plan:" in text(page)  # and in the preview
    assert Course.objects.count() == 0


def test_the_cap_is_shown_in_the_preview_and_next_to_the_field(
    users: dict[str, Any], prescriber: Client, patient: Any
) -> None:
    from ivig.records.services import courses

    # Over the cap on its own: blamed on the total, next to it on submit.
    preview = prescriber.post(
        url(patient, True), {**INDUCTION, "total_g_per_kg": "3"}, headers=HTMX
    )
    assert "this course would give 3 g/kg between" in text(preview)
    assert "the cap is 2 g/kg in any 28 days for LEMS" in text(preview)
    assert '<a href="#id_total_g_per_kg">' in markup(preview)
    page = prescriber.post(url(patient), {**INDUCTION, "total_g_per_kg": "3"})
    assert re.search(r'id="id_total_g_per_kg_error">[^<]*the cap is 2 g/kg', markup(page))
    courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput("lems", "induction", "privigen-us", "hospital", START),
    )
    # With the patient's other course: blamed on the first dose's date, with the earliest date.
    again = {**INDUCTION, "start": day(14)}
    preview = prescriber.post(url(patient, True), again, headers=HTMX)
    assert (
        "No plan: First dose : with the earlier doses, this course would give 3 g/kg between "
        f"{in_words(0).split()[0]} "  # '1 and 28 December 2026', or across months in full
    ) in text(preview)
    assert (
        f"{in_words(27)}; the cap is 2 g/kg in any 28 days for LEMS; the earliest start is "
        f"{in_words(28)}"
    ) in text(preview)
    assert '<a href="#id_start">' in markup(preview)
    page = prescriber.post(url(patient), again)
    assert re.search(r'id="id_start_error">[^<]*the cap is 2 g/kg', markup(page))
    assert f'name="start" value="{day(14)}"' in markup(page)
    assert Course.objects.count() == 1
    # The patient's product is offered first now, and the page comes with its plan (or error).
    page = prescriber.get(url(patient))
    assert '<option value="privigen-us" selected>' in markup(page)
    assert "To see the plan" not in text(page)
    # Later, outside the 28 days, the other course's doses are counted and shown.
    later = text(prescriber.post(url(patient, True), {**again, "start": day(35)}, headers=HTMX))
    assert "2.00 of the 2 g/kg cap" in later
    assert "counting 170 g of the patient's other recorded or planned doses" in later


def test_a_patient_without_a_weight_cannot_be_planned(
    users: dict[str, Any], prescriber: Client
) -> None:
    from ivig.records.services.patients import PatientInput, create_patient

    record = create_patient(
        users["prescriber"],
        PatientInput("MRN0009", "Ng", "Ada", dt.date(1980, 1, 2), "female", 165),
        today=TODAY,
    )
    assert "no weight recorded ( record one )" in text(prescriber.get(url(record)))
    preview = prescriber.post(url(record, True), INDUCTION, headers=HTMX)
    assert "No plan: record the patient's weight before prescribing" in text(preview)
    assert f'<a href="/patients/{record.pk}/edit/">edit the patient</a>' in markup(preview)
    page = prescriber.post(url(record), INDUCTION)
    assert '<div class="errors" role="alert"><p>record the patient' in markup(page)  # above
    assert Course.objects.count() == 0


def test_a_maintenance_preview(prescriber: Client, patient: Any) -> None:
    data = {**INDUCTION, "phase": "maintenance", "dose_g_per_kg": "0.4", "every_weeks": "4"}
    preview = prescriber.post(url(patient, True), data, headers=HTMX)
    assert '<a href="#id_count">' in markup(preview)  # the number of doses is needed
    preview = prescriber.post(url(patient, True), {**data, "count": "3"}, headers=HTMX)
    page = text(preview)
    assert "LEMS maintenance" in page
    # 34 g (0.4 g/kg of 85 kg) each, rounded to whole vials; the induction days are not used.
    vials = f"1 {X} 20 g + 1 {X} 10 g + 1 {X} 5 g"
    assert f"1 {day(0)} 34 g 35 g +2.9% {vials} 350 mL 2 {day(28)}" in page
    assert "3 doses, 105 g (1050 mL) in all" in page
    assert f"Dose 3 ({day(56)}): the same steps as dose 1 (total time 2 h 24 min)." in page
    assert "0.41 of the 2 g/kg cap (35 of 170 g on 85.0 kg)." in page


def test_submitting_saves_the_course_and_goes_to_the_patient(
    prescriber: Client, patient: Any
) -> None:
    response = prescriber.post(url(patient), INDUCTION)
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/"
    course = Course.objects.get()
    assert course.patient_id == patient.pk
    assert course.dosing_weight_kg == 85.0
    assert course.regimen["days"] == 2
    assert course.regimen["dose_g_per_kg"] is None  # maintenance fields of an induction: None
    assert course.regimen["count"] is None
    orders = list(course.orders.order_by("sequence"))
    assert [(o.date, o.dose_g) for o in orders] == [
        (START, 85.0),
        (START + dt.timedelta(days=1), 85.0),
    ]
    page = text(prescriber.get(response["Location"]))
    prescribed = "Course prescribed: LEMS induction, Privigen (US), 2 doses (170 g)"
    assert f"{prescribed} from {day(0)}." in page


def test_the_pages_have_no_inline_script_or_style(prescriber: Client, patient: Any) -> None:
    for response in (
        prescriber.get(url(patient)),
        prescriber.post(url(patient), {**INDUCTION, "days": "7"}),
        prescriber.post(url(patient, True), INDUCTION, headers=HTMX),
    ):
        content = markup(response)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", content)
        assert 'style="' not in content
        assert not re.search(r"<[^>]+\son[a-z]+=", content)  # no inline event handlers
    page = markup(prescriber.get(url(patient)))
    # Every input has its label.
    for name in INDUCTION.keys() | {"pregnant"}:
        assert f'<label for="id_{name}">' in page
    assert "unsafe-inline" not in prescriber.get(url(patient)).headers["Content-Security-Policy"]


# --- soft limits and the override (requirements 47, 26); the re-plan (requirement 46) -----------

PASSWORD = "infusion-chair-42-Xq"  # tests/conftest.py
# LEMS maintenance above the usual 0.4-1.0 g/kg: a soft limit
HIGH = {
    **INDUCTION,
    "phase": "maintenance",
    "dose_g_per_kg": "1.2",
    "every_weeks": "4",
    "count": "2",
}


def _signed(page: Any, **fields: str) -> dict[str, str]:
    """The override fields as the page offers them (the limits it showed), filled in."""
    shown = re.search(r'name="override-acknowledged" value="([^"]*)"', markup(page))
    assert shown is not None, "no override form"
    return {
        "override-acknowledged": shown.group(1),
        "override-reason_code": "prescriber-order",
        "override-reason_text": "agreed at the neurology MDT",
        "override-password": PASSWORD,
        **{f"override-{k}": v for k, v in fields.items()},
    }


def test_the_preview_lists_the_soft_limits_ahead(prescriber: Client, patient: Any) -> None:
    """Requirement 47: the prescriber sees that an override is needed before submitting."""
    page = text(prescriber.post(url(patient, True), HIGH, headers=HTMX))
    assert "Override needed This course needs an override" in page
    said = (
        "1.2 g/kg per infusion is above the usual 0.4-1 g/kg for LEMS maintenance (UNVERIFIED), "
        "and more than the 1 g/kg a day the labels give: divide it over consecutive days"
    )
    assert f"dose-outside-usual-range : {said} (limit 1 g/kg; this course 1.2 g/kg)" in page
    # The same rule, as the plan's finding (issue 14 item 11: one rule for plan, preview, order)
    assert f"dose-outside-usual-range : {said}; check the dose" in page
    assert "Override needed" not in text(
        prescriber.post(url(patient, True), INDUCTION, headers=HTMX)
    )


def test_a_course_outside_a_soft_limit_is_saved_only_with_a_signed_override(
    prescriber: Client, patient: Any
) -> None:
    """Requirements 47, 26: the submit brings up the override form; a wrong password or a
    missing note is shown next to its field; signed, the course is saved and the override
    recorded."""
    first = prescriber.post(url(patient), HIGH)
    assert first.status_code == 200
    content = markup(first)
    for name in ("reason_code", "reason_text", "password"):
        assert f'<label for="id_override-{name}">' in content
    assert "The prescriber ordered it for this patient" in content  # a coded reason
    assert "Prescribe with this override" in content
    assert "1.2 g/kg per infusion is above the usual 0.4-1 g/kg" in text(first)
    assert Course.objects.count() == 0

    wrong = prescriber.post(url(patient), {**HIGH, **_signed(first, password="guess")})
    error = re.search(r'id="id_override-password_error">([^<]*)<', markup(wrong))
    assert error is not None
    assert "your password was not accepted" in error.group(1)  # issue 17 item 2
    assert "guess" not in markup(wrong)  # a password is never sent back
    assert Course.objects.count() == 0

    no_note = prescriber.post(url(patient), {**HIGH, **_signed(first, reason_text=" ")})
    assert re.search(r'id="id_override-reason_text_error">say why in a note', markup(no_note))
    assert Course.objects.count() == 0

    done = prescriber.post(url(patient), {**HIGH, **_signed(first)})
    assert done.status_code == 302
    assert Course.objects.count() == 1
    event = LimitEvent.objects.get()
    assert (event.kind, event.rule, event.reason_code) == (
        "soft",
        "dose-outside-usual-range",
        "prescriber-order",
    )
    assert "with your override (prescriber-order)" in text(prescriber.get(done["Location"]))


def test_a_course_changed_after_the_limits_were_shown_is_shown_again(
    prescriber: Client, patient: Any
) -> None:
    """Requirement 47: an override signs the limits the prescriber saw, not others."""
    first = prescriber.post(url(patient), HIGH)
    changed = prescriber.post(url(patient), {**HIGH, **_signed(first, acknowledged="")})
    assert "have changed since they were shown" in text(changed)
    assert 'name="override-acknowledged" value="dose-outside-usual-range"' in markup(changed)
    assert Course.objects.count() == 0


def test_a_prescriber_not_allowed_to_override_gets_no_override_form(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 47: the form is only for users holding the override permission."""
    from django.contrib.auth.models import Group, Permission

    from ivig.records.services.accounts import create_user

    permission = Permission.objects.get(codename="override_soft_limit")
    Group.objects.get(name="prescriber").permissions.remove(permission)
    junior = Client()
    junior.force_login(create_user(None, "dr.junior", PASSWORD, ["prescriber"], system=True))
    page = junior.post(url(patient), HIGH)
    assert "You may not override a soft limit: ask a prescriber who may." in text(page)
    assert "id_override-password" not in markup(page)
    assert Course.objects.count() == 0


def test_a_hard_limit_offers_no_override(prescriber: Client, patient: Any) -> None:
    """Requirement 48: over the cap, the page shows the refusal, never an override form."""
    page = prescriber.post(url(patient), {**INDUCTION, "total_g_per_kg": "3"})
    assert "the cap is 2 g/kg in any 28 days" in text(page)
    assert "id_override-password" not in markup(page)
    assert Course.objects.count() == 0


# --- the re-plan page ----------------------------------------------------------------------------


def _course(users: dict[str, Any], patient: Any, **changes: Any) -> Course:
    from ivig.records.services import courses

    fields = {"indication": "lems", "phase": "induction", "product": "privigen-us",
              "place": "hospital", "start": START, "days": 2, **changes}  # fmt: skip
    override = changes.pop("override", None)
    fields.pop("override", None)
    return courses.prescribe(
        users["prescriber"], patient.pk, courses.CourseInput(**fields), override=override
    )


def test_the_re_plan_page_shows_what_changes_and_re_plans(
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    patient: Any,
    library: Callable[..., str],
) -> None:
    """Requirement 46: what a re-plan does, order by order, then the audited re-plan with a
    reason; for prescribers only."""
    course = _course(users, patient)
    library("2026.12.0", {"initial = 0.5\nmaximum = 8\n": "initial = 0.5\nmaximum = 6\n"})
    replan = f"/courses/{course.pk}/replan/"
    for role in ("pharmacist", "nurse", "admin"):
        assert client_for(role).get(replan).status_code == 403
    prescriber = client_for("prescriber")
    page = prescriber.get(replan)
    assert page.status_code == 200
    words = text(page)
    assert f"Planned with drug library {PACKAGED} ; the library in service is 2026.12.0" in words
    assert f"1 {day(0)} planned {PACKAGED} 85 g 850 mL 85 g 850 mL" in words
    assert words.count("planned again") == 2
    content = markup(page)
    assert '<label for="id_reason">' in content
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", content)
    assert 'style="' not in content

    blank = prescriber.post(replan, {"version": course.version, "reason": ""})
    assert 'id="id_reason_error"' in markup(blank)
    done = prescriber.post(replan, {"version": course.version, "reason": "library 2026.12.0"})
    assert done.status_code == 302
    assert done["Location"] == f"/patients/{patient.pk}/"
    assert set(Order.objects.values_list("catalogue_version", flat=True)) == {"2026.12.0"}
    assert (
        f"re-planned with drug library 2026.12.0 (was {PACKAGED}): 2 orders planned again"
        in text(prescriber.get(done["Location"]))
    )
    assert AuditEvent.objects.filter(action="replan", entity="order").count() == 2
    stale = prescriber.post(replan, {"version": course.version, "reason": "again"})
    assert stale.status_code == 409
    assert "has changed since you read it" in text(stale)


def test_a_re_plan_outside_a_soft_limit_needs_the_override(
    users: dict[str, Any], prescriber: Client, patient: Any, library: Callable[..., str]
) -> None:
    """Requirements 46, 47: the re-plan page asks for the override and saves with it."""
    from ivig.records.services.limits import Override

    course = _course(
        users, patient, phase="maintenance", days=None, dose_g_per_kg=1.2, every_weeks=4, count=2,
        override=Override("prescriber-order", "agreed at MDT", PASSWORD),
    )  # fmt: skip
    library("2026.12.0")
    replan = f"/courses/{course.pk}/replan/"
    assert "Override needed" in text(prescriber.get(replan))
    reason = {"version": course.version, "reason": "library 2026.12.0"}
    first = prescriber.post(replan, reason)
    assert "Re-plan with this override" in text(first)
    assert set(Order.objects.values_list("catalogue_version", flat=True)) == {PACKAGED}
    done = prescriber.post(replan, {**reason, **_signed(first)})
    assert done.status_code == 302
    assert set(Order.objects.values_list("catalogue_version", flat=True)) == {"2026.12.0"}


def test_a_double_click_on_prescribe_saves_one_course(prescriber: Client, patient: Any) -> None:
    """Requirement 29: the page's nonce makes a second submission replay the first (a
    maintenance course would otherwise be saved twice); the live preview does not send it."""
    page = markup(prescriber.get(url(patient)))
    assert 'hx-params="not idempotency_key"' in page
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None
    body = {**INDUCTION, "phase": "maintenance", "dose_g_per_kg": "0.4", "every_weeks": "4",
            "count": "1", "idempotency_key": key.group(1)}  # fmt: skip
    first = prescriber.post(url(patient), body)
    second = prescriber.post(url(patient), body)
    assert first.status_code == 302
    assert second.status_code == 302
    assert second["Idempotent-Replayed"] == "true"
    assert Course.objects.count() == 1


def test_an_excluded_weight_basis_needs_a_reason_on_the_page(
    users: dict[str, Any], prescriber: Client
) -> None:
    """Issue 14 item 3: the adjusted weight (54.9 kg) above her actual 45 kg is refused with the
    NBA rule's name; with a reason the prescriber insists, and the cap and every rate are
    checked on the actual weight too."""
    from ivig.records.services.patients import PatientInput, add_weight, create_patient

    thin = create_patient(
        users["prescriber"],
        PatientInput("MRN0045", "Reed", "Ann", dt.date(1986, 1, 2), "female", 170),
        today=TODAY,
    )
    add_weight(users["prescriber"], thin.pk, TODAY, 45, today=TODAY)
    asked = {**INDUCTION, "weight_basis": "adjusted", "total_g_per_kg": "1.6"}
    refused = text(prescriber.post(url(thin, True), asked, headers=HTMX))
    assert "NBA exclusions from adjusted body weight dosing" in refused
    insisted = {**asked, "weight_basis_reason": "agreed at the MDT"}
    preview = text(prescriber.post(url(thin, True), insisted, headers=HTMX))
    assert "No plan" not in preview
    assert "agreed at the MDT" in preview
    assert "checked against the actual weight (45 kg)" in preview
    # saving it also needs an override: 1.6 g/kg is not the indication's induction total
    assert "override" in text(prescriber.post(url(thin), insisted)).lower()


def test_a_submit_plans_once_and_saves_the_plan_it_shows(
    prescriber: Client, patient: Any, plan_work: dict[str, int]
) -> None:
    """Issue 15: the submit's preview (for the page shown again on an error) is the plan the
    save checks under the patient lock and stores: one plan, one JSON, per request."""
    shown = prescriber.post(url(patient, True), INDUCTION, headers=HTMX)
    assert "2 doses, 170 g (1700 mL) in all" in text(shown)
    assert plan_work == {"plans": 1, "documents": 1}
    response = prescriber.post(url(patient), INDUCTION)
    assert response.status_code == 302
    assert plan_work == {"plans": 2, "documents": 2}
    course = Course.objects.get()
    assert "text" not in course.plan["doses"][0]  # the page's additions are not stored
    # The same again, over the cap: the preview fails, so the save plans (and counts the hard
    # stop, requirement 48) on its own.
    over = prescriber.post(url(patient), INDUCTION)
    assert re.search(r'id="id_start_error">[^<]*the cap is 2 g/kg', markup(over))
    assert plan_work["plans"] == 4
    assert Course.objects.count() == 1
    assert LimitEvent.objects.filter(kind="hard").count() == 1
