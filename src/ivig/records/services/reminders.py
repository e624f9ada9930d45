"""Reminders (issue 18): the day before a booked infusion, the patient with an account and an
e-mail address gets a message with the time, the place and the link to the day-before check.

``ivig remind`` (run daily by cron or a systemd timer) and ``POST /api/reminders/send`` call
:func:`send_due`. A reminder is sent once per order and booking start (the ``Reminder`` row's
unique constraint: a second run, or two runs at once, send nothing again; a moved booking has
a new start and gets a new reminder). Each message is recorded and audited (``send`` of a
``reminder``: the order, the patient, the masked address; never the message) in the
transaction that sends it, as the invitation e-mail is (``services.portal``). A message the
mail server refuses is recorded as failed with its error (audited ``fail``), not raised, and
sent again by the next run.

The message says as little as an e-mail should (it can be read by others): the first name,
the time, the place and the link; no diagnosis, product or dose. The link's address is
``settings.IVIG_BASE_URL`` (no request to build it from). Mail goes through Django's backend:
SMTP from ``IVIG_EMAIL_*``, else files in ``IVIG_EMAIL_FILE_DIR`` (``server/config.py``).

Roles: administrators send from the API; nurses and administrators read who was reminded and
who has done the check (:func:`day_status`, also on the bookings page). The address is the
patient account's user's e-mail: the patient sets it (or takes it away) on ``/me/reminders/``
(:func:`set_address`, audited with the addresses masked), or an administrator on the admin site.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ivig.errors import Forbidden, InvalidInput
from ivig.interop.handout import where_words
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import (
    Booking,
    BookingStatus,
    DayBeforeCheck,
    OrderStatus,
    PatientAccount,
    Reminder,
    ReminderStatus,
    Role,
)
from ivig.records.services import bookings
from ivig.records.services.access import patient_of, require
from ivig.records.services.portal import masked

__all__ = [
    "CHECK_PATH",
    "READERS",
    "SENDERS",
    "SUBJECT",
    "Due",
    "Outcome",
    "ReminderState",
    "day_status",
    "default_day",
    "due",
    "message_text",
    "send_due",
    "set_address",
]

SENDERS = (Role.admin,)
READERS = (Role.nurse, Role.admin)
SUBJECT = "Your next infusion"
CHECK_PATH = "/me/check/"  # web/views/me_reports.py: the day-before check
_LIVE = (OrderStatus.planned, OrderStatus.verified, OrderStatus.dispensed)


@dataclass(frozen=True, slots=True)
class Due:
    """One reminder to send: the order's booking and where the message goes."""

    order_id: int
    patient_id: int
    mrn: str
    first_name: str
    to: str
    start: dt.datetime  # the booking's start, in the service's time zone
    place: str
    where: str = ""  # the place in the patient's words


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run did for one due reminder: ``sent``, ``failed`` (with the error), ``already``
    (sent before, or by a run at the same time) or, for a dry run, ``would send``."""

    due: Due
    result: str
    error: str = ""

    @property
    def masked_to(self) -> str:
        return masked(self.due.to)


@dataclass(frozen=True, slots=True)
class ReminderState:
    """A live booking of the day: its reminder (if any) and the patient's day-before check."""

    order_id: int
    patient_id: int
    start: dt.datetime
    place: str
    reachable: bool  # an active account with an e-mail address
    masked_to: str
    reminder: str  # sent, failed, due (not yet sent, reachable) or none
    reminded_at: dt.datetime | None
    error: str
    check_done_at: dt.datetime | None


def default_day(now: dt.datetime) -> dt.date:
    """Tomorrow, in the service's time zone."""
    return timezone.localdate(now) + dt.timedelta(days=1)


def _bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    begin = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    return begin, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)


def _slot(booking: Booking) -> tuple[dt.datetime, str, str]:
    """The booked time (local), the place for staff (``Day ward, chair A``) and in the
    patient's words (``at the Day ward, chair A``), as the handout says it."""
    slot = bookings.slot_of(booking)
    return slot.start, slot.location, where_words(slot)


def _bookings(day: dt.date) -> list[Booking]:
    begin, end = _bounds(day)
    return list(
        Booking.objects.filter(
            status=BookingStatus.booked,
            start__gte=begin,
            start__lt=end,
            order__status__in=_LIVE,
        )
        .select_related("order__patient__account__user", "chair__unit")
        .order_by("start", "id")
    )


