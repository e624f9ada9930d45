"""Bookings (issue 18): the day's list (every chair with its bookings in time order, each
length's parts shown) and the "Book" form of one order (book, move, cancel). Every write goes
through ``records.services.bookings`` (audited); nurses, prescribers and administrators book,
every staff role reads the day."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from ivig.core.places import UNITS_FOR_PLACE
from ivig.errors import IvigError
from ivig.records.models import Booking, BookingStatus, Chair, Order, Unit
from ivig.records.services import bookings, reminders
from ivig.records.services.access import has_role
from ivig.records.services.common import get
from ivig.web.errors import attach_error, flash_error
from ivig.web.forms import DateInput, TimeInput
from ivig.web.views.common import posted, roles_required

__all__ = ["urlpatterns"]


class DayForm(forms.Form):
    date = forms.DateField(label="Day", required=False, widget=DateInput)


class ChairChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.unit.name}: {obj.name}"


class BookForm(forms.Form):
    chair = ChairChoice(
        label="Chair or visiting nurse",
        queryset=Chair.objects.select_related("unit").order_by("unit__name", "name"),
        empty_label=None,
    )
    time = forms.TimeField(label="Start", widget=TimeInput())


class CancelForm(forms.Form):
    reason = forms.CharField(label="Why", max_length=1000)


def _end(booking: Booking) -> dt.datetime:
    return booking.start + dt.timedelta(minutes=booking.length_minutes)


@require_GET
@roles_required(*bookings.READERS)
def day_list(request: HttpRequest) -> HttpResponse:
    """Every chair with its bookings on the day (``?date=``, today by default)."""
    form = DayForm(request.GET or None)
    day = timezone.localdate()
    if form.is_bound and form.is_valid() and form.cleaned_data["date"]:
        day = form.cleaned_data["date"]
    states = (  # issue 18: the reminder and the day-before check, for nurses and admins
        {s.order_id: s for s in reminders.day_status(request.user, day)}
        if has_role(request.user, *reminders.READERS)
        else {}
    )
    rows = [
        {
            "chair": row.chair,
            "bookings": [
                {"b": b, "end": _end(b), "r": states.get(b.order_id)} for b in row.bookings
            ],
        }
        for row in bookings.day_list(request.user, day)
    ]
    return render(
        request,
        "web/bookings.html",
        {
            "rows": rows,
            "day": day,
            "previous": day - dt.timedelta(days=1),
            "next": day + dt.timedelta(days=1),
            "form": form if form.is_bound else DayForm(initial={"date": day}),
            "section": "bookings",
            "title": f"Bookings {day.isoformat()}",
        },
    )


def _units(order: Order) -> QuerySet[Unit]:
    """The units whose kind gives the order's course's place (``core.places``)."""
    kinds = UNITS_FOR_PLACE.get(order.course.place, ())
    return Unit.objects.filter(kind__in=kinds).order_by("name")


def _live(order: Order) -> Booking | None:
    return Booking.objects.filter(order=order, status=BookingStatus.booked).first()


@roles_required(*bookings.BOOKERS)
def order_book(request: HttpRequest, order_id: int) -> HttpResponse:
    """Book the order on a chair at a time of its day, or move its booking; the suggested
    slots of a unit's day (``?unit=``) are links that fill the form (``?chair=&time=``)."""
    order = get(Order, order_id, "order")
    booking = _live(order)
    initial: dict[str, Any] = {}
    if booking is not None:
        initial = {"chair": booking.chair_id, "time": timezone.localtime(booking.start).time()}
    initial.update(_picked(request))
    form = BookForm(posted(request), initial=initial)
    # Only the chairs of units that give the course's place (core.places); the service
    # refuses any other, this keeps them off the list.
    chairs = Chair.objects.select_related("unit").filter(unit__in=_units(order))
    form.fields["chair"].queryset = chairs.order_by(  # type: ignore[attr-defined]
        "unit__name", "name"
    )
    if request.method == "POST" and form.is_valid():
        start = dt.datetime.combine(
            order.date, form.cleaned_data["time"], tzinfo=timezone.get_current_timezone()
        )
        chair = form.cleaned_data["chair"]
        try:
            if booking is None:
                bookings.book(request.user, order.pk, chair.pk, start)
            else:
                bookings.move(request.user, booking.pk, None, chair.pk, start)
        except IvigError as exc:
            attach_error(form, exc, {"start": "time", "chair_id": "chair"})
        else:
            messages.success(request, f"Booked {chair.name}, {start:%Y-%m-%d %H:%M}.")
            return redirect(f"{reverse('web:bookings')}?date={order.date.isoformat()}")
    lengths = []
    if order.status in bookings.BOOKABLE:
        lengths = [(u, bookings.length_for(order, u)) for u in _units(order)]
    return render(
        request,
        "web/booking_form.html",
        {
            "order": order,
            "patient": order.patient,
            "booking": booking,
            "end": _end(booking) if booking else None,
            "lengths": lengths,
            **_suggestions(request, order, booking),
            "form": form,
            "cancel_form": CancelForm(),
            "section": "bookings",
            "title": "Book an infusion",
        },
    )


