"""Hostile input on every form (issue 8): Hypothesis fills every field the pages show with junk
(huge and negative numbers, NaN, impossible dates, NUL characters, markup, very long text) and
posts it to every form a role may post, generated from the page table
(tests/web/test_page_access.py). Every answer is a page or a redirect, never a server error; the
junk is never shown unescaped.

An empty POST to each form is in the access matrix; the API's hostile input is in
tests/api/test_hostile_input.py, the core's in tests/core/test_hostile_input.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivig.records.models import InfusionSession

JUNK_WORDS = [
    "",
    " ",
    "0",
    "-1",
    "-0",
    "1e308",
    "1e-320",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "9" * 40,
    "2026-02-30",
    "0000-00-00",
    "9999-12-31",
    "0001-01-01",
    "25:61",
    "2026-11-25T99:99",
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\uff11\uff12\uff13",  # full-width digits
    "\u0663",  # Arabic-Indic three
    "\u202e",
    "x" * 5000,
    "true",
    "null",
    "[]",
    "{}",
]
JUNK = st.one_of(
    st.sampled_from(JUNK_WORDS),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(str),
)
MARKUP = "<script>alert(1)</script>"

# the forms, each with the role that may post it and the page that shows its fields
FORMS: list[tuple[str, str, str]] = [
    ("prescriber", "/patients/new/", "/patients/new/"),
    ("prescriber", "/patients/{patient_id}/edit/", "/patients/{patient_id}/edit/"),
    ("nurse", "/patients/{patient_id}/outcomes/", "/patients/{patient_id}/outcomes/"),
    ("prescriber", "/patients/{patient_id}/prescribe/", "/patients/{patient_id}/prescribe/"),
    (
        "prescriber",
        "/patients/{patient_id}/prescribe/preview/",
        "/patients/{patient_id}/prescribe/",
    ),
    ("prescriber", "/courses/{course_id}/replan/", "/courses/{course_id}/replan/"),
    ("pharmacist", "/pharmacy/orders/{order_id}/verify/", "/pharmacy/orders/{order_id}/verify/"),
    (
        "pharmacist",
        "/pharmacy/orders/{order_id}/dispense/",
        "/pharmacy/orders/{order_id}/dispense/",
    ),
    ("nurse", "/orders/{order_id}/runsheet/check/", "/orders/{order_id}/runsheet/"),
    ("prescriber", "/orders/{order_id}/runsheet/override/", "/orders/{order_id}/runsheet/"),
    ("nurse", "/orders/{order_id}/runsheet/start/", "/orders/{order_id}/runsheet/"),
    ("nurse", "/orders/{order_id}/runsheet/rate/", "/orders/{order_id}/runsheet/"),
    ("nurse", "/orders/{order_id}/runsheet/vitals/", "/orders/{order_id}/runsheet/"),
    ("nurse", "/orders/{order_id}/runsheet/reaction/", "/orders/{order_id}/runsheet/"),
    ("nurse", "/orders/{order_id}/runsheet/resume/", "/orders/{order_id}/runsheet/"),
    ("prescriber", "/orders/{order_id}/runsheet/restart/", "/orders/{order_id}/runsheet/"),
    ("nurse", "/orders/{order_id}/runsheet/end/", "/orders/{order_id}/runsheet/"),
    ("nurse", "/orders/{order_id}/runsheet/observation/", "/orders/{order_id}/runsheet/"),
    ("prescriber", "/orders/{order_id}/runsheet/acknowledge/", "/orders/{order_id}/runsheet/"),
    ("nurse", "/corrections/weight/{entry_id}/", "/corrections/weight/{entry_id}/"),
    ("nurse", "/corrections/weight/{entry_id}/void/", "/corrections/weight/{entry_id}/"),
    ("nurse", "/patients/{patient_id}/invite/", "/patients/{patient_id}/"),
    ("nurse", "/orders/{order_id}/defer/", "/orders/{order_id}/defer/"),
    ("prescriber", "/courses/{course_id}/cancel/", "/courses/{course_id}/cancel/"),
    # issue 18: booking an order; a unit, its chairs and hours (no unit 1: the form's errors)
    ("nurse", "/orders/{order_id}/book/", "/orders/{order_id}/book/"),
    ("admin", "/staff/units/", "/staff/units/"),
]
NAME = re.compile(r'\bname="([a-z_][\w-]*)"')
SKIP = {"csrfmiddlewaretoken"}


@pytest.fixture
def running(dispensed: Any, start_chair: Callable[..., Any], chair_now: Any) -> Any:
    """The order at the chair, running: the rate, vitals and reaction forms are live."""
    import datetime as dt

    start_chair(dispensed, chair_now - dt.timedelta(minutes=20))
    return dispensed


@pytest.fixture
def forms(
    running: Any, patient: Any, client_for: Callable[[str | None], Client]
) -> list[tuple[Client, str, list[str]]]:
    ids = {
        "patient_id": patient.pk,
        "order_id": running.pk,
        "course_id": running.course_id,
        "entry_id": patient.weights.first().pk,
    }
    clients = {role: client_for(role) for role in ("prescriber", "pharmacist", "nurse", "admin")}
    out = []
    for role, action, page in FORMS:
        html = clients[role].get(page.format(**ids)).content.decode()
        names = sorted(set(NAME.findall(html)) - SKIP) or ["reason"]
        out.append((clients[role], action.format(**ids), names))
    return out


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_junk_in_every_form_is_never_a_server_error(
    forms: list[tuple[Client, str, list[str]]], data: st.DataObject
) -> None:
    assert InfusionSession.objects.exists()
    for client, action, names in forms:
        chosen = data.draw(st.lists(st.sampled_from(names), unique=True), label=action)
        posted = {name: data.draw(JUNK, label=name) for name in chosen}
        response = client.post(action, posted)  # an exception in a view fails the test here
        assert response.status_code < 500, (action, posted, response.status_code)
        if response.status_code == 200 and MARKUP in posted.values():
            assert MARKUP.encode() not in response.content, (action, "unescaped markup")


def test_the_forms_have_fields(forms: list[tuple[Client, str, list[str]]]) -> None:
    """The table is alive: the pages show the fields the junk goes into."""
    fields = {name for _, _, names in forms for name in names}
    for expected in ("mrn", "height_cm", "dose_g", "volume_ml", "pulse_per_min", "rate_ml_per_h"):
        assert any(expected in f for f in fields), expected


def test_a_nul_character_is_refused_everywhere(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """U+0000 in a search, a form field or a JSON body: 400 (API: 422) naming the field,
    nothing stored (PostgreSQL cannot store it; before this rule, a NUL in a form's idempotency
    key was a 500 there)."""
    from ivig.records.models import AuditEvent

    nurse, prescriber = client_for("nurse"), client_for("prescriber")
    before = AuditEvent.objects.count()
    page = nurse.get("/patients/?q=lam%00bert")
    assert page.status_code == 400
    assert b"Text may not contain a NUL character (field: q)" in page.content
    form = {"family_name": "Eaton\x00", "mrn": "MRN0002"}
    page = prescriber.post("/patients/new/", form)
    assert page.status_code == 400
    assert b"(field: family_name)" in page.content
    response = prescriber.post(
        f"/api/patients/{patient.pk}/weights",
        {"measured_on": "2026-11-24", "weight_kg": 99, "note": ["ok", "bad\x00"]},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "note"
    response = nurse.get("/api/patients?q=%00")
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "invalid_input",
        "message": "text may not contain a NUL character",
        "field": "q",
    }
    assert AuditEvent.objects.count() == before
    assert nurse.get("/patients/?q=lambert").status_code == 200  # the same search without it
