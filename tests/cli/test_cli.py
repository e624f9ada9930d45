"""The ``ivig`` command line: output, JSON contract, help examples and error translation.

Everything runs in-process through :func:`ivig.cli.main` (the ``run`` fixture,
tests/conftest.py); one test runs the installed console script as a subprocess. Every plan
passes ``--start`` so that dates never depend on today. Rich output is pinned to 80 columns with
no colour (tests/cli/conftest.py) so that the text is the same on every machine.

"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer

from ivig.cli import app

Run = Callable[[list[str]], tuple[int, str, str]]  # the ``run`` fixture (tests/conftest.py)
RunJson = Callable[[list[str]], Any]

# The example from the issue: 100 kg, 180 cm man, 60 years, Privigen US, LEMS induction over 2 days.
EXAMPLE = {
    "sex": "male",
    "height_cm": "180",
    "weight_kg": "100",
    "age": "60",
    "product": "privigen-us",
    "indication": "lems",
    "phase": "induction",
    "days": "2",
    "start": "2026-12-01",
}

ALL_PRODUCT_IDS = {
    "privigen-us",
    "privigen-eu",
    "gamunex-c",
    "gammaked",
    "octagam-5",
    "octagam-10",
    "gammagard-liquid",
    "kiovig",
    "panzyga",
    "gammaplex-5",
    "gammaplex-10",
    "bivigam",
    "asceniv",
    "flebogamma-5",
    "flebogamma-10",
    "intragam-10",
    "yimmugo",
    "alyglo",
}


def plan_argv(*flags: str, **options: str | None) -> list[str]:
    """``ivig plan`` with the issue's example, some options replaced (``None`` drops one)."""
    values: dict[str, str | None] = {**EXAMPLE, **options}
    argv = ["plan"]
    for name, value in values.items():
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", value]
    return argv + list(flags)


@pytest.fixture
def run_json(run: Run) -> RunJson:
    """``run_json(argv)``: ``ivig ARGV --json``; it must succeed with valid (strict) JSON and
    nothing on stderr."""

    def invoke(argv: list[str]) -> Any:
        code, out, err = run([*argv, "--json"])
        assert code == 0, err
        assert err == ""
        return json.loads(out, parse_constant=_reject_constant)

    return invoke


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"{name} is not valid JSON")


def codes(plan: dict[str, Any]) -> dict[str, str]:
    """The findings of a plan as {code: severity}."""
    return {f["code"]: f["severity"] for f in plan["findings"]}


def step_rates(dose: dict[str, Any]) -> list[float]:
    return [s["rate_mg_per_kg_per_min"] for s in dose["steps"]]


def write_history(path: Path, entries: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps(entries), encoding="utf-8")
    return str(path)


# --- ivig plan: the example --------------------------------------------------------------


def test_plan_example_json_matches_the_contract(run_json: RunJson) -> None:
    plan = run_json(plan_argv())

    weight = plan["dosing_weight"]
    assert {"kg", "basis", "actual_kg", "ideal_kg", "bmi", "reason"} <= weight.keys()
    assert weight["kg"] == 85.0
    assert weight["basis"] == "adjusted"
    assert weight["actual_kg"] == 100.0
    assert weight["ideal_kg"] == 75.0
    assert weight["bmi"] == 30.9
    assert weight["reason"]

    product = plan["product"]
    assert {"id", "name", "concentration_mg_per_ml", "verified"} <= product.keys()
    assert product["id"] == "privigen-us"
    assert product["concentration_mg_per_ml"] == 100.0
    assert isinstance(product["verified"], bool)

    assert [d["date"] for d in plan["doses"]] == ["2026-12-01", "2026-12-02"]
    for dose in plan["doses"]:
        assert dose["prescribed_g"] == 85.0
        assert dose["dose_g"] == 85.0
        assert dose["vials"] == [{"size_g": 40.0, "count": 2}, {"size_g": 5.0, "count": 1}]
        assert dose["volume_ml"] == 850.0
        steps = dose["steps"]
        # BMI 30.9 is obesity (WHO), a thrombosis risk (EU core SmPC): the at-risk maximum of
        # 3.3 mg/kg/min (protocol) ends the ramp (issue 14, item 4)
        assert [s["rate_ml_per_h"] for s in steps] == [25.5, 51.0, 102.0, 168.3]
        assert [s["rate_mg_per_kg_per_min"] for s in steps] == [0.5, 1.0, 2.0, 3.3]
        assert [s["start_min"] for s in steps] == [0.0, 30.0, 60.0, 90.0]
        assert [s["end_min"] for s in steps] == [30.0, 60.0, 90.0, 361.2]
        assert [s["volume_ml"] for s in steps] == [12.75, 25.5, 51.0, 760.75]
        # Each step starts where the one before it ends.
        assert all(a["end_min"] == b["start_min"] for a, b in itertools.pairwise(steps))
        assert math.isclose(sum(s["volume_ml"] for s in steps), dose["volume_ml"], abs_tol=0.01)
        assert dose["duration_min"] == 361.2

    assert plan["total_g"] == 170.0
    assert plan["max_28d_g_per_kg"] == 2.0
    for finding in plan["findings"]:
        assert {"code", "severity", "message", "source"} <= finding.keys()
        assert finding["severity"] in {"block", "warn", "info"}
    assert "block" not in codes(plan).values()


