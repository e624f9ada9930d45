"""The run sheet's forms. Each has its own ids (``id_rate_at``), so that the forms of one page
never share an id, and a fresh ``idempotency_key`` each time it is drawn (requirement 29: a
double click sends the same key twice and records once; a form drawn again, after an error or
a success, gets a new one)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils import timezone

from ivig.core.monitoring import ReactionSeverity
from ivig.core.vitals import VITAL_FIELDS
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, Order, RampDecision
from ivig.records.services.limits import Override
from ivig.records.services.premedication import Decision
from ivig.records.services.runsheet.sheet import CHECK_QUESTIONS, symptom_name
from ivig.web.vitals import with_vital_fields

TIME_FORMAT = "%Y-%m-%dT%H:%M"  # what a datetime-local input sends (to the minute)
VITALS = VITAL_FIELDS  # the vital signs, in the order core.vitals defines them


class DateTimeLocalInput(forms.DateTimeInput):
    """A ``datetime-local`` input, to the minute, in the service's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=TIME_FORMAT)


class FreshKeyInput(forms.HiddenInput):
    """A hidden input whose value is a new random key each time it is drawn, whatever was
    posted: the key names one submission, not one form."""

    def format_value(self, value: Any) -> str:
        return uuid.uuid4().hex


YES_NO = [("yes", "Yes"), ("no", "No")]


def _yes(value: str) -> bool:
    return value == "yes"


def _question(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, choices=YES_NO, coerce=_yes, widget=forms.RadioSelect
    )


def _rate(label: str) -> forms.FloatField:
    return forms.FloatField(
        label=label, widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"})
    )


