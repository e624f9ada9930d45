"""Pre-infusion screening: risk assessment and the findings shown with every plan.

A finding has a code, a severity (``block``: do not start; ``warn``: act on it; ``info``: know
it), a message for the clinician and its source. Rules (issue 2; clinical-rules.md section 7;
products.md excipient table):
- active infection or fever: block, defer a day or two (founding article; SmPC risk group);
- IgA deficiency with anti-IgA antibodies and a history of hypersensitivity: block (all labels);
- excipient rules from the catalogue (proline, sorbitol, maltose, polysorbate 80);
- first infusion, product switch, long gap since the last infusion: warn (SmPC);
- renal and thrombosis risk: warn, with the lower maximum rate (FDA boxed warning; the EU core
  SmPC lists in risks.toml, overweight and obesity also derived from the BMI: issue 14, item 4);
- a live vaccine within 3 months: info (SmPC);
- catalogue values not yet verified: warn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ivig.core.catalogue import Catalogue, Product, Source
from ivig.core.weights import Sex
from ivig.errors import InvalidInput

__all__ = [
    "MEDICAL_SETTING",
    "Finding",
    "FindingSeverity",
    "RiskAssessment",
    "assess_risks",
    "check_risk_codes",
]


class FindingSeverity(StrEnum):
    """How much a finding weighs: ``block`` (no infusion until it is resolved), ``warn`` (a
    prescriber decides), ``info`` (to know). Not a reaction's grade (``ReactionSeverity``)."""

    block = "block"
    warn = "warn"
    info = "info"


