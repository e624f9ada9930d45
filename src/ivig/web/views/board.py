"""The unit's board (issue 18): a day (``/bookings/board/?unit=&date=``) or a week
(``/bookings/board/week/``, Monday to Sunday) of one unit, drawn as inline SVG (positions are
SVG attributes, not styles: the strict CSP holds, and it prints). The day: chairs (or visiting
nurses) down the side, hours across from the earliest opening to the latest closing; each
booking a block from its start for its stored length, labelled with the patient's initials and
MRN, product and dose, its parts in its tooltip, coloured by status and, today, by the live
state of the chairs board. The week: days down the side, each a band of thin lanes, one per
chair, with the day's booked share of its chair-hours; a day's label opens its day board.
Today's board refreshes itself every 60 seconds (htmx polling of its partial). Every staff role
reads it (``bookings.READERS``); the patients shown are read-audited (``reads.listed``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from ivig.records.library import current_catalogue
from ivig.records.models import Unit
from ivig.records.services import bookings, reads
from ivig.records.services.access import has_role
from ivig.records.services.bookings import BoardBlock, BoardRow
from ivig.web.forms import DateInput
from ivig.web.views.common import roles_required

__all__ = ["urlpatterns"]

WIDTH = 1000  # the SVG's user units (about one pixel each on a 1024 px tablet)
LABEL = 150  # the chairs' column
WEEK_LABEL, WEEK_DAY = 180, 136  # the week's days' and chairs' columns, the days' alone
RIGHT = 28  # room for the last hour's label
HEAD = 34  # the hours' row
DAY_ROW = 64  # a chair's row on the day board: blocks of 56, over the 44 px touch target
WEEK_LANE = 16  # a chair's lane on the week board
WEEK_BAND_MIN = 56  # a day's band on the week board, whatever its chairs
DEFAULT_HOURS = (8 * 60, 18 * 60)  # a span to draw when every day shown is closed
LIVE_WORDS = {
    "checked-in": "checked in",
    "running": "running",
    "paused": "paused",
    "reaction": "reaction",
    "observation": "in observation",
    "finished": "finished",
}
# the days a board (and its previous and next weeks) can show inside the calendar
FIRST_DAY, LAST_DAY = dt.date(1, 1, 15), dt.date(9999, 12, 15)
STATUS_WORDS = {"booked": "booked", "no-longer-fits": "no longer fits", "cancelled": "cancelled"}


class UnitChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class BoardForm(forms.Form):
    unit = UnitChoice(
        label="Unit", queryset=Unit.objects.order_by("name"), required=False, empty_label=None
    )
    date = forms.DateField(label="Day", required=False, widget=DateInput)
    cancelled = forms.BooleanField(label="Show cancelled bookings", required=False)

    def clean_date(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get("date")
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(
                f"Give a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}."
            )
        return day


def _minutes(value: dt.time | dt.datetime) -> int:
    return value.hour * 60 + value.minute


def _span(rows: Sequence[BoardRow]) -> tuple[int, int]:
    """Minutes from midnight: the earliest opening to the latest closing of the days shown,
    widened to any booking outside them, on whole hours."""
    starts = [_minutes(r.opens) for r in rows if r.opens is not None]
    ends = [_minutes(r.closes) for r in rows if r.closes is not None]
    for row in rows:
        for block in row.blocks:
            starts.append(_minutes(block.start))
            ends.append(min(_minutes(block.start) + block.booking.length_minutes, 24 * 60))
    if not starts:
        return DEFAULT_HOURS
    return min(starts) // 60 * 60, min(-(-max(ends) // 60) * 60, 24 * 60)


class _Scale:
    def __init__(self, span: tuple[int, int], label: int = LABEL) -> None:
        self.begin, self.end = span
        self.label = label
        self.per_minute = (WIDTH - label - RIGHT) / max(self.end - self.begin, 60)

    def x(self, minute: float) -> float:
        return round(
            self.label + (min(max(minute, self.begin), self.end) - self.begin) * self.per_minute, 1
        )

    def hours(self) -> list[dict[str, Any]]:
        return [
            {"x": self.x(m), "label": f"{m // 60:02d}:00"}
            for m in range(self.begin, self.end + 1, 60)
        ]

    def closed(self, row: BoardRow) -> list[tuple[float, float]]:
        """The row's closed stretches (x, width): all of it on a closed day."""
        if row.opens is None or row.closes is None:
            return [(self.x(self.begin), self.x(self.end) - self.x(self.begin))]
        out = []
        if _minutes(row.opens) > self.begin:
            out.append((self.x(self.begin), self.x(_minutes(row.opens)) - self.x(self.begin)))
        if _minutes(row.closes) < self.end:
            out.append(
                (self.x(_minutes(row.closes)), self.x(self.end) - self.x(_minutes(row.closes)))
            )
        return out


