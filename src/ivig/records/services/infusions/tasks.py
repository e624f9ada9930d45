"""The prescriber's tasks (62): protocol medicines given for a reaction make one; a
prescriber acknowledges it once, with a note."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from ivig.errors import Conflict, InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import InfusionSession, Order, PrescriberTask, Reaction, Role
from ivig.records.services import premedication
from ivig.records.services.access import require
from ivig.records.services.common import locked
from ivig.records.services.infusions._common import clock

__all__ = ["MEDICINES_TASK", "TaskView", "acknowledge_task", "open_tasks", "task_view"]


MEDICINES_TASK = "reaction-medicines"


def medicines_task(
    actor: Actor, session: InfusionSession, order: Order, reaction: Reaction
) -> None:
    """A task for the prescriber: protocol medicines were given for ``reaction`` (62)."""
    patient = order.patient
    task = PrescriberTask.objects.create(
        session=session,
        patient=patient,
        reaction=reaction,
        kind=MEDICINES_TASK,
        message=(
            f"{patient.family_name}, {patient.given_name} ({patient.mrn}), order {order.pk}: "
            f"{reaction.severity} reaction at {clock(reaction.at)} "
            f"({', '.join(reaction.symptoms)}); given under protocol: {reaction.medicines_given}"
        ),
    )
    audit.created(actor, "task", task, patient_id=order.patient_id)


@dataclass(frozen=True, slots=True)
class TaskView:
    """A prescriber task as the run sheet, the chairs board and the API read it."""

    id: int
    kind: str
    message: str
    patient_id: int
    order_id: int
    reaction_id: int | None
    created_at: dt.datetime
    acknowledged_by: int | None
    acknowledged_at: dt.datetime | None
    acknowledgement: str


def task_view(task: PrescriberTask) -> TaskView:
    """The task's view (its session's order and the acknowledging user as their ids)."""
    return TaskView(
        id=task.pk,
        kind=task.kind,
        message=task.message,
        patient_id=task.patient_id,
        order_id=task.session.order_id,
        reaction_id=task.reaction_id,
        created_at=task.created_at,
        acknowledged_by=task.acknowledged_by_id,
        acknowledged_at=task.acknowledged_at,
        acknowledgement=task.acknowledgement,
    )


def open_tasks(actor: Actor) -> list[PrescriberTask]:
    """The tasks no prescriber has acknowledged yet, oldest first."""
    actor = require(actor, "reading the prescriber's tasks", Role.prescriber)
    return list(
        PrescriberTask.objects.filter(acknowledged_at__isnull=True)
        .select_related("session", "patient")
        .order_by("created_at", "id")
    )


def acknowledge_task(
    actor: Actor,
    task_id: int,
    note: str,
    *,
    decision: premedication.Decision | None = None,
    now: dt.datetime,
) -> PrescriberTask:
    """A prescriber acknowledges a task (62), with a note; once only (409 after). With a
    ``decision`` for a reaction's task, the decision for the next infusions is recorded in the
    same transaction (issue 16 item 6: ``premedication.decide``)."""
    actor = require(actor, "acknowledging a task", Role.prescriber)
    if not note.strip():
        raise InvalidInput("write a note with the acknowledgement", field="note")
    with transaction.atomic():
        task = locked(PrescriberTask, task_id, "task")
        if task.acknowledged_at is not None:
            raise Conflict(
                f"task {task.pk} was acknowledged already at {clock(task.acknowledged_at)}",
                field="task",
            )
        before = audit.snapshot(task)
        task.acknowledged_by = actor
        task.acknowledged_at = now
        task.acknowledgement = note.strip()
        task.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledgement"])
        audit.record(actor, "acknowledge", "task", task.pk, patient_id=task.patient_id,
                     before=before, after=audit.snapshot(task), reason=note.strip())  # fmt: skip
        if decision is not None:
            if task.reaction_id is None:
                raise InvalidInput("this task is not about a reaction", field="ramp")
            premedication.decide(actor, task.reaction_id, decision, now=now)
    return task
