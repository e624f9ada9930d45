"""Django forms for every input; services do the clinical checks and their errors come back next
to the field at fault."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django import forms

from ivig.core.outcomes import OutcomeMeasure
from ivig.records.library import current_catalogue, current_library
from ivig.records.models import IgaStatus, Place, Sex


def _risk_choices() -> list[tuple[str, str]]:
    return [(r.code, f"{r.code}: {r.meaning}") for r in current_catalogue().risks.values()]


class DateInput(forms.DateInput):
    input_type = "date"


class PatientForm(forms.Form):
    mrn = forms.CharField(label="MRN", max_length=40)
    family_name = forms.CharField(label="Family name", max_length=100)
    given_name = forms.CharField(label="Given name", max_length=100)
    date_of_birth = forms.DateField(label="Date of birth", widget=DateInput)
    sex = forms.ChoiceField(label="Sex", choices=Sex.choices)
    height_cm = forms.FloatField(label="Height (cm)")
    weight_kg = forms.FloatField(
        label="Weight today (kg)",
        required=False,
        help_text="Recorded with today's date; needed before prescribing.",
    )
    risk_codes = forms.MultipleChoiceField(
        label="Risks and conditions",
        required=False,
        choices=_risk_choices,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Renal and thrombosis risks lower the maximum rate; conditions feed screening.",
    )
    iga_status = forms.ChoiceField(label="IgA status", choices=IgaStatus.choices)
    conditions = forms.CharField(
        label="Other conditions", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    allergies = forms.CharField(
        label="Allergies", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


# The unit of a serum creatinine: chosen every time, never defaulted (issue 14 item 2).
CREATININE_UNITS = [("", "Choose the unit"), ("mg/dL", "mg/dL"), ("umol/L", "µmol/L")]


class CreatinineForm(forms.Form):
    """A dated serum creatinine with its unit (the latest is used by every plan)."""

    measured_on = forms.DateField(label="Measured on", widget=DateInput)
    value = forms.FloatField(label="Serum creatinine")
    unit = forms.ChoiceField(
        label="Unit",
        choices=CREATININE_UNITS,
        help_text="mg/dL or µmol/L as on the report: the ranges overlap, so it is never assumed.",
    )


class CourseForm(forms.Form):
    indication = forms.ChoiceField(
        label="Indication",
        choices=(),
        error_messages={"required": "Choose the indication: there is no default."},
    )
    phase = forms.ChoiceField(
        label="Phase", choices=[("induction", "Induction"), ("maintenance", "Maintenance")]
    )
    product = forms.ChoiceField(label="Product", choices=())
    place = forms.ChoiceField(label="Place", choices=Place.choices)
    start = forms.DateField(label="First dose", widget=DateInput)
    days = forms.IntegerField(
        label="Induction: consecutive days",
        required=False,
        initial=2,
        help_text="Within the indication's range (the preview says so if not).",
    )
    total_g_per_kg = forms.FloatField(
        label="Induction: total (g/kg)",
        required=False,
        help_text="Default: the indication's (2 g/kg).",
    )
    dose_g_per_kg = forms.FloatField(label="Maintenance: dose per infusion (g/kg)", required=False)
    every_weeks = forms.IntegerField(label="Maintenance: every (weeks)", required=False)
    count = forms.IntegerField(label="Maintenance: number of doses", required=False)
    weight_basis = forms.ChoiceField(
        label="Dosing weight",
        initial="auto",
        choices=[
            ("auto", "Rule (NBA, from 1 July 2026)"),
            ("actual", "Actual weight"),
            ("adjusted", "Adjusted weight"),
        ],
    )
    weight_basis_reason = forms.CharField(
        label="Why this dosing weight (when the rule excludes it)",
        required=False,
        max_length=500,
        help_text="Only to insist on the adjusted weight where the NBA rule excludes it: the cap "
        "and every rate are then checked on the actual weight too.",
    )
    pregnant = forms.BooleanField(label="Pregnant", required=False)
    egfr = forms.FloatField(label="eGFR (mL/min/1.73 m²)", required=False)
    creatinine = forms.FloatField(
        label="Serum creatinine",
        required=False,
        help_text="Or an eGFR; leave both empty to use the latest recorded creatinine result.",
    )
    creatinine_unit = forms.ChoiceField(
        label="Creatinine unit",
        required=False,
        choices=CREATININE_UNITS,
        help_text="Required with a creatinine: never assumed.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        catalogue = current_library().catalogue  # the site's library: its indications too
        indication = self.fields["indication"]
        product = self.fields["product"]
        assert isinstance(indication, forms.ChoiceField)
        assert isinstance(product, forms.ChoiceField)
        indication.choices = [
            (i.id, f"{i.short_name}: {i.name}") for i in catalogue.indications.values()
        ]
        product.choices = [
            (p.id, p.display_name) for p in catalogue.products.values() if p.schedules
        ]


class WeightForm(forms.Form):
    """A weight on the patient page (issue 14 item 8: one changed by 10 % or more awaits a
    prescriber's confirmation before dosing)."""

    weight_kg = forms.FloatField(label="Weight (kg)")
    measured_on = forms.DateField(label="Measured on", widget=DateInput)


class ConfirmWeightForm(forms.Form):
    reason = forms.CharField(
        label="Why the changed weight is right",
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "e.g. re-weighed on the ward scale"}),
    )


