"""Request and response shapes of the API (pydantic, through django-ninja)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Field, Path, Schema
from pydantic import ValidationInfo, field_validator

from ivig.records.models import IgaStatus, OrderStatus, Place
from ivig.records.services.limits import Override
from ivig.records.services.patients import TEXT_MAX

MAX_INT = 2**63 - 1
"""The largest whole number a database column holds (64-bit signed)."""

Id = Annotated[int, Path(..., ge=1, le=MAX_INT, description="a record id")]
"""A record id in a path: a larger one could not be looked up (422, not a server error)."""


def _storable(value: Any) -> None:
    """Refuse what no column can hold: NUL characters in text and whole numbers beyond 64 bits,
    at any depth. (A number that is not finite, NaN or infinity, is the services' to refuse:
    they say out of range, naming the field.)"""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise ValueError(f"must be a whole number between {-MAX_INT} and {MAX_INT}")
    if isinstance(value, dict):
        for item in value.values():
            _storable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _storable(item)


class In(Schema):
    """Every request body and query: text holding a NUL character and a whole number beyond
    64 bits are refused (422, naming the field), on every engine."""

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_unstorable(cls, value: Any) -> Any:
        _storable(value)
        return value


class Versioned(In):
    version: int = Field(..., ge=1, description="the version you read; 409 if it changed")


class Reason(Versioned):
    reason: str = Field(..., min_length=1, max_length=2000)


class PatientIn(In):
    # the service's limits (issue 17 item 14: one table for the API, the page and the import)
    mrn: str = Field(..., min_length=1, max_length=TEXT_MAX["mrn"])
    family_name: str = Field(..., min_length=1, max_length=TEXT_MAX["family_name"])
    given_name: str = Field(..., min_length=1, max_length=TEXT_MAX["given_name"])
    date_of_birth: dt.date
    sex: str = Field(..., pattern="^(male|female)$")
    height_cm: float = Field(..., description="cm")
    risk_codes: list[str] = Field(default_factory=list)
    conditions: str = ""
    allergies: str = ""
    iga_status: str = IgaStatus.unknown.value
    notes: str = ""


class PatientUpdate(PatientIn, Versioned):
    pass


class WeightIn(In):
    measured_on: dt.date
    weight_kg: float = Field(..., description="kg")


class WeightOut(Schema):
    """A weight; one changed by 10 % or more from the weight in use (``compared_with``,
    ``change_percent``) is not used for dosing until a prescriber confirms it (issue 14)."""

    id: int
    measured_on: dt.date
    weight_kg: float
    compared_with: int | None = Field(None, description="the weight in use it was compared with")
    change_percent: float | None = Field(None, description="signed, from that weight")
    needs_confirmation: bool = False
    awaiting_confirmation: bool = Field(False, description="true: not used for dosing yet")
    confirmed_by: int | None = None
    confirmed_at: dt.datetime | None = None
    confirmation_reason: str = ""


class ConfirmWeightIn(In):
    reason: str = Field(
        ..., min_length=1, max_length=2000, description="why the changed weight is right"
    )


class PatientOut(Schema):
    id: int
    version: int
    mrn: str
    family_name: str
    given_name: str
    date_of_birth: dt.date
    sex: str
    height_cm: float
    risk_codes: list[str]
    conditions: str
    allergies: str
    iga_status: str
    notes: str
    weights: list[WeightOut]


INDICATION = "an indication id (GET /api/indications); always given, there is no default"


class EligibilityIn(In):
    """Why a patient qualifies in an indication: what every indication asks, and ``answers``
    to the indication's own criteria (``GET /api/indications``: yes/no questions answered
    ``true`` or ``false``, a choice by its option's value)."""

    indication: str = Field(..., description=INDICATION)
    diagnosed_by_neurologist: bool
    neurologist: str = ""
    answers: dict[str, Any] = Field(
        default_factory=dict,
        description="the indication's criteria: key -> true/false or an option's value",
    )
    severity_detail: str = ""
    alternative_therapy_failed: bool
    alternative_therapy: str = ""
    review_date: dt.date


