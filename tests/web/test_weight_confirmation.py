"""The patient page's weights (issue 14 item 8): a nurse records a weight; one changed by 10 %
or more from the weight in use is shown as awaiting confirmation and no course is planned on
it until a prescriber confirms it with a reason on the page; weights before birth are refused
next to the field. The fixture patient weighs 100 kg (5 days before the suite's date)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ivig.records.models import AuditEvent, WeightRecord


@pytest.fixture
def patient(make_patient: Callable[..., Any]) -> Any:
    """The suite's patient as these tests knew it, 180 cm and 100 kg: the 10 % examples."""
    return make_patient(180, 100)


def _record(client: Client, patient: Any, kg: str, on: dt.date) -> Any:
    return client.post(
        f"/patients/{patient.pk}/weights/",
        {"weight-weight_kg": kg, "weight-measured_on": on.isoformat()},
        follow=True,
    )


def test_a_changed_weight_is_confirmed_on_the_page(
    client_for: Callable[[str | None], Client], patient: Any, today: dt.date
) -> None:
    nurse, prescriber = client_for("nurse"), client_for("prescriber")
    page = _record(nurse, patient, "250", today)
    assert page.status_code == 200
    text = page.content.decode()
    assert "awaits a prescriber&#x27;s confirmation" in text  # the message after saving
    assert 'class="badge awaiting">awaits confirmation' in text
    assert "No dose is planned on 250 kg until a prescriber confirms it (150 %" in text
    assert "/confirm/" not in text  # a nurse does not confirm
    typo = WeightRecord.objects.get(weight_kg=250)
    page = prescriber.get(f"/patients/{patient.pk}/")
    assert f'action="/patients/{patient.pk}/weights/{typo.pk}/confirm/"' in page.content.decode()
    url = f"/patients/{patient.pk}/weights/{typo.pk}/confirm/"
    assert nurse.post(url, {"reason": "fine"}).status_code == 403
    empty = prescriber.post(url, {"reason": ""})
    assert empty.status_code == 200
    assert 'id="id_reason_error"' in empty.content.decode()
    done = prescriber.post(url, {"reason": "re-weighed on the ward scale"}, follow=True)
    assert "Weight confirmed" in done.content.decode()
    assert "confirmed</span> by prescriber" in done.content.decode()
    assert AuditEvent.objects.filter(action="confirm", entity="weight").count() == 1
    assert not WeightRecord.objects.get(pk=typo.pk).awaiting_confirmation


def test_a_weight_before_birth_is_refused_next_to_the_field(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    page = _record(client_for("nurse"), patient, "70", patient.date_of_birth - dt.timedelta(1))
    text = page.content.decode()
    assert 'id="id_weight-measured_on_error"' in text
    assert "before the date of birth" in text
    assert not WeightRecord.objects.filter(weight_kg=70).exists()


def test_a_small_change_needs_no_confirmation(
    client_for: Callable[[str | None], Client], patient: Any, today: dt.date
) -> None:
    page = _record(client_for("nurse"), patient, "104", today)
    text = page.content.decode()
    assert "Weight recorded." in text
    assert "awaits" not in text
    assert "4 %" in text  # the change from 100 kg, shown
