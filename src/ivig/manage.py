"""The database commands of ``ivig`` (serve, user, demo, audit, backup, restore).

They set Django up only when run, so that ``ivig plan``, ``products`` and ``risks`` never
import it.
"""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the database commands to the ``ivig`` command."""