def test_plan_example_text_is_readable(run: Run) -> None:
    code, out, err = run(plan_argv())
    assert code == 0
    assert err == ""
    # The dosing weight and why.
    assert "Dosing weight 85.0 kg (adjusted)" in out
    assert "ideal 75.0 kg" in out
    assert "BMI 30.9" in out
    assert "why: adjusted weight" in out
    # Each dose: date, prescribed and vial-rounded grams (no trailing zeros), vials, volume.
    for day in ("2026-12-01", "2026-12-02"):
        row = next(line for line in out.splitlines() if day in line and "mL" in line)
        assert re.search(r"\b85 g +85 g\b", row), row
        assert "2x40 + 1x5 g" in row
        assert "850 mL" in row
    assert "85.00" not in out
    assert "Total 170 g" in out
    # The rate steps: start/end minute, mL/h, mg/kg/min, volume per step, and the total time.
    assert "Rate steps" in out
    for header in ("Start min", "End min", "mL/h", "mg/kg/min", "Volume mL"):
        assert header in out
    # At 80 columns the steps with the at-risk basis are stacked, "label: value" per line
    last_step = out[out.index("Step 4") :]
    assert re.search(
        r"Start min: +90 *\n +End min: +361\.2 *\n +mL/h: +168\.3 *\n +mg/kg/min: +3\.3 *\n"
        r" +Volume mL: +760\.75 *\n +Basis: +at-risk cap \(protocol\)",
        last_step,
    ), last_step
    assert "Total time 6 h 02 min (361.2 min)" in out
    assert "Dose 2 (2026-12-02): the same steps as dose 1." in out
    # Then the screening findings.
    assert out.index("Screening findings") > out.index("Rate steps")
    assert "first-infusion" in out
    assert "BLOCK" not in out


# --- renal function (issue 14 items 2, 5 and 15) ------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "egfr", "mg_dl"),
    [
        # issue 14 item 2: 12 mg/dL is a dialysis value: CKD-EPI 2021 (Inker 2021), male 60:
        # 142 x (12/0.9)^-1.2 x 0.9938^60 = 4.4 mL/min/1.73 m2 (it was read as 12 umol/L, 173)
        (("--creatinine", "12", "--creatinine-unit", "mg/dL"), 4.4, 12.0),
        # 88.4 umol/L = 1.00 mg/dL (formulas-and-fhir.md 1.6): 142 x (1/0.9)^-1.2 x 0.9938^60
        # = 142 x 0.8812 x 0.6886 = 86.2
        (("--creatinine", "88.4", "--creatinine-unit", "umol/L"), 86.2, 1.0),
    ],
)
def test_plan_shows_the_computed_egfr(
    run: Run, run_json: RunJson, flags: tuple[str, ...], egfr: float, mg_dl: float
) -> None:
    plan = run_json(plan_argv(*flags))
    renal = plan["renal"]
    assert renal["egfr"] == egfr
    assert renal["formula"] == "CKD-EPI 2021"
    assert "Inker" in renal["source"]
    assert renal["inputs"]["creatinine"] == float(flags[1])
    assert renal["inputs"]["creatinine_unit"] == flags[3]
    assert renal["inputs"]["creatinine_mg_per_dl"] == mg_dl
    assert (renal["inputs"]["age"], renal["inputs"]["sex"]) == (60, "male")
    assert renal["threshold"]["egfr"] == 60
    assert renal["threshold"]["below"] is (egfr < 60)
    # the threshold of 60 is unverified in protocol.toml: it is listed when used (item 15)
    assert "eGFR threshold for renal risk (60 mL/min/1.73 m2)" in plan["unverified"]
    assert "renal-function-missing" not in codes(plan)
    code, out, _ = run(plan_argv(*flags))
    assert code == 0
    assert f"Renal function: eGFR {egfr:.0f} mL/min/1.73 m2" in out
    assert "by CKD-EPI 2021 from serum creatinine" in out
    assert "UNVERIFIED" in out


def test_plan_without_renal_function_warns(run: Run, run_json: RunJson) -> None:
    plan = run_json(plan_argv())
    assert codes(plan)["renal-function-missing"] == "warn"
    assert plan["renal"]["egfr"] is None
    assert plan["renal"]["basis"] == "none"
    assert not any("eGFR threshold" in name for name in plan["unverified"])
    _, out, _ = run(plan_argv())
    assert "Renal function: none given" in out


