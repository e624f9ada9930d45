"""Reads of a patient's record, audited (requirement 2; ASTM E2147 "simple access and viewing"):
one ``read`` event per record shown, naming the patient, the category of what was read and the
URL, all of one request in one transaction. The staff's reads are found by the read-audit
middleware (``ivig.server.middleware_audit``); a patient's reads of their own record by the
portal's pages, with what else the page did with it (a ``print`` or an ``export``).

A list (``GET /api/patients``, ``GET /api/orders``, issue 17 item 8) is a read of each patient
it returned: the route names them with :func:`listed` and the middleware writes one ``read``
event per patient (not per row: a patient's ten orders are one event), as for a single read,
all in one bulk append (issue 19 item 5)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from ivig.records import audit
from ivig.records.actors import Actor

__all__ = ["listed", "listed_of", "record_own_read", "record_reads"]

_LISTED = "_ivig_listed"  # the request's attribute: [(category, patient id)]


def listed(request: Any, category: str, patient_ids: Iterable[int | None]) -> None:
    """Note on ``request`` that its answer lists the records of these patients (``category``:
    what of them it shows), for the read audit to record once the answer is a 200."""
    notes: list[tuple[str, int]] = getattr(request, _LISTED, [])
    notes.extend((category, pk) for pk in patient_ids if pk is not None)
    setattr(request, _LISTED, notes)


def listed_of(request: Any) -> list[tuple[str, int]]:
    """What :func:`listed` noted on ``request``: each (category, patient) once, in order."""
    return list(dict.fromkeys(getattr(request, _LISTED, [])))


def record_reads(actor: Actor | None, url: str, reads: Iterable[tuple[str, object, int]]) -> None:
    """A ``read`` event per ``(category, record id, patient id)`` shown at ``url``, appended
    together (``audit.record_all``: one head update, the rows in multi-row INSERTs)."""
    after = {"url": url[:500]}
    entries = [audit.Entry("read", c, r, patient_id=p, after=after) for c, r, p in reads]
    with transaction.atomic():
        audit.record_all(actor, entries)


def record_own_read(
    actor: Actor | None, patient_id: int, category: str, url: str, *also: str
) -> None:
    """A signed-in patient's read of their own record at ``url``, and what else the page did
    with it (``also``: ``print``, ``export``), in one transaction."""
    with transaction.atomic():
        record_reads(actor, url, [(category, patient_id, patient_id)])
        for action in also:
            audit.record(actor, action, category, patient_id, patient_id=patient_id)
