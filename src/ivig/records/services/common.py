"""Helpers shared by the services: fetch-or-404 and the versioned update."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.db import models
from django.db.models import F
from django.utils import timezone

from ivig.errors import NotFound, StaleVersion
from ivig.records.models import Versioned

M = TypeVar("M", bound=models.Model)
V = TypeVar("V", bound=Versioned)

__all__ = ["CLOCK_SKEW", "get", "locked", "save_versioned"]

# A clinical time may be this far ahead of the server's clock (clocks differ; requirement 35).
CLOCK_SKEW = dt.timedelta(minutes=2)


def get(model: type[M], pk: object, what: str) -> M:
    try:
        return model._default_manager.get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):  # type: ignore[attr-defined]
        raise NotFound(what, pk) from None


def locked(model: type[M], pk: object, what: str) -> M:
    """The row, locked for the rest of the transaction (PostgreSQL: FOR UPDATE; SQLite's
    IMMEDIATE transactions already hold the write lock)."""
    try:
        return model._default_manager.select_for_update().get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):  # type: ignore[attr-defined]
        raise NotFound(what, pk) from None


def save_versioned(obj: V, expected_version: int | None, what: str, **changes: Any) -> V:
    """Apply ``changes`` only if the stored version is still ``expected_version`` (when given);
    bump the version. Raises :class:`StaleVersion` otherwise: nothing is overwritten."""
    model = type(obj)
    query = model._default_manager.filter(pk=obj.pk)
    if expected_version is not None:
        query = query.filter(version=expected_version)
    updated = query.update(version=F("version") + 1, updated_at=timezone.now(), **changes)
    if not updated:
        current = model._default_manager.filter(pk=obj.pk).values_list("version", flat=True).first()
        raise StaleVersion(what, expected_version or 0, current or 0)
    obj.refresh_from_db()
    return obj
