"""The safety report page (requirements 57, 61): for the admin and the pharmacist, a date
range, each figure with its numerator and denominator; a nav link for them only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import InfusionSession, LimitEvent, Order


def html(response: Any) -> str:
    text: str = response.content.decode()
    return text


def test_only_the_admin_and_the_pharmacist(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    assert client_for(None).get("/reports/safety/").status_code == 302
    for role in ("nurse", "prescriber"):
        assert client_for(role).get("/reports/safety/").status_code == 403
        assert 'href="/reports/safety/"' not in html(client_for(role).get("/patients/"))
    for role in ("admin", "pharmacist"):
        page = client_for(role).get("/reports/safety/")
        assert page.status_code == 200
        assert 'href="/reports/safety/"' in html(page)  # the nav link


def test_the_figures_show_numerator_and_denominator(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Order
) -> None:
    """Requirement 57: one infusion today with one override on its order: 0 of 1 within the
    library, 1 override over 1 infusion (100 per 100)."""
    now = timezone.now()
    InfusionSession.objects.create(
        order=dispensed, state="running", started_at=now - dt.timedelta(minutes=30)
    )
    LimitEvent.objects.create(
        user=users["prescriber"], kind="soft", rule="above-usual-dose", message="m",
        entity="course", patient=dispensed.patient, order=dispensed, catalogue_version="x",
    )  # fmt: skip
    today = timezone.localdate().isoformat()
    page = client_for("pharmacist").get(f"/reports/safety/?start={today}&end={today}")
    text = " ".join(html(page).split())
    assert "Infusions started" in text
    assert (
        '<th scope="row">Run entirely within the drug library</th><td class="num">0 %</td>'
        '<td class="num">0</td><td class="num">1</td>'
    ) in text
    assert (
        '<th scope="row">Overrides</th><td class="num">100 per 100 infusions</td>'
        '<td class="num">1</td><td class="num">1</td>'
    ) in text
    assert "<td>prescriber</td>" in text
    assert "<td>Hospital</td>" in text or "<td>hospital</td>" in text


def test_a_wrong_period_is_said_next_to_the_field(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    page = client_for("admin").get("/reports/safety/?start=2026-11-30&end=2026-11-01")
    assert page.status_code == 200
    assert 'id="id_end_error"' in html(page)
    assert "Infusions started" not in html(page)
