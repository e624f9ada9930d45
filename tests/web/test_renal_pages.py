"""The renal function on the pages (issue 14 items 2, 5 and 15): the prescribe preview shows the
eGFR with its formula, inputs and source, or that none is known; the creatinine unit is chosen,
never defaulted; the patient page lists the dated results and records one."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import CreatinineResult
from ivig.records.services.renal import add_creatinine

HTMX = {"HX-Request": "true"}
TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)

INDUCTION = {
    "indication": "lems", "phase": "induction", "product": "privigen-us", "place": "hospital",
    "start": (TODAY + dt.timedelta(days=5)).isoformat(), "days": "2", "total_g_per_kg": "",
    "dose_g_per_kg": "", "every_weeks": "", "count": "", "weight_basis": "auto", "egfr": "",
    "creatinine": "", "creatinine_unit": "",
}  # fmt: skip


def text(response: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", response.content.decode())).split())


def preview(client: Client, patient: Any, **changes: str) -> str:
    url = f"/patients/{patient.pk}/prescribe/preview/"
    response = client.post(url, {**INDUCTION, **changes}, headers=HTMX)
    assert response.status_code == 200
    return text(response)


def test_the_preview_says_when_no_renal_function_is_known(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    page = preview(client_for("prescriber"), patient)
    assert "Renal function None known" in page
    assert "renal-function-missing : no baseline renal function" in page
    assert "--" not in page.split("Screening findings", 1)[1]  # no CLI text in the findings


def test_the_preview_shows_the_egfr_its_formula_and_inputs(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    # 12 mg/dL, a man of 60 on the course's start: CKD-EPI 2021 (Inker 2021) gives about 4
    page = preview(client_for("prescriber"), patient, creatinine="12", creatinine_unit="mg/dL")
    assert re.search(r"eGFR \d mL/min/1\.73 m2 by CKD-EPI 2021", page), page
    assert "Serum creatinine 12 mg/dL" in page
    assert "Source: Inker LA et al." in page
    assert "Below the renal-risk threshold of 60 mL/min/1.73 m2 (service protocol, UNVERIFIED" in (
        page
    )
    assert "eGFR threshold for renal risk (60 mL/min/1.73 m2)" in page  # the unverified list


def test_a_creatinine_without_its_unit_is_refused_next_to_the_field(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    page = preview(client_for("prescriber"), patient, creatinine="12")
    assert "No plan: Creatinine unit : give the unit of the serum creatinine" in page


def test_the_recorded_result_is_planned_with(
    client_for: Callable[[str | None], Client], patient: Any, users: dict[str, Any]
) -> None:
    measured = TODAY - dt.timedelta(days=3)
    add_creatinine(users["nurse"], patient.pk, measured, 88.4, "umol/L", today=TODAY)
    page = preview(client_for("prescriber"), patient)
    assert f"measured on {measured.isoformat()} (8 days before the first dose" in page
    assert "Serum creatinine 88.4 umol/L (1.00 mg/dL)" in page


def test_the_patient_page_records_a_result_with_its_unit(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    nurse = client_for("nurse")
    url = f"/patients/{patient.pk}/creatinine/"
    page = text(nurse.get(f"/patients/{patient.pk}/"))
    assert "Serum creatinine" in page
    assert "No creatinine result recorded" in page
    day = TODAY.isoformat()

    def entry(**values: str) -> dict[str, str]:  # the form's fields carry its prefix
        return {f"creatinine-{name}": value for name, value in values.items()}

    refused = nurse.post(url, entry(measured_on=day, value="1.1", unit=""))
    assert refused.status_code == 200
    assert "Required: Unit." in text(refused)  # the app's words (issue 16 item 21)
    implausible = nurse.post(url, entry(measured_on=day, value="12", unit="umol/L"))
    assert "plausible in mg/dL" in text(implausible)
    assert not CreatinineResult.objects.exists()
    made = nurse.post(url, entry(measured_on=day, value="1.1", unit="mg/dL"))
    assert made.status_code == 302
    assert f"{day} 1.1 mg/dL" in text(nurse.get(f"/patients/{patient.pk}/"))
    assert client_for("pharmacist").post(url, entry(measured_on=day)).status_code == 403


def test_a_result_has_a_correction_page(
    client_for: Callable[[str | None], Client], patient: Any, users: dict[str, Any]
) -> None:
    row = add_creatinine(users["nurse"], patient.pk, TODAY, 1.2, "mg/dL", today=TODAY)
    nurse = client_for("nurse")
    assert (
        f"/corrections/creatinine/{row.pk}/"
        in nurse.get(f"/patients/{patient.pk}/").content.decode()
    )
    page = nurse.get(f"/corrections/creatinine/{row.pk}/")
    assert page.status_code == 200
    corrected = nurse.post(
        f"/corrections/creatinine/{row.pk}/",
        {"measured_on": TODAY.isoformat(), "value": "106", "unit": "umol/L", "reason": "SI units"},
    )
    assert corrected.status_code == 302, text(corrected)
    assert CreatinineResult.objects.filter(supersedes=row, unit="umol/L", value=106).exists()
