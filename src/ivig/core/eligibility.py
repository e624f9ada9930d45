"""Eligibility for IVIG in an indication: the indication's own criteria and the check of a
prescriber's answers against them.

The criteria are data (``[[indications.criteria]]`` in ``data/indications.toml``, read by
:mod:`ivig.core.catalogue`): each has a key, a question, a kind (``yes-no``, or ``choice`` among
its options), whether an answer is required, and its source. The record keeps what every
indication asks (diagnosed by a neurologist, alternative therapy failed, the review date) in
columns of its own and the indication's answers as one object, checked here by
:func:`check_answers`. LEMS: the NBA Ig Criteria entry (clinical-rules.md section 1a: severity
by ADL, quantitative muscle or MRC scores) and the Version 3 proposal (1b: VGCC antibodies,
electrophysiology consistent with LEMS). Adding an indication or a criterion is a data change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from ivig.errors import InvalidInput

if TYPE_CHECKING:
    from ivig.core.catalogue import Indication, Source

__all__ = ["Answer", "Criterion", "CriterionKind", "Option", "check_answers"]

Answer = bool | str
"""An answer: ``True``/``False`` to a yes/no question, an option's value to a choice."""


class CriterionKind(StrEnum):
    yes_no = "yes-no"
    choice = "choice"


@dataclass(frozen=True, slots=True)
class Option:
    """One answer a choice offers: its stored value and the words shown."""

    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Criterion:
    """One eligibility question of an indication."""

    key: str
    question: str
    kind: CriterionKind
    required: bool
    source: Source
    verified: bool
    options: tuple[Option, ...] = ()
    note: str = ""

    @property
    def field(self) -> str:
        """The input's name in errors: ``answers.<key>``."""
        return f"answers.{self.key}"

    def words(self, answer: object) -> str:
        """An answer as shown: "yes", "no", or the option's label."""
        if self.kind is CriterionKind.yes_no and isinstance(answer, bool):
            return "yes" if answer else "no"
        labels = {o.value: o.label for o in self.options}
        return labels.get(str(answer), str(answer))

    def check(self, answer: object) -> Answer:
        """The answer if it fits this question; else :class:`InvalidInput` naming it."""
        if self.kind is CriterionKind.yes_no:
            if not isinstance(answer, bool):
                raise InvalidInput(
                    f"{self.key} ({self.question}) must be yes or no (true or false)",
                    field=self.field,
                )
            return answer
        allowed = [o.value for o in self.options]
        if not isinstance(answer, str) or answer not in allowed:
            raise InvalidInput(
                f"{self.key} ({self.question}) must be one of {', '.join(allowed)}",
                field=self.field,
            )
        return answer


def check_answers(indication: Indication, answers: object) -> dict[str, Answer]:
    """The answers to ``indication``'s criteria, checked and in the criteria's order: every
    required one given, each of its kind (yes/no, or one of the choice's options), none that the
    indication does not ask. An unanswered optional criterion (absent or null) is left out.
    Raise :class:`InvalidInput` naming the answer at fault (``answers.<key>``)."""
    if not isinstance(answers, Mapping):
        raise InvalidInput("answers must be an object of criterion: answer", field="answers")
    criteria = {c.key: c for c in indication.criteria}
    for key in answers:
        if key not in criteria:
            known = ", ".join(criteria) or "none"
            raise InvalidInput(
                f"'{key}' is not a criterion of {indication.short_name} (its criteria: {known})",
                field=f"answers.{key}",
            )
    out: dict[str, Answer] = {}
    for key, criterion in criteria.items():
        answer = answers.get(key)
        if answer is None:
            if criterion.required:
                raise InvalidInput(
                    f"{key} ({criterion.question}) is required for {indication.short_name}",
                    field=criterion.field,
                )
            continue
        out[key] = criterion.check(answer)
    return out
