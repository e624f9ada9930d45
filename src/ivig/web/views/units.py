"""Units, their chairs (or visiting nurses) and opening hours, for administrators (issue 18),
in the style of the staff pages. Every change goes through ``records.services.units``
(audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST

from ivig.records.models import ChairKind, Role, Unit, UnitKind
from ivig.records.services import units
from ivig.records.services.common import get
from ivig.web.forms import TimeInput
from ivig.web.views.common import act_on_post, posted, roles_required, saved

__all__ = ["urlpatterns"]

WEEKDAY_CHOICES = list(enumerate(units.WEEKDAYS))


class UnitForm(forms.Form):
    name = forms.CharField(label="Name", max_length=units.NAME_MAX)
    kind = forms.ChoiceField(label="Kind", choices=UnitKind.choices)
    setup_minutes = forms.IntegerField(
        label="Set-up time (minutes)",
        min_value=0,
        max_value=240,
        initial=15,
        help_text="Added to every booking's length.",
    )


class ChairForm(forms.Form):
    name = forms.CharField(label="Name", max_length=units.NAME_MAX)
    kind = forms.ChoiceField(label="Kind", choices=ChairKind.choices, initial=ChairKind.chair)


class HoursForm(forms.Form):
    weekday = forms.TypedChoiceField(label="Day", choices=WEEKDAY_CHOICES, coerce=int)
    closed = forms.BooleanField(label="Closed that day", required=False)
    opens = forms.TimeField(label="Opens", required=False, widget=TimeInput())
    closes = forms.TimeField(label="Closes", required=False, widget=TimeInput())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("closed"):
            for name in ("opens", "closes"):
                if data.get(name) is None and name not in self.errors:
                    self.add_error(name, "Give the time, or tick closed.")
        return data


def _week(unit: Unit) -> list[dict[str, Any]]:
    hours = {h.weekday: h for h in unit.hours.all() if not h.closed}
    return [{"day": name, "hours": hours.get(i)} for i, name in enumerate(units.WEEKDAYS)]


@roles_required(Role.admin)
def unit_list(request: HttpRequest) -> HttpResponse:
    """Every unit with its chairs and hours; a new unit."""
    form = UnitForm(posted(request))
    done = act_on_post(
        request,
        lambda d: units.create_unit(request.user, d["name"], d["kind"], d["setup_minutes"]),
        lambda unit: saved(
            request,
            f"{unit.name} added: now give it chairs and hours.",
            "web:unit",
            unit_id=unit.pk,
        ),
        form=form,
    )
    if done is not None:
        return done
    rows = [
        {"unit": u, "chairs": list(u.chairs.all()), "week": _week(u)}
        for u in Unit.objects.prefetch_related("chairs", "hours").order_by("name")
    ]
    return render(
        request,
        "web/units.html",
        {"units": rows, "form": form, "section": "staff", "title": "Units and chairs"},
    )


def _unit_page(request: HttpRequest, unit: Unit, **forms_given: forms.Form | None) -> HttpResponse:
    context = {
        "unit": unit,
        "chairs": list(unit.chairs.order_by("name")),
        "week": _week(unit),
        "unit_form": forms_given.get("unit_form")
        or UnitForm(
            initial={"name": unit.name, "kind": unit.kind, "setup_minutes": unit.setup_minutes}
        ),
        "chair_form": forms_given.get("chair_form") or ChairForm(),
        "hours_form": forms_given.get("hours_form") or HoursForm(),
        "section": "staff",
        "title": unit.name,
    }
    return render(request, "web/unit.html", context)


@roles_required(Role.admin)
def unit_page(request: HttpRequest, unit_id: int) -> HttpResponse:
    """One unit: its name, kind and set-up time (edited here), chairs and hours."""
    unit = get(Unit, unit_id, "unit")
    form = UnitForm(posted(request))
    return act_on_post(
        request,
        lambda d: units.update_unit(
            request.user, unit.pk, d["name"], d["kind"], d["setup_minutes"]
        ),
        lambda _: saved(request, "Saved.", "web:unit", unit_id=unit.pk),
        form=form,
    ) or _unit_page(request, unit, unit_form=form if form.is_bound else None)


@require_POST
@roles_required(Role.admin)
def unit_chair(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = get(Unit, unit_id, "unit")
    form = ChairForm(request.POST)
    return act_on_post(
        request,
        lambda d: units.add_chair(request.user, unit.pk, d["name"], d["kind"]),
        lambda chair: saved(request, f"{chair.name} added.", "web:unit", unit_id=unit.pk),
        form=form,
    ) or _unit_page(request, unit, chair_form=form)


@require_POST
@roles_required(Role.admin)
def unit_hours(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = get(Unit, unit_id, "unit")
    form = HoursForm(request.POST)

    def set_day(data: dict[str, Any]) -> str:
        if data["closed"]:
            units.close_day(request.user, unit.pk, data["weekday"])
        else:
            units.set_hours(request.user, unit.pk, data["weekday"], data["opens"], data["closes"])
        return units.WEEKDAYS[data["weekday"]]

    return act_on_post(
        request,
        set_day,
        lambda day: saved(request, f"{day} saved.", "web:unit", unit_id=unit.pk),
        form=form,
    ) or _unit_page(request, unit, hours_form=form)


urlpatterns: list[URLPattern] = [
    path("staff/units/", unit_list, name="units"),
    path("staff/units/<int:unit_id>/", unit_page, name="unit"),
    path("staff/units/<int:unit_id>/chairs/", unit_chair, name="unit-chair"),
    path("staff/units/<int:unit_id>/hours/", unit_hours, name="unit-hours"),
]