class Keyed(forms.Form):
    """A run-sheet form: its idempotency key, and whether the service found it stale (sent
    from a sheet drawn before someone else changed the infusion)."""

    idempotency_key = forms.CharField(widget=FreshKeyInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stale = False


class _Timed(Keyed):
    """A form with the time of the event: now by default, editable, never in the future.

    The time shown is the moment the form was drawn; a page left open would record that stale
    time. So a time left as shown (``shown_at``) means the moment of saving; a time the user
    changed is taken as typed."""

    at = forms.DateTimeField(label="Time", widget=DateTimeLocalInput)
    shown_at = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, now: dt.datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now
        field = self.fields["at"]
        field.help_text = (
            f"Local time ({timezone.get_current_timezone_name()}). Left as shown, it is the "
            "moment you save; change it for an earlier time."
        )
        if now is not None and "at" not in self.initial:
            shown = timezone.localtime(now).replace(second=0, microsecond=0)
            self.initial["at"] = shown
            self.initial["shown_at"] = shown.strftime(TIME_FORMAT)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = self.data.get("at") if self.is_bound else None
        if self.now is not None and "at" in data and raw and raw == self.data.get("shown_at"):
            data["at"] = self.now
        return data


class CheckForm(Keyed):
    """The nurse's questions before starting (``infusions.CheckAnswers``)."""

    infection = _question(CHECK_QUESTIONS["infection"])
    fever = _question(CHECK_QUESTIONS["fever"])
    feeling_unwell = _question(CHECK_QUESTIONS["feeling_unwell"])
    hydrated = _question(CHECK_QUESTIONS["hydrated"])
    notes = forms.CharField(
        label=CHECK_QUESTIONS["notes"], required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class OverrideForm(Keyed):
    reason = forms.CharField(
        label="Reason for going ahead despite the blocking finding",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


INSPECTION = "Vials inspected: clear, no particles, within expiry"


class StartForm(_Timed):
    """The start (requirement 65): the vials inspected and who gives the infusion, both
    required."""

    field_order = (
        "visual_inspection_ok",
        "visual_inspection_notes",
        "administered_by",
        "at",
        "baseline_vitals_missing_reason",
    )
    at = forms.DateTimeField(label="Start time", widget=DateTimeLocalInput)
    version = forms.IntegerField(widget=forms.HiddenInput)
    visual_inspection_ok = forms.BooleanField(
        label=INSPECTION,
        error_messages={
            "required": "inspect the vials before starting: the solution clear, no particles, "
            "every lot within its expiry"
        },
    )
    visual_inspection_notes = forms.CharField(
        label="Inspection notes", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    administered_by = forms.TypedChoiceField(
        label="Nurse giving the infusion", coerce=int, choices=()
    )
    baseline_vitals_missing_reason = forms.CharField(
        label="Reason the baseline vital signs were not taken",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only when they could not be taken before the start (issue 16: the start "
        "needs them).",
    )

    def __init__(self, *args: Any, nurses: list[tuple[int, str]] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        field = self.fields["administered_by"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = nurses or []


class RateForm(_Timed):
    """A rate change. The session's version travels with it (two changes at once: one
    transition, requirement 32). An increase asks for the checkpoint's vital signs or a reason
    they were not taken (requirement 60); a rate above a soft limit, for an override with a
    coded reason, a note and the password (requirement 47)."""

    field_order = ("rate_ml_per_h", "at", "vitals_missing_reason")
    rate_ml_per_h = _rate("New rate (mL/h)")
    session_version = forms.IntegerField(widget=forms.HiddenInput)
    vitals_missing_reason = forms.CharField(
        label="Reason vital signs were not taken",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only when the vital signs before this increase could not be recorded.",
    )
    reason_code = forms.ChoiceField(label="Coded reason for the override", required=False)
    reason_text = forms.CharField(
        label="Note (why)", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    signed_by = forms.CharField(
        label="Signed by (user name)",
        required=False,
        max_length=150,
        help_text="A colleague allowed to override (e.g. the prescriber) signs it here with "
        "their own password.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    password = forms.CharField(
        label="Password of whoever signs the override",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )

    OVERRIDE_FIELDS = ("reason_code", "reason_text", "signed_by", "password")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reason_code"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose a reason"), *reason_choices()]
        self.soft_limits: list[dict[str, Any]] = []
        self.asks_vitals = False
        self.hard_stop = ""

    @property
    def overriding(self) -> bool:
        """The override part shows: the service asked for it, or it was filled in."""
        if self.soft_limits:
            return True
        return self.is_bound and any(
            self.data.get(name) or self.errors.get(name) for name in self.OVERRIDE_FIELDS
        )

    @property
    def vitals_reason_shown(self) -> bool:
        return self.asks_vitals or bool(self.is_bound and self.data.get("vitals_missing_reason"))

    def override(self) -> Override | None:
        """The override typed in, if any part of it was (the service checks each part)."""
        d = self.cleaned_data
        if not any(d.get(name) for name in self.OVERRIDE_FIELDS):
            return None
        return Override(
            d.get("reason_code") or "",
            d.get("reason_text") or "",
            d["password"],
            d.get("signed_by") or "",
        )


def reason_choices() -> list[tuple[str, str]]:
    return [(r.code, r.label) for r in current_library().limits.reasons]


class ResumeForm(_Timed):
    """The restart after a pause, at or below the last tolerated rate (requirement 62), once
    the symptoms have resolved and with vital signs taken after the reaction, or a reason
    (issue 16 item 7)."""

    field_order = ("symptoms_resolved", "rate_ml_per_h", "at", "reason")
    rate_ml_per_h = _rate("Restart rate (mL/h)")
    symptoms_resolved = forms.BooleanField(label="The symptoms have resolved", required=False)
    reason = forms.CharField(
        label="Reason to restart without vital signs or resolved symptoms",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only when the vital signs after the reaction could not be taken, or the "
        "prescriber decided to restart before the symptoms resolved.",
    )
    session_version = forms.IntegerField(widget=forms.HiddenInput)


class RestartOrderForm(Keyed):
    """The prescriber's new order after a stop: a reason and the highest rate allowed."""

    reason = forms.CharField(
        label="Reason for restarting today", widget=forms.Textarea(attrs={"rows": 2})
    )
    max_rate_ml_per_h = _rate("Highest rate allowed (mL/h)")
    session_version = forms.IntegerField(widget=forms.HiddenInput)


class AcknowledgeForm(Keyed):
    """The prescriber's acknowledgement of a task (reaction medicines given under protocol)."""

    task_id = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 2}))
    # issue 16 item 6: the decision for the next infusions, with the task of a reaction
    ramp = forms.ChoiceField(
        label="Next infusions",
        required=False,
        choices=[("", "Decide later"), *RampDecision.choices],
    )
    premedicate = forms.BooleanField(label="Premedicate before the next infusions", required=False)

    def decision(self) -> Decision | None:
        """The decision chosen with the acknowledgement (``None``: decided later)."""
        d = self.cleaned_data
        if not d.get("ramp"):
            return None
        return Decision(ramp=d["ramp"], premedicate=d["premedicate"], note=d["note"])


@with_vital_fields
class VitalsForm(_Timed):
    """A set of vital signs: a field per sign of ``core.vitals``, then the time."""

    field_order = (*VITALS, "at")


def _symptom_choices() -> list[tuple[str, str]]:
    return [
        (key, f"{symptom_name(key)} ({grade.value.value})")
        for key, grade in current_library().monitoring.symptoms.items()
    ]


SEVERITY_CHOICES = [
    ("", "From the symptoms (protocol grading)"),
    *((s.value, s.value.capitalize()) for s in ReactionSeverity),
]


class ReactionForm(_Timed):
    field_order = ("symptoms", "severity", "action_taken", "medicines_given", "at")
    symptoms = forms.MultipleChoiceField(
        label="Symptoms",
        required=False,
        choices=_symptom_choices,
        widget=forms.CheckboxSelectMultiple,
    )
    severity = forms.ChoiceField(
        label="Severity",
        required=False,
        choices=SEVERITY_CHOICES,
        help_text="Grade higher than the symptoms suggest when your judgement says so.",
    )
    action_taken = forms.CharField(
        label="Action taken",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What was done: the pump paused, who was told.",
    )
    medicines_given = forms.CharField(
        label="Medicines given",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Protocol medicines given for the reaction (drug, dose, route, time): the "
        "prescriber gets a task to acknowledge them.",
    )
    session_version = forms.IntegerField(widget=forms.HiddenInput)


class EndForm(_Timed):
    """The end with the volume given (issue 16 item 4): offered from the pump log, read on
    the pump; a stop well short of the dose is confirmed with a reason."""

    field_order = ("volume_given_ml", "at", "short_confirmed", "short_stop_reason")
    at = forms.DateTimeField(label="End time (pump stopped)", widget=DateTimeLocalInput)
    volume_given_ml = forms.FloatField(
        label="Volume given (mL)",
        min_value=0,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
        help_text="The pump's volume infused. Offered from the rates recorded up to now.",
    )
    short_confirmed = forms.BooleanField(
        label="Stopped well short of the dose: I confirm the early stop", required=False
    )
    short_stop_reason = forms.CharField(
        label="Why it stopped short",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when less than 90 % of the dose's volume was given.",
    )


class ObservationForm(_Timed):
    field_order = ("at", "notes", "version")
    at = forms.DateTimeField(label="Observation ended at", widget=DateTimeLocalInput)
    notes = forms.CharField(
        label="Observation notes", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


FORMS: dict[str, type[forms.Form]] = {
    "check": CheckForm,
    "override": OverrideForm,
    "start": StartForm,
    "rate": RateForm,
    "resume": ResumeForm,
    "restart": RestartOrderForm,
    "acknowledge": AcknowledgeForm,
    "vitals": VitalsForm,
    "reaction": ReactionForm,
    "end": EndForm,
    "observation": ObservationForm,
}
SESSION_VERSIONED = ("rate", "resume", "restart", "reaction")


def active_nurses() -> list[tuple[int, str]]:
    """The nurses who may give the infusion: active users with the nurse role."""
    users = User.objects.filter(is_active=True, groups__name="nurse").order_by("username")
    return [(u.pk, _name(u)) for u in users.distinct()]


def _name(user: User) -> str:
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


def build(
    key: str,
    order: Order,
    session: InfusionSession | None,
    now: dt.datetime,
    data: Any = None,
    *,
    user: Actor | None = None,
    initial: dict[str, Any] | None = None,
    prefix_id: str | None = None,
) -> forms.Form:
    """One of the sheet's forms, unbound with its defaults or bound to ``data``."""
    cls = FORMS[key]
    start: dict[str, Any] = dict(initial or {})
    if key in ("start", "observation"):
        start["version"] = order.version
    if key in SESSION_VERSIONED and session is not None:
        start["session_version"] = session.version
    if key == "check" and session is not None and session.check_answers:
        start.update(
            {
                k: ("yes" if v else "no") if isinstance(v, bool) else v
                for k, v in session.check_answers.items()
            }
        )
    kwargs: dict[str, Any] = {"auto_id": f"id_{prefix_id or key}_%s", "initial": start}
    if issubclass(cls, _Timed):
        kwargs["now"] = now
    if cls is StartForm:
        kwargs["nurses"] = active_nurses()
        if user is not None and getattr(user, "pk", None):
            start.setdefault("administered_by", user.pk)
    return cls(data, **kwargs)
