"""The outcome chart on the patient page and the patient's own page (issue 16, item 20): every
measure drawn, named in words with its unit and direction, a key, a title and a description
for a screen reader, and a table with the same numbers; SVG only (no script, no inline style:
the strict CSP)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from django.test import Client

from ivig.records.services.outcomes import record_outcome

NS = "{http://www.w3.org/2000/svg}"


def _svg(html: str) -> ET.Element:
    svg = html[html.index('<svg class="chart"') : html.index("</svg>") + len("</svg>")]
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def _outcomes(users: dict[str, Any], patient: Any, today: dt.date) -> None:
    for measure, values in (("3tug", (30, 24)), ("qmg", (12, 9)), ("mrc-sum", (48, 52))):
        for days_ago, value in zip((28, 0), values, strict=True):
            when = today - dt.timedelta(days=days_ago)
            record_outcome(users["nurse"], patient.pk, measure, value, when, today=today)


def test_the_patient_page_draws_every_measure_in_words(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
) -> None:
    _outcomes(users, patient, today)
    html = client_for("nurse").get(f"/patients/{patient.pk}/").content.decode()
    svg = _svg(html)
    assert len(svg.findall(f"{NS}polyline")) == 3  # every measure, not only the first
    assert len(svg.findall(f"{NS}circle")) == 6
    labelled = svg.get("aria-labelledby", "").split()
    title = svg.find(f"{NS}title")
    assert title is not None
    assert (title.get("id"), title.text) == (
        "outcome-chart-title",
        "Outcome measures over time, one panel per measure; dashed lines mark infusions",
    )
    assert labelled == ["outcome-chart-title", "outcome-chart-desc"]
    words = " ".join(t.text or "" for t in svg.iter(f"{NS}text"))
    for heading in (
        "Triple timed up-and-go (3TUG), in seconds",
        "Quantitative Myasthenia Gravis score (QMG), in points",
        "MRC sum score, in points",
    ):
        assert heading in words
    assert words.count("↓ lower is better") == 4  # 3TUG and QMG: a panel and a key line each
    assert words.count("↑ higher is better") == 2  # MRC
    assert "dashed line: an infusion given" not in words  # none given yet
    desc = svg.find(f"{NS}desc")
    assert desc is not None
    assert "MRC sum score, in points, higher is better: 48 on" in (desc.text or "")
    assert "style=" not in html[html.index("<svg") : html.index("</svg>")]
    table = html[html.index('<details class="chart-table">') : html.index("</details>")]
    assert "The chart as a table" in table
    assert len(re.findall(r'<th scope="row">', table)) == 2  # two dates
    assert "Quantitative Myasthenia Gravis score (QMG), in points" in table


def test_the_patients_own_chart_says_lower_is_better(
    me: Any, patient: Any, users: dict[str, Any], today: dt.date
) -> None:
    record_outcome(users["nurse"], patient.pk, "mg-adl", 9, today - dt.timedelta(days=14),
                   today=today)  # fmt: skip
    record_outcome(users["nurse"], patient.pk, "mg-adl", 7, today, today=today)
    client = Client()
    client.force_login(me)
    html = client.get("/me/outcomes/").content.decode()
    svg = _svg(html)
    assert len(svg.findall(f"{NS}polyline")) == 1
    words = " ".join(t.text or "" for t in svg.iter(f"{NS}text"))
    assert "MG activities of daily living (MG-ADL), in points" in words
    assert "↓ lower is better" in words
