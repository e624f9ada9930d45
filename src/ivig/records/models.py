"""The treatment record: patients, eligibility, courses and orders, dispensing, infusion
sessions, outcomes, API tokens and the audit chain.

Rules that live here, not in views: every clinical row carries a ``version`` (a stale update is
refused, never silently overwritten); clinical rows are never hard-deleted (status changes and
corrections instead); audit rows are append-only (database triggers, see migration 0002).
Writes go through ``ivig.records.services``, which checks roles, runs the clinical core and
writes the audit event in the same transaction.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower, Upper


class Role(models.TextChoices):
    """The roles of the service; each is a Django group of the same name."""

    admin = "admin", "Administrator"
    prescriber = "prescriber", "Prescriber"
    pharmacist = "pharmacist", "Pharmacist"
    nurse = "nurse", "Nurse"


class Sex(models.TextChoices):
    male = "male"
    female = "female"


class IgaStatus(models.TextChoices):
    unknown = "unknown"
    normal = "normal"
    deficient = "deficient"
    deficient_with_antibodies = "deficient-with-antibodies"


class Place(models.TextChoices):
    hospital = "hospital"
    infusion_centre = "infusion-centre"
    home = "home-with-nurse"


class Phase(models.TextChoices):
    induction = "induction"
    maintenance = "maintenance"


class OrderStatus(models.TextChoices):
    planned = "planned"
    verified = "verified"
    dispensed = "dispensed"
    in_progress = "in-progress"
    completed = "completed"
    deferred = "deferred"
    cancelled = "cancelled"


class SessionState(models.TextChoices):
    """Where an infusion stands (requirement 62, §11.10(f) sequencing):

    not-started -> running <-> paused -> stopped -> ended -> closed
    running -> ended -> closed. ``paused``: any suspected reaction; restart at or below the
    last tolerated rate. ``stopped``: a second or severe reaction; no restart today without a
    new prescriber order. ``ended``: the pump is off, the observation runs. ``closed``: the
    observation is documented and the order completed.
    """

    not_started = "not-started"
    running = "running"
    paused = "paused"
    stopped = "stopped"
    ended = "ended"
    closed = "closed"


class Correctable(models.Model):
    """A clinical entry corrected only by a new entry that supersedes it, with a reason
    (requirements 11-13): the original stays, linked and marked superseded; nothing is
    overwritten or deleted. ``entered_in_error`` marks a void (a correction with no values)."""

    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    correction_reason = models.TextField(blank=True)
    entered_in_error = models.BooleanField(default=False)

    class Meta:
        abstract = True


class Versioned(models.Model):
    """A row updated only with the version it was read at (optimistic locking)."""

    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


User = settings.AUTH_USER_MODEL


class Patient(Versioned):
    mrn = models.CharField("MRN", max_length=40, unique=True)
    family_name = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    height_cm = models.FloatField()
    risk_codes = models.JSONField(default=list, blank=True)
    conditions = models.TextField(blank=True)
    allergies = models.TextField(blank=True)
    iga_status = models.CharField(
        max_length=30, choices=IgaStatus.choices, default=IgaStatus.unknown
    )
    notes = models.TextField(blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["family_name", "given_name"]),
            # the search box (services.patients.search_patients): the MRN ignoring case and a
            # name prefix ignoring case, each by an index rather than a scan of every patient
            models.Index(Upper("mrn"), name="patient_mrn_upper"),
            models.Index(Lower("family_name"), name="patient_family_lower"),
            models.Index(Lower("given_name"), name="patient_given_lower"),
        ]
        # one MRN whatever its case, the spelling kept (issue 17 item 15; 0017_mrn_case)
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("mrn"), name="patient_mrn_lower_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"


class WeightRecord(Correctable):
    """A dated weight. One that differs by 10 % or more from the weight in use when it was
    recorded (``compared_with``, ``change_percent``) needs a prescriber's confirmation with a
    reason before it is used for dosing (issue 14 item 8; ``services.patients``)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="weights")
    measured_on = models.DateField()
    weight_kg = models.FloatField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    compared_with = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    change_percent = models.FloatField(null=True, blank=True)
    needs_confirmation = models.BooleanField(default=False)
    confirmed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_reason = models.TextField(blank=True)

    @property
    def awaiting_confirmation(self) -> bool:
        """Changed by 10 % or more and not yet confirmed: not used for dosing."""
        return self.needs_confirmation and self.confirmed_at is None

    class Meta:
        ordering: ClassVar = ["-measured_on", "-id"]


