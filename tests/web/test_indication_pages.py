"""Indications on the pages (issue 15): the prescribe form makes the prescriber choose one (no
silent LEMS), the outcome form offers the measures of the patient's indications, eligibility
shows the indication's own questions, and no page of a course names LEMS unless the course is
for LEMS."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ivig.errors import Conflict
from ivig.records.models import Course, PatientAccount
from ivig.records.services import courses, patient_reports, patients

LEMS_WORDS = ("LEMS", "Lambert-Eaton")  # the fixture patient's family name is Lambert


def prescribe(users: dict[str, Any], patient: Any, indication: str, today: dt.date) -> Any:
    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication=indication,
            phase="induction",
            product="privigen-us",
            place="infusion-centre",
            start=today + dt.timedelta(days=5),
            days=2,
        ),
    )


def options(page: str, name: str) -> list[tuple[str, bool]]:
    """The <option>s of the select ``name``: (value, selected)."""
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S)
    assert select, name
    return [
        (m.group(1), "selected" in m.group(2))
        for m in re.finditer(r'<option value="([^"]*)"([^>]*)>', select.group(0))
    ]


# --- the prescribe form --------------------------------------------------------------------------


def test_the_prescriber_chooses_the_indication(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """Every indication of the library is offered, after an empty "Choose an indication"
    that is the one selected: nothing is chosen for the prescriber."""
    page = client_for("prescriber").get(f"/patients/{patient.pk}/prescribe/").content.decode()
    offered = options(page, "indication")
    assert offered == [("", True), ("lems", False), ("cidp", False), ("mg", False), ("mmn", False)]
    assert ">Choose an indication</option>" in page
    assert "MG: Myasthenia gravis" in page


def test_the_last_course_gives_the_indication(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    prescribe(users, patient, "cidp", today)
    page = client_for("prescriber").get(f"/patients/{patient.pk}/prescribe/").content.decode()
    assert [v for v, selected in options(page, "indication") if selected] == ["cidp"]


def test_a_course_without_an_indication_is_refused_with_a_message(
    client_for: Callable[[str | None], Client], patient: Any, today: dt.date
) -> None:
    form = {
        "indication": "",
        "phase": "induction",
        "product": "privigen-us",
        "place": "hospital",
        "start": (today + dt.timedelta(days=5)).isoformat(),
        "days": "2",
        "weight_basis": "auto",
    }
    page = client_for("prescriber").post(f"/patients/{patient.pk}/prescribe/", form)
    assert page.status_code == 200
    assert "Choose the indication: there is no default." in page.content.decode()
    assert not Course.objects.exists()


# --- outcome measures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("indication", "offered"),
    [
        (None, ["3tug", "qmg", "mg-adl", "mrc-sum"]),  # no course yet: a baseline of any
        ("lems", ["3tug", "qmg", "mrc-sum", "mg-adl"]),
        ("cidp", ["mrc-sum"]),
        ("mg", ["mg-adl", "qmg"]),
        ("mmn", ["mrc-sum"]),
    ],
)
def test_the_outcome_form_offers_the_indications_measures(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
    indication: str | None,
    offered: list[str],
) -> None:
    if indication is not None:
        prescribe(users, patient, indication, today)
    nurse = client_for("nurse")
    page = nurse.get(f"/patients/{patient.pk}/").content.decode()
    assert [v for v, _ in options(page, "measure")] == offered
    if indication == "cidp":  # a measure of another indication is not offered, nor taken
        url = f"/patients/{patient.pk}/outcomes/"
        refused = nurse.post(url, {"measure": "qmg", "value": "5", "measured_on": today})
        assert refused.status_code == 200
        assert "Select a valid choice" in refused.content.decode()
        assert not patient.outcomes.exists()


def test_an_eligibility_also_gives_the_measures(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    """A baseline is often measured before the first course: the eligibility's indication
    gives the measures then."""
    patients.record_eligibility(
        users["prescriber"],
        patient.pk,
        patients.EligibilityInput(
            indication="mg",
            diagnosed_by_neurologist=True,
            alternative_therapy_failed=True,
            review_date=today + dt.timedelta(days=180),
            answers={"antibodies": "musk", "severity_measure": "qmg"},
        ),
    )
    page = client_for("nurse").get(f"/patients/{patient.pk}/").content.decode()
    assert [v for v, _ in options(page, "measure")] == ["mg-adl", "qmg"]
    # and the patient page shows the indication's own questions, in words
    assert (
        "MG: Antibodies to the acetylcholine receptor (AChR) or MuSK: MuSK positive; "
        "Severity shown by: QMG; review by"
    ) in " ".join(page.split())


# --- no page of a course names LEMS unless the course is for LEMS ------------------------------


def _pages(client_for: Callable[[str | None], Client], patient: Any, course: Any) -> list[str]:
    """The patient-facing and course pages: the handout (staff and the patient's own copy),
    the patient's plan, the patient page and the run sheet of the first order."""
    user = User.objects.create_user("edward.l", password="blue-kettle-river-93")
    PatientAccount.objects.create(user=user, patient=patient)
    own = Client()
    own.force_login(user)
    staff = client_for("nurse")
    order = course.orders.order_by("sequence").first()
    answers = [
        staff.get(f"/patients/{patient.pk}/handout/"),
        staff.get(f"/patients/{patient.pk}/"),
        staff.get(f"/orders/{order.pk}/runsheet/"),
        own.get("/me/"),
        own.get("/me/handout/"),
    ]
    assert [a.status_code for a in answers] == [200] * len(answers)
    return [a.content.decode() for a in answers]


@pytest.mark.parametrize("indication", ["cidp", "mg", "mmn"])
def test_no_page_of_another_indication_names_lems(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
    indication: str,
) -> None:
    course = prescribe(users, patient, indication, today)
    pages = _pages(client_for, patient, course)
    for page in pages:
        for words in LEMS_WORDS:
            assert words not in page
    short = {"cidp": "CIDP", "mg": "MG", "mmn": "MMN"}[indication]
    assert f"Its short name is {short}." in pages[0]
    assert f"Its short name is {short}." in pages[4]


def test_a_lems_course_names_lems(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    """The check above can fail: a LEMS course's handout names LEMS."""
    course = prescribe(users, patient, "lems", today)
    handout = _pages(client_for, patient, course)[0]
    assert "You have Lambert-Eaton myasthenic syndrome. Its short name is LEMS." in handout


def test_the_outcome_correction_offers_the_indications_measures_and_its_own(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    """Correcting an outcome offers the measures of the patient's indications, and the
    measure the entry was recorded with (so a wrong measure can be corrected)."""
    from ivig.records.services.outcomes import record_outcome

    entry = record_outcome(users["nurse"], patient.pk, "qmg", 12, today, today=today)
    prescribe(users, patient, "cidp", today)
    page = client_for("nurse").get(f"/corrections/outcome/{entry.pk}/").content.decode()
    assert [v for v, _ in options(page, "measure")] == ["mrc-sum", "qmg"]


@pytest.mark.parametrize(("indication", "offered"), [("cidp", False), ("mg", True)])
def test_the_patients_check_in_only_where_their_indication_measures_it(
    users: dict[str, Any], patient: Any, today: dt.date, indication: str, offered: bool
) -> None:
    """The patient's own MG-ADL check-in: asked of MG (and LEMS) patients, not of CIDP or MMN
    ones, whose indications do not measure it; the service refuses it too."""
    prescribe(users, patient, indication, today)
    user = User.objects.create_user("edward.l", password="blue-kettle-river-93")
    PatientAccount.objects.create(user=user, patient=patient)
    own = Client()
    own.force_login(user)
    page = own.get("/me/outcomes/").content.decode()
    assert ('class="me-form"' in page) is offered
    answers = {key: "0" for key, _, _ in patient_reports.MGADL_ITEMS}
    own.post("/me/outcomes/", answers)
    assert patient.outcomes.filter(measure="mg-adl").exists() is offered
    if not offered:
        assert "does not use this check-in for your condition" in page
        with pytest.raises(Conflict):
            patient_reports.checkin(user, dict.fromkeys(answers, 0), today=today)