def test_renal_findings_carry_no_option_names(run_json: RunJson) -> None:
    """Findings are shown by the web and the API too: no CLI text in them (issue 14 item 15)."""
    plan = run_json(plan_argv("--egfr", "45", age="70"))
    renal = next(f for f in plan["findings"] if f["code"] == "renal-risk")
    assert "eGFR 45 mL/min/1.73 m2, below the threshold of 60" in renal["message"]
    assert "UNVERIFIED" in renal["message"]
    assert not any("--" in f["message"] for f in plan["findings"])


def test_plan_json_goes_to_stdout_only(run: Run) -> None:
    code, out, err = run(plan_argv("--json"))
    assert code == 0
    assert err == ""
    assert out.lstrip().startswith("{")
    assert json.loads(out)["phase"] == "induction"


def test_plan_shows_a_single_day_2_g_per_kg_maintenance_dose(
    run: Run,
) -> None:
    # Issue 14 item 11: the drug library's usual-dose rule is a finding in the text and JSON
    # (LEMS maintenance 0.4-1 g/kg, UNVERIFIED; at most 1 g/kg a day, Privigen US PI).
    argv = plan_argv(phase="maintenance", days=None, dose_g_per_kg="2", every_weeks="4", count="1")
    code, out, _ = run(argv)
    assert code == 0
    assert "dose-outside-usual-range" in out
    code, out, _ = run([*argv, "--json"])
    [finding] = [f for f in json.loads(out)["findings"] if f["code"] == "dose-outside-usual-range"]
    assert finding["severity"] == "warn"
    assert "above the usual 0.4-1 g/kg for LEMS maintenance (UNVERIFIED)" in finding["message"]


# --- ivig plan: history and the rolling cap ------------------------------------------------------


def test_history_inside_the_window_counts_toward_the_cap(run: Run, tmp_path: Path) -> None:
    history = write_history(
        tmp_path / "history.json",
        [{"date": "2026-11-20", "dose_g": 85}, {"date": "2026-11-21", "dose_g": 85}],
    )
    code, out, err = run(plan_argv("--json", history=history))
    assert code == 1
    assert json.loads(out)["error"]["code"] == "cap_exceeded"
    assert err.startswith("Error: ")
    assert "2 g/kg" in err


def test_history_outside_the_window_passes(run_json: RunJson, tmp_path: Path) -> None:
    history = write_history(
        tmp_path / "history.json",
        [{"date": "2026-10-01", "dose_g": 85}, {"date": "2026-10-02", "dose_g": 85}],
    )
    plan = run_json(plan_argv(history=history))
    assert [d["dose_g"] for d in plan["doses"]] == [85.0, 85.0]
    assert plan["max_28d_g_per_kg"] == 2.0


def test_history_is_mentioned_in_the_text_cap_line(run: Run, tmp_path: Path) -> None:
    history = write_history(tmp_path / "history.json", [{"date": "2026-10-01", "dose_g": 85}])
    code, out, _ = run(plan_argv(history=history))
    assert code == 0
    assert "(with earlier doses)" in out


# --- ivig plan: risks lower the maximum rate; screening findings ---------------------------------


def test_renal_risk_lowers_the_maximum_rate(run_json: RunJson) -> None:
    plan = run_json(plan_argv("--risk", "diabetes"))
    for dose in plan["doses"]:
        assert max(step_rates(dose)) == 3.3
    found = codes(plan)
    assert found["renal-risk"] == "warn"
    assert found["at-risk-maximum"] == "warn"
    assert plan["schedule"]["maximum_mg_per_kg_per_min"] == 3.3


def test_age_over_65_alone_lowers_the_maximum_rate(run_json: RunJson) -> None:
    plan = run_json(plan_argv(age="70"))
    for dose in plan["doses"]:
        assert max(step_rates(dose)) == 3.3
    found = codes(plan)
    assert "renal-risk" in found
    assert "at-risk-maximum" in found


def test_no_risk_keeps_the_label_maximum(run_json: RunJson) -> None:
    plan = run_json(plan_argv(weight_kg="75"))  # BMI 23.1: no risk
    assert max(step_rates(plan["doses"][0])) == 8.0
    assert "at-risk-maximum" not in codes(plan)


def test_fever_blocks_but_the_plan_is_still_shown(run: Run, run_json: RunJson) -> None:
    plan = run_json(plan_argv("--risk", "fever"))
    assert "block" in codes(plan).values()
    assert len(plan["doses"]) == 2

    code, out, err = run(plan_argv("--risk", "fever"))
    assert code == 0
    assert err == ""
    assert "BLOCK" in out
    assert "A BLOCK finding stands" in out
    assert "Rate steps" in out  # the plan is still shown


def test_octagam_10_corn_allergy_blocks(run_json: RunJson) -> None:
    plan = run_json(plan_argv("--risk", "corn-allergy", product="octagam-10"))
    found = codes(plan)
    assert found["corn-allergy-maltose"] == "block"
    assert found["maltose-glucometer"] == "warn"


def test_octagam_10_always_warns_about_glucometers(run_json: RunJson) -> None:
    plan = run_json(plan_argv(product="octagam-10"))
    assert codes(plan)["maltose-glucometer"] == "warn"
    assert "block" not in codes(plan).values()