class EligibilityOut(Schema):
    id: int
    version: int
    indication: str
    diagnosed_by_neurologist: bool
    neurologist: str
    answers: dict[str, bool | str]
    severity_detail: str
    alternative_therapy_failed: bool
    alternative_therapy: str
    review_date: dt.date


class OptionOut(Schema):
    value: str
    label: str


class CriterionOut(Schema):
    key: str
    question: str
    kind: str = Field(..., description="yes-no (answered true or false) or choice")
    options: list[OptionOut]
    required: bool
    source: str = Field(..., description="the source's title (sources.toml)")
    verified: bool


class IndicationOut(Schema):
    id: str
    name: str
    short_name: str
    outcome_measures: list[str] = Field(..., description="ids of the outcome measures that apply")
    criteria: list[CriterionOut] = Field(..., description="the eligibility questions")
    catalogue_version: str


class CourseIn(In):
    indication: str = Field(..., description=INDICATION)
    phase: str = Field(..., pattern="^(induction|maintenance)$")
    product: str
    place: str = Place.hospital.value
    start: dt.date
    total_g_per_kg: float | None = None
    days: int | None = None
    dose_g_per_kg: float | None = None
    every_weeks: int | None = None
    count: int | None = None
    until: dt.date | None = None
    weight_basis: str = "auto"
    # The clinical reason to insist on an adjusted weight the NBA rule excludes (issue 14, 3).
    weight_basis_reason: str = Field("", max_length=500)
    pregnant: bool = False
    egfr: float | None = Field(None, description="mL/min/1.73 m2; or give a creatinine")
    creatinine: float | None = Field(
        None, description="serum creatinine, for the eGFR by CKD-EPI 2021; needs its unit"
    )
    creatinine_unit: str | None = Field(
        None, description="mg/dL or umol/L: required with creatinine, never assumed"
    )


class CreatinineIn(In):
    """A dated serum creatinine with its unit (no default: the plausible ranges overlap)."""

    measured_on: dt.date
    value: float
    unit: str = Field(..., description="mg/dL or umol/L")


class CreatinineOut(Schema):
    id: int
    measured_on: dt.date
    value: float
    unit: str


class OverrideIn(In):
    """A soft-limit override (requirements 47, 26): a coded reason (``limits.toml``), a note,
    and your password entered again."""

    reason_code: str = Field(..., min_length=1, max_length=40)
    reason_text: str = Field("", max_length=2000, description="a note: why")
    password: str = Field(
        ..., max_length=200, description="your password, entered again (or the signer's)"
    )
    signed_by: str = Field(
        "",
        max_length=150,
        description="the user name of a colleague allowed to override who signs it on your "
        "screen (their password then); empty: you sign it",
    )

    def as_override(self) -> Override:
        return Override(self.reason_code, self.reason_text, self.password, self.signed_by)


def override_of(data: OverrideIn | None) -> Override | None:
    return data.as_override() if data is not None else None


class PrescribeIn(CourseIn):
    override: OverrideIn | None = Field(
        None, description="needed when the course crosses a soft limit (422 override_required)"
    )


class ReplanIn(Reason):
    """Re-plan a course with the drug library in service (requirement 46)."""

    override: OverrideIn | None = None


class VerifyIn(Versioned):
    """The pharmacist's verification: the dose and volume your screen showed (requirement 56:
    the server recomputes the plan and refuses on any mismatch)."""

    dose_g: float = Field(..., gt=0, description="g, as shown to you")
    volume_ml: float = Field(..., gt=0, description="mL, as shown to you")


FROM_STOCK = (
    "the stock lot the vials are taken from (issue 18): its lot number, expiry, size and "
    "product fill those left out (any given must agree); required when the service keeps stock"
)


