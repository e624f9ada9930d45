"""Whole-database jobs run on the server (``ivig backup``, ``ivig restore``), each audited by
``system`` (requirement 5: a maintenance job is no unaudited path)."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from ivig.records import audit

__all__ = ["record_job"]


def record_job(action: str, file: Path, *, operator: str, **details: object) -> None:
    """The job's audit event: the file, what it held (``details``), who ran it."""
    with transaction.atomic():
        audit.record(
            None,
            action,
            "database",
            file.name,
            after={"file": str(file), **details},
            reason=f"ivig {action}, run by {operator} on the server",
        )