def test_privigen_hyperprolinaemia_blocks(run_json: RunJson) -> None:
    plan = run_json(plan_argv("--risk", "hyperprolinaemia"))
    assert "block" in codes(plan).values()


# --- ivig plan: the dosing weight basis ----------------------------------------------------------


def test_weight_basis_actual(run_json: RunJson) -> None:
    plan = run_json(plan_argv("--weight-basis", "actual"))
    assert plan["dosing_weight"]["basis"] == "actual"
    assert plan["dosing_weight"]["kg"] == 100.0
    assert [d["dose_g"] for d in plan["doses"]] == [100.0, 100.0]


def test_under_18_uses_actual_weight(run_json: RunJson) -> None:
    weight = run_json(plan_argv(age="17"))["dosing_weight"]
    assert weight["basis"] == "actual"
    assert weight["kg"] == 100.0
    assert "under 18" in weight["reason"]


def test_pregnant_uses_actual_weight(run_json: RunJson) -> None:
    argv = plan_argv("--pregnant", sex="female", height_cm="165", age="30")
    weight = run_json(argv)["dosing_weight"]
    assert weight["basis"] == "actual"
    assert weight["kg"] == 100.0
    assert "pregnant" in weight["reason"]


# --- ivig plan: maintenance and the first-infusion start rate ------------------------------------


def test_maintenance_every_4_weeks(run_json: RunJson) -> None:
    argv = plan_argv(phase="maintenance", days=None, dose_g_per_kg="1", every_weeks="4", count="3")
    plan = run_json(argv)
    assert [d["date"] for d in plan["doses"]] == ["2026-12-01", "2026-12-29", "2027-01-26"]
    assert [d["dose_g"] for d in plan["doses"]] == [85.0, 85.0, 85.0]
    assert plan["total_g"] == 255.0


def test_maintenance_until_a_date(run_json: RunJson) -> None:
    argv = plan_argv(
        phase="maintenance", days=None, dose_g_per_kg="1", every_weeks="4", until="2027-01-26"
    )
    plan = run_json(argv)
    assert [d["date"] for d in plan["doses"]] == ["2026-12-01", "2026-12-29", "2027-01-26"]


def test_no_first_infusion_starts_at_the_subsequent_rate(
    run_json: RunJson,
) -> None:
    later = run_json(
        plan_argv(
            "--no-first-infusion", product="gammaplex-10", previous_product="gammaplex-10",
            last_infusion="2026-11-10",
        ),
    )  # fmt: skip
    assert step_rates(later["doses"][0])[0] == 1.0
    assert "first-infusion" not in codes(later)

    first = run_json(plan_argv(product="gammaplex-10"))
    assert step_rates(first["doses"][0])[0] == 0.5
    assert codes(first)["first-infusion"] == "warn"


# --- ivig products / product / risks -------------------------------------------------------------


def test_products_json(run_json: RunJson) -> None:
    rows = run_json(["products"])
    assert isinstance(rows, list)
    for row in rows:
        assert {
            "id",
            "name",
            "region",
            "concentration_mg_per_ml",
            "vial_sizes_g",
            "verified",
        } <= row.keys()
        assert isinstance(row["vial_sizes_g"], list)
        assert row["vial_sizes_g"]
        assert isinstance(row["verified"], bool)
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    assert set(ids) >= ALL_PRODUCT_IDS


def test_products_text(run: Run) -> None:
    code, out, err = run(["products"])
    assert code == 0
    assert err == ""
    assert "IVIG products" in out
    for short_id in ("kiovig", "gammaked", "bivigam", "asceniv", "yimmugo", "alyglo"):
        assert short_id in out
    assert "none:" in out  # products with no rate schedule say "none: cannot be planned"


def test_product_text_shows_sources(run: Run) -> None:
    code, out, err = run(["product", "octagam-10"])
    assert code == 0
    assert err == ""
    assert "Octagam 10%" in out
    assert "octagam-10" in out
    assert "https://" in out
    assert "source:" in out


def test_product_json_shows_sources(run_json: RunJson) -> None:
    entry = run_json(["product", "octagam-10"])
    assert entry["id"] == "octagam-10"
    assert {"name", "region", "concentration_mg_per_ml", "vial_sizes_g", "verified"} <= set(entry)
    assert entry["values"]
    for value in entry["values"].values():
        assert "https://" in value["source"]
    assert entry["rate_schedules"]
    for schedule in entry["rate_schedules"]:
        assert "https://" in schedule["source"]


def test_product_without_rate_schedule_says_it_cannot_be_planned(
    run: Run,
    run_json: RunJson,
) -> None:
    code, out, _ = run(["product", "yimmugo"])
    assert code == 0
    assert "No rate schedule is known" in out
    assert run_json(["product", "yimmugo"])["rate_schedules"] == []


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_unknown_product_id_is_an_error(run: Run, as_json: bool) -> None:
    argv = ["product", "no-such-product"] + (["--json"] if as_json else [])
    code, out, err = run(argv)
    assert code == 1
    assert len(err.splitlines()) == 1
    assert err.startswith("Error: ")
    assert "no-such-product" in err
    assert "Traceback" not in out + err
    if as_json:
        assert json.loads(out)["error"]["code"] == "unknown_product"
    else:
        assert out == ""