_ORDER = {FindingSeverity.block: 0, FindingSeverity.warn: 1, FindingSeverity.info: 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One screening finding."""

    code: str
    severity: FindingSeverity
    message: str
    source: str

    @classmethod
    def of(cls, code: str, severity: FindingSeverity, message: str, source: Source) -> Finding:
        return cls(code, severity, message, source.cite())


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Block first, then warn, then info; the order given within each severity."""
    return tuple(sorted(findings, key=lambda f: _ORDER[f.severity]))


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """The patient's renal and thrombosis risks, each as the codes that make it."""

    codes: frozenset[str]
    renal: tuple[str, ...]
    thrombosis: tuple[str, ...]
    egfr: float | None
    bmi: float | None = None
    from_bmi: tuple[str, ...] = ()  # the codes that follow from the BMI

    @property
    def at_risk(self) -> bool:
        return bool(self.renal or self.thrombosis)


def check_risk_codes(codes: Iterable[str], catalogue: Catalogue) -> frozenset[str]:
    """Refuse a code the catalogue does not know (``ivig risks`` lists them)."""
    given = frozenset(codes)
    unknown = sorted(given - set(catalogue.risks))
    if unknown:
        raise InvalidInput(
            f"unknown risk code {', '.join(repr(u) for u in unknown)}; "
            "`ivig risks` lists the codes",
            field="risk",
        )
    return given


def assess_risks(
    codes: Iterable[str],
    *,
    age: int,
    egfr: float | None,
    catalogue: Catalogue,
    bmi: float | None = None,
) -> RiskAssessment:
    """Add the risks that follow from age, eGFR and BMI to the codes given, and group them.

    A risk with ``from_bmi`` in risks.toml applies at that BMI or above (obesity: BMI 30 or
    more, WHO; the EU core SmPC names obesity and overweight without a number).
    """
    given = set(check_risk_codes(codes, catalogue))
    protocol = catalogue.protocol
    if age > protocol.risk_age_years.value:
        given.add("age-over-65")
    if egfr is not None and egfr < protocol.egfr_threshold.value:
        given.add("egfr-below-60")
    derived = tuple(
        code
        for code, risk in catalogue.risks.items()
        if bmi is not None and risk.from_bmi is not None and bmi >= risk.from_bmi.value
    )
    given.update(derived)
    ordered = [code for code in catalogue.risks if code in given]
    return RiskAssessment(
        codes=frozenset(given),
        renal=tuple(c for c in ordered if "renal" in catalogue.risks[c].groups),
        thrombosis=tuple(c for c in ordered if "thrombosis" in catalogue.risks[c].groups),
        egfr=egfr,
        bmi=bmi,
        from_bmi=derived,
    )


@dataclass(frozen=True, slots=True)
class ScreeningInput:
    """What screening needs to know about the patient, the product and the course."""

    risks: RiskAssessment
    product: Product
    first_infusion: bool
    previous_product: Product | None
    last_infusion: dt.date | None
    first_dose: dt.date
    sex: Sex


def screen(data: ScreeningInput, catalogue: Catalogue) -> list[Finding]:
    """The patient and product findings (course-level findings are added by the planner)."""
    out: list[Finding] = []
    src = catalogue.sources
    codes = data.risks.codes
    product = data.product
    for code in ("active-infection", "fever"):
        if code in codes:
            out.append(
                Finding.of(
                    code,
                    FindingSeverity.block,
                    f"{catalogue.risks[code].meaning}: defer the infusion a day or two and review "
                    "before starting (UNVERIFIED as a rule: described as common practice; the SmPC "
                    "names untreated infection as a risk for reactions)",
                    src["eu-smpc-ig"],
                )
            )
    if "iga-deficiency-anti-iga" in codes:
        iga = product.iga_max_ug_per_ml
        content = ""
        if iga is not None:
            content = f"; {product.display_name} IgA content: {iga.value:g} micrograms/mL"
            content += f" ({iga.note})" if iga.note else " (maximum)"
            content += "" if iga.verified else ", UNVERIFIED"
        out.append(
            Finding.of(
                "iga-deficiency",
                FindingSeverity.block,
                "IgA deficiency with antibodies against IgA and a history of hypersensitivity: "
                f"contraindicated for every IVIG product{content}",
                src["ivig-class-iga"],
            )
        )
    for rule in catalogue.excipient_rules:
        if rule.excipient in product.excipients.value and (
            rule.condition is None or rule.condition in codes
        ):
            out.append(
                Finding.of(
                    rule.code,
                    FindingSeverity(rule.severity),
                    f"{product.display_name} {rule.message}"
                    + (
                        ""
                        if product.excipients.verified
                        else f" (UNVERIFIED: the product's excipients are not confirmed; "
                        f"{product.excipients.note})"
                    ),
                    rule.source,
                )
            )
    out.extend(_reaction_risk(data, catalogue))
    bmi = _bmi_note(data.risks)
    if data.risks.renal:
        out.append(
            Finding.of(
                "renal-risk",
                FindingSeverity.warn,
                f"risk of renal dysfunction: {_renal_reasons(data.risks, catalogue)}"
                f"{bmi if set(data.risks.renal) & set(data.risks.from_bmi) else ''}. "
                "Give the minimum dose and rate practicable; hydrate before the infusion; "
                "check renal function and urine output",
                src["ahfs-immune-globulin"],
            )
        )
    if data.risks.thrombosis:
        out.append(
            Finding.of(
                "thrombosis-risk",
                FindingSeverity.warn,
                f"risk of thrombosis: {_meanings(data.risks.thrombosis, catalogue)}"
                f"{bmi if set(data.risks.thrombosis) & set(data.risks.from_bmi) else ''}. "
                "Give the minimum dose and rate practicable; hydrate before the infusion; "
                "watch for signs of thrombosis",
                src["fda-boxed-warning"],
            )
        )
    if "live-vaccine-3-months" in codes:
        out.append(
            Finding.of(
                "live-vaccine",
                FindingSeverity.info,
                "IVIG can weaken the response to live attenuated virus vaccines: leave 3 months "
                "between the infusion and such a vaccine",
                src["eu-smpc-live-vaccines"],
            )
        )
    return out


def _bmi_note(risks: RiskAssessment) -> str:
    return f" (BMI {risks.bmi:.1f})" if risks.bmi is not None and risks.from_bmi else ""


def _meanings(codes: tuple[str, ...], catalogue: Catalogue) -> str:
    meanings = (catalogue.risks[c].meaning for c in codes)
    return "; ".join(m[:1].lower() + m[1:] for m in meanings)


def _renal_reasons(risks: RiskAssessment, catalogue: Catalogue) -> str:
    """The renal risks in words; a low eGFR as its value against the protocol's threshold,
    marked UNVERIFIED while the threshold is (issue 14 item 15)."""
    egfr = risks.egfr
    threshold = catalogue.protocol.egfr_threshold
    flag = "" if threshold.verified else ", UNVERIFIED"
    reasons = []
    for code in risks.renal:
        if code == "egfr-below-60" and egfr is not None:
            reasons.append(
                f"eGFR {egfr:.0f} mL/min/1.73 m2, below the threshold of {threshold.value:g} "
                f"(service protocol{flag})"
            )
        else:
            reasons.append(_meanings((code,), catalogue))
    text = "; ".join(reasons)
    if egfr is not None and "egfr-below-60" not in risks.renal:
        text += f" (eGFR {egfr:.0f} mL/min/1.73 m2)"
    return text


# The advice of a reaction risk (first infusion, product switch, long gap): the founding article
# ("these infusions should be performed in a medical setting where aid is available
# immediately") and the SmPC's close monitoring; ``core.places`` refuses a home visit with it.
MEDICAL_SETTING = (
    "give it in a medical setting, start at the lowest rate and monitor closely "
    "(vital signs every 15 minutes until the maximum rate)"
)


def _reaction_risk(data: ScreeningInput, catalogue: Catalogue) -> list[Finding]:
    """First infusion, product switch or long gap: reactions are more likely (SmPC)."""
    src = catalogue.sources["eu-smpc-ig"]
    advice = MEDICAL_SETTING
    out = []
    if data.first_infusion:
        out.append(
            Finding.of(
                "first-infusion",
                FindingSeverity.warn,
                f"first IVIG infusion: reactions are most likely; {advice}",
                src,
            )
        )
    previous = data.previous_product
    if previous is not None and previous.id != data.product.id:
        out.append(
            Finding.of(
                "product-switch",
                FindingSeverity.warn,
                f"product switch from {previous.display_name} to {data.product.display_name}: "
                f"products are not interchangeable; {advice}",
                src,
            )
        )
    gap_weeks = catalogue.protocol.long_gap_weeks
    if data.last_infusion is not None and not data.first_infusion:
        gap = (data.first_dose - data.last_infusion).days
        if gap > gap_weeks.value * 7:
            out.append(
                Finding.of(
                    "long-gap",
                    FindingSeverity.warn,
                    f"{gap} days since the last infusion ({data.last_infusion.isoformat()}), "
                    "more than "
                    f"{gap_weeks.value} weeks (protocol, UNVERIFIED threshold): {advice}",
                    src,
                )
            )
    return out
