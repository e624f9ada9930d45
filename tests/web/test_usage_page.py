"""The usage report page (issue 18): for the admin and the pharmacist (a nav link for them only),
the months asked (the last 12 by default), the SVG chart with its title and description, the
tables with each figure's numerator and denominator, the rule the grams follow, and the CSV
download (an audited export, through the one CSV writer: a formula cell is written as text)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import AuditEvent, Course, InfusionSession, Order, Reaction


def html(response: Any) -> str:
    text: str = response.content.decode()
    return " ".join(text.split())


def _infusion(users: dict[str, Any], patient: Any, product: str, started: dt.datetime,
              dose: float, given: float | None = None) -> InfusionSession:  # fmt: skip
    course = Course.objects.create(
        patient=patient, indication="lems", phase="maintenance", product_id=product,
        place="hospital", start=started.date(), regimen={}, catalogue_version="test",
        plan={"dosing_weight": {"kg": 80, "basis": "actual"}}, prescribed_by=users["prescriber"],
    )  # fmt: skip
    order = Order.objects.create(
        course=course, patient=patient, sequence=1, date=timezone.localdate(started),
        prescribed_g=dose, dose_g=dose, vials=[], volume_ml=dose * 10, steps=[],
        status="completed",
    )  # fmt: skip
    return InfusionSession.objects.create(
        order=order, state="closed", started_at=started, started_by=users["nurse"],
        ended_at=started + dt.timedelta(hours=1), given_g=given,
    )  # fmt: skip


@pytest.fixture
def given(users: dict[str, Any], patient: Any, now: dt.datetime) -> None:
    """Today: 40 g of Privigen with a reaction, and a short stop (10 g given of 40)."""
    first = _infusion(users, patient, "privigen-us", now - dt.timedelta(hours=3), 40)
    _infusion(users, patient, "privigen-us", now - dt.timedelta(hours=2), 40, given=10)
    Reaction.objects.create(
        session=first, at=first.started_at, symptoms=["chills"], severity="mild",
        recommended={}, action_taken="paused", recorded_by=users["nurse"],
    )  # fmt: skip


def test_only_the_admin_and_the_pharmacist(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    assert client_for(None).get("/reports/usage/").status_code == 302
    for role in ("nurse", "prescriber"):
        client = client_for(role)
        assert client.get("/reports/usage/").status_code == 403
        assert client.get("/reports/usage.csv").status_code == 403
        assert 'href="/reports/usage/"' not in html(client.get("/patients/"))
    for role in ("admin", "pharmacist"):
        page = client_for(role).get("/reports/usage/")
        assert page.status_code == 200
        assert 'href="/reports/usage/"' in html(page)  # the nav link


def test_the_page_shows_the_chart_the_tables_and_the_rule(
    client_for: Callable[[str | None], Client], given: None, today: dt.date
) -> None:
    page = client_for("pharmacist").get("/reports/usage/")
    text = html(page)
    month = today.strftime("%Y-%m")
    index = today.year * 12 + today.month - 12  # 11 months before this one
    first = f"{index // 12:04d}-{index % 12 + 1:02d}"
    assert f'value="{first}"' in text  # the default: the last 12 months
    assert f'value="{month}"' in text
    assert f"Infusions started {first} to {month}: 2, 50 g" in text
    assert "Grams: grams given where the end of the infusion recorded them" in text
    # the chart: an image with its title and description, a bar per month
    assert 'role="img" aria-labelledby="usage-chart-title"' in text
    assert '<title id="usage-chart-title">Grams of IVIG given each month</title>' in text
    assert f"{month}: 50 g in 2 infusion(s)" in text
    assert text.count('class="usage-bar"') == 12
    # the tables: each figure with its numerator and denominator
    assert (
        '<th scope="row">Privigen (US)</th><td class="num">50</td><td class="num">2</td>'
        '<td class="num">0</td><td class="num">50</td><td class="num">1</td>'
        '<td class="num">1</td>'
    ) in text
    assert '<th scope="row">Lambert-Eaton myasthenic syndrome</th>' in text


def test_a_wrong_period_is_said_next_to_the_field(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    page = client_for("admin").get("/reports/usage/?start=2026-11&end=2026-01")
    assert page.status_code == 200
    assert 'id="id_end_error"' in html(page)
    assert "Infusions started" not in html(page)
    bad = client_for("admin").get("/reports/usage.csv?start=2026-99&end=2026-01")
    assert bad.status_code == 422  # InvalidInput: the error page, not a file


def test_the_csv_download_is_an_audited_export(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Any,
    given: None,
    now: dt.datetime,
    today: dt.date,
) -> None:
    """The CSV of the months asked, through the one CSV writer (a product code that reads as a
    formula is written as text), and one ``export`` event in the audit trail."""
    _infusion(users, patient, "=HYPERLINK(1)", now - dt.timedelta(hours=1), 5)
    client = client_for("admin")
    before = AuditEvent.objects.filter(action="export").count()
    month = today.strftime("%Y-%m")
    response = client.get(f"/reports/usage.csv?start={month}&end={month}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="ivig-usage-{month}-to-{month}.csv"' in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0] == (
        "group,key,name,infusions,grams,running,infusions_with_reaction,reactions,reactions_per_100"
    )
    assert f"month,{month},{today:%B %Y},3,55,0,1,1,33.3" in lines
    assert "product,'=HYPERLINK(1),'=HYPERLINK(1),1,5,0,0,0,0" in lines
    assert lines[-1] == "total,total,All infusions,3,55,0,1,1,33.3"
    events = AuditEvent.objects.filter(action="export").order_by("seq")
    assert events.count() == before + 1
    last = events.last()
    assert last is not None
    assert (last.entity, last.actor, last.patient_id) == ("usage csv", "admin", None)