def test_risks_json_is_exactly_code_and_meaning(run_json: RunJson) -> None:
    rows = run_json(["risks"])
    assert isinstance(rows, list)
    assert rows
    for row in rows:
        assert set(row) == {"code", "meaning"}
        assert row["code"]
        assert row["meaning"]
    found = {row["code"] for row in rows}
    assert {"diabetes", "fever", "corn-allergy", "hyperprolinaemia"} <= found


def test_indications_from_the_library(run: Run, run_json: RunJson) -> None:
    """Issue 15: the indications are the drug library's, each with its outcome measures."""
    rows = run_json(["indications"])
    assert [r["id"] for r in rows] == ["lems", "cidp", "mg", "mmn"]
    assert rows[2] == {
        "id": "mg",
        "short_name": "MG",
        "name": "Myasthenia gravis",
        "outcome_measures": ["mg-adl", "qmg"],
    }
    code, out, _ = run(["indications"])
    assert code == 0
    assert "(CIDP)" in out


def test_risks_text(run: Run) -> None:
    code, out, err = run(["risks"])
    assert code == 0
    assert err == ""
    for risk_code in ("diabetes", "fever", "corn-allergy", "hyperprolinaemia", "age-over-65"):
        assert risk_code in out


# --- help, version ------------------------------------------------------------------------------


def _commands() -> dict[tuple[str, ...], Any]:
    """Every command of the ``ivig`` Typer app by its path, groups too (``()`` is ``ivig``
    itself), read from the app so that a new command is covered without a new line here."""
    found: dict[tuple[str, ...], Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if not command.hidden:
            found[path] = command
            for name, sub in getattr(command, "commands", {}).items():
                walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(("ivig", *p)))
def test_help_has_an_example(run: Run, path: tuple[str, ...]) -> None:
    """``ivig ... --help`` ends with ``Example: ivig ...``: a command to run (for a group, one
    of its own) with options that command has."""
    code, out, _ = run([*path, "--help"])
    assert code == 0
    example = " ".join(out[out.index("Example: ") :].split())
    words = shlex.split(example.removeprefix("Example: "))
    assert words[0] == "ivig", example
    runs = max((p for p in COMMANDS if p == tuple(words[1 : len(p) + 1])), key=len)
    assert runs[: len(path)] == path, example
    assert not getattr(COMMANDS[runs], "commands", None), example  # a command, not a group
    options = {o for p in COMMANDS[runs].params for o in (*p.opts, *p.secondary_opts)}
    assert {w for w in words if w.startswith("--")} <= options, example


def test_no_arguments_shows_help(run: Run) -> None:
    code, out, _ = run([])
    assert code == 0
    assert "Usage" in out
    assert "plan" in out


def test_version(run: Run) -> None:
    code, out, _ = run(["--version"])
    assert code == 0
    assert re.fullmatch(r"ivig \d+\.\d+\.\d+\S*\n", out)


# --- errors: exit 1, one line "Error: ..." naming the option; JSON with --json -------------------

MAINTENANCE = {"phase": "maintenance", "days": None, "dose_g_per_kg": "1", "every_weeks": "4"}

