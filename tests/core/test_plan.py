"""Whole plans: the worked example of issue 2, maintenance with history, and refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from ivig.core.catalogue import Catalogue
from ivig.core.dosing import GivenDose
from ivig.core.plan import Patient, Phase, Regimen, plan_course
from ivig.core.weights import Sex
from ivig.errors import CapExceeded, InvalidInput, IvigError, NoRateSchedule, OutOfRange

D = dt.date
MAN = Patient(sex=Sex.male, height_cm=180, weight_kg=100, age=60)


def _induction(**changes: object) -> Regimen:
    args: dict[str, object] = {
        "indication": "lems", "product": "privigen-us", "phase": Phase.induction,
        "start": D(2026, 12, 1), "days": 2,
    }  # fmt: skip
    args.update(changes)
    return Regimen(**args)  # type: ignore[arg-type]


def test_issue_example(catalogue: Catalogue) -> None:
    # ivig plan --sex male --height-cm 180 --weight-kg 100 --age 60 --product privigen-us
    #           --indication lems --phase induction --days 2 --start 2026-12-01
    plan = plan_course(
        MAN,
        _induction(),
        catalogue,
    )  # fmt: skip
    data = plan.as_dict()
    assert data["dosing_weight"]["kg"] == 85.0
    assert data["dosing_weight"]["basis"] == "adjusted"
    assert [d["date"] for d in data["doses"]] == ["2026-12-01", "2026-12-02"]
    assert [d["dose_g"] for d in data["doses"]] == [85, 85]
    assert data["doses"][0]["vials"] == [{"size_g": 40, "count": 2}, {"size_g": 5, "count": 1}]
    assert data["total_g"] == 170
    assert data["max_28d_g_per_kg"] == 2.0
    assert data["schedule"]["label"] == "US PI, CIDP"
    assert not data["schedule"]["on_label"]
    assert data["doses"][0]["duration_min"] == 216.9
    assert not data["product"]["verified"]  # US vial sizes are inferred, not confirmed


def test_default_induction_total_and_days_come_from_the_indication(catalogue: Catalogue) -> None:
    plan = plan_course(
        MAN,
        _induction(product="gamunex-c", days=None),
        catalogue,
    )  # fmt: skip
    assert len(plan.doses) == 2  # the shortest course the indication allows
    assert plan.total_g == 170  # 2 g/kg x 85 kg


def test_maintenance_with_history(catalogue: Catalogue) -> None:
    history = (GivenDose(D(2026, 12, 1), 85), GivenDose(D(2026, 12, 2), 85))
    regimen = Regimen(
        indication="lems", product="privigen-us", phase=Phase.maintenance,
        start=D(2026, 12, 29), dose_g_per_kg=1, every_weeks=4, until=D(2027, 12, 31),
        history=history, first_infusion=False,
    )  # fmt: skip
    plan = plan_course(MAN, regimen, catalogue)
    assert len(plan.doses) == 14
    assert all(d.vials.total_g == 85 for d in plan.doses)
    # 2 Dec (85 g) and 29 Dec (85 g) share a window: exactly the cap
    assert plan.max_28d_g_per_kg == pytest.approx(2.0)


def test_maintenance_too_soon_after_induction_is_refused(catalogue: Catalogue) -> None:
    history = (GivenDose(D(2026, 12, 1), 85), GivenDose(D(2026, 12, 2), 85))
    regimen = Regimen(
        indication="lems", product="privigen-us", phase=Phase.maintenance,
        start=D(2026, 12, 15), dose_g_per_kg=1, every_weeks=4, count=3, history=history,
    )  # fmt: skip
    with pytest.raises(CapExceeded) as caught:
        plan_course(MAN, regimen, catalogue)
    # The maintenance doses alone fit: the start date is at fault, and the earliest start that
    # fits is suggested (1 Dec leaves the window on 29 Dec).
    assert caught.value.earliest_allowed == D(2026, 12, 29)
    assert caught.value.field == "start"
    assert "course may start is 2026-12-29" in caught.value.message


def test_maintenance_interval_too_short_for_the_dose_is_refused(catalogue: Catalogue) -> None:
    # 1.2 g/kg every 2 weeks: 2.4 g/kg in 1-28 Dec whatever the start date
    regimen = Regimen(
        indication="lems", product="privigen-us", phase=Phase.maintenance,
        start=D(2026, 12, 1), dose_g_per_kg=1.2, every_weeks=2, count=3,
    )  # fmt: skip
    with pytest.raises(CapExceeded) as caught:
        plan_course(MAN, regimen, catalogue)
    assert caught.value.field == "dose_g_per_kg"
    assert caught.value.reached_g_per_kg == pytest.approx(2.4)
    assert caught.value.earliest_allowed == D(2026, 12, 29)


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"days": 7}, InvalidInput, "days"),  # LEMS: 2-5 days
        ({"days": 1}, InvalidInput, "days"),
        ({"total_g_per_kg": 3.0}, CapExceeded, "total_g_per_kg"),  # above 2 g/kg in 28 days
        ({"total_g_per_kg": 0}, OutOfRange, "total_g_per_kg"),
        ({"product": "alyglo"}, NoRateSchedule, "product"),
        ({"indication": "gbs"}, IvigError, "indication"),
        ({"previous_product": "nope"}, IvigError, "previous_product"),
    ],
)
def test_refusals(
    catalogue: Catalogue, changes: dict[str, object], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as caught:
        plan_course(MAN, _induction(**changes), catalogue)
    assert caught.value.field == field  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"dose_g_per_kg": None}, "dose_g_per_kg"),
        ({"every_weeks": None}, "every_weeks"),
        ({"every_weeks": 8}, "every_weeks"),  # LEMS: every 2-6 weeks
        ({"every_weeks": 1}, "every_weeks"),
        ({"count": None}, "count"),
    ],
)
def test_maintenance_refusals(catalogue: Catalogue, changes: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "indication": "lems", "product": "privigen-us", "phase": Phase.maintenance,
        "start": D(2026, 12, 1), "dose_g_per_kg": 0.5, "every_weeks": 4, "count": 3,
    }  # fmt: skip
    args.update(changes)
    with pytest.raises(InvalidInput) as caught:
        plan_course(MAN, Regimen(**args), catalogue)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_egfr_from_creatinine(catalogue: Catalogue) -> None:
    from ivig.core.renal import CreatinineUnit

    patient = Patient(
        sex=Sex.male, height_cm=180, weight_kg=100, age=60, creatinine=2.0,
        creatinine_unit=CreatinineUnit.mg_dl,
    )  # fmt: skip
    plan = plan_course(
        patient,
        _induction(),
        catalogue,
    )  # fmt: skip
    assert plan.risks.egfr is not None
    assert plan.risks.egfr < 60
    assert plan.maximum_mg_per_kg_per_min == 3.3


def test_egfr_and_creatinine_together_are_refused(catalogue: Catalogue) -> None:
    patient = Patient(sex=Sex.male, height_cm=180, weight_kg=100, age=60, egfr=50, creatinine=90)
    with pytest.raises(InvalidInput) as caught:
        plan_course(
            patient,
            _induction(),
            catalogue,
        )  # fmt: skip
    assert caught.value.field == "creatinine"


def test_other_indications_by_data(catalogue: Catalogue) -> None:
    for indication in ("cidp", "mg", "mmn"):
        plan = plan_course(
            MAN,
            Regimen(indication=indication, product="gammagard-liquid", phase=Phase.induction,
                    start=D(2026, 12, 1), days=5),
            catalogue,
        )  # fmt: skip
        assert plan.total_g <= plan.cap_g
    mmn = plan_course(
        MAN,
        Regimen(indication="mmn", product="gammagard-liquid", phase=Phase.induction,
                start=D(2026, 12, 1), days=5),
        catalogue,
    )  # fmt: skip
    assert mmn.schedule.group == "mmn"
    assert mmn.on_label


@pytest.mark.parametrize(
    ("patient", "regimen", "field"),
    [
        # A date outside 1900-2199 is a typing error (and would overflow date arithmetic)
        (MAN, _induction(start=D(9999, 12, 31)), "start"),
        (MAN, _induction(start=D(1, 1, 1)), "start"),
        # The last infusion must come before the course
        (MAN, _induction(last_infusion=D(2026, 12, 5)), "last_infusion"),
        # Earlier doses must be real amounts before the course
        (MAN, _induction(history=(GivenDose(D(2026, 11, 1), float("nan")),)), "history"),
        (MAN, _induction(history=(GivenDose(D(2026, 11, 1), float("inf")),)), "history"),
        (MAN, _induction(history=(GivenDose(D(2026, 11, 1), -5),)), "history"),
        (MAN, _induction(history=(GivenDose(D(2026, 12, 3), 50),)), "history"),
        # A male patient cannot be pregnant; 350 kg at 40 cm is a BMI of 2187
        (Patient(sex=Sex.male, height_cm=180, weight_kg=100, age=60, pregnant=True),
         _induction(), "pregnant"),
        (Patient(sex=Sex.male, height_cm=40, weight_kg=350, age=60), _induction(), "weight_kg"),
    ],
)  # fmt: skip
def test_impossible_input_is_refused(
    catalogue: Catalogue, patient: Patient, regimen: Regimen, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        plan_course(patient, regimen, catalogue)
    assert caught.value.field == field


def test_history_over_the_cap_is_reported_not_blamed_on_the_plan(catalogue: Catalogue) -> None:
    # 250 g in one week of October: 2.94 g/kg, long before this course
    history = (GivenDose(D(2026, 10, 1), 125), GivenDose(D(2026, 10, 2), 125))
    plan = plan_course(MAN, _induction(history=history), catalogue)
    finding = next(f for f in plan.findings if f.code == "history-over-cap")
    assert "2.94 g/kg" in finding.message
    assert plan.max_28d_g_per_kg == pytest.approx(2.0)  # windows holding a planned dose


def test_later_start_rate_is_explained(catalogue: Catalogue) -> None:
    # Gammaplex 10%: doses after the first may start at 1 mg/kg/min if the first was tolerated
    plan = plan_course(MAN, _induction(product="gammaplex-10"), catalogue)
    assert plan.doses[0].steps[0].rate_mg_per_kg_per_min == 0.5
    assert plan.doses[1].steps[0].rate_mg_per_kg_per_min == 1.0
    finding = next(f for f in plan.findings if f.code == "later-start-rate")
    assert "doses after the first start at 1 mg/kg/min" in finding.message
    assert "start at 0.5 mg/kg/min" in finding.message
    assert not any(f.code == "later-start-rate" for f in
                   plan_course(MAN, _induction(), catalogue).findings)  # fmt: skip


# --- renal function (issue 14 items 2, 5 and 15) ------------------------------------------------


def test_a_creatinine_needs_its_unit(catalogue: Catalogue) -> None:
    # was read as umol/L: 12 (a dialysis value in mg/dL) gave an eGFR of 173 (issue 14 item 2)
    patient = Patient(sex=Sex.male, height_cm=180, weight_kg=100, age=60, creatinine=12)
    with pytest.raises(InvalidInput) as caught:
        plan_course(patient, _induction(), catalogue)
    assert caught.value.field == "creatinine_unit"


def test_no_renal_function_is_a_warning(catalogue: Catalogue) -> None:
    # SmPC: "assess renal parameters prior to infusion" (clinical-rules.md section 7a)
    plan = plan_course(MAN, _induction(), catalogue)
    missing = [f for f in plan.findings if f.code == "renal-function-missing"]
    assert [f.severity.value for f in missing] == ["warn"]
    assert "--" not in missing[0].message
    assert plan.as_dict()["renal"]["basis"] == "none"


@pytest.mark.parametrize(
    ("measured_on", "limit", "old"),
    [
        # first dose 2026-12-01; the service's limit in days (records: IVIG_CREATININE_MAX_AGE_DAYS)
        (D(2026, 9, 2), 90, False),  # 90 days old: within the limit
        (D(2026, 9, 1), 90, True),  # 91 days old: older than the limit
        (D(2026, 1, 1), None, False),  # no limit given: not checked
    ],
)
def test_an_old_renal_function_is_a_warning(
    catalogue: Catalogue, measured_on: dt.date, limit: int | None, old: bool
) -> None:
    from ivig.core.renal import CreatinineUnit

    patient = Patient(
        sex=Sex.male, height_cm=180, weight_kg=100, age=60, creatinine=1.0,
        creatinine_unit=CreatinineUnit.mg_dl, renal_measured_on=measured_on,
    )  # fmt: skip
    plan = plan_course(patient, _induction(), catalogue, renal_max_age_days=limit)
    found = [f for f in plan.findings if f.code == "renal-function-old"]
    assert bool(found) is old
    renal = plan.as_dict()["renal"]
    assert renal["measured_on"] == measured_on.isoformat()
    assert renal["age_days"] == (D(2026, 12, 1) - measured_on).days
    assert renal["max_age_days"] == limit
    if old:
        assert "91 days old" in found[0].message
        assert "limit of 90 days" in found[0].message


def test_the_unverified_egfr_threshold_is_listed_when_used(catalogue: Catalogue) -> None:
    # protocol.toml: egfr_threshold = 60, verified = false (issue 14 item 15)
    name = "eGFR threshold for renal risk (60 mL/min/1.73 m2)"
    with_egfr = plan_course(
        Patient(sex=Sex.male, height_cm=180, weight_kg=100, age=60, egfr=75),
        _induction(),
        catalogue,
    )
    assert name in with_egfr.unverified
    assert with_egfr.as_dict()["renal"]["threshold"] == {
        "egfr": 60,
        "verified": False,
        "source": catalogue.protocol.egfr_threshold.source.cite(),
        "below": False,
    }
    assert name not in plan_course(MAN, _induction(), catalogue).unverified