class FromStock(In):
    """A lot typed (number, expiry, size, product), or chosen from stock (``stock_lot_id``,
    declared first: the others are checked knowing it)."""

    stock_lot_id: int | None = Field(None, ge=1, description=FROM_STOCK)

    @field_validator("lot_number", "expiry", "vial_size_g", "product_id", mode="after",
                     check_fields=False)  # fmt: skip
    @classmethod
    def _typed_or_from_stock(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.data.get("stock_lot_id") is None:
            raise ValueError(f"{info.field_name} is required without stock_lot_id")
        return value


class LotIn(FromStock):
    lot_number: str | None = Field(None, min_length=1, max_length=60, validate_default=True)
    expiry: dt.date | None = Field(None, validate_default=True)
    vial_size_g: float | None = Field(None, gt=0, validate_default=True)
    count: int = Field(..., ge=1)
    product_id: str | None = Field(
        None,
        min_length=1,
        max_length=40,
        validate_default=True,
        description="the product on the vial label, as read from it: there is no default (issue "
        "16 item 12); another product than the order's is a hard limit",
    )


class LotOut(Schema):
    id: int
    lot_number: str
    expiry: dt.date
    vial_size_g: float
    count: int
    product_id: str
    stock_lot_id: int | None = Field(..., description="the stock lot taken from, if any")


class OrderOut(Schema):
    id: int
    version: int
    course_id: int
    patient_id: int
    sequence: int
    date: dt.date
    prescribed_g: float
    dose_g: float
    vials: list[dict[str, Any]]
    volume_ml: float
    steps: list[dict[str, Any]]
    status: str
    status_reason: str
    lots: list[LotOut]


class CourseOut(Schema):
    id: int
    version: int
    patient_id: int
    indication: str
    phase: str
    product_id: str
    place: str
    start: dt.date
    catalogue_version: str
    dosing_weight_kg: float
    weight_basis: str
    cancelled_reason: str
    plan: dict[str, Any]
    replan_needed: dict[str, Any] = Field(
        default_factory=dict,
        description="set when a change of the patient's record changes a planned dose: what "
        "changed, the old and new dosing weight, the orders marked (verify and start refused "
        "until a re-plan); empty when none",
    )
    orders: list[OrderOut]


class ReplanOut(Schema):
    course: CourseOut
    replanned: list[int] = Field(..., description="the orders planned again (back to planned)")
    kept: list[int] = Field(..., description="dispensed, in-progress or completed: left alone")
    old_catalogue_version: str
    new_catalogue_version: str
    summary: str


class DispenseIn(Versioned):
    lots: list[LotIn] = Field(..., min_length=1)


class OrderQuery(In):
    status: OrderStatus | None = None
    date: dt.date | None = None
    patient_id: int | None = None


class ErrorBody(Schema):
    code: str = Field(..., description="stable, for machines (e.g. invalid_input, stale_version)")
    message: str = Field(..., description="plain words, for the user")
    field: str | None = Field(..., description="the input at fault, or null")
    details: dict[str, Any] | None = Field(
        None, description="data for machines, when the error carries any"
    )


class ErrorOut(Schema):
    """Every error answer: ``{"error": {"code", "message", "field"[, "details"]}}``."""

    error: ErrorBody


# --- a course's doses together (issue 16 item 15) ------------------------------------------------


class ShownOrderIn(In):
    """One order as your confirmation showed it."""

    order_id: int = Field(..., ge=1)
    version: int = Field(..., ge=1, description="the version you read; 409 if it changed")
    dose_g: float | None = Field(None, gt=0, description="g, as shown to you (verification)")
    volume_ml: float | None = Field(None, gt=0, description="mL, as shown to you (verification)")


class VerifyCourseIn(In):
    """Every planned order of the course, as shown: a planned order not listed is a 409."""

    orders: list[ShownOrderIn] = Field(..., min_length=1)


class CourseLotIn(FromStock):
    """A lot of one vial size for the orders of the course (each takes its own count). A size
    may come from two or more lots: the orders, by date, take it from its lots in the order
    given, each lot until it runs out (``count``, or a stock lot's vials on hand), the last
    lot of the size the rest."""

    lot_number: str | None = Field(None, min_length=1, max_length=60, validate_default=True)
    expiry: dt.date | None = Field(None, validate_default=True)
    vial_size_g: float | None = Field(None, gt=0, validate_default=True)
    product_id: str | None = Field(
        None, min_length=1, max_length=40, validate_default=True, description="on the vial label"
    )
    count: int | None = Field(
        None,
        ge=1,
        description="at most this many vials from this lot for the whole course; required for "
        "a typed lot followed by another lot of its size",
    )


class DispenseCourseIn(In):
    orders: list[ShownOrderIn] = Field(..., min_length=1)
    lots: list[CourseLotIn] = Field(..., min_length=1)