# (id, options replaced in the example, extra flags, history file content, field, code, fragments)
# History content: None = no --history; MISSING = a path that does not exist; else the file text.
MISSING = object()
ERROR_CASES: list[Any] = [
    # weight 0 kg: below the accepted range
    ("weight-0", {"weight_kg": "0"}, (), None, "weight_kg", "out_of_range", ("0 kg",)),
    # weight 600 kg: above the accepted range
    ("weight-600", {"weight_kg": "600"}, (), None, "weight_kg", "out_of_range", ("600 kg",)),
    # height 20 cm: below the accepted range
    ("height-20", {"height_cm": "20"}, (), None, "height_cm", "out_of_range", ("20 cm",)),
    # a product id not in the catalogue
    ("unknown-product", {"product": "nope"}, (), None, "product", "unknown_product", ("nope",)),
    # 7 induction days: LEMS allows 2 to 5
    ("days-7", {"days": "7"}, (), None, "days", "invalid_input", ("7",)),
    # month 13 is not a date
    ("start-month-13", {"start": "2026-13-01"}, (), None, "start", "invalid_input", ()),
    # a word is not a date
    ("start-tomorrow", {"start": "tomorrow"}, (), None, "start", "invalid_input", ("tomorrow",)),
    # a weight that is not a number
    ("weight-abc", {"weight_kg": "abc"}, (), None, "weight_kg", "invalid_input", ()),
    # a risk code not in `ivig risks`
    ("unknown-risk", {}, ("--risk", "nope"), None, "risk", "invalid_input", ("nope",)),
    # a required option left out
    ("missing-weight", {"weight_kg": None}, (), None, "weight_kg", "invalid_input", ()),
    # the indication is chosen: no default (issue 15)
    ("missing-indication", {"indication": None}, (), None, "indication", "invalid_input", ()),
    # an indication not in `ivig indications`
    (
        "unknown-indication",
        {"indication": "gbs"},
        (),
        None,
        "indication",
        "unknown_indication",
        ("gbs", "cidp, lems, mg, mmn"),
    ),
    # an option that does not exist
    ("unknown-option", {}, ("--bogus",), None, "bogus", "invalid_input", ("--bogus",)),
    # a listed product whose label rates were not found
    ("no-rate-schedule", {"product": "yimmugo"}, (), None, "product", "no_rate_schedule", ()),
    # maintenance needs --dose-g-per-kg
    (
        "maintenance-no-dose",
        {**MAINTENANCE, "dose_g_per_kg": None},
        ("--count", "3"),
        None,
        "dose_g_per_kg",
        "invalid_input",
        ("--dose-g-per-kg",),
    ),
    # maintenance with both --count and --until
    (
        "count-and-until",
        MAINTENANCE,
        ("--count", "3", "--until", "2027-06-01"),
        None,
        "count",
        "invalid_input",
        ("end date",),
    ),
    # --until before --start
    (
        "until-before-start",
        MAINTENANCE,
        ("--until", "2026-11-01"),
        None,
        "until",
        "invalid_input",
        ("2026-11-01",),
    ),
    # every 8 weeks is outside LEMS's 2 to 6
    (
        "every-8-weeks",
        {**MAINTENANCE, "every_weeks": "8"},
        ("--count", "2"),
        None,
        "every_weeks",
        "invalid_input",
        ("8",),
    ),
    # induction of 3 g/kg: cap exceeded; the message names the window and the g/kg reached
    (
        "induction-cap",
        {"total_g_per_kg": "3"},
        (),
        None,
        "total_g_per_kg",
        "cap_exceeded",
        ("would give 3 g/kg between 1 and 28 December 2026", "the cap is 2 g/kg in any 28 days"),
    ),
    # maintenance 1.2 g/kg every 2 weeks: cap exceeded; the message gives the largest dose and
    # the shortest interval that fit (issue 14 item 14)
    (
        "maintenance-cap",
        {**MAINTENANCE, "dose_g_per_kg": "1.2", "every_weeks": "2"},
        ("--count", "3"),
        None,
        "dose_g_per_kg",
        "cap_exceeded",
        ("the largest dose that fits is 1 g/kg", "fits every 4 weeks or longer"),
    ),
    # a history file that does not exist
    ("history-missing", {}, (), MISSING, "history", "invalid_input", ()),
    # a history file that is not JSON
    ("history-bad-json", {}, (), '[{"date": ', "history", "invalid_input", ("not valid JSON",)),
    # a history entry whose date is not a date
    (
        "history-bad-date",
        {},
        (),
        '[{"date": "last week", "dose_g": 80}]',
        "history",
        "invalid_input",
        ("last week",),
    ),
    # a creatinine without its unit: never assumed (issue 14 item 2; was read as umol/L)
    (
        "creatinine-unit",
        {},
        ("--creatinine", "1.1"),
        None,
        "creatinine_unit",
        "invalid_input",
        ("mg/dL", "umol/L", "never assumed"),
    ),
    # 12 umol/L is implausible (0.14 mg/dL); 12 mg/dL is a dialysis value: the message says so
    (
        "creatinine-implausible-for-unit",
        {},
        ("--creatinine", "12", "--creatinine-unit", "umol/L"),
        None,
        "creatinine",
        "out_of_range",
        ("18-2210 umol/L", "plausible in mg/dL"),
    ),
    # a unit without a creatinine
    (
        "creatinine-unit-alone",
        {},
        ("--creatinine-unit", "mg/dL"),
        None,
        "creatinine",
        "invalid_input",
        ("both or neither",),
    ),
    # --egfr and --creatinine together
    (
        "egfr-and-creatinine",
        {},
        ("--egfr", "60", "--creatinine", "90"),
        None,
        "creatinine",
        "invalid_input",
        ("eGFR",),
    ),
]


def _error_argv(
    tmp_path: Path, options: dict[str, str | None], flags: tuple[str, ...], history: object
) -> list[str]:
    argv = plan_argv(*flags, **options)
    if history is MISSING:
        argv += ["--history", str(tmp_path / "no-such-history.json")]
    elif isinstance(history, str):
        path = tmp_path / "history.json"
        path.write_text(history, encoding="utf-8")
        argv += ["--history", str(path)]
    return argv