def _address(booking: Booking) -> str:
    """The patient's e-mail address: an active account's user's, else ``""``."""
    account = getattr(booking.order.patient, "account", None)
    if account is None or not account.user.is_active:
        return ""
    return (account.user.email or "").strip()


def _due(booking: Booking, to: str) -> Due:
    start, place, where = _slot(booking)
    patient = booking.order.patient
    return Due(
        booking.order_id, patient.pk, patient.mrn, patient.given_name, to, start, place, where
    )


def due(day: dt.date) -> list[Due]:
    """The reminders for ``day``: booked orders (planned, verified or dispensed) starting that
    day whose patient has an active account with an e-mail address, in time order."""
    out = []
    for booking in _bookings(day):
        to = _address(booking)
        if to:
            out.append(_due(booking, to))
    return out


def message_text(item: Due, link: str, service_phone: str | None) -> str:
    """The reminder: first name, time, place, the check's link; nothing clinical."""
    call = f"call the infusion service on {service_phone}" if service_phone else "ask your nurse"
    return (
        f"Hello {item.first_name},\n\n"
        f"This is a reminder of your infusion on {item.start:%A} {item.start.day} "
        f"{item.start:%B %Y} at {item.start:%H:%M}, {item.where or item.place}.\n\n"
        "Please answer the day-before check today, after signing in:\n\n"
        f"{link}\n\n"
        f"If you cannot come, or have questions, {call}.\n"
    )


class _MailFailed(Exception):
    pass


def _mail(item: Due) -> None:
    link = f"{settings.IVIG_BASE_URL}{CHECK_PATH}"
    try:
        send_mail(SUBJECT, message_text(item, link, settings.IVIG_SERVICE_PHONE), None, [item.to])
    except (OSError, smtplib.SMTPException) as exc:
        text = f"{type(exc).__name__}: {exc}".replace(item.to, masked(item.to))
        raise _MailFailed(text[:500]) from None  # the address masked: the error is audited


def _after(item: Due, row: Reminder) -> dict[str, object]:
    return {
        "order": item.order_id,
        "booking_start": item.start,
        "to": masked(item.to),
        "status": row.status,
        "attempts": row.attempts,
    }


def _send_one(actor: Actor | None, item: Due, *, now: dt.datetime, by: str) -> Outcome:
    existing = Reminder.objects.filter(order_id=item.order_id, booking_start=item.start).first()
    if existing is not None and existing.status == ReminderStatus.sent:
        return Outcome(item, "already")
    values = {"to": item.to, "sent_at": now, "by": by[:200], "error": ""}
    try:
        with transaction.atomic():  # the row, its event and the message, or none of them
            if existing is None:
                row = Reminder.objects.create(
                    order_id=item.order_id,
                    booking_start=item.start,
                    status=ReminderStatus.sent,
                    **values,
                )
            else:  # a failed one, again; claimed so that a run at the same time skips it
                claimed = Reminder.objects.filter(
                    pk=existing.pk, status=ReminderStatus.failed
                ).update(status=ReminderStatus.sent, attempts=F("attempts") + 1, **values)
                if not claimed:
                    return Outcome(item, "already")
                row = Reminder.objects.get(pk=existing.pk)
            audit.record(
                actor,
                "send",
                "reminder",
                row.pk,
                patient_id=item.patient_id,
                after=_after(item, row),
                reason=by,
            )
            _mail(item)
    except IntegrityError:  # another run recorded it first
        return Outcome(item, "already")
    except _MailFailed as exc:
        return _failed(actor, item, str(exc), now=now, by=by)
    return Outcome(item, "sent")