class CreatinineUnit(models.TextChoices):
    """The unit of a serum creatinine: always recorded, never assumed (issue 14 item 2)."""

    mg_dl = "mg/dL"
    umol_l = "umol/L"


class CreatinineResult(Correctable):
    """A dated serum creatinine with its unit (issue 14 item 5): append-only like weights,
    corrected only by a new entry; the latest in force is the plan's renal function."""

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="creatinine_results"
    )
    measured_on = models.DateField()
    value = models.FloatField()
    unit = models.CharField(max_length=10, choices=CreatinineUnit.choices)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-measured_on", "-id"]


class Eligibility(Versioned):
    """Why a patient qualifies for IVIG in an indication (clinical-rules 1): what every
    indication asks, in columns, and the answers to the indication's own criteria
    (``[[indications.criteria]]`` in ``indications.toml``, checked by
    ``ivig.core.eligibility.check_answers``) in ``answers``: ``{key: true/false or an option's
    value}``."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="eligibility")
    indication = models.CharField(max_length=20)
    diagnosed_by_neurologist = models.BooleanField()
    neurologist = models.CharField(max_length=200, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    severity_detail = models.TextField(blank=True)
    alternative_therapy_failed = models.BooleanField()
    alternative_therapy = models.TextField(blank=True)
    review_date = models.DateField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["patient", "indication"], name="one_eligibility")
        ]


class Course(Versioned):
    """A course of IVIG: what the prescriber ordered, and the plan the core made of it. The
    dosing weight is stored once, in the plan (issue 15): every dose and rate was computed on
    it; ``dosing_weight_kg`` and ``weight_basis`` read it there."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    indication = models.CharField(max_length=20)
    phase = models.CharField(max_length=20, choices=Phase.choices)
    product_id = models.CharField(max_length=40)
    place = models.CharField(max_length=20, choices=Place.choices)
    start = models.DateField()
    regimen = models.JSONField()  # the prescriber's inputs, as given
    catalogue_version = models.CharField(max_length=40)
    plan = models.JSONField()  # the core's plan (Plan.as_dict()) at the time of ordering
    prescribed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    cancelled_reason = models.TextField(blank=True)
    # Set when a change of the patient's record (weight, height, risks, creatinine) changes a
    # planned dose: what changed and the old and new numbers per order; empty when none
    # (issue 16 item 3; records/services/replan_needed.py).
    replan_needed = models.JSONField(default=dict, blank=True)

    @property
    def dosing_weight_kg(self) -> float:
        """The dosing weight of the plan (kg, to 0.1): ``plan["dosing_weight"]["kg"]``."""
        return float(self.plan["dosing_weight"]["kg"])

    @property
    def weight_basis(self) -> str:
        """Which weight the plan doses on (actual, ideal or adjusted): its ``basis``."""
        return str(self.plan["dosing_weight"]["basis"])


class Order(Versioned):
    """One dated infusion of a course, with its status flow."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="orders")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="orders")
    sequence = models.PositiveIntegerField()
    date = models.DateField()
    catalogue_version = models.CharField(max_length=40, default="")
    # The label's maximum for this patient, mL/h (the hard limit at the chair; requirement 48).
    label_max_ml_per_h = models.FloatField(null=True, blank=True)
    prescribed_g = models.FloatField()
    dose_g = models.FloatField()
    vials = models.JSONField()
    volume_ml = models.FloatField()
    steps = models.JSONField()
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.planned
    )
    status_reason = models.TextField(blank=True)
    verified_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    dispensed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispensed_at = models.DateTimeField(null=True, blank=True)
    # Who planned its current numbers: the prescriber, else the last to re-plan it (issue 18).
    planned_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["date", "sequence"]
        indexes: ClassVar = [
            models.Index(fields=["patient", "date"]),
            models.Index(fields=["status", "date"]),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["course", "sequence"], name="one_order_per_sequence")
        ]


class Lot(models.Model):
    """Vials dispensed for an order (traceability: which patients received lot X)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lots")
    product_id = models.CharField(max_length=40)
    lot_number = models.CharField(max_length=60, db_index=True)
    expiry = models.DateField()
    vial_size_g = models.FloatField()
    count = models.PositiveIntegerField()
    stock_lot = models.ForeignKey(  # issue 18: the stock lot the vials were taken from
        "StockLot", null=True, blank=True, on_delete=models.PROTECT, related_name="dispensed"
    )


