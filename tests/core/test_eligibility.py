"""Eligibility by data (issue 15): each indication's criteria come from indications.toml, and
the core checks a prescriber's answers against them, naming the answer at fault."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ivig.core.catalogue import Catalogue, read_catalogue
from ivig.core.eligibility import CriterionKind, check_answers
from ivig.core.library import packaged_library, read_library
from ivig.errors import CatalogueError, InvalidInput

LEMS = {"vgcc_antibodies": "positive", "electrophysiology": "consistent", "severity_measure": "qms"}


def test_lems_asks_what_the_record_asked_before(catalogue: Catalogue) -> None:
    """The LEMS criteria are the three questions the record held in columns, with their sources
    (the NBA entry and the Version 3 proposal: clinical-rules.md 1a-1b), verified."""
    criteria = catalogue.indication("lems").criteria
    assert [c.key for c in criteria] == ["vgcc_antibodies", "electrophysiology", "severity_measure"]
    assert all(c.required and c.verified and c.kind is CriterionKind.choice for c in criteria)
    assert [o.value for o in criteria[0].options] == ["positive", "negative", "not-tested"]
    assert criteria[1].words("consistent") == "consistent with LEMS"
    assert {c.source.key for c in criteria} == {"nba-swg-lems", "nba-lems-entry"}


def test_the_other_indications_questions_are_marked_unconfirmed(catalogue: Catalogue) -> None:
    """The reference notes hold no CIDP, MG or MMN criteria text: their questions are the
    service's own and stay unverified."""
    for indication in ("cidp", "mg", "mmn"):
        criteria = catalogue.indication(indication).criteria
        assert criteria
        assert not any(c.verified for c in criteria)
        assert {c.source.key for c in criteria} == {"service-eligibility"}


def test_answers_come_back_checked_in_the_criteria_order(catalogue: Catalogue) -> None:
    answers = dict(reversed(LEMS.items()))
    checked = check_answers(catalogue.indication("lems"), answers)
    assert list(checked) == ["vgcc_antibodies", "electrophysiology", "severity_measure"]
    assert checked == LEMS


def test_yes_no_and_optional_answers(catalogue: Catalogue) -> None:
    cidp = catalogue.indication("cidp")
    answers: dict[str, Any] = {
        "nerve_conduction": "consistent",
        "other_causes_excluded": False,
        "severity_measure": "mrc",
    }
    assert check_answers(cidp, answers)["other_causes_excluded"] is False
    mmn = catalogue.indication("mmn")
    given = {"conduction_block": "block", "severity_measure": "mrc"}
    assert check_answers(mmn, given) == given  # anti-GM1 antibodies: optional, unanswered
    assert check_answers(mmn, {**given, "gm1_antibodies": None}) == given


@pytest.mark.parametrize(
    ("indication", "answers", "field", "words"),
    [
        ("lems", {**LEMS, "vgcc_antibodies": "maybe"}, "answers.vgcc_antibodies", "one of"),
        ("lems", {**LEMS, "severity_measure": 3}, "answers.severity_measure", "one of"),
        ("lems", {k: v for k, v in LEMS.items() if k != "electrophysiology"},
         "answers.electrophysiology", "required for LEMS"),
        ("lems", {**LEMS, "electrophysiology": None}, "answers.electrophysiology", "required"),
        ("lems", {**LEMS, "mood": "fine"}, "answers.mood", "not a criterion of LEMS"),
        ("lems", ["positive"], "answers", "object"),
        ("cidp", {"nerve_conduction": "consistent", "other_causes_excluded": "yes",
                  "severity_measure": "mrc"}, "answers.other_causes_excluded", "yes or no"),
        ("cidp", LEMS, "answers.vgcc_antibodies", "not a criterion of CIDP"),
    ],
)  # fmt: skip
def test_a_wrong_answer_names_itself(
    catalogue: Catalogue, indication: str, answers: Any, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_answers(catalogue.indication(indication), answers)
    assert caught.value.field == field
    assert words in caught.value.message


def test_every_indication_names_outcome_measures_of_the_library() -> None:
    library = packaged_library()
    for indication in library.catalogue.indications.values():
        assert indication.outcome_measures
        assert set(indication.outcome_measures) <= set(library.outcomes)
    catalogue = library.catalogue
    assert catalogue.indication("lems").outcome_measures[0] == "3tug"  # validated in LEMS
    assert set(catalogue.indication("mg").outcome_measures) == {"mg-adl", "qmg"}
    assert catalogue.indication("cidp").outcome_measures == ("mrc-sum",)


def _copy(tmp_path: Path) -> Path:
    data = resources.files("ivig").joinpath("data")
    for item in data.iterdir():
        if item.name.endswith(".toml"):
            (tmp_path / item.name).write_bytes(item.read_bytes())
    return tmp_path


CRITERION = '[[indications.criteria]]\nkey = "vgcc_antibodies"\n'


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        (CRITERION, '[[indications.criteria]]\nkey = "VGCC"\n', "lowercase letters"),
        ('kind = "choice"', 'kind = "scale"', "must be one of yes-no, choice"),
        ('kind = "choice"', 'kind = "yes-no"', "only for a choice"),
        ('{ value = "not-tested", label = "not tested" }',
         '{ value = "negative", label = "not tested" }', "two options with the same value"),
        ('{ value = "positive", label = "positive" }', '{ value = "positive" }', "options"),
        ('key = "electrophysiology"', 'key = "vgcc_antibodies"', "two criteria with the same key"),
        ("required = true", 'required = "yes"', "wrong type"),
        ('source = "nba-swg-lems"', 'source = "hearsay"', "unknown source"),
        ('plain_name = "Lambert-Eaton myasthenic syndrome"\n', "", "'plain_name' is missing"),
        ('outcome_measures = ["3tug", "qmg", "mrc-sum", "mg-adl"]', "outcome_measures = []",
         "must list outcome measure ids"),
        ('outcome_measures = ["3tug", "qmg", "mrc-sum", "mg-adl"]',
         'outcome_measures = ["3tug", "3tug"]', "names a measure twice"),
    ],
)  # fmt: skip
def test_a_broken_indication_is_refused(tmp_path: Path, old: str, new: str, complaint: str) -> None:
    folder = _copy(tmp_path)
    path = folder / "indications.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CatalogueError) as caught:
        read_catalogue(folder)
    assert complaint in caught.value.message
    assert "indications.toml indications[0]" in caught.value.message


def test_an_outcome_measure_must_be_in_outcomes_toml(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "indications.toml"
    path.write_text(
        path.read_text().replace(
            'outcome_measures = ["mrc-sum"]', 'outcome_measures = ["incat"]', 1
        )
    )
    with pytest.raises(CatalogueError) as caught:
        read_library(folder)
    assert "[cidp]: 'outcome_measures' names incat, not in outcomes.toml" in caught.value.message