def _failed(actor: Actor | None, item: Due, error: str, *, now: dt.datetime, by: str) -> Outcome:
    """Record (and audit) a refused message; the next run tries it again."""
    try:
        with transaction.atomic():
            row, made = Reminder.objects.get_or_create(
                order_id=item.order_id,
                booking_start=item.start,
                defaults={
                    "to": item.to,
                    "status": ReminderStatus.failed,
                    "error": error,
                    "sent_at": now,
                    "by": by[:200],
                },
            )
            if not made:
                if row.status == ReminderStatus.sent:  # a run at the same time sent it
                    return Outcome(item, "already")
                row.error, row.sent_at, row.by, row.to = error, now, by[:200], item.to
                row.attempts += 1
                row.save(update_fields=["error", "sent_at", "by", "to", "attempts"])
            audit.record(
                actor,
                "fail",
                "reminder",
                row.pk,
                patient_id=item.patient_id,
                after={**_after(item, row), "error": error},
                reason=by,
            )
    except IntegrityError:
        return Outcome(item, "already")
    return Outcome(item, "failed", error)


def send_due(
    actor: Actor | None,
    day: dt.date | None = None,
    *,
    now: dt.datetime,
    by: str = "",
    dry_run: bool = False,
) -> list[Outcome]:
    """Send the reminders due for ``day`` (default: tomorrow) not sent yet; one outcome each.
    ``actor`` ``None``: the server's own command line (``ivig remind``; ``by`` names it and
    its operating-system account), audited as ``system``; anyone else must be an
    administrator. A day before today is refused. ``dry_run``: what would be sent; nothing is
    sent or recorded."""
    if actor is not None:
        user = require(actor, "sending reminders", *SENDERS)
        actor, by = user, by or user.username
    day = default_day(now) if day is None else day
    if day < timezone.localdate(now):
        raise InvalidInput(f"{day.isoformat()} has passed: remind of today or later", field="date")
    items = due(day)
    if dry_run:
        sent = set(
            Reminder.objects.filter(
                order_id__in=[i.order_id for i in items], status=ReminderStatus.sent
            ).values_list("order_id", "booking_start")
        )
        return [
            Outcome(i, "already" if (i.order_id, i.start) in sent else "would send") for i in items
        ]
    return [_send_one(actor, item, now=now, by=by or "ivig remind") for item in items]


def day_status(actor: Actor, day: dt.date) -> list[ReminderState]:
    """Every live booking of ``day``: its reminder (sent, failed, due or none: no account or
    no address) and when the patient did the day-before check, in time order."""
    require(actor, "reading the reminders", *READERS)
    rows = _bookings(day)
    ids = [b.order_id for b in rows]
    reminders = {
        (r.order_id, r.booking_start): r for r in Reminder.objects.filter(order_id__in=ids)
    }
    checks: dict[int, dt.datetime] = {}
    for order_id, at in DayBeforeCheck.objects.filter(order_id__in=ids).values_list(
        "order_id", "submitted_at"
    ):
        checks[order_id] = max(at, checks.get(order_id, at))
    out = []
    for booking in rows:
        to = _address(booking)
        start, place, _ = _slot(booking)
        found = reminders.get((booking.order_id, booking.start))
        state = found.status if found is not None else ("due" if to else "none")
        out.append(
            ReminderState(
                order_id=booking.order_id,
                patient_id=booking.order.patient_id,
                start=start,
                place=place,
                reachable=bool(to),
                masked_to=masked(found.to if found is not None else to) if (found or to) else "",
                reminder=str(state),
                reminded_at=found.sent_at if found is not None else None,
                error=found.error if found is not None else "",
                check_done_at=checks.get(booking.order_id),
            )
        )
    return out


def set_address(actor: Actor, address: str) -> str:
    """The signed-in patient's own e-mail address for reminders (empty: none); audited as an
    ``update`` of the ``patient-account`` with the old and new addresses masked. Returns the
    address kept."""
    patient = patient_of(actor)
    if patient is None or not isinstance(actor, User):
        raise Forbidden("setting an address for reminders", ("patient",))
    address = address.strip()
    if address:
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidInput(
                "type your e-mail address, like name@example.org", field="email"
            ) from None
    with transaction.atomic():
        account = PatientAccount.objects.select_for_update().get(user=actor)
        before = User.objects.filter(pk=actor.pk).values_list("email", flat=True).get()
        User.objects.filter(pk=actor.pk).update(email=address)
        actor.email = address
        audit.record(
            actor,
            "update",
            "patient-account",
            account.pk,
            patient_id=patient.pk,
            before={"email": masked(before) if before else ""},
            after={"email": masked(address) if address else ""},
            reason="the e-mail address for reminders",
        )
    return address