class InfusionSession(Versioned):
    """The infusion of one order at the chair."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="session")
    check_answers = models.JSONField(default=dict)
    check_findings = models.JSONField(default=list)
    checked_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(null=True)
    override_reason = models.TextField(blank=True)
    override_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    override_at = models.DateTimeField(null=True)
    state = models.CharField(
        max_length=20, choices=SessionState.choices, default=SessionState.not_started
    )
    started_at = models.DateTimeField(null=True)
    started_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    # Recorded at the start (requirement 65): the vials inspected, and who gives the infusion.
    visual_inspection_ok = models.BooleanField(null=True)
    visual_inspection_notes = models.TextField(blank=True)
    administered_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    # When the start was entered, and whether that was a late entry (issue 14 item 7): entered
    # more than the clock skew after ``started_at``, the real time, which the ramp counts from.
    start_recorded_at = models.DateTimeField(null=True)
    start_late_entry = models.BooleanField(default=False)
    # A prescriber's new order to restart a stopped infusion the same day (requirement 62).
    restart_order_by = models.ForeignKey(
        User, null=True, on_delete=models.PROTECT, related_name="+"
    )
    restart_order_at = models.DateTimeField(null=True)
    restart_order_reason = models.TextField(blank=True)
    restart_max_ml_per_h = models.FloatField(null=True)
    ended_at = models.DateTimeField(null=True)
    observation_minutes = models.PositiveIntegerField(null=True)
    observation_ended_at = models.DateTimeField(null=True)
    observation_notes = models.TextField(blank=True)
    # Recorded at the end (issue 16 item 4): the volume given (the nurse's, prefilled from the
    # pump log), the grams it holds (what the 28-day cap, the records and the exports count;
    # ``None``: an infusion ended before it was recorded, counted at its full dose), and why a
    # stop well short of the dose was confirmed.
    volume_given_ml = models.FloatField(null=True)
    given_g = models.FloatField(null=True)
    short_stop_reason = models.TextField(blank=True)


class RateAction(models.TextChoices):
    """Each pump event is a new row (CLIF ``med_admin_continuous``; A3.8): a pause or stop is
    a row at 0 mL/h."""

    start = "start"
    change = "change"
    pause = "pause"
    resume = "resume"
    stop = "stop"


class RateChange(models.Model):
    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="rate_changes"
    )
    at = models.DateTimeField()
    rate_ml_per_h = models.FloatField()
    action = models.CharField(max_length=10, choices=RateAction.choices, default=RateAction.change)
    # Why vital signs were not taken before an increase, or any note on the change.
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["at", "id"]


class Vitals(Correctable):
    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="vitals")
    at = models.DateTimeField()
    temperature_c = models.FloatField(null=True)
    pulse_per_min = models.PositiveIntegerField(null=True)
    systolic_mm_hg = models.PositiveIntegerField(null=True)
    diastolic_mm_hg = models.PositiveIntegerField(null=True)
    respiratory_rate_per_min = models.PositiveIntegerField(null=True)
    spo2_percent = models.PositiveIntegerField(null=True)
    flags = models.JSONField(default=list)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["at", "id"]


class Reaction(Correctable):
    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="reactions")
    at = models.DateTimeField()
    symptoms = models.JSONField()
    severity = models.CharField(max_length=20)
    recommended = models.JSONField()  # the core's advice, with its basis (protocol) and source
    action_taken = models.TextField()
    medicines_given = models.TextField(blank=True)  # protocol medicines: a task for the prescriber
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["at", "id"]


class Outcome(Correctable):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="outcomes")
    measure = models.CharField(max_length=20)
    value = models.FloatField()
    measured_on = models.DateField()
    patient_reported = models.BooleanField(default=False)  # a check-in by the patient (issue 7)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["measured_on", "id"]


class PrescriberTask(models.Model):
    """Something the prescriber must acknowledge, e.g. reaction medicines given under protocol
    (requirement 62)."""

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="tasks")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="tasks")
    reaction = models.ForeignKey(Reaction, null=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=40)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True)
    acknowledgement = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]


class LimitKind(models.TextChoices):
    hard = "hard"
    soft = "soft"


class LimitEvent(models.Model):
    """A drug-library limit met (requirements 47, 48, 57): a refused hard-stop attempt, or a
    soft limit overridden with a coded reason, with the limit, the value and the library
    version. Written in its own transaction for a hard stop (the refused write is rolled back)."""

    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=LimitKind.choices)
    rule = models.CharField(max_length=60)
    message = models.TextField()
    entity = models.CharField(max_length=40)
    field = models.CharField(max_length=60, blank=True)
    limit_value = models.FloatField(null=True)
    attempted_value = models.FloatField(null=True)
    unit = models.CharField(max_length=20, blank=True)
    patient = models.ForeignKey(Patient, null=True, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, null=True, on_delete=models.PROTECT, related_name="+")
    catalogue_version = models.CharField(max_length=40)
    reason_code = models.CharField(max_length=40, blank=True)
    reason_text = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["at", "id"]
        permissions: ClassVar = [
            ("override_soft_limit", "Can override a drug-library soft limit (re-authenticated)")
        ]


class IdempotencyKey(models.Model):
    """The stored response of a submission, so that a repeat (a double click, a retry) records
    once and answers the same (requirement 29)."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=100)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.BinaryField()
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "key"], name="one_response_per_key")
        ]


