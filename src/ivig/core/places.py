"""Where an infusion is given: the course's place against the kind of unit it is booked with
(issue 18), in one table.

The founding article (``reference/000_*.txt``): "You will receive these infusions at a
hospital, specialty infusion center, or at home in the presence of a nurse who monitors you";
"Side effects are most likely to occur within the first few infusions. Thus, these infusions
should be performed in a medical setting where aid is available immediately"
(``clinical-rules.md`` section 2). The course's place (``hospital``, ``infusion-centre``,
``home-with-nurse``) is the prescriber's; a unit's kind (``infusion-centre``, ``day-ward``,
``home-team``) is the administrator's:

=================  ==============================  =============================================
course's place     units that may give it          why
=================  ==============================  =============================================
hospital           day-ward, infusion-centre       a hospital gives IVIG on a day ward or in its
                                                   own infusion centre
infusion-centre    infusion-centre                 a specialty infusion centre, as prescribed
home-with-nurse    home-team                       a nurse visits the patient's home
=================  ==============================  =============================================

A home team never gives an infusion with a reaction risk (a first infusion, a product switch,
a long gap: ``core.screening``'s finding, whose advice is :data:`MEDICAL_SETTING`).
"""

from __future__ import annotations

from ivig.core.screening import MEDICAL_SETTING
from ivig.errors import InvalidInput

__all__ = ["HOME_TEAM", "UNITS_FOR_PLACE", "check_place"]

HOME_TEAM = "home-team"

UNITS_FOR_PLACE: dict[str, tuple[str, ...]] = {
    "hospital": ("day-ward", "infusion-centre"),
    "infusion-centre": ("infusion-centre",),
    "home-with-nurse": (HOME_TEAM,),
}

_KIND_WORDS = {
    "day-ward": "a day ward",
    "infusion-centre": "an infusion centre",
    HOME_TEAM: "a home-infusion team",
}
_PLACE_WORDS = {
    "hospital": "at the hospital",
    "infusion-centre": "at an infusion centre",
    "home-with-nurse": "at home with a nurse",
}


def check_place(place: str, unit_kind: str, unit_name: str, *, reaction_risk: str = "") -> None:
    """Refuse a unit whose kind does not give the course's ``place`` (the table above), and a
    home team for an infusion with a reaction risk (``reaction_risk``: why, e.g. ``first
    infusion``; empty when there is none). ``InvalidInput`` on ``chair_id``."""
    allowed = UNITS_FOR_PLACE.get(place, ())
    if unit_kind not in allowed:
        kinds = " or ".join(_KIND_WORDS.get(k, k) for k in allowed) or "no unit"
        raise InvalidInput(
            f"{unit_name} is {_KIND_WORDS.get(unit_kind, unit_kind)}: the course is given "
            f"{_PLACE_WORDS.get(place, place)}, so book it with {kinds}",
            field="chair_id",
        )
    if unit_kind == HOME_TEAM and reaction_risk:
        raise InvalidInput(
            f"{unit_name} is a home-infusion team: {reaction_risk}, {MEDICAL_SETTING} "
            "(SmPC; reactions are most likely in the first infusions): it is prescribed at the "
            "hospital or an infusion centre, and booked there",
            field="chair_id",
        )
