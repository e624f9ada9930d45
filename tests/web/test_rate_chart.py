"""The rate-over-time chart on the run sheet: an SVG drawn on the server (no script), the
planned steps as a step line against the recorded pump rows (a point each, a pause at
0 mL/h), axes in mL/h and minutes with the clock time, a title and a summary in words."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from ivig.interop.charts import rate_chart
from ivig.records.models import Order, RateChange
from ivig.records.services import infusions
from ivig.web.views.runsheet.sheet import context

pytestmark = pytest.mark.database

SVG = "{http://www.w3.org/2000/svg}"
NORMAL = {"pulse_per_min": 74, "systolic_mm_hg": 124, "diastolic_mm_hg": 76, "spo2_percent": 98}


def svg_of(html: str) -> ET.Element:
    found = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert found, "no SVG"
    return ET.fromstring(found.group(0))


def chart_html(user: Any, order: Order, now: dt.datetime) -> str:
    request = RequestFactory().get("/")
    request.user = user
    ctx = context(request, Order.objects.get(pk=order.pk), now)
    return render_to_string("web/partials/rate_chart.html", ctx)


def points(polyline: ET.Element) -> list[tuple[float, float]]:
    return [
        (float(x), float(y)) for x, y in (p.split(",") for p in polyline.attrib["points"].split())
    ]


@pytest.fixture
def paused_and_resumed(
    users: dict[str, Any], dispensed: Order, start_chair: Callable[..., Any], chair_now: dt.datetime
) -> Order:
    """Started 3 hours before ``chair_now``; up to step 2 at 30 min; a mild reaction at
    45 min (the pump paused: a row at 0 mL/h); resumed at step 1's rate at 60 min."""
    start = chair_now - dt.timedelta(hours=3)
    start_chair(dispensed, start)
    nurse = users["nurse"]
    steps = dispensed.steps

    def version() -> int:
        return int(Order.objects.get(pk=dispensed.pk).session.version)

    def at(minute: int) -> dt.datetime:
        return start + dt.timedelta(minutes=minute)

    infusions.record_vitals(
        nurse, dispensed.pk, at(30), infusions.VitalsInput(**NORMAL), now=chair_now
    )
    infusions.record_rate(
        nurse, dispensed.pk, version(), at(30), float(steps[1]["rate_ml_per_h"]), now=chair_now
    )
    infusions.record_reaction(
        nurse, dispensed.pk, version(), at(45), ["headache"], "pump paused", now=chair_now
    )
    infusions.resume_infusion(
        nurse, dispensed.pk, version(), at(60), float(steps[0]["rate_ml_per_h"]), now=chair_now,
        reason="settled; the prescriber agreed",  # issue 16 item 7
    )  # fmt: skip
    return dispensed