class PatientInvitation(models.Model):
    """A one-time link from the service to a patient to set up their own sign-in (issue 7).
    Only the SHA-256 of the link's token is stored; a link works once, before it expires."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    invited_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True)
    revoked_at = models.DateTimeField(null=True)


class PatientAccount(models.Model):
    """A patient's own sign-in: the user sees only this patient's record (issue 7). A user
    with a patient account holds no staff role."""

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="patient_account")
    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="account")
    created_at = models.DateTimeField(auto_now_add=True)


class DayBeforeCheck(models.Model):
    """The patient's answers the day before an infusion (issue 7). An answer that calls for it
    flags the infusion for review before starting; nothing is cancelled."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="day_checks")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="day_checks")
    answers = models.JSONField()
    flags = models.JSONField(default=list)  # what calls for a review, in words
    needs_review = models.BooleanField(default=False)
    submitted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True)
    review_note = models.TextField(blank=True)
    # The action taken when the alert was closed (issue 16: ``services.alerts.ACTIONS``).
    action = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering: ClassVar = ["submitted_at", "id"]
        indexes: ClassVar = [
            models.Index(
                fields=["submitted_at"],
                condition=models.Q(needs_review=True, reviewed_at=None),
                name="day_check_open_alert",
            )
        ]


class DiaryEntry(models.Model):
    """A symptom diary entry in the days after an infusion (issue 7): each symptom with its
    severity; a serious symptom raises an alert for the service."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diary")
    order = models.ForeignKey(
        Order, null=True, on_delete=models.PROTECT, related_name="diary_entries"
    )
    day = models.DateField()
    symptoms = models.JSONField()  # {"headache": "mild", ...}
    serious = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    submitted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True)
    # The action taken when the alert was closed, and its note (issue 16: services.alerts).
    action = models.CharField(max_length=20, blank=True)
    action_note = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["day", "id"]
        indexes: ClassVar = [
            models.Index(
                fields=["submitted_at"],
                condition=models.Q(serious=True, acknowledged_at=None),
                name="diary_open_alert",
            )
        ]


class ApiToken(models.Model):
    """A bearer token for a machine client; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True)
    revoked_at = models.DateTimeField(null=True)
    # Issue 17 item 17: a token expires (``ivig.records.tokens``: 90 days unless told, at most
    # 365) and may be limited to some of its user's roles (empty: not limited).
    expires_at = models.DateTimeField()
    roles = models.JSONField(default=list)