@pytest.mark.parametrize(
    ("options", "flags", "history", "field", "code", "fragments"),
    [pytest.param(*case[1:], id=case[0]) for case in ERROR_CASES],
)
def test_error_is_one_line_naming_the_field(
    run: Run,
    tmp_path: Path,
    options: dict[str, str | None],
    flags: tuple[str, ...],
    history: object,
    field: str,
    code: str,
    fragments: tuple[str, ...],
) -> None:
    argv = _error_argv(tmp_path, options, flags, history)
    option = "--" + field.replace("_", "-")

    # Text: exit 1, nothing on stdout, one line "Error: --option: ..." on stderr.
    exit_code, out, err = run(argv)
    assert exit_code == 1
    assert "Traceback" not in out + err
    assert out == ""
    assert err.endswith("\n")
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"Error: {option}"), err
    for fragment in fragments:
        assert fragment in err

    # JSON: the same line on stderr, and {"error": {"code", "message", "field"}} on stdout.
    exit_code, out, err_json = run([*argv, "--json"])
    assert exit_code == 1
    assert "Traceback" not in out + err_json
    assert err_json == err
    error = json.loads(out)["error"]
    assert set(error) == {"code", "message", "field"}
    assert error["field"] == field
    assert error["code"] == code
    assert error["message"] in err


def test_unknown_command_is_one_error_line(run: Run) -> None:
    code, out, err = run(["nosuch"])
    assert code == 1
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("Error: ")


def test_extra_argument_with_json(run: Run) -> None:
    code, out, err = run(["risks", "extra", "--json"])
    assert code == 1
    assert err.startswith("Error: ")
    assert len(err.splitlines()) == 1
    assert json.loads(out)["error"]["code"] == "invalid_input"


# --- input that once crashed or named the wrong field -----------------------------------------


def test_unknown_previous_product_names_previous_product(
    run: Run,
) -> None:
    code, out, err = run(plan_argv("--previous-product", "nope", "--json"))
    assert code == 1
    assert json.loads(out)["error"]["field"] == "previous_product"
    assert err.startswith("Error: --previous-product")


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["product"], id="missing-id"),  # "Error: --product-id: this option is ..."
        pytest.param(["product", "nope"], id="unknown-id"),  # "Error: --product: unknown ..."
    ],
)
def test_product_errors_do_not_name_a_missing_option(run: Run, argv: list[str]) -> None:
    code, _, err = run(argv)
    assert code == 1
    assert err.startswith("Error: ")
    assert "--product" not in err


@pytest.mark.parametrize(
    "day",
    [
        # inside the 28-day window of the first dose: a ValueError traceback from vial rounding
        pytest.param("2026-11-24", id="inside-window"),
        # before the window: exit 0, and --json prints "max_28d_g_per_kg": NaN (invalid JSON)
        pytest.param("2026-11-01", id="before-window"),
    ],
)
def test_history_nan_dose_is_refused(run: Run, tmp_path: Path, day: str) -> None:
    path = tmp_path / "history.json"
    # JSON written by Python can hold NaN; an unknown amount must be refused, not planned around.
    path.write_text(f'[{{"date": "{day}", "dose_g": NaN}}]', encoding="utf-8")
    code, out, err = run(plan_argv("--json", history=str(path)))
    assert code == 1, "a NaN earlier dose was accepted"
    assert err.startswith("Error: --history")
    assert json.loads(out)["error"]["field"] == "history"


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        # Infinity is accepted by json.loads, then the JSON output crashes (decimal error)
        pytest.param('[{"date": "2026-10-01", "dose_g": Infinity}]', "utf-8", id="infinity"),
        # a file that is not UTF-8 (UTF-16 from a spreadsheet export): UnicodeDecodeError
        pytest.param('[{"date": "2026-10-01", "dose_g": 80}]', "utf-16", id="not-utf8"),
    ],
)
def test_history_odd_files_give_one_error_line(
    run: Run, tmp_path: Path, content: str, encoding: str
) -> None:
    path = tmp_path / "history.json"
    path.write_text(content, encoding=encoding)
    code, out, err = run(plan_argv("--json", history=str(path)))
    assert code == 1
    assert err.startswith("Error: --history")
    assert json.loads(out)["error"]["field"] == "history"


@pytest.mark.parametrize(
    "start",
    [
        pytest.param("9999-12-31", id="end-of-calendar"),  # the second induction day overflows
        pytest.param("0001-01-01", id="start-of-calendar"),  # the rolling window overflows
    ],
)
def test_start_at_the_calendar_edge_gives_one_error_line(run: Run, start: str) -> None:
    code, out, err = run(plan_argv("--json", start=start))
    assert code == 1
    assert err.startswith("Error: --start")
    assert json.loads(out)["error"]["field"] == "start"


def test_no_vial_fits_names_a_real_option(run: Run) -> None:
    # 3 kg at 2 g/kg over 2 days: 3 g a day, less than the smallest 5 g Privigen vial.
    argv = plan_argv("--json", weight_kg="3", height_cm="50", age="0")
    code, out, err = run(argv)
    assert code == 1
    assert err.startswith("Error: ")
    assert not err.startswith("Error: --dose:"), err
    assert json.loads(out)["error"]["field"] != "dose"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["products"], id="products"),  # ids cut: "privigen…", "gammaple…"
        pytest.param(["product", "octagam-10"], id="product"),  # source URLs cut
        pytest.param(["risks"], id="risks"),  # codes cut: "hereditary-fructose-intole…"
        pytest.param(["indications"], id="indications"),
        pytest.param(plan_argv(), id="plan"),  # a finding's source URL cut
        pytest.param(["plan", "--help"], id="plan-help"),  # "--previous-prod…", "--no-first-inf…"
    ],
)
def test_text_output_is_never_cut_at_80_columns(run: Run, argv: list[str]) -> None:
    code, out, _ = run(argv)
    assert code == 0
    assert "…" not in out


