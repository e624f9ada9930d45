"""Django forms for every input; services do the clinical checks and their errors come back next
to the field at fault."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms

from ivig.core.outcomes import OutcomeMeasure
from ivig.core.weights import HEIGHT_RANGE_CM, WEIGHT_RANGE_KG
from ivig.records.library import current_catalogue, current_library
from ivig.records.models import IgaStatus, Place, Sex
from ivig.records.services.patients import TEXT_MAX

# The kinds of risk (``risks.toml`` ``groups``) in words, in the order the form lists them; a
# risk of two kinds is listed once, under the group of both (issue 16 item 16).
RISK_KINDS: dict[tuple[str, ...], str] = {
    ("renal", "thrombosis"): "Kidney and blood-clot risks (lower the maximum rate)",
    ("renal",): "Kidney risks (lower the maximum rate)",
    ("thrombosis",): "Blood-clot (thrombosis) risks (lower the maximum rate)",
    ("screening",): "Conditions checked before each infusion",
}
EARLIEST_BIRTH = dt.date(1900, 1, 1)  # as the patient service


def _risk_kind(groups: tuple[str, ...]) -> str:
    key = tuple(sorted(groups))
    return RISK_KINDS.get(key) or " and ".join(key).capitalize() + " risks"


def _risk_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The drug library's risks grouped by kind, each labelled with its meaning (no codes)."""
    grouped: dict[str, list[tuple[str, str]]] = {kind: [] for kind in RISK_KINDS.values()}
    for risk in current_catalogue().risks.values():
        grouped.setdefault(_risk_kind(risk.groups), []).append((risk.code, risk.meaning))
    return [(kind, risks) for kind, risks in grouped.items() if risks]


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    """A clock time to the minute (``08:30``, not ``08:30:00``: with seconds in its value the
    browser shows a seconds field too)."""

    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%H:%M")


def _number_input() -> forms.TextInput:
    """A number typed as text (with the decimal keypad): what was typed comes back as typed,
    never emptied by the browser, and is refused with the app's own message."""
    return forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})


def _number_messages(what: str, example: str) -> dict[str, str]:
    return {"required": f"Enter {what}.", "invalid": f"Enter {what} as a number, e.g. {example}."}


def _in_range(value: float, bounds: tuple[float, float], what: str, unit: str) -> float:
    """``value`` when within ``bounds`` (the core's ranges), else the error beside the field."""
    low, high = bounds
    if not math.isfinite(value) or not low <= value <= high:
        raise forms.ValidationError(
            f"The {what} {value:g} {unit} is outside the accepted range {low:g}-{high:g} {unit}.",
            code="out_of_range",
        )
    return value


class PatientForm(forms.Form):
    """A patient (issue 16 items 11 and 16): every value checked here, all at once, each error
    next to its field, nothing typed lost; the sex chosen every time (it sets the ideal weight);
    the risks ticked by kind. The service checks the same ranges again (the API and the CSV
    import call it too)."""

    mrn = forms.CharField(
        label="MRN", max_length=TEXT_MAX["mrn"], error_messages={"required": "Enter the MRN."}
    )
    family_name = forms.CharField(
        label="Family name",
        max_length=TEXT_MAX["family_name"],  # the service's limits (issue 17 item 14)
        error_messages={"required": "Enter the family name."},
    )
    given_name = forms.CharField(
        label="Given name",
        max_length=TEXT_MAX["given_name"],
        error_messages={"required": "Enter the given name."},
    )
    date_of_birth = forms.DateField(
        label="Date of birth",
        widget=DateInput,
        error_messages={
            "required": "Enter the date of birth.",
            "invalid": "Enter the date of birth as a date, e.g. 1966-01-31.",
        },
    )
    sex = forms.ChoiceField(
        label="Sex",
        choices=[("", "Choose"), *Sex.choices],
        error_messages={"required": "Choose the sex: it sets the ideal weight for dosing."},
    )
    height_cm = forms.FloatField(
        label="Height (cm)",
        widget=_number_input(),
        error_messages=_number_messages("the height", "172"),
    )
    weight_kg = forms.FloatField(
        label="Weight today (kg)",
        required=False,
        widget=_number_input(),
        help_text="Recorded with today's date; needed before prescribing.",
        error_messages=_number_messages("the weight", "72.5"),
    )
    risk_codes = forms.MultipleChoiceField(
        label="Risks and conditions",
        required=False,
        choices=_risk_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Kidney and blood-clot risks lower the maximum rate; conditions are checked "
        "before each infusion.",
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

    # The page's two columns; the risks below them, by kind.
    COLUMNS = (
        ("mrn", "family_name", "given_name", "date_of_birth", "sex", "height_cm"),
        ("weight_kg", "iga_status", "conditions", "allergies", "notes"),
    )

    def clean_height_cm(self) -> float:
        return _in_range(self.cleaned_data["height_cm"], HEIGHT_RANGE_CM, "height", "cm")

    def clean_weight_kg(self) -> float | None:
        weight = self.cleaned_data["weight_kg"]
        return None if weight is None else _in_range(weight, WEIGHT_RANGE_KG, "weight", "kg")

    def clean_date_of_birth(self) -> dt.date:
        born: dt.date = self.cleaned_data["date_of_birth"]
        if born > today():
            raise forms.ValidationError(
                f"The date of birth {born.isoformat()} is in the future.", code="future"
            )
        if born < EARLIEST_BIRTH:
            raise forms.ValidationError(
                f"The date of birth must be on or after {EARLIEST_BIRTH.isoformat()}.",
                code="too_early",
            )
        return born

    def columns(self) -> list[list[forms.BoundField]]:
        return [[self[name] for name in column] for column in self.COLUMNS]

    def risk_groups(self) -> list[dict[str, Any]]:
        """The risk checkboxes by kind: ``{"kind": words, "boxes": [BoundWidget, ...]}``."""
        boxes = iter(self["risk_codes"].subwidgets)
        field = self.fields["risk_codes"]
        assert isinstance(field, forms.ChoiceField)
        groups: list[tuple[str, list[tuple[str, str]]]] = list(field.choices)  # type: ignore[arg-type]
        return [{"kind": kind, "boxes": [next(boxes) for _ in risks]} for kind, risks in groups]


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

    # The fields of each phase (issue 16 item 14): the page shows only the chosen phase's, and
    # the other phase's are ignored here, whatever they hold.
    PHASE_FIELDS: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "induction": ("days", "total_g_per_kg"),
        "maintenance": ("dose_g_per_kg", "every_weeks", "count"),
    }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = data.get("phase")
        for phase, names in self.PHASE_FIELDS.items():
            if chosen is not None and phase != chosen:
                for name in names:
                    self.errors.pop(name, None)
                    data[name] = None
        return data


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