class AuditEvent(models.Model):
    """One append-only audit event, chained to the previous one by hash (requirements 1-6)."""

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    actor_id = models.BigIntegerField(null=True)
    roles = models.JSONField(default=list)
    action = models.CharField(max_length=40)
    entity = models.CharField(max_length=40)
    entity_id = models.CharField(max_length=40)
    patient_id = models.BigIntegerField(null=True, db_index=True)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)
    reason = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering: ClassVar = ["seq"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise RuntimeError("audit events are append-only")


class AuditHead(models.Model):
    """The single row holding the chain's last sequence number and hash; writers lock it."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)


# --- premedication and the decision after a reaction (issue 16 item 6) --------------------------


class PremedicationOrder(models.Model):
    """A prescriber's premedication order (issue 16 item 6): a medicine, its dose, route and
    when (e.g. "paracetamol 1 g oral 30 min before"), for one infusion (``order``) or for every
    infusion of the course from ``from_date`` (``order`` empty)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="premedications")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="premedications")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="premedications"
    )
    from_date = models.DateField()
    medicine = models.CharField(max_length=100)
    dose = models.CharField(max_length=40)
    route = models.CharField(max_length=40)
    timing = models.CharField(max_length=100)
    reason = models.TextField(blank=True)
    prescribed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    prescribed_at = models.DateTimeField()


class PremedicationGiven(models.Model):
    """A premedication given before an infusion, by the nurse, at its clinical time."""

    premedication = models.ForeignKey(
        PremedicationOrder, on_delete=models.PROTECT, related_name="given"
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="premedications_given")
    at = models.DateTimeField()
    note = models.TextField(blank=True)
    given_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()


class RampDecision(models.TextChoices):
    same = "same", "the same ramp"
    capped = "capped", "a slower ramp, capped at the tolerated rate"


class ReactionDecision(models.Model):
    """The prescriber's decision for the infusions after a reaction: the same ramp, or a ramp
    capped at the tolerated rate (the rate guard refuses above it); and whether premedication
    is ordered. One per reaction."""

    reaction = models.OneToOneField(Reaction, on_delete=models.PROTECT, related_name="decision")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    ramp = models.CharField(max_length=10, choices=RampDecision.choices)
    max_ml_per_h = models.FloatField(null=True, blank=True)
    premedicate = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()


class RefusalWindow(models.Model):
    """Refusals by nobody signed in, counted per address (issue 17 items 5 and 13): failed
    sign-ins, sign-ins refused while a name is locked or the address slowed down, 401 answers.
    A window lasts the sign-in cool-off (15 minutes) from its first refusal; once it is over, one
    audit event reports it (``records.services.signin.report_refusals``), not one per guess."""

    address = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    refused = models.JSONField(default=dict)  # {"failed": n, "locked": n, ...}
    names = models.JSONField(default=list)  # the user names tried, the first 20
    reported = models.BooleanField(default=False)

    class Meta:
        indexes = (
            models.Index(fields=["address", "started_at"], name="refusal_address"),
            models.Index(fields=["reported", "started_at"], name="refusal_reported"),
        )


# --- vial stock (issue 18) ------------------------------------------------------------------------


class Store(models.Model):
    """A place the pharmacy keeps vials: "main pharmacy", "day ward fridge"."""

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["name"]


class MovementKind(models.TextChoices):
    receive = "receive"
    dispense = "dispense"
    give_back = "return"
    adjust = "adjust"
    quarantine = "quarantine"
    release = "release"