# --- the installed console script ---------------------------------------------------------------


def _console_script() -> list[str]:
    """The installed ``ivig`` next to this Python, else ``python -m ivig.cli``."""
    script = shutil.which("ivig", path=str(Path(sys.executable).parent)) or shutil.which("ivig")
    return [script] if script else [sys.executable, "-m", "ivig.cli"]


def test_console_script_runs_and_never_imports_django() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("FORCE_COLOR", None)

    done = subprocess.run(
        [*_console_script(), *plan_argv("--json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["total_g"] == 170.0

    failed = subprocess.run(
        [*_console_script(), *plan_argv(weight_kg="0")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error: --weight-kg")
    assert "Traceback" not in failed.stderr

    script = (
        "import sys\n"
        "from ivig.cli import main\n"
        f"argvs = [{plan_argv('--json')!r}, ['products', '--json'], "
        "['product', 'octagam-10', '--json'], ['risks', '--json'], "
        f"{plan_argv(weight_kg='0')!r}]\n"
        "codes = [main(a) for a in argvs]\n"
        "assert codes == [0, 0, 0, 0, 1], codes\n"
        "leaked = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not leaked, leaked\n"
    )
    checked = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


# --- issue 14 -------------------------------------------------------------------------------------


def test_product_text_keeps_bracketed_source_words(run: Run, run_json: RunJson) -> None:
    # Issue 14, item 15: Rich markup ate "[than]" from "less [than] 2 mg/kg/min"
    code, out, _ = run(["product", "bivigam"])
    assert code == 0
    flat = " ".join(out.split())
    assert "less [than] 2 mg/kg/min" in flat
    assert "'[sugar free; contains polysorbate 80]'" in flat
    assert "at_risk_max_mg_per_kg_min: below 2 (the pump rate stays below it) (UNVERIFIED)" in flat
    assert run_json(["product", "bivigam", "--json"])["at_risk_max_exclusive"] is True


def test_first_infusion_is_not_assumed_with_a_history(
    run: Run, run_json: RunJson, tmp_path: Path
) -> None:
    # Issue 14, item 9: --history, --previous-product or --last-infusion show earlier infusions
    history = tmp_path / "history.json"
    history.write_text('[{"date": "2026-11-03", "dose_g": 40}]')
    for extra in (
        ["--history", str(history)],
        ["--previous-product", "gamunex-c"],
        ["--last-infusion", "2026-11-03"],
    ):
        plan = run_json(plan_argv(*extra))
        assert "first-infusion" not in codes(plan), extra
    assert "first-infusion" in codes(run_json(plan_argv()))
    code, _, err = run(plan_argv("--first-infusion", "--previous-product", "gamunex-c"))
    assert code == 1
    assert err.startswith("Error: --first-infusion: a first IVIG infusion cannot have")


def test_gammaplex_after_a_switch_starts_at_the_lowest_rate(
    run_json: RunJson,
) -> None:
    # Issue 14, item 6: 1 mg/kg/min only after a tolerated infusion of Gammaplex itself
    switched = run_json(plan_argv(product="gammaplex-10", previous_product="privigen-us"))
    assert step_rates(switched["doses"][0])[0] == 0.5
    gap = run_json(
        plan_argv(
            product="gammaplex-10", previous_product="gammaplex-10", last_infusion="2026-04-27"
        ),
    )
    assert step_rates(gap["doses"][0])[0] == 0.5  # 218 days since the last infusion
    assert codes(gap)["lowest-start-rate"] == "info"


def test_an_excluded_weight_basis_is_refused_unless_insisted(
    run: Run,
    run_json: RunJson,
) -> None:
    # Issue 14, item 3: the 45 kg, 170 cm woman on adjusted weight (54.9 kg)
    woman = {"sex": "female", "height_cm": "170", "weight_kg": "45", "age": "40"}
    code, _, err = run(plan_argv("--weight-basis", "adjusted", **woman))
    assert code == 1
    assert err.startswith("Error: --weight-basis: adjusted weight is refused by the NBA")
    plan = run_json(
        plan_argv(
            "--weight-basis", "adjusted", "--weight-basis-reason", "team decision",
            total_g_per_kg="1.6", **woman,
        ),
    )  # fmt: skip
    assert plan["dosing_weight"]["kg"] == 54.9
    assert plan["dosing_weight"]["checked_kg"] == 45.0
    assert plan["dosing_weight"]["insisted"] == "team decision"
    assert "adjusted-weight-not-recommended" in codes(plan)
