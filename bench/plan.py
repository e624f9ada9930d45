"""Benchmark: plans per second for a one-year LEMS maintenance course, in-process.

Run:  .venv/bin/python bench/plan.py [--seconds 5]
Prints one line per scenario: plans/s, mean ms per plan, doses per plan. Figures are recorded
in bench/RESULTS.md with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time

from ivig import GivenDose, Patient, Phase, Regimen, Sex, packaged_library, plan_course

START = dt.date(2026, 12, 29)
INDUCTION = (GivenDose(dt.date(2026, 12, 1), 85), GivenDose(dt.date(2026, 12, 2), 85))
SCENARIOS = {
    # 1 g/kg every 4 weeks for a year after a 2 g/kg induction: 14 doses
    "every 4 weeks, 1 g/kg, privigen-us": Regimen(
        indication="lems", product="privigen-us", phase=Phase.maintenance, start=START,
        dose_g_per_kg=1.0, every_weeks=4, until=START + dt.timedelta(days=365),
        history=INDUCTION, first_infusion=False,
    ),
    # 0.4 g/kg every 2 weeks for a year, an at-risk patient, 1 g vials: 27 doses
    "every 2 weeks, 0.4 g/kg, gamunex-c, at risk": Regimen(
        indication="lems", product="gamunex-c", phase=Phase.maintenance, start=START,
        dose_g_per_kg=0.4, every_weeks=2, until=START + dt.timedelta(days=365),
        history=INDUCTION, first_infusion=False,
    ),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per scenario")
    args = parser.parse_args()
    library = packaged_library()
    patient = Patient(sex=Sex.male, height_cm=180, weight_kg=100, age=60)
    at_risk = Patient(
        sex=Sex.male, height_cm=180, weight_kg=100, age=70, risks=frozenset({"diabetes"})
    )
    print(
        f"python {platform.python_version()} on {platform.machine()}, {platform.processor() or '?'}"
    )
    for name, regimen in SCENARIOS.items():
        who = at_risk if "at risk" in name else patient
        plan = plan_course(who, regimen, library)  # warm the caches once
        count, began = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - began) < args.seconds:
            plan_course(who, regimen, library)
            count += 1
        print(
            f"{name}: {count / elapsed:,.0f} plans/s, {elapsed / count * 1000:.2f} ms/plan, "
            f"{len(plan.doses)} doses/plan"
        )


if __name__ == "__main__":
    main()
