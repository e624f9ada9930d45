"""The usage chart (issue 18, ``charts.usage_chart``): a bar per month, heights in proportion to
the grams on a y axis from 0, every bar said in words."""

from __future__ import annotations

from ivig.interop.charts import usage_chart


def test_a_bar_per_month_in_proportion() -> None:
    chart = usage_chart([("2026-10", 100.0, 2), ("2026-11", 0.0, 0), ("2026-12", 50.0, 1)])
    assert chart is not None
    bars = chart["bars"]
    assert [b["month"] for b in bars] == ["2026-10", "2026-11", "2026-12"]
    assert bars[1]["height"] == 0
    assert abs(bars[0]["height"] - 2 * bars[2]["height"]) <= 0.2  # rounded to 0.1
    assert all(b["y"] + b["height"] == chart["bottom"] for b in bars)  # from the axis up
    assert chart["y_ticks"][0]["label"] == "0"
    assert float(chart["y_ticks"][-1]["label"]) >= 100
    assert chart["summary"] == (
        "Grams given by month: 2026-10: 100 g in 2 infusion(s); 2026-11: 0 g in 0 infusion(s); "
        "2026-12: 50 g in 1 infusion(s)."
    )


def test_at_most_twelve_month_labels_and_none_without_months() -> None:
    chart = usage_chart([(f"m{n}", 1.0, 1) for n in range(36)])
    assert chart is not None
    assert len(chart["bars"]) == 36
    assert len(chart["x_labels"]) == 12
    assert usage_chart([]) is None