class StockLot(models.Model):
    """The vials of one lot of one product and size in one store; ``on_hand`` never negative
    (a CHECK constraint under the service's row lock)."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="lots")
    product_id = models.CharField(max_length=40)
    vial_size_g = models.FloatField()
    lot_number = models.CharField(max_length=60, db_index=True)
    expiry = models.DateField()
    quarantined = models.BooleanField(default=False)
    quarantine_reason = models.TextField(blank=True)
    on_hand = models.IntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["expiry", "product_id", "-vial_size_g", "lot_number"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(on_hand__gte=0), name="stock_on_hand_not_negative"
            ),
            models.UniqueConstraint(
                "store",
                "product_id",
                "vial_size_g",
                Upper("lot_number"),
                name="one_stock_lot_per_store_product_size",
            ),
        ]


class StockMovement(models.Model):
    """One change to a lot: received, dispensed, returned, adjusted, quarantined, released."""

    lot = models.ForeignKey(StockLot, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    count = models.IntegerField()
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="stock_movements"
    )
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["at", "id"]


# --- units and bookings (issue 18) --------------------------------------------------------------


class UnitKind(models.TextChoices):
    infusion_centre = "infusion-centre", "Infusion centre"
    day_ward = "day-ward", "Day ward"
    home_team = "home-team", "Home-infusion team"


class Unit(models.Model):
    """Where infusions are booked: an infusion centre, a day ward or a home-infusion team; its
    set-up time is part of every booking's length. Times are the service's time zone."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=UnitKind.choices)
    setup_minutes = models.PositiveIntegerField(default=15)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class ChairKind(models.TextChoices):
    chair = "chair", "Chair"
    nurse = "nurse", "Visiting nurse"


class Chair(models.Model):
    """A chair of a unit, or for a home-infusion team a visiting nurse (``kind``)."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="chairs")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ChairKind.choices, default=ChairKind.chair)

    class Meta:
        ordering = ("unit", "name")
        constraints = (
            models.UniqueConstraint(fields=["unit", "name"], name="one_chair_name_per_unit"),
        )

    def __str__(self) -> str:
        return f"{self.unit.name}: {self.name}"


class OpeningHours(models.Model):
    """A unit's hours on one weekday (0 Monday .. 6 Sunday); no row, or ``closed``: closed that
    day (a row is never deleted: the hours it had stay, for opening the day again)."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="hours")
    weekday = models.PositiveSmallIntegerField()
    opens = models.TimeField()
    closes = models.TimeField()
    closed = models.BooleanField(default=False)

    class Meta:
        ordering = ("unit", "weekday")
        constraints = (
            models.UniqueConstraint(fields=["unit", "weekday"], name="one_hours_per_weekday"),
        )


class BookingStatus(models.TextChoices):
    booked = "booked"
    cancelled = "cancelled"


class Booking(Versioned):
    """An order's chair and start time; its length is computed (set-up + pump + observation)
    and stored with its parts. ``no_longer_fits``: a re-plan made it overlap the next booking
    or run past closing."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="booking")
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="bookings")
    start = models.DateTimeField()
    length_minutes = models.PositiveIntegerField()
    setup_minutes = models.PositiveIntegerField()
    pump_minutes = models.PositiveIntegerField()
    observation_minutes = models.PositiveIntegerField()
    observation_reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=BookingStatus.choices, default=BookingStatus.booked
    )
    no_longer_fits = models.BooleanField(default=False)
    booked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ("start",)
        indexes = (models.Index(fields=["chair", "start"], name="booking_chair_start"),)


class ReminderStatus(models.TextChoices):
    sent = "sent"
    failed = "failed"


class Reminder(models.Model):
    """The e-mail sent to a patient the day before a booked infusion (issue 18): one per order
    and booking start (a moved booking gets a new one; a second run sends nothing again). A
    failed one keeps the mail server's error and is tried again by the next run. ``to``: the
    address the message went to (the patient user's e-mail); ``by``: who sent it (a user's
    name, or ``ivig remind`` and the server's operating-system account)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="reminders")
    booking_start = models.DateTimeField()
    to = models.CharField(max_length=254)
    status = models.CharField(max_length=10, choices=ReminderStatus.choices)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    sent_at = models.DateTimeField()  # the last attempt
    by = models.CharField(max_length=200)

    class Meta:
        ordering = ("booking_start", "id")
        constraints = (
            models.UniqueConstraint(
                fields=["order", "booking_start"], name="one_reminder_per_booking_start"
            ),
        )
