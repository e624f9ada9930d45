"""The correction pages (requirements 11, 12): a weight corrected from the patient page, a
reason required, the original struck through with the reason; vital signs corrected from the
page the run sheet links to; a void; the roles."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import InfusionSession, Order, Outcome, Vitals, WeightRecord


def html(response: Any) -> str:
    text: str = response.content.decode()
    return text


def test_correct_a_weight_from_the_patient_page(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """Requirement 11: the patient page links the correction; the original stays, struck
    through with the reason; the weight in force is the corrected one."""
    original = patient.weights.get()
    nurse = client_for("nurse")
    page = html(nurse.get(f"/patients/{patient.pk}/"))
    url = f"/corrections/weight/{original.pk}/"
    assert f'href="{url}"' in page
    form = html(nurse.get(url))
    assert 'name="reason"' in form
    assert 'name="idempotency_key"' in form
    assert 'name="weight_kg" value="86.4"' in form  # as recorded
    assert 'id="id_void-reason"' in form  # the two reasons apart
    done = nurse.post(
        url,
        {"weight_kg": "90", "measured_on": original.measured_on.isoformat(),
         "reason": "scale not zeroed"},
    )  # fmt: skip
    assert done.status_code == 302
    assert done["Location"] == f"/patients/{patient.pk}/"
    new = WeightRecord.objects.get(supersedes=original)
    assert (new.weight_kg, new.correction_reason) == (90, "scale not zeroed")
    assert WeightRecord.objects.get(pk=original.pk).weight_kg == 86.4
    page = html(nurse.get(f"/patients/{patient.pk}/"))
    assert "<del>86.4 kg</del>" in page
    assert "scale not zeroed" in page
    assert "90 kg on" in page  # the details show the weight in force
    history = html(nurse.get(url))
    assert "superseded: corrected" in history
    assert "in force" in history


def test_a_reason_is_required(client_for: Callable[[str | None], Client], patient: Any) -> None:
    """Requirement 12: no reason, no correction (the error next to the field)."""
    original = patient.weights.get()
    nurse = client_for("nurse")
    url = f"/corrections/weight/{original.pk}/"
    page = nurse.post(url, {"weight_kg": "90", "measured_on": original.measured_on.isoformat()})
    assert page.status_code == 200
    assert re.search(r'id="id_reason_error"', html(page))
    page = nurse.post(f"{url}void/", {"void-reason": "  "})
    assert page.status_code == 200
    assert 'id="id_void-reason_error"' in html(page)
    assert WeightRecord.objects.count() == 1


def test_void_an_outcome(client_for: Callable[[str | None], Client], users: dict[str, Any],
                         patient: Any) -> None:  # fmt: skip
    """Requirements 11, 13: a void keeps the entry, marked, out of the series."""
    outcome = Outcome.objects.create(
        patient=patient, measure="3tug", value=25, measured_on=timezone.localdate(),
        recorded_by=users["nurse"],
    )  # fmt: skip
    prescriber = client_for("prescriber")
    page = html(prescriber.get(f"/patients/{patient.pk}/"))
    assert f'href="/corrections/outcome/{outcome.pk}/"' in page
    done = prescriber.post(
        f"/corrections/outcome/{outcome.pk}/void/", {"void-reason": "other patient"}
    )
    assert done.status_code == 302
    assert Outcome.objects.filter(supersedes=outcome, entered_in_error=True).count() == 1
    page = html(prescriber.get(f"/patients/{patient.pk}/"))
    assert "No outcome recorded." in page
    assert "<del>" in page
    assert "other patient" in page
    again = prescriber.post(
        f"/corrections/outcome/{outcome.pk}/void/", {"void-reason": "again"}, follow=True
    )
    assert "voided already" in html(again)  # the conflict is said, nothing recorded
    assert Outcome.objects.count() == 2


def test_vitals_are_corrected_by_the_nurse_only(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Order
) -> None:
    """Requirements 11, 34, 15: impossible values refused next to the field; a pharmacist sees
    the history but no form, and a post from them records nothing."""
    now = timezone.now()
    session = InfusionSession.objects.create(
        order=dispensed, state="running", started_at=now - dt.timedelta(hours=1)
    )
    vitals = Vitals.objects.create(
        session=session, at=now - dt.timedelta(minutes=30), spo2_percent=97, pulse_per_min=80,
        recorded_by=users["nurse"],
    )  # fmt: skip
    url = f"/corrections/vitals/{vitals.pk}/"
    shown = timezone.localtime(vitals.at).strftime("%Y-%m-%dT%H:%M")
    pharmacist = client_for("pharmacist")
    page = html(pharmacist.get(url))
    assert "Save the correction" not in page
    refused = pharmacist.post(url, {"at": shown, "spo2_percent": "95", "reason": "x"})
    assert refused.status_code == 302
    nurse = client_for("nurse")
    bad = nurse.post(url, {"at": shown, "spo2_percent": "120", "pulse_per_min": "80",
                           "reason": "misread"})  # fmt: skip
    assert bad.status_code == 200
    assert 'id="id_spo2_percent_error"' in html(bad)
    done = nurse.post(url, {"at": shown, "spo2_percent": "95", "pulse_per_min": "80",
                            "reason": "misread"})  # fmt: skip
    assert done.status_code == 302
    assert done["Location"] == f"/orders/{dispensed.pk}/runsheet/"
    new = Vitals.objects.get(supersedes=vitals)
    assert (new.spo2_percent, new.pulse_per_min, new.at) == (95, 80, vitals.at)  # time kept
    assert Vitals.objects.count() == 2


def test_unknown_kind_or_entry_is_404(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    nurse = client_for("nurse")
    assert nurse.get("/corrections/lot/1/").status_code == 404
    assert nurse.get("/corrections/weight/999999/").status_code == 404


def test_a_double_submit_with_csrf_checks_corrects_once(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 29 as a browser sends it: the CSRF check reads the form first (multipart,
    so the raw body is gone); the page's nonce still makes the second submission a replay."""
    original = patient.weights.get()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(users["nurse"])
    url = f"/corrections/weight/{original.pk}/"
    page = html(browser.get(url))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    nonce = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert token is not None
    assert nonce is not None
    form = {
        "csrfmiddlewaretoken": token.group(1),
        "idempotency_key": nonce.group(1),
        "weight_kg": "91",
        "measured_on": original.measured_on.isoformat(),
        "reason": "typo",
    }
    first = browser.post(url, form)  # multipart, as the test client sends a dict
    second = browser.post(url, form)
    assert first.status_code == 302
    assert (second.status_code, second["Location"]) == (302, first["Location"])
    assert second["Idempotent-Replayed"] == "true"
    assert WeightRecord.objects.filter(supersedes=original).count() == 1
    assert browser.post(url, {**form, "csrfmiddlewaretoken": "x" * 64}).status_code == 403
