"""Screening findings: what blocks, what warns, what informs."""

from __future__ import annotations

import datetime as dt

import pytest

from ivig.core.catalogue import Catalogue
from ivig.core.library import Library
from ivig.core.plan import Patient, Phase, Plan, Regimen, plan_course
from ivig.core.screening import FindingSeverity, assess_risks
from ivig.core.weights import Sex
from ivig.errors import InvalidInput


def _plan(
    packaged: Library,
    *,
    product: str = "privigen-us",
    risks: frozenset[str] = frozenset(),
    age: int = 50,
    **regimen: object,
) -> Plan:
    return plan_course(
        Patient(sex=Sex.female, height_cm=165, weight_kg=70, age=age, risks=risks),
        Regimen(
            indication="lems",
            product=product,
            phase=Phase.induction,
            start=dt.date(2026, 12, 1),
            days=2,
            **regimen,  # type: ignore[arg-type]
        ),
        packaged,
    )


def _codes(plan: Plan) -> dict[str, FindingSeverity]:
    return {f.code: f.severity for f in plan.findings}


@pytest.mark.parametrize(
    ("product", "risk", "code", "severity"),
    [
        # Active infection or fever: defer a day or two (founding article; SmPC risk group)
        ("privigen-us", "active-infection", "active-infection", FindingSeverity.block),
        ("privigen-us", "fever", "fever", FindingSeverity.block),
        # All labels: IgA deficiency with anti-IgA antibodies and hypersensitivity
        ("privigen-us", "iga-deficiency-anti-iga", "iga-deficiency", FindingSeverity.block),
        # Excipients (products.md "Excipient-driven rules"): proline, sorbitol, maltose
        ("privigen-us", "hyperprolinaemia", "hyperprolinaemia-proline", FindingSeverity.block),
        ("flebogamma-5", "hereditary-fructose-intolerance", "fructose-intolerance-sorbitol",
         FindingSeverity.block),
        ("octagam-10", "corn-allergy", "corn-allergy-maltose", FindingSeverity.block),
        ("bivigam", "polysorbate-80-hypersensitivity", "polysorbate-80-hypersensitivity",
         FindingSeverity.block),
        # SmPC: 3 months before live attenuated virus vaccines
        ("privigen-us", "live-vaccine-3-months", "live-vaccine", FindingSeverity.info),
        # Boxed warning: renal and thrombosis risk factors
        ("privigen-us", "diabetes", "renal-risk", FindingSeverity.warn),
        ("privigen-us", "malignancy", "thrombosis-risk", FindingSeverity.warn),
    ],
)  # fmt: skip
def test_condition_findings(
    packaged: Library, product: str, risk: str, code: str, severity: FindingSeverity
) -> None:
    plan = _plan(packaged, product=product, risks=frozenset({risk}))
    assert _codes(plan)[code] is severity
    assert all(f.source for f in plan.findings)


def test_excipient_rule_without_the_condition_does_not_fire(packaged: Library) -> None:
    codes = _codes(_plan(packaged, product="privigen-us"))
    assert "hyperprolinaemia-proline" not in codes
    # but the maltose glucometer warning applies to every patient on a maltose product
    assert (
        _codes(_plan(packaged, product="octagam-10"))["maltose-glucometer"] is FindingSeverity.warn
    )


def test_unverified_excipient_says_so(packaged: Library) -> None:
    # Gammaplex 5% sorbitol is UNVERIFIED in products.md
    plan = _plan(
        packaged, product="gammaplex-5", risks=frozenset({"hereditary-fructose-intolerance"})
    )
    finding = next(f for f in plan.findings if f.code == "fructose-intolerance-sorbitol")
    assert "UNVERIFIED" in finding.message


def test_first_infusion_switch_and_long_gap(packaged: Library) -> None:
    assert _codes(_plan(packaged))["first-infusion"] is FindingSeverity.warn
    later = _plan(
        packaged,
        first_infusion=False,
        previous_product="gamunex-c",
        last_infusion=dt.date(2026, 9, 1),
    )
    codes = _codes(later)
    assert "first-infusion" not in codes
    assert codes["product-switch"] is FindingSeverity.warn
    assert codes["long-gap"] is FindingSeverity.warn  # 91 days > 8 weeks (protocol)
    recent = _plan(packaged, first_infusion=False, last_infusion=dt.date(2026, 11, 10))
    assert "long-gap" not in _codes(recent)


def test_block_findings_come_first(packaged: Library) -> None:
    plan = _plan(packaged, risks=frozenset({"fever", "diabetes"}))
    severities = [f.severity for f in plan.findings]
    assert severities == sorted(severities, key=["block", "warn", "info"].index)
    assert plan.blocked


