"""Corrections of recorded entries (requirements 11-13): a correction or a void is a new entry
that supersedes the original, with a reason; nothing is overwritten or deleted.

For each kind (weights, vitals, reactions, outcomes, creatinine-results):

    POST /{kind}/{entry_id}/corrections   {values, reason}  -> 201 the new entry
    POST /{kind}/{entry_id}/void          {reason}          -> 201 the void
    GET  /{kind}/{entry_id}/history                         -> every version, oldest first

No reason: 422 (field ``reason``); an entry already corrected or voided: 409. The roles are
those that record the entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Status

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import Id, In
from ivig.records import audit
from ivig.records.models import Correctable
from ivig.records.services import corrections

router = Router(tags=["corrections"])

# The path of each kind (plural, as the URL says it).
PATHS = {
    "weight": "weights",
    "vitals": "vitals",
    "reaction": "reactions",
    "outcome": "outcomes",
    "creatinine": "creatinine-results",
}


class CorrectionIn(In):
    values: dict[str, Any] = Field(
        ..., description='the corrected fields only, e.g. {"weight_kg": 72.5}'
    )
    reason: str = Field("", max_length=2000, description="why: required")


class VoidIn(In):
    reason: str = Field("", max_length=2000, description="why it was entered in error: required")


def entry_out(kind: str, row: Correctable) -> dict[str, Any]:
    """The entry as stored, with its kind and whether it is in force."""
    return {"kind": kind, "status": corrections.status_of(row), **audit.snapshot(row)}


def _routes(kind: str, path: str) -> None:
    spec = corrections.KINDS[kind]
    roles = rule(*spec.roles)

    def correct(request: HttpRequest, entry_id: Id, data: CorrectionIn) -> Status[Any]:
        row = corrections.correct(
            request.user, kind, entry_id, data.values, data.reason, now=timezone.now()
        )
        return Status(201, entry_out(kind, row))

    def void(request: HttpRequest, entry_id: Id, data: VoidIn) -> Status[Any]:
        row = corrections.void(request.user, kind, entry_id, data.reason, now=timezone.now())
        return Status(201, entry_out(kind, row))

    def history(request: HttpRequest, entry_id: Id) -> dict[str, Any]:
        chain = corrections.history(kind, entry_id)
        return {"kind": kind, "entries": [entry_out(kind, row) for row in chain]}

    def named(view: Callable[..., Any], name: str, doc: str) -> Callable[..., Any]:
        view.__name__ = view.__qualname__ = name
        view.__doc__ = doc
        return view

    label = spec.label
    router.post(f"/{path}/{{entry_id}}/corrections", response={201: dict[str, Any]}, **roles)(
        named(correct, f"correct_{kind}", f"Correct a {label}: a new entry supersedes it.")
    )
    router.post(f"/{path}/{{entry_id}}/void", response={201: dict[str, Any]}, **roles)(
        named(void, f"void_{kind}", f"Void a {label} entered in error (never deleted).")
    )
    router.get(f"/{path}/{{entry_id}}/history", **rule(*EVERYONE))(
        named(history, f"{kind}_history", f"Every version of a {label}, oldest first.")
    )


for _kind, _path in PATHS.items():
    _routes(_kind, _path)
