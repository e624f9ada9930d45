"""A course's phase: the induction (loading) course or a maintenance series.

Its own module so that the planner (``plan``) and the drug library's limits (``limits``, which
the planner calls for the usual-dose rule) can both name it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Phase"]


class Phase(StrEnum):
    induction = "induction"
    maintenance = "maintenance"
