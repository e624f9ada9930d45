"""The pages, through Django's test client: sign-in, patients, the patient page; forms keep what
was typed and show the error next to the field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.test import Client

PASSWORD = "infusion-chair-42-Xq"  # the users fixture's password (tests/conftest.py)


def test_sign_in_and_out(users: dict[str, Any]) -> None:
    client = Client()
    assert client.get("/patients/").status_code == 302  # to the sign-in page
    page = client.get("/signin/")
    assert page.status_code == 200
    assert b'<label for="id_username">' in page.content
    assert client.post("/signin/", {"username": "nurse", "password": PASSWORD}).status_code == 302
    assert client.get("/patients/").status_code == 200
    client.post("/signout/")
    assert client.get("/patients/").status_code == 302


def test_wrong_password_gives_one_message(users: dict[str, Any]) -> None:
    page = Client().post("/signin/", {"username": "nurse", "password": "wrong"})
    assert page.status_code == 200
    assert b"Please enter a correct username and password" in page.content


def test_patient_list_search_and_page(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    nurse = client_for("nurse")
    page = nurse.get("/patients/?q=lamb")
    assert b"Lambert" in page.content
    assert b"No patient found" in nurse.get("/patients/?q=zzz").content
    partial = nurse.get("/patients/?q=lamb", headers={"HX-Request": "true"})
    assert b"<html" not in partial.content  # htmx gets the results partial only
    assert b"Lambert" in partial.content
    page = nurse.get(f"/patients/{patient.pk}/")
    assert page.status_code == 200
    assert b"MRN0001" in page.content
    assert b"New patient" not in nurse.get("/patients/").content  # a nurse cannot create


def test_new_patient_form_keeps_input_and_shows_the_error(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    prescriber = client_for("prescriber")
    data = {"mrn": "MRN0001", "family_name": "Eaton", "given_name": "Lee",
            "date_of_birth": "1970-02-03", "sex": "female", "height_cm": "20",
            "iga_status": "unknown"}  # fmt: skip
    page = prescriber.post("/patients/new/", data)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Eaton"' in html  # what the user typed is kept
    assert 'id="id_height_cm_error"' in html  # the error next to its field
    assert "outside the accepted range" in html
    data["height_cm"] = "165"
    page = prescriber.post("/patients/new/", data)
    assert "exists already" in page.content.decode()  # the duplicate MRN, next to the MRN
    data["mrn"] = "MRN0002"
    data["weight_kg"] = "70"
    assert prescriber.post("/patients/new/", data).status_code == 302


def test_pages_send_a_csp_without_inline_script(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    page = client_for("nurse").get(f"/patients/{patient.pk}/")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert b"<script>" not in page.content
    assert page.headers["X-Frame-Options"] == "DENY"


def test_unknown_patient_is_a_404(client_for: Callable[[str | None], Client], patient: Any) -> None:
    assert client_for("nurse").get("/patients/999999/").status_code == 404


def test_polling_does_not_keep_a_screen_signed_in(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    from django.test import override_settings

    nurse = client_for("nurse")
    assert nurse.get("/patients/").status_code == 200
    session = nurse.session
    session["ivig_last_seen"] = session["ivig_last_seen"] - 21 * 60
    session.save()
    with override_settings(IDLE_MINUTES=20):
        poll = nurse.get("/patients/", headers={"HX-Request": "true", "X-Ivig-Poll": "x"})
    assert poll.status_code == 401
    assert poll.headers["HX-Redirect"].startswith("/signin/")
    assert nurse.get("/patients/").status_code == 302  # signed out


def test_record_an_outcome_from_the_patient_page(
    client_for: Callable[[str | None], Client], patient: Any, today: dt.date
) -> None:
    nurse = client_for("nurse")
    url = f"/patients/{patient.pk}/outcomes/"
    baseline, later = today - dt.timedelta(days=97), today - dt.timedelta(days=36)
    bad = nurse.post(url, {"measure": "qmg", "value": "50", "measured_on": later})
    assert bad.status_code == 200
    assert 'value="50"' in bad.content.decode()  # kept
    assert "outside the accepted range" in bad.content.decode()
    for value, day in (("30", baseline), ("23", later)):
        ok = nurse.post(url, {"measure": "3tug", "value": value, "measured_on": day})
        assert ok.status_code == 302
    page = nurse.get(f"/patients/{patient.pk}/").content.decode()
    assert "<polyline" in page
    assert "improved" in page
    assert client_for("pharmacist").post(url, {}).status_code == 403