def test_the_chart_has_a_point_per_pump_row_and_the_planned_steps(
    users: dict[str, Any], paused_and_resumed: Order, chair_now: dt.datetime
) -> None:
    order = paused_and_resumed
    rows = list(RateChange.objects.filter(session__order=order).order_by("at", "id"))
    assert [r.action for r in rows] == ["start", "change", "pause", "resume"]
    html = chart_html(users["nurse"], order, chair_now)
    svg = svg_of(html)

    assert svg.attrib["role"] == "img"
    title = svg.find(f"{SVG}title")
    assert title is not None
    assert "mL/h" in (title.text or "")
    assert svg.attrib["aria-labelledby"] == title.attrib["id"]
    desc = svg.find(f"{SVG}desc")
    assert desc is not None
    summary = desc.text or ""
    assert svg.attrib["aria-describedby"] == "rate-chart-summary"
    assert 'id="rate-chart-summary"' in html  # the same summary, visible under the chart

    dots = [c for c in svg.iter(f"{SVG}circle") if "recorded-point" in c.attrib.get("class", "")]
    assert len(dots) == len(rows)
    bottom = max(float(line.attrib["y1"]) for line in svg.iter(f"{SVG}line")
                 if line.attrib.get("class") == "axis")  # fmt: skip
    pause = next(d for d in dots if "point-pause" in d.attrib["class"])
    assert float(pause.attrib["cy"]) == bottom  # 0 mL/h sits on the time axis
    assert pause.attrib["fill"] == "#ffffff"  # an open point: the pump off
    ys = [float(d.attrib["cy"]) for d in dots]
    assert ys[1] < ys[0] < ys[2]  # step 2 above step 1 above the pause at 0
    assert ys[3] == ys[0]  # resumed at step 1's rate
    xs = [float(d.attrib["cx"]) for d in dots]
    assert xs == sorted(xs)
    assert xs[1] - xs[0] == pytest.approx(2 * (xs[2] - xs[1]), abs=0.2)  # 30 min, then 15
    for row in rows:
        clock = timezone.localtime(row.at).strftime("%H:%M")
        assert f"{clock} " in summary
        assert f"{row.rate_ml_per_h:g} mL/h" in summary
    assert "pause: 0 mL/h" in summary

    planned = svg.find(f"{SVG}polyline[@class='planned']")
    assert planned is not None
    plan = points(planned)
    assert len(plan) == 2 * len(order.steps)  # each step: its start and its end at its rate
    assert len({y for _, y in plan}) == len({s["rate_ml_per_h"] for s in order.steps})
    assert plan[0][1] == ys[0]  # the first step at the start's rate
    recorded = svg.find(f"{SVG}polyline[@class='recorded']")
    assert recorded is not None
    assert points(recorded)[0] == (xs[0], ys[0])
    for step in order.steps:
        assert f"{float(step['rate_ml_per_h']):g} mL/h" in summary

    texts = [t.text or "" for t in svg.iter(f"{SVG}text")]
    assert "Pump rate (mL/h)" in texts
    assert any(t.startswith("Minutes from the start (clock time") for t in texts)
    start = timezone.localtime(rows[0].at).strftime("%H:%M")
    assert start in texts  # the x axis's first tick: minute 0 at the start's clock time
    assert "0" in texts


def test_before_the_start_the_plan_alone_provisional(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    svg = svg_of(chart_html(users["pharmacist"], dispensed, chair_now))
    assert not [
        c for c in svg.iter(f"{SVG}circle") if "recorded-point" in c.attrib.get("class", "")
    ]
    assert svg.find(f"{SVG}polyline[@class='recorded']") is None
    planned = svg.find(f"{SVG}polyline[@class='planned']")
    assert planned is not None
    assert len(points(planned)) == 2 * len(dispensed.steps)
    desc = svg.find(f"{SVG}desc")
    assert desc is not None
    assert "provisional" in (desc.text or "")
    assert "none yet" in (desc.text or "")


def test_no_chart_without_steps_or_rows() -> None:
    assert rate_chart([], [], timezone.now()) is None


def test_the_run_sheet_and_its_print_view_show_the_chart(
    client_for: Callable[[str | None], Any], paused_and_resumed: Order
) -> None:
    for url in (
        f"/orders/{paused_and_resumed.pk}/runsheet/",
        f"/orders/{paused_and_resumed.pk}/runsheet/print/",
    ):
        response = client_for("nurse").get(url)
        assert response.status_code == 200
        html = response.content.decode()
        svg = svg_of(html[html.index('class="rate-chart"') :])
        assert "rate-chart-svg" in svg.attrib["class"]
        assert (
            len(
                [
                    c
                    for c in svg.iter(f"{SVG}circle")
                    if "recorded-point" in c.attrib.get("class", "")
                ]
            )
            == 4
        )
        assert f'href="/orders/{paused_and_resumed.pk}/runsheet.pdf"' in html  # Download PDF
        assert "style=" not in html[html.index('class="rate-chart"') : html.index("</figure>")]
