"""Rich tables never cut a clinical value (issue 13): at 60, 80 and 120 columns every table of
``ivig plan``, ``products``, ``product`` and ``risks`` wraps its words or is printed stacked (one
block per row, "label: value" lines); no "…" anywhere; every dose, vial list, volume, h:mm
duration, mL/h and mg/kg/min is whole on one line; doses without trailing zeros ("85 g").

The width is ``COLUMNS``, which Rich reads when ``ivig.cli._out`` makes its console (standard
output is not a terminal here).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import pytest

WIDTHS = [60, 80, 120]
Printed = Callable[[int, list[str]], str]  # the ``printed`` fixture below

PATIENT = [
    *("--sex", "male", "--height-cm", "180", "--age", "60", "--start", "2026-12-01"),
    *("--indication", "lems"),
]
PLANS = {
    # The README's example: 85 g = 2x40 + 1x5 g a day.
    "readme": [*PATIENT, "--weight-kg", "100", "--product", "privigen-us", "--days", "2"],
    # The "1x40 + 1x20 + 1x5…" at 80 columns.
    "three-vial-sizes": [
        *PATIENT,
        *("--weight-kg", "65", "--weight-basis", "actual", "--product", "privigen-us"),
        *("--days", "2"),
    ],
    # Four vial sizes: too wide for a table at 80 columns, so stacked.
    "four-vial-sizes": [
        *PATIENT,
        *("--weight-kg", "97", "--weight-basis", "actual", "--product", "gamunex-c"),
        *("--days", "2"),
    ],
    # Twelve doses (two-digit numbers), 42.5 g each (a dose that keeps its decimal).
    "maintenance": [
        *PATIENT,
        *("--weight-kg", "85", "--weight-basis", "actual", "--product", "privigen-eu"),
        *("--phase", "maintenance", "--dose-g-per-kg", "0.5", "--every-weeks", "3"),
        *("--count", "12"),
    ],
    # A renal risk (a lower maximum rate, more findings) and a blocking one.
    "risks": [
        *PATIENT,
        *("--weight-kg", "100", "--product", "octagam-10", "--days", "5"),
        *("--risk", "diabetes", "--risk", "fever", "--egfr", "45"),
    ],
}


# A number at the end of a line, its unit at the start of the next (in a table's cell or not).
SPLIT = re.compile(r"\d[ │]*\n[ │]*(g|kg|mL|min|h|mg/kg/min|mL/kg/min|g/kg|mL/h)(?![\w/:])")


@pytest.fixture
def printed(
    run: Callable[[list[str]], tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> Printed:
    """``printed(width, argv)``: what ``ivig ARGV`` prints at ``width`` columns; it succeeds."""

    def at(width: int, argv: list[str]) -> str:
        monkeypatch.setenv("COLUMNS", str(width))
        code, out, err = run(argv)
        assert code == 0, err
        return out

    return at


def number(value: float, places: int) -> str:
    """The rule the output follows: ``places`` decimals at most, no trailing zeros."""
    return f"{value:.{places}f}".rstrip("0").rstrip(".") if places else f"{value:.0f}"


def hmm(minutes: float) -> str:
    hours, rest = divmod(math.ceil(minutes), 60)
    return f"{hours}:{rest:02d}"


def shown_whole(out: str, row: dict[str, str]) -> bool:
    """``row`` ({label: value}) is in ``out`` with each value whole on one line: as a table row
    (every value, in order, on one line) or stacked (the first value in the block's heading,
    "Dose 1", then "label: value" lines)."""
    lines = out.splitlines()
    as_row = re.compile(r"(?<!\S)" + r"\s+".join(re.escape(v) for v in row.values()) + r"(?!\S)")
    if any(as_row.search(line) for line in lines):
        return True
    first, *rest = row.items()
    return any(line.endswith(f" {first[1]}") for line in lines) and all(
        any(re.fullmatch(rf"\s*{re.escape(k)}:\s+{re.escape(v)}\s*", line) for line in lines)
        for k, v in rest
    )


def dose_rows(plan: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "#": str(i),
            "Date": d["date"],
            "Prescribed": f"{number(d['prescribed_g'], 2)} g",
            "Dose": f"{number(d['dose_g'], 2)} g",
            "Change": f"{d['deviation_pct']:+.1f}%",
            "Vials": " + ".join(f"{v['count']}x{number(v['size_g'], 2)}" for v in d["vials"])
            + " g",
            "Volume": f"{number(d['volume_ml'], 2)} mL",
            "h:mm": hmm(d["duration_min"]),
        }
        for i, d in enumerate(plan["doses"], start=1)
    ]


def step_rows(plan: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "Step": str(n),
            "Start min": number(s["start_min"], 1),
            "End min": number(s["end_min"], 1),
            "mL/h": number(s["rate_ml_per_h"], 1),
            "mg/kg/min": number(s["rate_mg_per_kg_per_min"], 3),
            "Volume mL": number(s["volume_ml"], 2),
            "Basis": s["basis"],
        }
        for d in plan["doses"]
        for n, s in enumerate(d["steps"], start=1)
    ]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(PLANS))
def test_plan_values_are_whole_at_every_width(printed: Printed, name: str, width: int) -> None:
    argv = ["plan", *PLANS[name]]
    plan = json.loads(printed(width, [*argv, "--json"]))
    out = printed(width, argv)
    assert "…" not in out
    assert "..." not in out
    rows = dose_rows(plan) + step_rows(plan)
    assert rows
    for row in rows:
        assert shown_whole(out, row), (row, out)
    for d in plan["doses"]:
        total = f"Total time {hmm(d['duration_min'])[:-3]} h {hmm(d['duration_min'])[-2:]} min"
        assert any(total in line for line in out.splitlines()), total
    # Prose lines are wrapped at the width, never between a number and its unit.
    assert any(f"Total {number(plan['total_g'], 2)} g." in line for line in out.splitlines())
    assert not SPLIT.search(out), out
    # Text lines keep to the width (a table's trailing padding aside).
    assert all(len(line.rstrip()) <= width for line in out.splitlines()), out


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_doses_have_no_trailing_zeros(printed: Printed, width: int) -> None:
    out = printed(width, ["plan", *PLANS["readme"]])
    assert "85.00" not in out
    assert "85 g" in out
    assert re.search(r"\b2x40 \+ 1x5 g\b", out)
    out = printed(width, ["plan", *PLANS["maintenance"]])
    assert "42.5 g" in out  # a decimal that means something stays
    assert "42.50" not in out


def test_the_narrow_terminal_stacks_and_the_wide_one_does_not(printed: Printed) -> None:
    narrow = printed(60, ["plan", *PLANS["readme"]])
    assert re.search(r"^Dose 1\n  Date: +2026-12-01 *$", narrow, re.M)
    assert re.search(r"^  Vials: +2x40 \+ 1x5 g *$", narrow, re.M)
    assert re.search(r"^Step 4\n(  .*\n)*  mL/h: +168\.3 *$", narrow, re.M)
    wide = printed(120, ["plan", *PLANS["readme"]])
    assert "Date:" not in wide
    assert re.search(r"2026-12-01 +85 g +85 g +\+0\.0% +2x40 \+ 1x5 g +850 mL +6:02", wide)
    # The case: at 80 columns the three vial sizes fit (one space less between columns).
    three = printed(80, ["plan", *PLANS["three-vial-sizes"]])
    assert re.search(r"2026-12-01 +65 g +65 g +\+0\.0% +1x40 \+ 1x20 \+ 1x5 g +650 mL +3:37", three)


def product_ids() -> list[str]:
    from ivig.core.library import packaged_library

    return list(packaged_library().catalogue.products)


@pytest.mark.parametrize("width", WIDTHS)
def test_products_show_every_vial_list_whole(printed: Printed, width: int) -> None:
    rows = json.loads(printed(width, ["products", "--json"]))
    out = printed(width, ["products"])
    assert "…" not in out
    lines = out.splitlines()
    for r in rows:
        vials = " ".join(number(s, 2) for s in r["vial_sizes_g"])
        # the id and its vial sizes on one line (a table row), or each on its own (stacked)
        in_row = re.compile(rf"^\s*{re.escape(r['id'])}\s.*\s{re.escape(vials)}(\s|$)")
        stacked = re.compile(rf"^\s*Vials g:\s+{re.escape(vials)}\s*$")
        assert any(in_row.search(x) for x in lines) or (
            r["id"] in lines and any(stacked.search(x) for x in lines)
        ), (r["id"], vials, out)


@pytest.mark.parametrize("width", WIDTHS)
def test_risks_show_every_code_whole(printed: Printed, width: int) -> None:
    codes = [r["code"] for r in json.loads(printed(width, ["risks", "--json"]))]
    out = printed(width, ["risks"])
    assert "…" not in out
    for code in codes:
        assert re.search(rf"(^|[\s│]){re.escape(code)}([\s│]|$)", out, re.M), code


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("product_id", product_ids())
def test_product_is_never_cut(
    printed: Printed,
    width: int,
    product_id: str,
) -> None:
    entry = json.loads(printed(width, ["product", product_id, "--json"]))
    out = printed(width, ["product", product_id])
    assert "…" not in out
    assert not SPLIT.search(out), out
    for s in entry["rate_schedules"]:
        assert any(f"maximum {s['maximum']:g}" in line for line in out.splitlines())