class OutcomeForm(forms.Form):
    """An outcome of one of ``measures``: those that apply to the patient's indications
    (``records.services.outcomes.measures_for``)."""

    measure = forms.ChoiceField(label="Measure", choices=())
    value = forms.FloatField(label="Value (seconds or points)")
    measured_on = forms.DateField(label="Measured on", widget=DateInput)

    def __init__(self, *args: Any, measures: Mapping[str, OutcomeMeasure], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["measure"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (key, f"{m.name[:1].upper()}{m.name[1:]}, {'seconds' if m.unit == 's' else m.unit}")
            for key, m in measures.items()
        ]


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput)


def _override_reasons() -> list[tuple[str, str]]:
    return [("", "Choose a reason"), *((r.code, r.label) for r in current_library().limits.reasons)]


class OverrideForm(forms.Form):
    """A soft-limit override (requirements 47, 26): a coded reason, a note and the password
    entered again; ``acknowledged`` holds the codes of the limits shown, so a changed course
    is shown again before it is signed. The service checks the note and the password and its
    message comes back next to the field."""

    reason_code = forms.ChoiceField(label="Reason for the override", choices=_override_reasons)
    reason_text = forms.CharField(
        label="Note: why this patient needs it",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    password = forms.CharField(
        label="Your password (signs the override)",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    acknowledged = forms.CharField(widget=forms.HiddenInput, required=False)

    PREFIX = "override"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", self.PREFIX)
        super().__init__(*args, **kwargs)

    @classmethod
    def posted(cls, data: Any) -> bool:
        """Whether a POST carries the override form (the second submit)."""
        return f"{cls.PREFIX}-reason_code" in data


def today() -> dt.date:
    from django.utils import timezone

    return timezone.localdate()


# --- defer, cancel, re-plan (issue 16 item 1) -----------------------------------------------------


def _change_reasons() -> list[tuple[str, str]]:
    from ivig.records.services.change_reasons import REASONS

    return [("", "Choose a reason"), *REASONS.items()]


class ChangeReasonForm(forms.Form):
    """A coded reason and a note, for deferring or cancelling a dose or cancelling a course."""

    reason_code = forms.ChoiceField(label="Reason", choices=_change_reasons)
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What happened, e.g. 38.4 °C this morning (needed for Other).",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class ReplanForm(ReasonForm):
    """The re-plan's reason: a coded reason (optional) and the prescriber's words."""

    reason_code = forms.ChoiceField(label="Why", choices=_change_reasons, required=False)
    field_order = ("reason_code", "reason", "version")
