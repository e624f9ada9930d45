"""Hostile input through the API: Hypothesis-generated patients (names in any script, dates of
birth from the distant past to the future, any sex, heights and weights from zero and negative
to NaN, infinity and huge) and regimens (any product, indication, dose, number of days,
interval, count, start date), sent as a prescriber with the Django test client.

Every request ends in one of two ways:

- a success (200/201) whose plan keeps every invariant: no window of the indication's cap
  (28 days) holds more than the cap (2 g/kg) of the dosing weight, no step runs faster than the
  product's maximum, the steps' volumes add up to the dose's volume, and the vials hold the
  dose;
- a 4xx answer ``{"error": {"code", "message", "field"}}`` naming the field at fault.

Never a 500, never a traceback. Each example runs in a savepoint rolled back at its end, so the
examples do not see each other's records.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivig.core.library import packaged_library

CATALOGUE = packaged_library().catalogue
PRODUCTS = sorted(CATALOGUE.products)
INDICATIONS = sorted(CATALOGUE.indications)
TODAY = dt.date.today()

HOSTILE_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, -0.0, 1e-9, 1e300, 2.0**63, 9007199254740993.0]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(min_value=0.5, max_value=300),  # plausible: most should plan
)
NAMES = st.one_of(
    st.text(min_size=0, max_size=120),
    st.sampled_from(["Ødegård", "O'Brien-Smith", "李", "\u202eevil", "a\u0301" * 50, "🧪", " "]),
)
DATES = st.one_of(
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.dates(min_value=TODAY - dt.timedelta(days=365 * 110), max_value=TODAY),
)


def _one_hostile(
    plausible: dict[str, st.SearchStrategy[Any]], hostile: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """A plausible body, or one with a hostile value in one or more fields: so that some
    examples plan and the others probe one input at a time."""
    base = st.fixed_dictionaries(plausible)
    spoiled = st.lists(st.sampled_from(sorted(hostile)), min_size=1, max_size=3, unique=True)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        body = draw(base)
        if draw(st.integers(0, 2)):  # two in three: spoil some fields
            for name in draw(spoiled):
                value = draw(hostile[name])
                if value is None:
                    body.pop(name, None)
                else:
                    body[name] = value
        return body

    return build()


def _iso(dates: st.SearchStrategy[dt.date]) -> st.SearchStrategy[str]:
    return dates.map(dt.date.isoformat)


def _patient() -> st.SearchStrategy[dict[str, Any]]:
    plausible = {
        "mrn": st.from_regex(r"HX[0-9]{6}", fullmatch=True),
        "family_name": st.sampled_from(["Lambert", "Ødegård", "O'Brien-Smith", "李"]),
        "given_name": st.sampled_from(["Edward", "Zoë", "Ана"]),
        "date_of_birth": _iso(st.dates(TODAY - dt.timedelta(days=365 * 90), TODAY)),
        "sex": st.sampled_from(["male", "female"]),
        "height_cm": st.floats(min_value=140, max_value=200),
    }
    hostile = {
        "mrn": st.one_of(st.none(), st.text(max_size=50)),
        "family_name": st.one_of(st.none(), NAMES),
        "given_name": NAMES,
        "date_of_birth": st.one_of(_iso(DATES), st.text(max_size=12)),
        "sex": st.sampled_from(["other", "", "MALE", "x" * 500]),
        "height_cm": HOSTILE_FLOATS,
    }
    return _one_hostile(plausible, hostile)


def _regimen() -> st.SearchStrategy[dict[str, Any]]:
    soon = st.dates(TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=60))
    induction = {
        "indication": st.just("lems"),
        "phase": st.just("induction"),
        "product": st.sampled_from(PRODUCTS),
        "start": _iso(soon),
        "days": st.integers(1, 5),
    }
    maintenance = {
        "indication": st.just("lems"),
        "phase": st.just("maintenance"),
        "product": st.sampled_from(PRODUCTS),
        "start": _iso(soon),
        "dose_g_per_kg": st.floats(min_value=0.2, max_value=2.0),
        "every_weeks": st.integers(1, 8),
        "count": st.integers(1, 8),
    }
    maybe_int = st.one_of(st.none(), st.integers(min_value=-5, max_value=60), st.integers())
    maybe_float = st.one_of(st.none(), HOSTILE_FLOATS, st.floats(min_value=0.1, max_value=2.5))
    hostile = {
        "indication": st.sampled_from([*INDICATIONS, "LEMS", "nope", ""]),
        "phase": st.sampled_from(["induction", "maintenance", "loading"]),
        "product": st.sampled_from([*PRODUCTS, "unknown-product", ""]),
        "start": _iso(DATES),
        "total_g_per_kg": maybe_float,
        "days": maybe_int,
        "dose_g_per_kg": maybe_float,
        "every_weeks": maybe_int,
        "count": maybe_int,
        "until": st.one_of(st.none(), _iso(DATES)),
        "weight_basis": st.sampled_from(["auto", "actual", "ideal", "adjusted", "bogus"]),
        "pregnant": st.booleans(),
        "egfr": maybe_float,
    }
    return st.one_of(_one_hostile(induction, hostile), _one_hostile(maintenance, hostile))


def _send(client: Client, url: str, body: dict[str, Any]) -> Any:
    # NaN and infinity are written as JSON's extensions (NaN, Infinity): Python's parser reads
    # them, so the server must refuse them itself
    return client.post(url, json.dumps(body, allow_nan=True), content_type="application/json")


def _refused_clearly(response: Any) -> None:
    text = response.content.decode()
    assert response.status_code != 500, text
    assert "Traceback" not in text, text
    assert 400 <= response.status_code < 500, text
    error = response.json()["error"]
    assert error["code"], error
    assert error["message"], error
    assert isinstance(error["field"], str), error
    assert error["field"], error


def _check_plan(plan: dict[str, Any]) -> None:
    """The invariants of a plan (``Plan.as_dict``)."""
    kg = plan["dosing_weight"]["kg"]
    top = plan["schedule"]["maximum_mg_per_kg_per_min"]
    concentration = plan["product"]["concentration_mg_per_ml"]
    cap, window = plan["cap_g_per_kg"], plan["cap_window_days"]
    assert math.isfinite(kg)
    assert kg > 0
    doses = plan["doses"]
    assert doses, plan
    for dose in doses:
        dose_g = dose["dose_g"]
        assert dose_g > 0
        held = sum(v["size_g"] * v["count"] for v in dose["vials"])
        assert math.isclose(held, dose_g, abs_tol=1e-6), dose  # the vials hold the dose
        assert math.isclose(dose["volume_ml"], dose_g * 1000 / concentration, abs_tol=0.01), dose
        steps = dose["steps"]
        assert steps, dose
        volume = sum(s["volume_ml"] for s in steps)
        assert math.isclose(volume, dose["volume_ml"], abs_tol=0.01 * len(steps) + 0.01), dose
        for step in steps:
            assert step["rate_mg_per_kg_per_min"] <= top + 1e-3, (step, top)
            assert step["rate_ml_per_h"] > 0, step
            assert step["end_min"] > step["start_min"], step
    dated = [(dt.date.fromisoformat(d["date"]), d["dose_g"]) for d in doses]
    for first, _ in dated:
        last = first + dt.timedelta(days=window - 1)
        grams = sum(g for day, g in dated if first <= day <= last)
        assert grams / kg <= cap + 1e-6, (first, grams, kg, cap)
    assert plan["max_28d_g_per_kg"] <= cap + 1e-3


HYPOTHESIS = settings(
    deadline=None,
    max_examples=60,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def prescriber(client_for: Callable[[str | None], Client]) -> Client:
    return client_for("prescriber")


@HYPOTHESIS
@given(body=_patient(), weight=HOSTILE_FLOATS, measured=DATES)
def test_a_hostile_patient_is_saved_or_refused_clearly(
    prescriber: Client, body: dict[str, Any], weight: Any, measured: dt.date
) -> None:
    with transaction.atomic():
        response = _send(prescriber, "/api/patients", body)
        if response.status_code == 201:
            saved = response.json()
            assert saved["mrn"] == body["mrn"].strip() or saved["mrn"] == body["mrn"]
            url = f"/api/patients/{saved['id']}/weights"
            answer = _send(
                prescriber, url, {"measured_on": measured.isoformat(), "weight_kg": weight}
            )
            if answer.status_code == 201:
                kg = answer.json()["weight_kg"]
                assert math.isfinite(kg)
                assert kg > 0
                assert kg == float(weight)
            else:
                _refused_clearly(answer)
        else:
            _refused_clearly(response)
        transaction.set_rollback(True)


@settings(HYPOTHESIS, max_examples=100)
@given(regimen=_regimen(), weight=st.one_of(st.floats(30, 200), HOSTILE_FLOATS), save=st.booleans())
def test_a_hostile_regimen_plans_safely_or_is_refused_clearly(
    prescriber: Client, patient: Any, regimen: dict[str, Any], weight: Any, save: bool
) -> None:
    with transaction.atomic():
        answer = _send(
            prescriber,
            f"/api/patients/{patient.pk}/weights",
            {"measured_on": TODAY.isoformat(), "weight_kg": weight},
        )
        if answer.status_code != 201:
            _refused_clearly(answer)
        url = f"/api/patients/{patient.pk}/courses" + ("" if save else "/preview")
        response = _send(prescriber, url, regimen)
        if response.status_code in (200, 201):
            body = response.json()
            plan = body["plan"] if save else body
            _check_plan(plan)
            if save:
                assert len(body["orders"]) == len(plan["doses"])
                for order, dose in zip(body["orders"], plan["doses"], strict=True):
                    assert order["dose_g"] == dose["dose_g"]
                    assert order["volume_ml"] == dose["volume_ml"]
        else:
            _refused_clearly(response)
        transaction.set_rollback(True)


@settings(HYPOTHESIS, max_examples=40)
@given(
    days=st.integers(2, 5),
    gap=st.integers(0, 90),
    dose=st.one_of(st.floats(0.2, 2.0), st.sampled_from([0.4, 1.0, 2.0])),
    every_weeks=st.integers(1, 6),
    count=st.integers(1, 6),
    product=st.sampled_from(PRODUCTS),
)
def test_a_second_course_never_takes_a_window_over_the_cap(
    prescriber: Client,
    patient: Any,
    days: int,
    gap: int,
    dose: float,
    every_weeks: int,
    count: int,
    product: str,
) -> None:
    """A 2 g/kg induction, then a maintenance course starting 0-90 days later: saved only if
    every 28-day window over all the patient's orders stays within 2 g/kg of the dosing weight;
    otherwise refused with ``cap_exceeded`` naming the field (and, for the start, the earliest
    date that fits), or another clear 4xx (a soft limit needing an override)."""
    start = TODAY + dt.timedelta(days=1)
    with transaction.atomic():
        first = _send(
            prescriber,
            f"/api/patients/{patient.pk}/courses",
            {"indication": "lems", "phase": "induction", "product": "privigen-us",
             "start": start.isoformat(), "days": days},
        )  # fmt: skip
        assert first.status_code == 201, first.content
        kg = first.json()["dosing_weight_kg"]
        second = _send(
            prescriber,
            f"/api/patients/{patient.pk}/courses",
            {"indication": "lems", "phase": "maintenance", "product": product,
             "start": (start + dt.timedelta(days=gap)).isoformat(), "dose_g_per_kg": dose,
             "every_weeks": every_weeks, "count": count},
        )  # fmt: skip
        if second.status_code == 201:
            _check_plan(second.json()["plan"])
        else:
            _refused_clearly(second)
            error = second.json()["error"]
            if error["code"] == "cap_exceeded" and error["field"] == "start":
                assert error["details"]["earliest_allowed"], error
        orders = prescriber.get("/api/orders", {"patient_id": patient.pk}).json()
        dated = [(dt.date.fromisoformat(o["date"]), o["dose_g"]) for o in orders]
        assert len(dated) >= days
        for day, _ in dated:
            window = sum(g for d, g in dated if day <= d <= day + dt.timedelta(days=27))
            assert window <= 2.0 * kg + 1e-6, (day, window, kg, second.content)
        transaction.set_rollback(True)
