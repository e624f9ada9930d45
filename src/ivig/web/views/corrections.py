"""The correction page of a recorded entry (requirements 11-13): its history (every version,
the superseded ones struck through with the reason), a form to correct it (the values as
recorded, a required reason) and a form to void it as entered in error (a required reason).

    /corrections/<kind>/<id>/        the page; POST: correct
    /corrections/<kind>/<id>/void/   POST: void

Kinds: weight, creatinine and outcome (linked from the patient page), vitals and reaction (from
the run sheet). The forms always act on the version in force; the service refuses a second
correction of the same version (409) and checks the values as a new recording (impossible vital
signs...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ivig.core.monitoring import ReactionSeverity
from ivig.core.vitals import VITAL_FIELDS
from ivig.errors import Conflict, Forbidden, IvigError
from ivig.records.library import current_library
from ivig.records.models import Correctable, Patient
from ivig.records.services import corrections
from ivig.records.services.access import has_role
from ivig.records.services.outcomes import measures_for
from ivig.web.errors import attach_error
from ivig.web.forms import CREATININE_UNITS, DateInput
from ivig.web.vitals import with_vital_fields

TIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=TIME_FORMAT)


def _reason_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required: it is kept with the entry and in the audit trail.",
    )


def _number(label: str, *, required: bool = False) -> forms.Field:
    return forms.FloatField(
        label=label,
        required=required,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
    )


class WeightCorrection(forms.Form):
    weight_kg = _number("Weight (kg)", required=True)
    measured_on = forms.DateField(label="Measured on", widget=DateInput)
    reason = _reason_field("Reason for the correction")


@with_vital_fields
class VitalsCorrection(forms.Form):
    """The time, a field per vital sign of ``core.vitals``, the reason."""

    field_order = ("at", *VITAL_FIELDS, "reason")
    at = forms.DateTimeField(label="Time", widget=DateTimeLocalInput)
    reason = _reason_field("Reason for the correction")


class ReactionCorrection(forms.Form):
    at = forms.DateTimeField(label="Time", widget=DateTimeLocalInput)
    symptoms = forms.MultipleChoiceField(label="Symptoms", widget=forms.CheckboxSelectMultiple)
    severity = forms.ChoiceField(
        label="Severity", choices=[(s.value, s.value.capitalize()) for s in ReactionSeverity]
    )
    action_taken = forms.CharField(label="Action taken", widget=forms.Textarea(attrs={"rows": 2}))
    medicines_given = forms.CharField(
        label="Medicines given", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    reason = _reason_field("Reason for the correction")

    def __init__(self, *args: Any, symptoms: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = list(current_library().monitoring.symptoms)
        names += [s for s in symptoms or [] if s not in names]  # a symptom typed in as such
        field = self.fields["symptoms"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(s, s.replace("-", " ").capitalize()) for s in names]


class OutcomeCorrection(forms.Form):
    measure = forms.ChoiceField(label="Measure", choices=())
    value = _number("Value (seconds or points)", required=True)
    measured_on = forms.DateField(label="Measured on", widget=DateInput)
    reason = _reason_field("Reason for the correction")

    def __init__(self, *args: Any, measures: Iterable[str] = (), **kwargs: Any) -> None:
        """``measures``: the ids offered (the patient's indications' and the entry's own);
        none given: every measure."""
        super().__init__(*args, **kwargs)
        field = self.fields["measure"]
        assert isinstance(field, forms.ChoiceField)
        known = current_library().outcomes
        wanted = [m for m in measures if m in known] or list(known)
        field.choices = [(key, known[key].name) for key in dict.fromkeys(wanted)]


class CreatinineCorrection(forms.Form):
    measured_on = forms.DateField(label="Measured on", widget=DateInput)
    value = _number("Serum creatinine", required=True)
    unit = forms.ChoiceField(label="Unit", choices=CREATININE_UNITS)
    reason = _reason_field("Reason for the correction")


class VoidForm(forms.Form):
    """The void's own reason (prefixed ``void-``: the correction form beside it has one too)."""

    prefix = "void"
    reason = _reason_field("Why it was entered in error")


FORMS: dict[str, type[forms.Form]] = {
    "weight": WeightCorrection,
    "vitals": VitalsCorrection,
    "reaction": ReactionCorrection,
    "outcome": OutcomeCorrection,
    "creatinine": CreatinineCorrection,
}


def _spec(kind: str) -> corrections.Kind:
    if kind not in corrections.KINDS:
        raise Http404(f"no kind of entry {kind}")
    return corrections.KINDS[kind]


def _initial(spec: corrections.Kind, row: Correctable) -> dict[str, Any]:
    """The values as recorded, as the form shows them: the time to the minute in local time."""
    values = {name: getattr(row, name) for name in spec.fields}
    if isinstance(values.get("at"), dt.datetime):
        values["at"] = timezone.localtime(values["at"]).replace(second=0, microsecond=0)
    return values


def _shown(spec: corrections.Kind, row: Correctable) -> dict[str, Any]:
    """The initial values drawn in the form (numbers without a trailing zero: 90, not 90.0)."""
    return {k: f"{v:g}" if isinstance(v, float) else v for k, v in _initial(spec, row).items()}


def _form(spec: corrections.Kind, row: Correctable, data: Any = None) -> forms.Form:
    cls = FORMS[spec.name]
    if cls is ReactionCorrection:
        return ReactionCorrection(data, initial=_shown(spec, row), symptoms=row.symptoms)  # type: ignore[attr-defined]
    if cls is OutcomeCorrection:  # the measures of the patient's indications, and its own
        mine = [*measures_for(row.patient), row.measure]  # type: ignore[attr-defined]
        return OutcomeCorrection(data, initial=_shown(spec, row), measures=mine)
    return cls(data, initial=_shown(spec, row))


def _changes(spec: corrections.Kind, row: Correctable, cleaned: dict[str, Any]) -> dict[str, Any]:
    """Only what the user changed (a time shown to the minute and left as it was is kept)."""
    shown = _initial(spec, row)
    out = {}
    for name in spec.fields:
        value = cleaned.get(name)
        if isinstance(value, str) and name not in ("action_taken", "medicines_given"):
            value = value.strip()
        if value != shown[name]:
            out[name] = value
    return out


def _back(spec: corrections.Kind, row: Any) -> str:
    """Where the entry is shown: the patient page, or the run sheet of its infusion."""
    if spec.name in ("vitals", "reaction"):
        return reverse("web:runsheet", args=[row.session.order_id])
    return reverse("web:patient", args=[row.patient_id])


def _show(value: Any) -> str:
    """A stored value as the page shows it (local time, no trailing zeros)."""
    if value is None or value == "":
        return "\u2014"
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _versions(spec: corrections.Kind, chain: list[Correctable]) -> list[dict[str, Any]]:
    """Each version, oldest first: its values, how it stands, and the one that replaced it."""
    labels = FORMS[spec.name].base_fields
    out = []
    for i, row in enumerate(chain):
        out.append(
            {
                "row": row,
                "status": corrections.status_of(row),
                "values": [(labels[name].label, _show(getattr(row, name))) for name in spec.fields],
                "corrected_by": chain[i + 1] if i + 1 < len(chain) else None,
            }
        )
    return out


def _page(
    request: HttpRequest,
    kind: str,
    entry_id: int,
    *,
    form: forms.Form | None = None,
    void_form: forms.Form | None = None,
) -> HttpResponse:
    spec = _spec(kind)
    chain = corrections.history(kind, entry_id)
    head = chain[-1]
    editable = not head.entered_in_error and has_role(request.user, *spec.roles)
    patient = Patient.objects.get(pk=corrections.patient_of(kind, head))
    context = {
        "section": "patients",
        "title": f"Correct {spec.label}: {patient}",
        "spec": spec,
        "kind": kind,
        "patient": patient,
        "head": head,
        "versions": _versions(spec, chain),
        "editable": editable,
        "voided": head.entered_in_error,
        "back": _back(spec, head),
        "form": form or (_form(spec, head) if editable else None),
        "void_form": void_form or (VoidForm() if editable else None),
    }
    return render(request, "web/corrections.html", context)


@login_required
def correction_page(request: HttpRequest, kind: str, entry_id: int) -> HttpResponse:
    """GET: the entry's history and the forms. POST: correct the entry in force."""
    spec = _spec(kind)
    if request.method != "POST":
        return _page(request, kind, entry_id)
    head = corrections.history(kind, entry_id)[-1]
    form = _form(spec, head, request.POST)
    if form.is_valid():
        values = _changes(spec, head, form.cleaned_data)
        try:
            corrections.correct(request.user, kind, entry_id, values, form.cleaned_data["reason"])
        except (Forbidden, Conflict) as exc:  # not this user's, or corrected meanwhile
            messages.error(request, exc.message)
            return redirect("web:correction", kind=kind, entry_id=entry_id)
        except IvigError as exc:
            attach_error(form, exc, {"values": ""})
        else:
            messages.success(request, f"The {spec.label} was corrected; the original is kept.")
            return redirect(_back(spec, head))
    return _page(request, kind, entry_id, form=form)


@login_required
@require_POST
def void_entry(request: HttpRequest, kind: str, entry_id: int) -> HttpResponse:
    """Void the entry in force as entered in error, with the reason (never a delete)."""
    spec = _spec(kind)
    head = corrections.history(kind, entry_id)[-1]
    form = VoidForm(request.POST)
    if form.is_valid():
        try:
            corrections.void(request.user, kind, entry_id, form.cleaned_data["reason"])
        except (Forbidden, Conflict) as exc:  # not this user's, or corrected meanwhile
            messages.error(request, exc.message)
            return redirect("web:correction", kind=kind, entry_id=entry_id)
        except IvigError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, f"The {spec.label} was voided as entered in error.")
            return redirect(_back(spec, head))
    return _page(request, kind, entry_id, void_form=form)


urlpatterns: list[URLPattern] = [
    path("corrections/<str:kind>/<int:entry_id>/", correction_page, name="correction"),
    path("corrections/<str:kind>/<int:entry_id>/void/", void_entry, name="correction-void"),
]
