"""Screening findings: what blocks, what warns, what informs."""

from __future__ import annotations

import datetime as dt

import pytest

from ivig.core.catalogue import Catalogue
from ivig.core.plan import Patient, Phase, Plan, Regimen, plan_course
from ivig.core.screening import Severity, assess_risks
from ivig.core.weights import Sex
from ivig.errors import InvalidInput


def _plan(
    catalogue: Catalogue,
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
        catalogue,
    )


def _codes(plan: Plan) -> dict[str, Severity]:
    return {f.code: f.severity for f in plan.findings}


@pytest.mark.parametrize(
    ("product", "risk", "code", "severity"),
    [
        # Active infection or fever: defer a day or two (founding article; SmPC risk group)
        ("privigen-us", "active-infection", "active-infection", Severity.block),
        ("privigen-us", "fever", "fever", Severity.block),
        # All labels: IgA deficiency with anti-IgA antibodies and hypersensitivity
        ("privigen-us", "iga-deficiency-anti-iga", "iga-deficiency", Severity.block),
        # Excipients (products.md "Excipient-driven rules"): proline, sorbitol, maltose
        ("privigen-us", "hyperprolinaemia", "hyperprolinaemia-proline", Severity.block),
        ("flebogamma-5", "hereditary-fructose-intolerance", "fructose-intolerance-sorbitol",
         Severity.block),
        ("octagam-10", "corn-allergy", "corn-allergy-maltose", Severity.block),
        ("bivigam", "polysorbate-80-hypersensitivity", "polysorbate-80-hypersensitivity",
         Severity.block),
        # SmPC: 3 months before live attenuated virus vaccines
        ("privigen-us", "live-vaccine-3-months", "live-vaccine", Severity.info),
        # Boxed warning: renal and thrombosis risk factors
        ("privigen-us", "diabetes", "renal-risk", Severity.warn),
        ("privigen-us", "malignancy", "thrombosis-risk", Severity.warn),
    ],
)  # fmt: skip
def test_condition_findings(
    catalogue: Catalogue, product: str, risk: str, code: str, severity: Severity
) -> None:
    plan = _plan(catalogue, product=product, risks=frozenset({risk}))
    assert _codes(plan)[code] is severity
    assert all(f.source for f in plan.findings)


def test_excipient_rule_without_the_condition_does_not_fire(catalogue: Catalogue) -> None:
    codes = _codes(_plan(catalogue, product="privigen-us"))
    assert "hyperprolinaemia-proline" not in codes
    # but the maltose glucometer warning applies to every patient on a maltose product
    assert _codes(_plan(catalogue, product="octagam-10"))["maltose-glucometer"] is Severity.warn


def test_unverified_excipient_says_so(catalogue: Catalogue) -> None:
    # Gammaplex 5% sorbitol is UNVERIFIED in products.md
    plan = _plan(
        catalogue, product="gammaplex-5", risks=frozenset({"hereditary-fructose-intolerance"})
    )
    finding = next(f for f in plan.findings if f.code == "fructose-intolerance-sorbitol")
    assert "UNVERIFIED" in finding.message


def test_first_infusion_switch_and_long_gap(catalogue: Catalogue) -> None:
    assert _codes(_plan(catalogue))["first-infusion"] is Severity.warn
    later = _plan(
        catalogue,
        first_infusion=False,
        previous_product="gamunex-c",
        last_infusion=dt.date(2026, 9, 1),
    )
    codes = _codes(later)
    assert "first-infusion" not in codes
    assert codes["product-switch"] is Severity.warn
    assert codes["long-gap"] is Severity.warn  # 91 days > 8 weeks (protocol)
    recent = _plan(catalogue, first_infusion=False, last_infusion=dt.date(2026, 11, 10))
    assert "long-gap" not in _codes(recent)


def test_block_findings_come_first(catalogue: Catalogue) -> None:
    plan = _plan(catalogue, risks=frozenset({"fever", "diabetes"}))
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


def test_unverified_values_are_named(catalogue: Catalogue) -> None:
    plan = _plan(catalogue, product="flebogamma-10")
    finding = next(f for f in plan.findings if f.code == "unverified-values")
    assert "flebogamma-10 rate schedule" in finding.message
    assert "LEMS cap" in finding.message
