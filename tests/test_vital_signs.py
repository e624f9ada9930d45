"""One list of vital signs (issue 15): every place that names them reads ``core.vitals``.

A new vital sign is its ``VITAL_SIGNS`` entry, its ``monitoring.toml`` ranges, the model column
and a migration. Each test here compares one place with the definition, so a place that misses
a sign (or keeps one no longer defined) fails: the protocol's ranges, the model, the service
input, the API body and its OpenAPI, both forms, the corrections, FHIR and the demo."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django import forms
from django.db import models

from ivig.api.api import api
from ivig.api.routes.infusions import VitalsIn
from ivig.commands.demo import _vitals
from ivig.core.library import packaged_library
from ivig.core.vitals import VITAL_FIELDS, VITAL_SIGNS
from ivig.interop.fhir import vital_observations
from ivig.records.models import Vitals
from ivig.records.services import corrections
from ivig.records.services.infusions import VitalsInput
from ivig.web.views.corrections import VitalsCorrection
from ivig.web.views.runsheet.forms import VitalsForm

DEFINED = set(VITAL_FIELDS)
INTEGER = {sign.field for sign in VITAL_SIGNS if sign.integer}


def _numbers(fields: dict[str, Any], integer: type, real: type) -> dict[str, bool]:
    """The number fields among ``fields``: name -> whether a whole number (a form's FloatField
    is an IntegerField subclass)."""
    return {
        name: not isinstance(field, real)
        for name, field in fields.items()
        if isinstance(field, integer | real)
    }


def test_the_protocol_ranges_cover_the_signs() -> None:
    assert list(packaged_library().monitoring.vitals) == list(VITAL_FIELDS)


def test_the_model_has_a_column_per_sign() -> None:
    columns = {f.name: f for f in Vitals._meta.concrete_fields if not f.primary_key}
    numbers = _numbers(columns, models.IntegerField, models.FloatField)
    assert numbers == {field: field in INTEGER for field in VITAL_FIELDS}
    assert all(columns[field].null for field in VITAL_FIELDS)


def test_the_service_input_has_a_field_per_sign() -> None:
    assert list(VitalsInput().values) == list(VITAL_FIELDS)
    given = VitalsInput(pulse_per_min=72)
    assert given.pulse_per_min == 72
    assert given.temperature_c is None
    assert given == VitalsInput(pulse_per_min=72, spo2_percent=None)
    with pytest.raises(TypeError, match="blood_sugar"):
        VitalsInput(blood_sugar=5.0)


@pytest.mark.parametrize("form", [VitalsForm, VitalsCorrection])
def test_the_forms_have_a_field_per_sign(form: type[forms.Form]) -> None:
    numbers = _numbers(dict(form.base_fields), forms.IntegerField, forms.FloatField)
    assert numbers == {field: field in INTEGER for field in VITAL_FIELDS}
    for sign in VITAL_SIGNS:
        field = form.base_fields[sign.field]
        assert (field.label, field.required) == (sign.form_label, False)


def test_the_forms_bound_each_input_by_its_possible_range() -> None:
    html = str(VitalsForm())
    for sign in VITAL_SIGNS:
        low, high = packaged_library().monitoring.vitals[sign.field].possible.value
        assert f'name="{sign.field}"' in html
        assert f'min="{low:g}" max="{high:g}" id="id_{sign.field}"' in html


def test_the_api_body_has_a_field_per_sign() -> None:
    fields = {name: f for name, f in VitalsIn.model_fields.items() if name != "at"}
    assert {name: f.annotation for name, f in fields.items()} == {
        sign.field: int | None if sign.integer else float | None for sign in VITAL_SIGNS
    }
    shown = api.get_openapi_schema()["components"]["schemas"]["VitalsIn"]["properties"]
    assert set(shown) == {"at", *VITAL_FIELDS}
    for sign in VITAL_SIGNS:
        types = [t["type"] for t in shown[sign.field]["anyOf"]]
        assert types == ["integer" if sign.integer else "number", "null"], sign.field


def test_a_correction_may_change_each_sign() -> None:
    assert corrections.KINDS["vitals"].fields == ("at", *VITAL_FIELDS)


def test_fhir_codes_each_sign() -> None:
    taken = Vitals(
        pk=1,
        session_id=1,
        at=dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC),
        **{sign.field: sign.typical[0] for sign in VITAL_SIGNS},
    )
    coded: dict[str, dict[str, Any]] = {}
    for _, observation in vital_observations(taken, patient_id=1):
        for part in observation.get("component", [observation]):
            coded[part["code"]["coding"][0]["code"]] = part["valueQuantity"]
    assert coded == {
        sign.loinc: {
            "value": sign.typical[0],
            "unit": sign.ucum,
            "system": "http://unitsofmeasure.org",
            "code": sign.ucum,
        }
        for sign in VITAL_SIGNS
    }


def test_the_demo_takes_each_sign() -> None:
    for unwell in (False, True):
        taken = _vitals(random.Random(15), unwell=unwell)
        assert all(taken.values[field] is not None for field in VITAL_FIELDS)
