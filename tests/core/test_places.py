"""The course's place against the unit's kind (issue 18, ``core.places``): the one table, and
a home team refused for an infusion with a reaction risk with the screening's advice."""

from __future__ import annotations

import pytest

from ivig.core.places import UNITS_FOR_PLACE, check_place
from ivig.core.screening import MEDICAL_SETTING
from ivig.errors import InvalidInput

PLACES = ("hospital", "infusion-centre", "home-with-nurse")
KINDS = ("infusion-centre", "day-ward", "home-team")
ALLOWED = {
    ("hospital", "day-ward"),
    ("hospital", "infusion-centre"),
    ("infusion-centre", "infusion-centre"),
    ("home-with-nurse", "home-team"),
}


def test_the_table_covers_every_place_and_kind() -> None:
    assert set(UNITS_FOR_PLACE) == set(PLACES)
    assert {k for kinds in UNITS_FOR_PLACE.values() for k in kinds} == set(KINDS)


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_pair(place: str, kind: str) -> None:
    if (place, kind) in ALLOWED:
        check_place(place, kind, "Unit")
        return
    with pytest.raises(InvalidInput) as refused:
        check_place(place, kind, "Unit")
    assert refused.value.field == "chair_id"
    assert refused.value.message.startswith("Unit is a")


def test_a_home_team_never_gives_an_infusion_with_a_reaction_risk() -> None:
    check_place("home-with-nurse", "home-team", "Home team", reaction_risk="")
    with pytest.raises(InvalidInput) as refused:
        check_place("home-with-nurse", "home-team", "Home team", reaction_risk="first infusion")
    assert "first infusion" in refused.value.message
    assert MEDICAL_SETTING in refused.value.message
    # a medical setting takes it
    check_place("hospital", "day-ward", "Ward", reaction_risk="product switch")
