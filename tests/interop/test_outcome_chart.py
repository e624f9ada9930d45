"""The outcome chart (issue 16, item 20): every measure drawn, in a panel of its own with an
axis in its unit, named in words and with its direction of improvement, all from the library's
``outcomes.toml``; a key; the same in words (``summary``) and as a table.

Worked example: a LEMS patient's 3TUG falls 30 -> 24 s (lower is better: an improvement of
exactly 20 %, Sanders 2019, not beyond the test-retest band) while the MRC sum score rises 48
-> 52 points (higher is better, Practical Neurology table: 2 points count)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ivig.core.library import Library
from ivig.interop.charts import outcome_chart

D0 = dt.date(2026, 10, 1)


def _row(pk: int, measure: str, value: float, days: int) -> dict[str, Any]:
    return {"id": pk, "measure": measure, "value": value, "measured_on": D0 + dt.timedelta(days)}


SERIES = [
    _row(1, "3tug", 30, 0),
    _row(2, "mrc-sum", 48, 0),
    _row(3, "3tug", 24, 28),
    _row(4, "mrc-sum", 52, 28),
]
INFUSIONS = [D0 + dt.timedelta(days=1), D0 + dt.timedelta(days=2)]


@pytest.fixture
def chart(packaged: Library) -> dict[str, Any]:
    drawn = outcome_chart(SERIES, INFUSIONS, (), packaged.outcomes)
    assert drawn is not None
    return drawn


def test_every_measure_has_its_panel_in_the_librarys_order(chart: dict[str, Any]) -> None:
    assert [p["measure"] for p in chart["panels"]] == ["3tug", "mrc-sum"]  # outcomes.toml order
    assert [len(p["dots"]) for p in chart["panels"]] == [2, 2]
    first, second = chart["panels"]
    assert second["top"] > first["bottom"]  # one above the other, not drawn over each other


def test_names_units_and_direction_come_from_outcomes_toml(
    chart: dict[str, Any], packaged: Library
) -> None:
    tug, mrc = chart["panels"]
    assert tug["heading"] == "Triple timed up-and-go (3TUG), in seconds"
    assert (tug["better"], tug["better_words"], tug["arrow"]) == ("lower", "lower is better", "↓")
    assert mrc["heading"] == "MRC sum score, in points"
    assert (mrc["better"], mrc["better_words"], mrc["arrow"]) == ("higher", "higher is better", "↑")
    assert packaged.outcomes["qmg"].better == "lower"  # issue 16: lower is better for QMG too


def test_each_axis_is_in_round_numbers_of_its_unit_and_the_values_sit_on_it(
    chart: dict[str, Any],
) -> None:
    tug = chart["panels"][0]
    assert [t["label"] for t in tug["y_ticks"]] == ["24", "26", "28", "30"]
    by_label = {t["label"]: t["y"] for t in tug["y_ticks"]}
    assert [d["y"] for d in tug["dots"]] == [by_label["30"], by_label["24"]]
    assert by_label["24"] > by_label["30"]  # a lower value lower on the page (SVG y runs down)
    mrc = chart["panels"][1]
    assert [t["label"] for t in mrc["y_ticks"]] == ["48", "49", "50", "51", "52"]


def test_the_axis_never_leaves_the_measures_range(packaged: Library) -> None:
    """QMG 0-39: a score of 0 and 1 gives ticks from 0, never below."""
    drawn = outcome_chart([_row(1, "qmg", 1, 0), _row(2, "qmg", 0, 7)], [], (), packaged.outcomes)
    assert drawn is not None
    labels = [float(t["label"]) for t in drawn["panels"][0]["y_ticks"]]
    assert min(labels) == 0
    assert max(labels) >= 1


def test_the_key_names_every_measure_the_infusions_and_the_patients_own(
    packaged: Library,
) -> None:
    drawn = outcome_chart(SERIES, INFUSIONS, {3}, packaged.outcomes)
    assert drawn is not None
    assert [k["text"] for k in drawn["key"]] == [
        "Triple timed up-and-go (3TUG), in seconds: ↓ lower is better",
        "MRC sum score, in points: ↑ higher is better",
        "dashed line: an infusion given",
        "open circle: reported by the patient",
    ]
    assert [d["reported"] for d in drawn["panels"][0]["dots"]] == [False, True]
    assert drawn["panels"][0]["dots"][1]["label"] == (
        "Triple timed up-and-go (3TUG): 24 s on 2026-10-29 (patient-reported)"
    )


def test_without_infusions_or_reports_the_key_says_nothing_of_them(packaged: Library) -> None:
    drawn = outcome_chart(SERIES, [], (), packaged.outcomes)
    assert drawn is not None
    assert [k["kind"] for k in drawn["key"]] == ["measure", "measure"]
    assert drawn["panels"][0]["infusions"] == ""


def test_the_summary_and_the_table_say_it_in_words(chart: dict[str, Any]) -> None:
    assert chart["summary"] == (
        "Triple timed up-and-go (3TUG), in seconds, lower is better: 30 on 2026-10-01, "
        "24 on 2026-10-29; MRC sum score, in points, higher is better: 48 on 2026-10-01, "
        "52 on 2026-10-29. Infusions given: 2026-10-02, 2026-10-03."
    )
    assert [(r["date"], r["cells"]) for r in chart["table"]["rows"]] == [
        (D0, ["30", "48"]),
        (D0 + dt.timedelta(28), ["24", "52"]),
    ]


def test_the_time_axis_has_dates_between_the_first_and_the_last(chart: dict[str, Any]) -> None:
    dates = [t["date"] for t in chart["x_ticks"]]
    assert dates[0] == D0
    assert dates[-1] == D0 + dt.timedelta(28)
    assert dates == sorted(dates)
    assert len(dates) >= 3
    xs = [t["x"] for t in chart["x_ticks"]]
    assert xs == sorted(xs)
    assert chart["left"] < xs[0] < xs[-1] < chart["right"]  # inset: whole points at the ends


def test_a_measure_the_library_no_longer_has_is_drawn_under_its_code(packaged: Library) -> None:
    drawn = outcome_chart([_row(1, "6mwt", 400, 0)], [], (), packaged.outcomes)
    assert drawn is not None
    [panel] = drawn["panels"]
    assert (panel["heading"], panel["better_words"]) == ("6mwt", "")
    assert "no direction given" in drawn["summary"]


def test_one_value_is_drawn_on_a_readable_axis(packaged: Library) -> None:
    drawn = outcome_chart([_row(1, "mg-adl", 6, 0)], [], (), packaged.outcomes)
    assert drawn is not None
    [panel] = drawn["panels"]
    labels = [float(t["label"]) for t in panel["y_ticks"]]
    assert labels[0] < 6 < labels[-1]
    assert [t["date"] for t in drawn["x_ticks"]] == [D0]


def test_nothing_to_draw() -> None:
    assert outcome_chart([], [D0]) is None