class SuggestForm(forms.Form):
    unit = forms.ModelChoiceField(
        label="Unit", queryset=Unit.objects.order_by("name"), empty_label=None
    )


def _picked(request: HttpRequest) -> dict[str, Any]:
    """The chair and time a suggestion's link names (``?chair=&time=``), to fill the form."""
    if request.method != "GET":
        return {}
    picked: dict[str, Any] = {}
    chair, time = request.GET.get("chair", ""), request.GET.get("time", "")
    if chair.isdigit() and len(chair) < 12:
        picked["chair"] = int(chair)
    with contextlib.suppress(ValueError):
        picked["time"] = dt.datetime.strptime(time, "%H:%M").time()
    return picked


def _suggestions(request: HttpRequest, order: Order, booking: Booking | None) -> dict[str, Any]:
    """The suggested slots of the chosen unit's day (the booked unit's, else the first unit's),
    first-fit's slot beside them, or why there are none."""
    if order.status not in bookings.BOOKABLE:
        return {}
    chosen = SuggestForm(request.GET if "unit" in request.GET else None)
    chosen.fields["unit"].queryset = _units(order)  # type: ignore[attr-defined]
    unit: Unit | None = None
    if chosen.is_bound and chosen.is_valid():
        unit = chosen.cleaned_data["unit"]
    elif booking is not None:
        unit = booking.chair.unit
    else:
        unit = _units(order).first()
    if unit is None:
        return {}
    shown = SuggestForm(initial={"unit": unit.pk})
    shown.fields["unit"].queryset = _units(order)  # type: ignore[attr-defined]
    context: dict[str, Any] = {"suggest_form": shown}
    try:
        context["suggested"] = bookings.suggest(request.user, order.pk, order.date, unit.pk)
    except IvigError as exc:
        context["suggest_error"] = exc.message
    return context


@require_POST
@roles_required(*bookings.BOOKERS)
def booking_cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = get(Booking, booking_id, "booking")
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not saved: give the reason for cancelling.")
        return redirect("web:order-book", order_id=booking.order_id)
    try:
        bookings.cancel(request.user, booking.pk, None, form.cleaned_data["reason"])
    except IvigError as exc:
        flash_error(request, exc)
        return redirect("web:order-book", order_id=booking.order_id)
    messages.success(request, "Booking cancelled.")
    return redirect("web:order-book", order_id=booking.order_id)


urlpatterns: list[URLPattern] = [
    path("bookings/", day_list, name="bookings"),
    path("orders/<int:order_id>/book/", order_book, name="order-book"),
    path("bookings/<int:booking_id>/cancel/", booking_cancel, name="booking-cancel"),
]