def test_age_and_egfr_make_risks(catalogue: Catalogue) -> None:
    risks = assess_risks([], age=70, egfr=45, catalogue=catalogue)
    assert risks.renal == ("egfr-below-60", "age-over-65")
    assert risks.thrombosis == ("age-over-65",)
    assert not assess_risks([], age=65, egfr=60, catalogue=catalogue).at_risk


def test_unknown_risk_code(catalogue: Catalogue) -> None:
    with pytest.raises(InvalidInput) as caught:
        assess_risks(["nope"], age=50, egfr=None, catalogue=catalogue)
    assert caught.value.field == "risk"


def test_unverified_values_are_named(packaged: Library) -> None:
    plan = _plan(packaged, product="flebogamma-10")
    finding = next(f for f in plan.findings if f.code == "unverified-values")
    assert "flebogamma-10 rate schedule" in finding.message
    assert "LEMS cap" in finding.message


# --- issue 14, item 4: the EU core SmPC risk lists, obesity from the BMI ----------------------


@pytest.mark.parametrize(
    ("code", "groups"),
    [
        # EU core SmPC (EMA/CHMP/BPWP/94038/2007; clinical-rules.md section 7a'), acute renal
        # failure: "pre-existing renal insufficiency, diabetes mellitus, hypovolaemia,
        # overweight, concomitant nephrotoxic medicinal products or age over 65"
        ("renal-insufficiency", {"renal"}),
        ("diabetes", {"renal", "thrombosis"}),
        ("volume-depletion", {"renal"}),
        ("overweight", {"renal"}),
        ("nephrotoxic-drugs", {"renal"}),
        ("age-over-65", {"renal", "thrombosis"}),
        # thromboembolism: "obese patients ... advanced age, hypertension, diabetes mellitus and
        # a history of vascular disease or thrombotic episodes, ... thrombophilic disorders,
        # ... prolonged periods of immobilisation, severely hypovolaemic patients, ... diseases
        # which increase blood viscosity"
        ("obesity", {"renal", "thrombosis"}),
        ("hypertension", {"thrombosis"}),
        ("vascular-disease", {"thrombosis"}),
        ("thrombosis-history", {"thrombosis"}),
        ("thrombophilia", {"thrombosis"}),
        ("immobility", {"thrombosis"}),
        ("severe-hypovolaemia", {"renal", "thrombosis"}),
        ("hyperviscosity", {"thrombosis"}),
    ],
)
def test_the_eu_core_smpc_lists_are_risk_codes(
    packaged: Library, code: str, groups: set[str]
) -> None:
    assert set(packaged.catalogue.risks[code].groups) == groups
    plan = _plan(packaged, risks=frozenset({code}))
    assert plan.risks.at_risk
    # each risk brings in the at-risk maximum: 3.3 mg/kg/min (protocol) for Privigen's 8
    assert plan.maximum_mg_per_kg_per_min == 3.3
    assert max(s.rate_mg_per_kg_per_min for s in plan.doses[0].steps) == 3.3


@pytest.mark.parametrize(
    ("weight_kg", "obese"),
    [
        # WHO: obesity is a BMI of 30 or more (clinical-rules.md section 7a'); 165 cm:
        (81.4, False),  # 81.4 / 1.65^2 = 29.90
        (81.6, True),  # 29.97, shown as BMI 30.0: the BMI shown is the one compared
        (81.7, True),  # 30.01
        (117.1, True),  # 43.0: the case (no renal or thrombosis finding before)
    ],
)
def test_obesity_is_derived_from_the_bmi(packaged: Library, weight_kg: float, obese: bool) -> None:
    plan = plan_course(
        Patient(sex=Sex.female, height_cm=165, weight_kg=weight_kg, age=50),
        Regimen(
            indication="lems", product="privigen-us", phase=Phase.induction,
            start=dt.date(2026, 12, 1), days=2,
        ),
        packaged,
    )  # fmt: skip
    assert ("obesity" in plan.risks.codes) is obese
    found = _codes(plan)
    assert ("renal-risk" in found and "thrombosis-risk" in found) is obese
    assert plan.maximum_mg_per_kg_per_min == (3.3 if obese else 8.0)
    if obese:
        renal = next(f for f in plan.findings if f.code == "renal-risk")
        assert "obesity (BMI 30 or more)" in renal.message
        assert f"(BMI {plan.dosing_weight.bmi:.1f})" in renal.message


def test_bmi_threshold_comes_from_the_catalogue(catalogue: Catalogue) -> None:
    threshold = catalogue.risks["obesity"].from_bmi
    assert threshold is not None
    assert threshold.value == 30
    assert threshold.source.key == "who-bmi"
    risks = assess_risks((), age=40, egfr=None, catalogue=catalogue, bmi=30.0)
    assert risks.from_bmi == ("obesity",)
    assert assess_risks((), age=40, egfr=None, catalogue=catalogue, bmi=29.9).codes == set()