def _initials(block: BoardBlock) -> str:
    patient = block.booking.order.patient
    return f"{patient.given_name[:1]}{patient.family_name[:1]}".upper()


def _block(block: BoardBlock, scale: _Scale, y: float, height: float, link: str) -> dict[str, Any]:
    b, order = block.booking, block.booking.order
    product = current_catalogue().products.get(order.course.product_id)
    name = product.name if product else order.course.product_id
    start = _minutes(block.start)
    x = scale.x(start)
    width = max(scale.x(start + b.length_minutes) - x, 4.0)
    state = LIVE_WORDS.get(block.live or "", "")
    title = (
        f"{_initials(block)} {order.patient.mrn}: {name} {order.dose_g:g} g; "
        f"{block.start:%H:%M}\u2013{block.end:%H:%M} ({b.length_minutes} min: set-up "
        f"{b.setup_minutes}, pump {b.pump_minutes}, observation {b.observation_minutes}"
        f"{' - ' + b.observation_reason if b.observation_reason else ''}); "
        f"{STATUS_WORDS[block.status]}{', ' + state if state else ''}"
    )
    return {
        "block": block,
        "x": x,
        "y": y,
        "width": round(width, 1),
        "height": height,
        "text_x": round(x + 4, 1),
        "text_width": round(max(width - 8, 1), 1),
        "who": f"{_initials(block)} {order.patient.mrn}",
        "what": f"{name} {order.dose_g:g} g",
        "status": block.status,
        "live": block.live or "",
        "state_line": state or ("" if block.status == "booked" else STATUS_WORDS[block.status]),
        "title": title,
        "href": reverse(link, args=[order.pk]),
    }


def _link(request: HttpRequest) -> str:
    """Where a block leads: the booking (who books) or the run sheet (the pharmacist)."""
    return "web:order-book" if has_role(request.user, *bookings.BOOKERS) else "web:runsheet"


def _shown(rows: list[BoardRow], cancelled: bool) -> list[BoardRow]:
    if cancelled:
        return rows
    return [
        BoardRow(
            r.chair, r.day, r.opens, r.closes, tuple(b for b in r.blocks if b.status != "cancelled")
        )
        for r in rows
    ]


def _day_svg(rows: list[BoardRow], link: str, now: dt.datetime, today: dt.date) -> dict[str, Any]:
    scale = _Scale(_span(rows))
    lines = []
    for i, row in enumerate(rows):
        y = HEAD + i * DAY_ROW
        lines.append(
            {
                "row": row,
                "y": y,
                "text_y": y + DAY_ROW / 2 + 5,
                "closed": [{"x": x, "width": w} for x, w in scale.closed(row)],
                "blocks": [_block(b, scale, y + 4, DAY_ROW - 8, link) for b in row.blocks],
            }
        )
    height = HEAD + len(rows) * DAY_ROW
    now_x = None
    if (
        rows
        and rows[0].day == today
        and scale.begin <= _minutes(timezone.localtime(now)) <= scale.end
    ):
        now_x = scale.x(_minutes(timezone.localtime(now)))
    return {
        "width": WIDTH,
        "height": height,
        "hours": scale.hours(),
        "rows": lines,
        "row_height": DAY_ROW,
        "now_x": now_x,
        "label": LABEL,
    }


def _occupancy(rows: Sequence[BoardRow]) -> int | None:
    """The booked share (per cent) of the day's chair-hours; ``None``: closed."""
    open_minutes = sum(_minutes(r.closes) - _minutes(r.opens) for r in rows if r.opens and r.closes)
    if not open_minutes:
        return None
    booked = sum(
        b.booking.length_minutes for r in rows for b in r.blocks if b.status != "cancelled"
    )
    return round(100 * booked / open_minutes)


