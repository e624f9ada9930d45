"""The prescriber's rate ceiling in force for a patient (issue 16's closing note): the latest
decision after a reaction in force, when it is a ramp capped at the tolerated rate (a later
"same ramp" lifts it). Planning takes it as a ramp input (``core.rates.RateCeiling``, for the
doses after the reaction's day) and stores it with the course's regimen, so that the
pharmacist's recomputation from the stored inputs agrees (``orders.recomputed_differences``).

Source: "finish at the last tolerated rate" (NHS Borders IVIG guideline, requirement 62); the
decision itself (``premedication.decide``) is the prescriber's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ivig.core.rates import RateCeiling
from ivig.core.sourced import Source
from ivig.core.units import plain_number
from ivig.records.models import RampDecision, Reaction, ReactionDecision
from ivig.records.services.corrections import current

__all__ = ["Ceiling", "capped_only", "in_force", "rate_ceiling", "words"]

# The rule the cap follows (data/sources.toml).
RULE_SOURCE = "nhs-borders-ig"
_WORDS = "prescriber's cap after the reaction of "


@dataclass(frozen=True, slots=True)
class Ceiling:
    """The ceiling as the course's regimen stores it: the rate, the reaction's day (it holds
    for the doses after it) and the decision's id (cited)."""

    max_ml_per_h: float
    after: dt.date
    decision: int


def in_force(patient_id: int) -> Ceiling | None:
    """The ceiling the patient's latest decision after a reaction in force puts on the later
    infusions (``None``: no decision, or the latest is "the same ramp")."""
    reactions = current(Reaction.objects.filter(session__order__patient_id=patient_id))
    row = (
        ReactionDecision.objects.filter(reaction__in=reactions)
        .select_related("reaction__session__order")
        .order_by("-reaction__at", "-id")
        .first()
    )
    if row is None or row.ramp != RampDecision.capped or row.max_ml_per_h is None:
        return None
    return Ceiling(row.max_ml_per_h, row.reaction.session.order.date, row.pk)


def words(max_ml_per_h: float, after: dt.date) -> str:
    """The ceiling's basis in words, as the steps and the findings show it."""
    rate = plain_number(max_ml_per_h)
    return f"{_WORDS}{after.isoformat()}: {rate} mL/h"


def capped_only(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    """Whether two step lists of one dose differ only where a prescriber's cap ends the ramp
    (a cap set, changed or lifted): the same rates up to the last step of the shorter, and a
    last step at a cap. A weight change moves every rate: not this."""
    if not old or not new:
        return False
    head = min(len(old), len(new)) - 1
    rates = [float(s["rate_ml_per_h"]) for s in old[:head]]
    if rates != [float(s["rate_ml_per_h"]) for s in new[:head]]:
        return False
    return any(str(s[-1].get("basis", "")).startswith(_WORDS) for s in (old, new))


def rate_ceiling(
    max_ml_per_h: float | None, after: dt.date | None, decision: int | None, rule: Source | None
) -> RateCeiling | None:
    """The core's ramp input from the stored regimen's fields (``None``: no ceiling)."""
    if max_ml_per_h is None or after is None:
        return None
    cited = f"the prescriber's decision {decision} after the reaction of {after.isoformat()}"
    if rule is not None:
        cited += f"; {rule.cite()}"
    return RateCeiling(max_ml_per_h, words(max_ml_per_h, after), cited, after)
