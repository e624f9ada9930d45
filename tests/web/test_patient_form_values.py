"""The patient form (issue 16 items 11 and 16): no sex chosen for the user, every bad value
refused with its message, all at once beside its field, nothing typed lost; risks ticked in
labelled checkboxes grouped by kind, with no codes or command-line hints."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ivig.records.models import AuditEvent, Patient, WeightRecord

GOOD = {
    "mrn": "MRN0100",
    "family_name": "Eaton",
    "given_name": "Lee",
    "date_of_birth": "1970-02-03",
    "sex": "female",
    "height_cm": "165",
    "weight_kg": "70",
    "iga_status": "unknown",
}


def _error(html: str, field: str) -> str:
    found = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    assert found, f"no error beside {field}"
    return found.group(1)


def test_the_sex_is_not_chosen_for_the_user(client_for: Callable[[str | None], Client]) -> None:
    html = client_for("prescriber").get("/patients/new/").content.decode()
    select = re.search(r'<select name="sex"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    assert re.search(r'<option value="" selected>Choose</option>', select.group(1))
    assert "selected" not in select.group(1).split("</option>", 1)[1]


def test_every_bad_value_is_refused_at_once_beside_its_field_and_kept(
    client_for: Callable[[str | None], Client], today: dt.date
) -> None:
    prescriber = client_for("prescriber")
    before = (Patient.objects.count(), AuditEvent.objects.count())
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    data = {**GOOD, "mrn": "", "sex": "", "weight_kg": "0", "height_cm": "1,80 m",
            "date_of_birth": tomorrow, "family_name": "Eaton-Smith"}  # fmt: skip
    page = prescriber.post("/patients/new/", data)
    assert page.status_code == 200
    html = page.content.decode()
    assert _error(html, "mrn") == "Enter the MRN."
    assert _error(html, "sex") == "Choose the sex: it sets the ideal weight for dosing."
    assert _error(html, "weight_kg") == "The weight 0 kg is outside the accepted range 1-350 kg."
    assert _error(html, "height_cm") == "Enter the height as a number, e.g. 172."
    assert _error(html, "date_of_birth") == f"The date of birth {tomorrow} is in the future."
    assert "Not saved: correct these 5 values." in html  # the summary, linking each field
    assert 'href="#id_weight_kg"' in html
    for typed in ('value="Eaton-Smith"', 'value="0"', 'value="1,80 m"', f'value="{tomorrow}"'):
        assert typed in html  # nothing typed is lost
    assert (Patient.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weight_kg", "0", "The weight 0 kg is outside the accepted range 1-350 kg."),
        ("weight_kg", "-5", "The weight -5 kg is outside the accepted range 1-350 kg."),
        ("weight_kg", "820", "The weight 820 kg is outside the accepted range 1-350 kg."),
        ("weight_kg", "seventy", "Enter the weight as a number, e.g. 72.5."),
        ("weight_kg", "nan", "Enter the weight as a number, e.g. 72.5."),
        ("height_cm", "", "Enter the height."),
        ("height_cm", "30", "The height 30 cm is outside the accepted range 40-250 cm."),
        ("height_cm", "251", "The height 251 cm is outside the accepted range 40-250 cm."),
        ("date_of_birth", "", "Enter the date of birth."),
        ("date_of_birth", "1899-12-31", "The date of birth must be on or after 1900-01-01."),
        ("date_of_birth", "31/02/1970", "Enter the date of birth as a date, e.g. 1966-01-31."),
        ("sex", "", "Choose the sex: it sets the ideal weight for dosing."),
        ("family_name", "", "Enter the family name."),
    ],
)
def test_each_bad_value_has_its_message(
    client_for: Callable[[str | None], Client], field: str, value: str, message: str
) -> None:
    page = client_for("prescriber").post("/patients/new/", {**GOOD, field: value})
    assert page.status_code == 200
    assert _error(page.content.decode(), field) == message
    assert not Patient.objects.filter(mrn=GOOD["mrn"]).exists()


def test_a_weight_of_zero_is_refused_on_edit_not_dropped(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    weights = WeightRecord.objects.filter(patient=patient).count()
    data = {**GOOD, "mrn": patient.mrn, "weight_kg": "0", "version": patient.version}
    page = client_for("prescriber").post(f"/patients/{patient.pk}/edit/", data)
    assert page.status_code == 200
    assert "outside the accepted range 1-350 kg" in _error(page.content.decode(), "weight_kg")
    assert WeightRecord.objects.filter(patient=patient).count() == weights
    patient.refresh_from_db()
    assert patient.family_name != "Eaton"  # nothing saved


def test_risks_are_labelled_checkboxes_grouped_by_kind(
    client_for: Callable[[str | None], Client],
) -> None:
    prescriber = client_for("prescriber")
    html = prescriber.get("/patients/new/").content.decode()
    legends = re.findall(r'<fieldset class="risk-group">\s*<legend>([^<]*)</legend>', html)
    assert legends == [
        "Kidney and blood-clot risks (lower the maximum rate)",
        "Kidney risks (lower the maximum rate)",
        "Blood-clot (thrombosis) risks (lower the maximum rate)",
        "Conditions checked before each infusion",
    ]
    box = re.search(r'<input type="checkbox" name="risk_codes" value="diabetes" id="([^"]+)"', html)
    assert box is not None
    assert f'<label for="{box.group(1)}">Diabetes mellitus</label>' in html
    assert "<select" not in html.split('id="risk-kinds"')[1].split("</fieldset>")[0]
    assert "diabetes:" not in html  # no codes
    assert "--risk" not in html  # no command-line hints
    page = prescriber.post("/patients/new/", {**GOOD, "risk_codes": ["diabetes", "fever"]})
    assert page.status_code == 302
    assert Patient.objects.get(mrn=GOOD["mrn"]).risk_codes == ["diabetes", "fever"]


def test_ticked_risks_are_kept_when_another_value_is_refused(
    client_for: Callable[[str | None], Client],
) -> None:
    data = {**GOOD, "height_cm": "20", "risk_codes": ["thrombophilia"]}
    html = client_for("prescriber").post("/patients/new/", data).content.decode()
    assert re.search(r'value="thrombophilia" id="[^"]+" checked', html)
    assert 'value="diabetes" id="id_risk_codes_0_0">' in html  # not ticked