def _week_svg(rows: list[BoardRow], link: str, unit: Unit, cancelled: bool) -> dict[str, Any]:
    scale = _Scale(_span(rows), WEEK_LABEL)
    days: dict[dt.date, list[BoardRow]] = {}
    for row in rows:
        days.setdefault(row.day, []).append(row)
    bands, y = [], HEAD
    for day, chairs in days.items():
        lane = WEEK_LANE
        band = max(WEEK_BAND_MIN, lane * len(chairs) + 8)
        top = y + (band - lane * len(chairs)) / 2
        lanes = []
        for j, row in enumerate(chairs):
            lane_y = top + j * lane
            lanes.append(
                {
                    "row": row,
                    "y": lane_y,
                    "text_y": lane_y + lane - 4,
                    "blocks": [_block(b, scale, lane_y + 1, lane - 2, link) for b in row.blocks],
                }
            )
        query = f"?unit={unit.pk}&date={day.isoformat()}" + ("&cancelled=on" if cancelled else "")
        bands.append(
            {
                "day": day,
                "y": y,
                "height": band,
                "text_y": y + 22,
                "sub_y": y + 42,
                "closed": [{"x": x, "width": w} for x, w in scale.closed(chairs[0])]
                if chairs
                else [],
                "lanes": lanes,
                "booked": sum(1 for r in chairs for b in r.blocks if b.status != "cancelled"),
                "occupancy": _occupancy(chairs),
                "href": reverse("web:board") + query,
            }
        )
        y += band
    return {
        "width": WIDTH,
        "height": y,
        "hours": scale.hours(),
        "bands": bands,
        "label": WEEK_LABEL,
        "day_col": WEEK_DAY,
    }


def _page(request: HttpRequest, week: bool) -> HttpResponse:
    form = BoardForm(request.GET or None)
    valid = form.is_valid() if form.is_bound else False
    data = form.cleaned_data if valid else {}
    unit = data.get("unit") or Unit.objects.order_by("name").first()
    now = timezone.now()
    today = timezone.localdate(now)
    day = data.get("date") or today
    cancelled = bool(data.get("cancelled"))
    start = day - dt.timedelta(days=day.weekday()) if week else day
    days = 7 if week else 1
    step = dt.timedelta(days=days)
    context: dict[str, Any] = {
        "section": "board",
        "week": week,
        "unit": unit,
        "day": day,
        "start": start,
        "last": start + step - dt.timedelta(days=1),
        "today": today,
        "now": now,
        "cancelled": cancelled,
        "live": start <= today < start + step,
        "form": form
        if form.is_bound and not valid
        else BoardForm(initial={"unit": unit, "date": day, "cancelled": cancelled}),
        "title": "The unit's week" if week else "The unit's day",
        "status_words": STATUS_WORDS,
        "live_words": LIVE_WORDS,
    }
    if unit is not None:
        rows = _shown(bookings.board(request.user, unit.pk, start, days, now=now), cancelled)
        reads.listed(
            request,
            "medication/infusion",
            (b.booking.order.patient_id for r in rows for b in r.blocks),
        )
        link = _link(request)
        context["svg"] = (
            _week_svg(rows, link, unit, cancelled) if week else _day_svg(rows, link, now, today)
        )
        context["booked"] = sum(1 for r in rows for b in r.blocks if b.status != "cancelled")
        context["unfit"] = sum(1 for r in rows for b in r.blocks if b.status == "no-longer-fits")
        base = f"?unit={unit.pk}" + ("&cancelled=on" if cancelled else "")
        context["links"] = {
            "previous": f"{base}&date={(start - step).isoformat()}",
            "next": f"{base}&date={(start + step).isoformat()}",
            "today": f"{base}&date={today.isoformat()}",
            "other": reverse("web:board" if week else "web:board-week")
            + f"{base}&date={day.isoformat()}",
            "toggle": f"?unit={unit.pk}&date={day.isoformat()}"
            + ("" if cancelled else "&cancelled=on"),
            "list": reverse("web:bookings") + f"?date={day.isoformat()}",
        }
    template = "web/board.html"
    if getattr(request, "htmx", False):
        template += "#board"
    return render(request, template, context)


@require_GET
@roles_required(*bookings.READERS)
def board_day(request: HttpRequest) -> HttpResponse:
    """A unit's day (``?unit=&date=``; the first unit and today by default)."""
    return _page(request, week=False)


@require_GET
@roles_required(*bookings.READERS)
def board_week(request: HttpRequest) -> HttpResponse:
    """A unit's week, Monday to Sunday, containing ``?date=``."""
    return _page(request, week=True)


urlpatterns: list[URLPattern] = [
    path("bookings/board/", board_day, name="board"),
    path("bookings/board/week/", board_week, name="board-week"),
]
