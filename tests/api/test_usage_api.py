"""``GET /api/reports/usage?from=YYYY-MM&to=YYYY-MM`` (issue 18): for the admin and the pharmacist,
the months asked (the last 12 by default), every figure with its numerator and denominator;
reading it is no patient's record read (aggregates: nothing audited); a bad month is a 422
naming the parameter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import AuditEvent, InfusionSession


def _month(today: dt.date, n: int = 0) -> str:
    index = today.year * 12 + today.month - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def test_the_report_of_a_day_at_the_chair(
    client_for: Callable[[str | None], Client], day: Any, today: dt.date
) -> None:
    """The day's running infusion (started through the services) counts as an infusion with no
    grams yet; once ended with 20 g given, its 20 g count."""
    client = client_for("pharmacist")
    before = AuditEvent.objects.count()
    body = client.get("/api/reports/usage").json()
    assert AuditEvent.objects.count() == before  # aggregates: no record read, nothing audited
    assert (body["from"], body["to"]) == (_month(today, -11), _month(today))
    assert [m["key"] for m in body["by_month"]] == [_month(today, n) for n in range(-11, 1)]
    total = body["total"]
    assert (total["infusions"], total["grams"], total["running"]) == (1, 0, 1)
    assert total["reactions_per_100"] == {
        "numerator": 0, "denominator": 1, "value": 0.0, "scale": "per 100 infusions",
    }  # fmt: skip
    InfusionSession.objects.filter(order=day.running).update(
        ended_at=timezone.now(), given_g=20.0, volume_given_ml=200.0
    )
    month = _month(today)
    body = client_for("admin").get(f"/api/reports/usage?from={month}&to={month}").json()
    assert [(m["key"], m["infusions"], m["grams"]) for m in body["by_month"]] == [(month, 1, 20)]
    assert [(p["key"], p["name"], p["grams"]) for p in body["by_product"]] == [
        (day.course.product_id, "Privigen (US)", 20)
    ]
    assert [(i["key"], i["grams"]) for i in body["by_indication"]] == [("lems", 20)]
    assert body["grams_rule"].startswith("grams given")


def test_only_the_admin_and_the_pharmacist(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    assert client_for(None).get("/api/reports/usage").status_code == 401
    for role in ("nurse", "prescriber"):
        response = client_for(role).get("/api/reports/usage")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


def test_a_bad_month_names_its_parameter(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    client = client_for("admin")
    for query, field in (
        ("from=2026-13&to=2026-12", "from"),
        ("from=2026-05&to=November", "to"),
        ("from=2026-05&to=2026-04", "to"),  # before the first
        ("from=2020-01&to=2026-01", "to"),  # over 36 months
    ):
        response = client.get(f"/api/reports/usage?{query}")
        assert response.status_code == 422, query
        assert response.json()["error"]["field"] == field, query
