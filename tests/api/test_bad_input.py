"""Bad input to every write route: 422 (or 409 when the record's state is wrong, 404 when it
does not exist) with a JSON error naming the field and saying what is wrong, and nothing
written: every table's rows, every versioned row's version and the audit chain are as before.
No answer ever carries a stack trace.

Each row is (role, method, url, body, status, code, field); ``url`` is formatted with the
context ``c`` (see the ``c`` fixture), ``body`` is a dict, raw text, or a function of ``c``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import AuditEvent, Vitals
from ivig.records.services import accounts, infusions, patients

ANY = object()  # the field is not checked (the input as a whole is at fault)
TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = str(TODAY + dt.timedelta(days=5))  # a course's first dose
MEASURED = str(TODAY - dt.timedelta(days=30))  # a weight or an outcome measured a month ago
REVIEW = str(TODAY + dt.timedelta(days=180))  # an eligibility review in six months


@dataclass(frozen=True)
class Context:
    patient: Any  # MRN0001, weighed, no course: free for prescribing
    bare: Any  # no weight recorded
    day: Any  # the conftest ``day``: MRN0002 with orders running / verified / planned
    users: dict[str, Any]
    token: Any  # a live token
    revoked: Any  # a revoked token
    now: dt.datetime
    today: dt.date
    weight: Any  # the weight recorded for ``patient``
    vitals: Any  # vital signs recorded during the running infusion

    def iso(self, minutes: float = 0) -> str:
        return (self.now + dt.timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def c(users: dict[str, Any], patient: Any, day: Any) -> Context:
    today = timezone.localdate()
    bare = patients.create_patient(
        users["prescriber"],
        patients.PatientInput("MRN0003", "Bare", "Ben", dt.date(1990, 1, 1), "male", 175),
        today=today,
    )
    token, _ = accounts.create_token(None, users["nurse"].pk, "live", system=True)
    revoked, _ = accounts.create_token(None, users["nurse"].pk, "old", system=True)
    accounts.revoke_token(users["admin"], revoked.pk)
    patient.refresh_from_db()
    now = timezone.now()
    signs = infusions.record_vitals(
        users["nurse"], day.running.pk, now - dt.timedelta(minutes=30),
        infusions.VitalsInput(pulse_per_min=72), now=now,
    )  # fmt: skip
    weighed = patient.weights.first()
    return Context(patient, bare, day, users, token, revoked, now, today, weighed, signs)


# --- bodies ------------------------------------------------------------------------------------


def patient_body(**changes: Any) -> dict[str, Any]:
    body = {
        "mrn": "NEW-1",
        "family_name": "Doe",
        "given_name": "Jo",
        "date_of_birth": "1980-01-01",
        "sex": "female",
        "height_cm": 170,
    }
    return {**body, **changes}


def patient_update(**changes: Any) -> Callable[[Context], dict[str, Any]]:
    return lambda c: {**patient_body(mrn="MRN0001"), "version": c.patient.version, **changes}


def patient_json(**raw: str) -> str:
    """A patient body as JSON text, with ``raw`` values written as is (``NaN``, ``1e400``)."""
    text = json.dumps(patient_body(**dict.fromkeys(raw, 0)))
    for name, value in raw.items():
        text = text.replace(f'"{name}": 0', f'"{name}": {value}')
    return text


def weight(kg: Any, on: str = MEASURED) -> dict[str, Any]:
    return {"measured_on": on, "weight_kg": kg}


def course_body(**changes: Any) -> dict[str, Any]:
    body = {"indication": "lems", "phase": "induction", "product": "privigen-us", "start": START,
            "days": 2}  # fmt: skip
    return {**body, **changes}


LEMS_ANSWERS = {"vgcc_antibodies": "positive", "electrophysiology": "consistent",
                "severity_measure": "adl"}  # fmt: skip


def eligibility_body(answers: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    body = {
        "indication": "lems",
        "diagnosed_by_neurologist": True,
        "answers": {**LEMS_ANSWERS, **(answers or {})},
        "alternative_therapy_failed": True,
        "review_date": REVIEW,
    }
    return {**body, **changes}


def without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def lots(order: Any, **changes: Any) -> list[dict[str, Any]]:
    """Lots holding exactly the ordered vials, with ``changes`` applied to the first."""
    out = [
        {
            "lot_number": f"L{i}",
            "expiry": "2099-12-31",
            "vial_size_g": v["size_g"],
            "count": v["count"],
            "product_id": order.course.product_id,
        }
        for i, v in enumerate(order.vials, start=1)
    ]
    out[0] = {**out[0], **changes}
    return out


def shown(order: Any) -> dict[str, Any]:
    """A verify body: the order's version and the numbers the pharmacist's screen showed."""
    return {"version": order.version, "dose_g": order.dose_g, "volume_ml": order.volume_ml}


def dispense(**changes: Any) -> Callable[[Context], dict[str, Any]]:
    return lambda c: {"version": c.day.verified.version, "lots": lots(c.day.verified, **changes)}


def at(minutes: float, **fields: Any) -> Callable[[Context], dict[str, Any]]:
    """A body with ``at`` = now + minutes (the running infusion started 60 minutes ago)."""
    return lambda c: {"at": c.iso(minutes), **fields}


def vitals(**fields: Any) -> Callable[[Context], dict[str, Any]]:
    return at(-5, **fields)


def pump(minutes: float, **fields: Any) -> Callable[[Context], dict[str, Any]]:
    """A body for the running infusion's pump (rates, reactions, resume): ``at`` = now +
    minutes and ``version`` = the infusion session's version now."""
    from ivig.records.models import InfusionSession

    def body(c: Context) -> dict[str, Any]:
        version = InfusionSession.objects.get(order=c.day.running).version
        return {"at": c.iso(minutes), "version": version, **fields}

    return body


CHECK = {"infection": False, "fever": False, "feeling_unwell": False, "hydrated": True}
USER = {"username": "newbie", "password": "infusion-chair-42-Xq", "roles": ["nurse"]}
RUNNING = "/api/orders/{c.day.running.pk}"
VERIFIED = "/api/orders/{c.day.verified.pk}"
PLANNED = "/api/orders/{c.day.planned.pk}"
PATIENT = "/api/patients/{c.patient.pk}"


def stock_body(**fields: Any) -> dict[str, Any]:
    """A delivery of vials (issue 18) into no store, unless ``fields`` say otherwise."""
    return {"store_id": 999999, "product_id": "privigen-us", "vial_size_g": 40,
            "lot_number": "P1", "expiry": str(TODAY + dt.timedelta(days=365)), "count": 1,
            **fields}  # fmt: skip


BAD = (422, "invalid_input")
RANGE = (422, "out_of_range")
UNKNOWN_PRODUCT = (422, "unknown_product")
NO_SCHEDULE = (422, "no_rate_schedule")
UNKNOWN_INDICATION = (422, "unknown_indication")
CONFLICT = (409, "conflict")
STALE = (409, "stale_version")
TIME = (400, "invalid_time")
CAP = (422, "cap_exceeded")
HARD = (422, "hard_limit")
NOT_FOUND = (404, "not_found")


def row(
    name: str,
    role: str,
    request: str,
    body: Any,
    expect: tuple[int, str],
    field: object,
    *marks: pytest.MarkDecorator,
) -> Any:
    """One bad request: ``request`` is "METHOD url"."""
    method, url = request.split(" ", 1)
    return pytest.param(role, method, url, body, *expect, field, id=name, marks=marks)


# fmt: off
ROWS: list[Any] = [
    # --- POST /api/patients --------------------------------------------------------------------
    # a height of 20 cm is outside 40-250 cm
    row("patient-height-20", "prescriber", "POST /api/patients",
        patient_body(height_cm=20), RANGE, "height_cm"),
    # NaN is valid JSON for Python's parser; it must still be refused
    row("patient-height-nan", "prescriber", "POST /api/patients",
        patient_json(height_cm="NaN"), RANGE, "height_cm"),
    # 1e400 parses as infinity
    row("patient-height-inf", "prescriber", "POST /api/patients",
        patient_json(height_cm="1e400"), RANGE, "height_cm"),
    # a string for a number
    row("patient-height-string", "prescriber", "POST /api/patients",
        patient_body(height_cm="tall"), BAD, "height_cm"),
    # born tomorrow
    row("patient-born-in-the-future", "prescriber", "POST /api/patients",
        lambda c: patient_body(date_of_birth=str(c.today + dt.timedelta(days=1))),
        BAD, "date_of_birth"),
    # born before 1900
    row("patient-born-1850", "prescriber", "POST /api/patients",
        patient_body(date_of_birth="1850-01-01"), BAD, "date_of_birth"),
    # 30 February
    row("patient-born-feb-30", "prescriber", "POST /api/patients",
        patient_body(date_of_birth="1990-02-30"), BAD, "date_of_birth"),
    # a risk code the catalogue does not know
    row("patient-unknown-risk", "prescriber", "POST /api/patients",
        patient_body(risk_codes=["martian-flu"]), BAD, "risk_codes"),
    # risk codes as a string, not a list
    row("patient-risks-not-a-list", "prescriber", "POST /api/patients",
        patient_body(risk_codes="fever"), BAD, "risk_codes"),
    # an empty MRN
    row("patient-empty-mrn", "prescriber", "POST /api/patients", patient_body(mrn=""), BAD, "mrn"),
    # an MRN of spaces only
    row("patient-blank-mrn", "prescriber", "POST /api/patients",
        patient_body(mrn="   "), BAD, "mrn"),
    # an MRN over 40 characters
    row("patient-long-mrn", "prescriber", "POST /api/patients",
        patient_body(mrn="X" * 41), BAD, "mrn"),
    # the MRN of an existing patient
    row("patient-duplicate-mrn", "prescriber", "POST /api/patients",
        patient_body(mrn="MRN0001"), CONFLICT, "mrn"),
    # the same MRN with spaces around it is the same MRN
    row("patient-duplicate-mrn-spaces", "admin", "POST /api/patients",
        patient_body(mrn=" MRN0001 "), CONFLICT, "mrn"),
    # no family name
    row("patient-no-family-name", "prescriber", "POST /api/patients",
        {k: v for k, v in patient_body().items() if k != "family_name"}, BAD, "family_name"),
    # a sex the record does not know
    row("patient-unknown-sex", "prescriber", "POST /api/patients",
        patient_body(sex="other"), BAD, "sex"),
    # an IgA status the record does not know
    row("patient-unknown-iga", "prescriber", "POST /api/patients",
        patient_body(iga_status="lots"), BAD, "iga_status"),
    # a NUL character in a name
    row("patient-nul-in-name", "prescriber", "POST /api/patients",
        patient_body(family_name="Ro\x00oke"), BAD, "family_name"),
    # --- PUT /api/patients/{id} ------------------------------------------------------------------
    # a height of 20 cm, with the current version
    row("update-height-20", "prescriber", "PUT " + PATIENT,
        patient_update(height_cm=20), RANGE, "height_cm"),
    # the MRN of another patient
    row("update-duplicate-mrn", "admin", "PUT " + PATIENT,
        patient_update(mrn="MRN0002"), CONFLICT, "mrn"),
    # an old version
    row("update-stale-version", "prescriber", "PUT " + PATIENT,
        patient_update(version=99), STALE, "version"),
    # no version at all
    row("update-no-version", "prescriber", "PUT " + PATIENT,
        patient_body(mrn="MRN0001"), BAD, "version"),
    # version 0 (versions start at 1)
    row("update-version-0", "prescriber", "PUT " + PATIENT,
        patient_update(version=0), BAD, "version"),
    # no such patient
    row("update-unknown-patient", "prescriber", "PUT /api/patients/999999",
        patient_update(), NOT_FOUND, None),
    # --- POST /api/patients/{id}/weights -------------------------------------------------------
    # 0 kg
    row("weight-0", "nurse", "POST " + PATIENT + "/weights", weight(0), RANGE, "weight_kg"),
    # 600 kg
    row("weight-600", "nurse", "POST " + PATIENT + "/weights", weight(600), RANGE, "weight_kg"),
    # a negative weight
    row("weight-negative", "prescriber", "POST " + PATIENT + "/weights",
        weight(-70), RANGE, "weight_kg"),
    # a string for a number
    row("weight-string", "nurse", "POST " + PATIENT + "/weights",
        weight("heavy"), BAD, "weight_kg"),
    # weighed tomorrow
    row("weight-in-the-future", "nurse", "POST " + PATIENT + "/weights",
        lambda c: weight(80, on=str(c.today + dt.timedelta(days=1))), BAD, "measured_on"),
    # no date
    row("weight-no-date", "admin", "POST " + PATIENT + "/weights",
        {"weight_kg": 80}, BAD, "measured_on"),
    # no such patient
    row("weight-unknown-patient", "nurse", "POST /api/patients/999999/weights",
        weight(80), NOT_FOUND, None),
    # weighed before the date of birth (issue 14 item 8)
    row("weight-before-birth", "nurse", "POST " + PATIENT + "/weights",
        lambda c: weight(80, on=str(c.patient.date_of_birth - dt.timedelta(days=1))), BAD,
        "measured_on"),
    # --- POST /api/weights/{id}/confirm (issue 14 item 8) -----------------------------------
    # no reason
    row("confirm-weight-no-reason", "prescriber", "POST /api/weights/{c.weight.pk}/confirm",
        {"reason": ""}, BAD, "reason"),
    # a weight that needs no confirmation
    row("confirm-weight-unchanged", "prescriber", "POST /api/weights/{c.weight.pk}/confirm",
        {"reason": "re-weighed"}, CONFLICT, "weight"),
    # --- POST /api/patients/{id}/creatinine-results (issue 14 items 2, 5) ---------------------
    # no unit: never assumed
    row("creatinine-no-unit", "nurse", "POST " + PATIENT + "/creatinine-results",
        lambda c: {"measured_on": str(c.today), "value": 1.1, "unit": ""}, BAD, "unit"),
    # 12 umol/L (0.14 mg/dL) is implausible; 12 mg/dL would be a dialysis value
    row("creatinine-implausible-for-its-unit", "nurse", "POST " + PATIENT + "/creatinine-results",
        lambda c: {"measured_on": str(c.today), "value": 12, "unit": "umol/L"}, RANGE, "value"),
    # measured tomorrow
    row("creatinine-in-the-future", "prescriber", "POST " + PATIENT + "/creatinine-results",
        lambda c: {"measured_on": str(c.today + dt.timedelta(days=1)), "value": 1.1,
                   "unit": "mg/dL"}, BAD, "measured_on"),
    # no such patient
    row("creatinine-unknown-patient", "nurse", "POST /api/patients/999999/creatinine-results",
        lambda c: {"measured_on": str(c.today), "value": 1.1, "unit": "mg/dL"}, NOT_FOUND, None),
    # --- PUT /api/patients/{id}/eligibility ----------------------------------------------------
    # an antibody result that is not one of the choices
    row("eligibility-vgcc-maybe", "prescriber", "PUT " + PATIENT + "/eligibility",
        eligibility_body({"vgcc_antibodies": "maybe"}), BAD, "answers.vgcc_antibodies"),
    # an unknown severity measure
    row("eligibility-unknown-measure", "prescriber", "PUT " + PATIENT + "/eligibility",
        eligibility_body({"severity_measure": "vibes"}), BAD, "answers.severity_measure"),
    # a required criterion of the indication left unanswered (issue 15)
    row("eligibility-required-answer-missing", "prescriber", "PUT " + PATIENT + "/eligibility",
        eligibility_body({"electrophysiology": None}), BAD, "answers.electrophysiology"),
    # a question the indication does not ask
    row("eligibility-unknown-criterion", "prescriber", "PUT " + PATIENT + "/eligibility",
        eligibility_body({"mood": "fine"}), BAD, "answers.mood"),
    # a word for a yes/no criterion (CIDP: other causes ruled out)
    row("eligibility-yes-no-word", "prescriber", "PUT " + PATIENT + "/eligibility",
        eligibility_body(indication="cidp", answers=None) | {"answers": {
            "nerve_conduction": "consistent", "other_causes_excluded": "yes",
            "severity_measure": "mrc"}}, BAD, "answers.other_causes_excluded"),
    # answers that are not an object
    row("eligibility-answers-a-list", "prescriber", "PUT " + PATIENT + "/eligibility",
        eligibility_body() | {"answers": ["positive"]}, BAD, "answers"),
    # an unknown indication
    row("eligibility-unknown-indication", "prescriber", "PUT " + PATIENT + "/eligibility",
        eligibility_body(indication="xyz"), UNKNOWN_INDICATION, "indication"),
    # no indication: there is no default (issue 15)
    row("eligibility-no-indication", "prescriber", "PUT " + PATIENT + "/eligibility",
        without(eligibility_body(), "indication"), BAD, "indication"),
    # a word for a yes/no answer
    row("eligibility-bool-string", "prescriber", "PUT " + PATIENT + "/eligibility",
        eligibility_body(diagnosed_by_neurologist="perhaps"), BAD, "diagnosed_by_neurologist"),
    # no review date
    row("eligibility-no-review-date", "prescriber", "PUT " + PATIENT + "/eligibility",
        without(eligibility_body(), "review_date"), BAD, "review_date"),
    # --- POST /api/patients/{id}/courses -------------------------------------------------------
    # LEMS induction is 2 to 5 days
    row("course-7-days", "prescriber", "POST " + PATIENT + "/courses",
        course_body(days=7), BAD, "days"),
    # 0 days
    row("course-0-days", "prescriber", "POST " + PATIENT + "/courses",
        course_body(days=0), BAD, "days"),
    # a string for a number
    row("course-days-string", "prescriber", "POST " + PATIENT + "/courses",
        course_body(days="two"), BAD, "days"),
    # 3 g/kg in 2 days breaks the 2 g/kg / 28 days cap
    row("course-3-g-per-kg", "prescriber", "POST " + PATIENT + "/courses",  # counted
        course_body(total_g_per_kg=3), CAP, "total_g_per_kg"),
    # a second induction for the day's patient, over the cap with the first
    row("course-second-induction", "prescriber", "POST /api/patients/{c.day.patient.pk}/courses",
        lambda c: course_body(start=str(c.today)), CAP, "start"),
    # a product the catalogue does not know
    row("course-unknown-product", "prescriber", "POST " + PATIENT + "/courses",
        course_body(product="nope"), UNKNOWN_PRODUCT, "product"),
    # Yimmugo is listed but has no known rate schedule
    row("course-yimmugo", "prescriber", "POST " + PATIENT + "/courses",
        course_body(product="yimmugo"), NO_SCHEDULE, "product"),
    # an unknown indication
    row("course-unknown-indication", "prescriber", "POST " + PATIENT + "/courses",
        course_body(indication="xyz"), UNKNOWN_INDICATION, "indication"),
    # no indication: there is no default (issue 15)
    row("course-no-indication", "prescriber", "POST " + PATIENT + "/courses",
        without(course_body(), "indication"), BAD, "indication"),
    row("preview-no-indication", "prescriber", "POST " + PATIENT + "/courses/preview",
        without(course_body(), "indication"), BAD, "indication"),
    # a phase that is not induction or maintenance
    row("course-unknown-phase", "prescriber", "POST " + PATIENT + "/courses",
        course_body(phase="loading"), BAD, "phase"),
    # a place that is not a place
    row("course-unknown-place", "prescriber", "POST " + PATIENT + "/courses",
        course_body(place="moon"), BAD, "place"),
    # a weight basis that is not auto, actual or adjusted
    row("course-unknown-weight-basis", "prescriber", "POST " + PATIENT + "/courses",
        course_body(weight_basis="guess"), BAD, "weight_basis"),
    # an eGFR below 1
    row("course-egfr-negative", "prescriber", "POST " + PATIENT + "/courses",
        course_body(egfr=-5), RANGE, "egfr"),
    # no start date
    row("course-no-start", "prescriber", "POST " + PATIENT + "/courses",
        {k: v for k, v in course_body().items() if k != "start"}, BAD, "start"),
    # a start in the year 2999
    row("course-start-2999", "prescriber", "POST " + PATIENT + "/courses",
        course_body(start="2999-01-01"), BAD, "start"),
    # a maintenance course without the dose per infusion
    row("course-maintenance-no-dose", "prescriber", "POST " + PATIENT + "/courses",
        course_body(phase="maintenance", days=None), BAD, "dose_g_per_kg"),
    # a patient never weighed
    row("course-no-weight", "prescriber", "POST /api/patients/{c.bare.pk}/courses",
        course_body(), BAD, "weight_kg"),
    # no such patient
    row("course-unknown-patient", "prescriber", "POST /api/patients/999999/courses",
        course_body(), NOT_FOUND, None),
    # --- POST /api/patients/{id}/courses/preview (saves nothing even when it works) -------------
    # an unknown product
    row("preview-unknown-product", "pharmacist", "POST " + PATIENT + "/courses/preview",
        course_body(product="nope"), UNKNOWN_PRODUCT, "product"),
    # over the cap
    row("preview-3-g-per-kg", "prescriber", "POST " + PATIENT + "/courses/preview",
        course_body(total_g_per_kg=3), CAP, "total_g_per_kg"),
    # --- POST /api/courses/{id}/cancel ---------------------------------------------------------
    # an old version
    row("cancel-course-stale", "prescriber", "POST /api/courses/{c.day.course.pk}/cancel",
        {"version": 99, "reason": "stop"}, STALE, "version"),
    # an empty reason
    row("cancel-course-empty-reason", "prescriber", "POST /api/courses/{c.day.course.pk}/cancel",
        lambda c: {"version": c.day.course.version, "reason": ""}, BAD, "reason"),
    # a reason of spaces only
    row("cancel-course-blank-reason", "prescriber", "POST /api/courses/{c.day.course.pk}/cancel",
        lambda c: {"version": c.day.course.version, "reason": "   "}, BAD, "reason"),
    # no such course
    row("cancel-course-unknown", "prescriber", "POST /api/courses/999999/cancel",
        {"version": 1, "reason": "stop"}, NOT_FOUND, None),
    # --- POST /api/courses/{id}/replan ----------------------------------------------------------
    # no reason
    row("replan-no-reason", "prescriber", "POST /api/courses/{c.day.course.pk}/replan",
        lambda c: {"version": c.day.course.version, "reason": " "}, BAD, "reason"),
    # an old version
    row("replan-stale", "prescriber", "POST /api/courses/{c.day.course.pk}/replan",
        {"version": 99, "reason": "new library"}, STALE, "version"),
    # no such course
    row("replan-unknown", "prescriber", "POST /api/courses/999999/replan",
        {"version": 1, "reason": "new library"}, NOT_FOUND, None),
    # --- POST /api/orders/{id}/verify ----------------------------------------------------------
    # a version that is not the order's
    row("verify-wrong-version", "pharmacist", "POST " + PLANNED + "/verify",
        lambda c: {**shown(c.day.planned), "version": c.day.planned.version + 1},
        STALE, "version"),
    # an order verified already
    row("verify-verified-order", "pharmacist", "POST " + VERIFIED + "/verify",
        lambda c: shown(c.day.verified), CONFLICT, "status"),
    # the numbers on the pharmacist's screen are not the order's (requirement 56)
    row("verify-other-dose", "pharmacist", "POST " + PLANNED + "/verify",
        lambda c: {**shown(c.day.planned), "dose_g": c.day.planned.dose_g + 10},
        CONFLICT, ANY),
    # no numbers shown at all
    row("verify-no-numbers", "pharmacist", "POST " + PLANNED + "/verify",
        lambda c: {"version": c.day.planned.version}, BAD, "dose_g"),
    # a string for the version
    row("verify-version-string", "pharmacist", "POST " + PLANNED + "/verify",
        {"version": "one"}, BAD, "version"),
    # an order id that is not a number
    row("verify-order-id-string", "pharmacist", "POST /api/orders/abc/verify",
        {"version": 1}, BAD, "order_id"),
    # no such order
    row("verify-unknown-order", "pharmacist", "POST /api/orders/999999/verify",
        {"version": 1, "dose_g": 70, "volume_ml": 700}, NOT_FOUND, None),
    # --- POST /api/orders/{id}/dispense --------------------------------------------------------
    # lots that do not hold the ordered vials (one vial short)
    row("dispense-lots-not-the-vials", "pharmacist", "POST " + VERIFIED + "/dispense",
        lambda c: {
            "version": c.day.verified.version,
            "lots": lots(c.day.verified)[:1]
            if len(c.day.verified.vials) > 1
            else lots(c.day.verified, count=c.day.verified.vials[0]["count"] + 1),
        },
        BAD, "lots"),
    # a lot that expires before the infusion
    row("dispense-expired-lot", "pharmacist", "POST " + VERIFIED + "/dispense",
        lambda c: {
            "version": c.day.verified.version,
            "lots": lots(c.day.verified, expiry=str(c.today - dt.timedelta(days=1))),
        },
        HARD, "lots"),
    # a vial size the product does not come in
    row("dispense-no-such-vial", "pharmacist", "POST " + VERIFIED + "/dispense",
        dispense(vial_size_g=7), BAD, "lots"),
    # a vial size of 0
    row("dispense-vial-0", "pharmacist", "POST " + VERIFIED + "/dispense",
        dispense(vial_size_g=0), BAD, "lots.0.vial_size_g"),
    # no product read from the vial label: there is no default (issue 16 item 12)
    row("dispense-no-product", "pharmacist", "POST " + VERIFIED + "/dispense",
        dispense(product_id=""), BAD, "lots.0.product_id"),
    # a count of 0
    row("dispense-count-0", "pharmacist", "POST " + VERIFIED + "/dispense",
        dispense(count=0), BAD, "lots.0.count"),
    # a lot number of spaces
    row("dispense-blank-lot-number", "pharmacist", "POST " + VERIFIED + "/dispense",
        dispense(lot_number="  "), BAD, "lots"),
    # an expiry that is not a date
    row("dispense-expiry-not-a-date", "pharmacist", "POST " + VERIFIED + "/dispense",
        dispense(expiry="soon"), BAD, "lots.0.expiry"),
    # no lots
    row("dispense-no-lots", "pharmacist", "POST " + VERIFIED + "/dispense",
        lambda c: {"version": c.day.verified.version, "lots": []}, BAD, "lots"),
    # an old version
    row("dispense-stale-version", "pharmacist", "POST " + VERIFIED + "/dispense",
        lambda c: {"version": 99, "lots": lots(c.day.verified)}, STALE, "version"),
    # an order not verified yet
    row("dispense-planned-order", "pharmacist", "POST " + PLANNED + "/dispense",
        lambda c: {"version": c.day.planned.version, "lots": lots(c.day.planned)},
        CONFLICT, "status"),
    # --- POST /api/orders/{id}/defer and /cancel -----------------------------------------------
    # an empty reason
    row("defer-empty-reason", "nurse", "POST " + PLANNED + "/defer",
        lambda c: {"version": c.day.planned.version, "reason": ""}, BAD, "reason"),
    # a reason of spaces
    row("defer-blank-reason", "prescriber", "POST " + PLANNED + "/defer",
        lambda c: {"version": c.day.planned.version, "reason": "  "}, BAD, "reason"),
    # an infusion in progress cannot be deferred
    row("defer-running-order", "nurse", "POST " + RUNNING + "/defer",
        lambda c: {"version": c.day.running.version, "reason": "unwell"}, CONFLICT, "status"),
    # an infusion in progress cannot be cancelled
    row("cancel-running-order", "prescriber", "POST " + RUNNING + "/cancel",
        lambda c: {"version": c.day.running.version, "reason": "stop"}, CONFLICT, "status"),
    # an old version
    row("cancel-order-stale", "prescriber", "POST " + PLANNED + "/cancel",
        {"version": 99, "reason": "stop"}, STALE, "version"),
    # --- POST /api/orders/{id}/check, /override, /start ----------------------------------------
    # the check of an order not dispensed
    row("check-planned-order", "nurse", "POST " + PLANNED + "/check", CHECK, CONFLICT, ANY),
    # a word that is not yes or no
    row("check-fever-string", "nurse", "POST " + RUNNING + "/check",
        {**CHECK, "fever": "sometimes"}, BAD, "fever"),
    # a question not answered
    row("check-no-hydrated", "nurse", "POST " + RUNNING + "/check",
        {k: v for k, v in CHECK.items() if k != "hydrated"}, BAD, "hydrated"),
    # an override with no check done
    row("override-no-check", "prescriber", "POST " + PLANNED + "/override",
        {"reason": "go"}, CONFLICT, ANY),
    # an override with nothing blocking
    row("override-nothing-blocks", "prescriber", "POST " + RUNNING + "/override",
        {"reason": "go"}, CONFLICT, ANY),
    # an override without a reason
    row("override-empty-reason", "prescriber", "POST " + RUNNING + "/override",
        {"reason": ""}, BAD, "reason"),
    # a start with no check done
    row("start-no-check", "nurse", "POST " + PLANNED + "/start",
        lambda c: {"version": c.day.planned.version, "at": c.iso(), "visual_inspection_ok": True},
        CONFLICT, "check"),
    # a start time without a time zone
    row("start-naive-time", "nurse", "POST " + PLANNED + "/start",
        lambda c: {"version": c.day.planned.version, "at": "2026-11-25T10:00:00",
                   "visual_inspection_ok": True}, BAD, "at"),
    # a start an hour from now
    row("start-in-the-future", "nurse", "POST " + PLANNED + "/start",
        lambda c: {"version": c.day.planned.version, "at": c.iso(60),
                   "visual_inspection_ok": True}, TIME, "at"),
    # vials that fail the visual inspection
    row("start-inspection-failed", "nurse", "POST " + PLANNED + "/start",
        lambda c: {"version": c.day.planned.version, "at": c.iso(),
                   "visual_inspection_ok": False}, BAD, "visual_inspection_ok"),
    # the inspection not recorded
    row("start-no-inspection", "nurse", "POST " + PLANNED + "/start",
        lambda c: {"version": c.day.planned.version, "at": c.iso()},
        BAD, "visual_inspection_ok"),
    # --- POST /api/orders/{id}/rates (the running infusion) --------------------------------------
    # (a rate above the label maximum is a hard stop: refused, and counted, so it writes a
    # LimitEvent: tests/api/test_infusions_safety.py)
    # 0 mL/h
    row("rate-0", "nurse", "POST " + RUNNING + "/rates",
        pump(-1, rate_ml_per_h=0), BAD, "rate_ml_per_h"),
    # a negative rate
    row("rate-negative", "nurse", "POST " + RUNNING + "/rates",
        pump(-1, rate_ml_per_h=-10), BAD, "rate_ml_per_h"),
    # a string for a number
    row("rate-string", "nurse", "POST " + RUNNING + "/rates",
        pump(-1, rate_ml_per_h="fast"), BAD, "rate_ml_per_h"),
    # a time without a time zone
    row("rate-naive-time", "nurse", "POST " + RUNNING + "/rates",
        {"version": 1, "at": "2026-11-25T10:00:00", "rate_ml_per_h": 10}, BAD, "at"),
    # a time that is not a time
    row("rate-time-not-a-time", "nurse", "POST " + RUNNING + "/rates",
        {"version": 1, "at": "yesterday", "rate_ml_per_h": 10}, BAD, "at"),
    # an hour in the future
    row("rate-in-the-future", "nurse", "POST " + RUNNING + "/rates",
        pump(60, rate_ml_per_h=10), TIME, "at"),
    # before the infusion started
    row("rate-before-start", "nurse", "POST " + RUNNING + "/rates",
        pump(-120, rate_ml_per_h=10), TIME, "at"),
    # no session version
    row("rate-no-version", "nurse", "POST " + RUNNING + "/rates",
        at(-1, rate_ml_per_h=10), BAD, "version"),
    # an old session version
    row("rate-stale", "nurse", "POST " + RUNNING + "/rates",
        at(-1, version=99, rate_ml_per_h=10), STALE, "version"),
    # an increase with no vital signs and no reason
    row("rate-increase-without-vitals", "nurse", "POST " + RUNNING + "/rates",
        lambda c: pump(-1, rate_ml_per_h=c.day.running.steps[1]["rate_ml_per_h"])(c),
        CONFLICT, "vitals"),
    # an override that is not an object
    row("rate-override-string", "nurse", "POST " + RUNNING + "/rates",
        pump(-1, rate_ml_per_h=10, override="please"), BAD, "override.reason_code"),
    # no infusion running
    row("rate-no-infusion", "nurse", "POST " + PLANNED + "/rates",
        at(-1, version=1, rate_ml_per_h=10), CONFLICT, ANY),
    # --- POST /api/orders/{id}/resume and /restart-order ----------------------------------------
    # a running infusion does not resume
    row("resume-running", "nurse", "POST " + RUNNING + "/resume",
        pump(-1, rate_ml_per_h=10), CONFLICT, "state"),
    # no rate
    row("resume-no-rate", "nurse", "POST " + RUNNING + "/resume", pump(-1), BAD, "rate_ml_per_h"),
    # no infusion running
    row("resume-no-infusion", "nurse", "POST " + PLANNED + "/resume",
        at(-1, version=1, rate_ml_per_h=10), CONFLICT, ANY),
    # a running infusion needs no restart order
    row("restart-order-running", "prescriber", "POST " + RUNNING + "/restart-order",
        lambda c: {**pump(0)(c), "reason": "settled", "max_rate_ml_per_h": 10}, CONFLICT, "state"),
    # no reason
    row("restart-order-no-reason", "prescriber", "POST " + RUNNING + "/restart-order",
        lambda c: {**pump(0)(c), "reason": "", "max_rate_ml_per_h": 10}, BAD, "reason"),
    # a maximum of 0 mL/h
    row("restart-order-rate-0", "prescriber", "POST " + RUNNING + "/restart-order",
        lambda c: {**pump(0)(c), "reason": "settled", "max_rate_ml_per_h": 0},
        BAD, "max_rate_ml_per_h"),
    # --- POST /api/tasks/{id}/acknowledge --------------------------------------------------------
    # no note
    row("acknowledge-no-note", "prescriber", "POST /api/tasks/999999/acknowledge",
        {"note": ""}, BAD, "note"),
    # no such task
    row("acknowledge-unknown-task", "prescriber", "POST /api/tasks/999999/acknowledge",
        {"note": "seen"}, NOT_FOUND, None),
    # --- POST /api/alerts/{kind}/{id}/close (issue 16) -----------------------------------------
    # "no action needed" without saying why
    row("alert-no-action-no-note", "nurse", "POST /api/alerts/diary/999999/close",
        {"action": "no_action", "note": " "}, BAD, "note"),
    # an action that is not one of the codes
    row("alert-unknown-action", "nurse", "POST /api/alerts/diary/999999/close",
        {"action": "shrug"}, BAD, "action"),
    # no such alert
    row("alert-unknown", "prescriber", "POST /api/alerts/day-before/999999/close",
        {"action": "called"}, NOT_FOUND, None),
    # --- issue 16 items 6 and 15 (pharm) -------------------------------------------------------
    # a course verified with only one of its planned orders shown
    row("verify-course-not-all-shown", "pharmacist", "POST /api/courses/{c.day.course.pk}/verify",
        lambda c: {"orders": [{"order_id": c.day.planned.pk, "version": c.day.planned.version,
                               "dose_g": c.day.planned.dose_g,
                               "volume_ml": c.day.planned.volume_ml}]},
        CONFLICT, "orders"),
    # no orders at all
    row("verify-course-no-orders", "pharmacist", "POST /api/courses/{c.day.course.pk}/verify",
        {"orders": []}, BAD, "orders"),
    # a lot without its product
    row("dispense-course-no-product", "pharmacist",
        "POST /api/courses/{c.day.course.pk}/dispense",
        lambda c: {"orders": [{"order_id": c.day.verified.pk, "version": 1}],
                   "lots": [{"lot_number": "P1", "expiry": START, "vial_size_g": 5}]},
        BAD, "lots.0.product_id"),
    # premedication without a medicine
    row("premedication-no-medicine", "prescriber",
        "POST /api/courses/{c.day.course.pk}/premedication",
        {"medicine": "", "dose": "1 g", "route": "oral", "timing": "30 min before"},
        BAD, "medicine"),
    # premedication given that no one ordered
    row("premedication-given-unknown", "nurse", "POST " + RUNNING + "/premedication/given",
        lambda c: {"premedication_id": 999999, "at": c.iso(-5)}, NOT_FOUND, None),
    # a decision that is neither the same ramp nor a capped one
    row("decision-unknown-ramp", "prescriber", "POST /api/reactions/999999/decision",
        {"ramp": "faster"}, BAD, "ramp"),
    # --- issue 18: units and bookings ------------------------------------------------------
    # a unit without a name; of an unknown kind; a chair without a name
    row("unit-no-name", "admin", "POST /api/units", {"name": "", "kind": "day-ward"}, BAD, "name"),
    row("unit-unknown-kind", "admin", "PUT /api/units/999999",
        {"name": "Ward", "kind": "castle"}, BAD, "kind"),
    row("chair-no-name", "admin", "POST /api/units/999999/chairs", {"name": ""}, BAD, "name"),
    # 25:00 is no time; closing a day of no unit
    row("hours-25", "admin", "PUT /api/units/999999/hours/1",
        {"opens": "25:00", "closes": "18:00"}, BAD, "opens"),
    row("hours-close-no-unit", "admin", "POST /api/units/999999/hours/1/close", {},
        NOT_FOUND, None),
    # a booking whose start is no time; a move without a start; a cancellation without a reason
    row("booking-start-junk", "nurse", "POST /api/bookings",
        {"order_id": 1, "chair_id": 1, "start": "at nine"}, BAD, "start"),
    row("booking-move-no-start", "nurse", "POST /api/bookings/999999/move",
        {"version": 1, "chair_id": 1}, BAD, "start"),
    row("booking-cancel-no-reason", "nurse", "POST /api/bookings/999999/cancel",
        {"version": 1, "reason": ""}, BAD, "reason"),
    # reminders: a day that is no date; a day that has passed
    row("reminders-date-junk", "admin", "POST /api/reminders/send", {"date": "tomorrow"},
        BAD, "date"),
    row("reminders-date-passed", "admin", "POST /api/reminders/send", {"date": "2000-01-01"},
        BAD, "date"),
    # --- POST /api/orders/{id}/vitals ----------------------------------------------------------
    # 50 degrees is impossible
    row("vitals-temperature-50", "nurse", "POST " + RUNNING + "/vitals",
        vitals(temperature_c=50), RANGE, "temperature_c"),
    # SpO2 above 100 %
    row("vitals-spo2-120", "nurse", "POST " + RUNNING + "/vitals",
        vitals(spo2_percent=120), RANGE, "spo2_percent"),
    # the diastolic above the systolic
    row("vitals-diastolic-above", "nurse", "POST " + RUNNING + "/vitals",
        vitals(systolic_mm_hg=110, diastolic_mm_hg=120), BAD, "diastolic_mm_hg"),
    # the diastolic equal to the systolic
    row("vitals-diastolic-equal", "nurse", "POST " + RUNNING + "/vitals",
        vitals(systolic_mm_hg=110, diastolic_mm_hg=110), BAD, "diastolic_mm_hg"),
    # a negative pulse
    row("vitals-pulse-negative", "nurse", "POST " + RUNNING + "/vitals",
        vitals(pulse_per_min=-5), RANGE, "pulse_per_min"),
    # a pulse of 72.5 (a whole number of beats)
    row("vitals-pulse-fraction", "nurse", "POST " + RUNNING + "/vitals",
        vitals(pulse_per_min=72.5), BAD, "pulse_per_min"),
    # a string for a number
    row("vitals-temperature-string", "nurse", "POST " + RUNNING + "/vitals",
        vitals(temperature_c="warm"), BAD, "temperature_c"),
    # no vital sign at all
    row("vitals-none", "nurse", "POST " + RUNNING + "/vitals", vitals(), BAD, ANY),
    # a time without a time zone
    row("vitals-naive-time", "nurse", "POST " + RUNNING + "/vitals",
        {"at": "2026-11-25T10:00:00", "temperature_c": 36.6}, BAD, "at"),
    # vital signs an hour from now
    row("vitals-in-the-future", "nurse", "POST " + RUNNING + "/vitals",
        at(60, temperature_c=36.6), TIME, "at"),
    # before the infusion started
    row("vitals-before-start", "nurse", "POST " + RUNNING + "/vitals",
        at(-120, temperature_c=36.6), TIME, "at"),
    # no infusion started
    row("vitals-not-started", "nurse", "POST " + PLANNED + "/vitals",
        vitals(temperature_c=36.6), CONFLICT, ANY),
    # --- POST /api/orders/{id}/reactions -------------------------------------------------------
    # a symptom the protocol does not know
    row("reaction-unknown-symptom", "nurse", "POST " + RUNNING + "/reactions",
        pump(-1, symptoms=["glowing"], action_taken="watched"), BAD, "symptoms"),
    # no symptom
    row("reaction-no-symptom", "nurse", "POST " + RUNNING + "/reactions",
        pump(-1, symptoms=[], action_taken="watched"), BAD, "symptoms"),
    # symptoms as a string, not a list
    row("reaction-symptoms-string", "nurse", "POST " + RUNNING + "/reactions",
        pump(-1, symptoms="headache", action_taken="watched"), BAD, "symptoms"),
    # a severity that is not mild, moderate or severe
    row("reaction-unknown-severity", "nurse", "POST " + RUNNING + "/reactions",
        pump(-1, symptoms=["headache"], severity="extreme", action_taken="slowed"),
        BAD, "severity"),
    # no action taken
    row("reaction-no-action", "nurse", "POST " + RUNNING + "/reactions",
        pump(-1, symptoms=["headache"], action_taken=""), BAD, "action_taken"),
    # an action of spaces
    row("reaction-blank-action", "nurse", "POST " + RUNNING + "/reactions",
        pump(-1, symptoms=["headache"], action_taken="  "), BAD, "action_taken"),
    # no infusion running
    row("reaction-no-infusion", "nurse", "POST " + PLANNED + "/reactions",
        at(-1, version=1, symptoms=["headache"], action_taken="slowed"), CONFLICT, ANY),
    # --- POST /api/orders/{id}/end and /observation --------------------------------------------
    # an end before the start
    row("end-before-start", "nurse", "POST " + RUNNING + "/end",
        at(-120, volume_given_ml=10), TIME, "at"),
    # an end without a time zone
    row("end-naive-time", "nurse", "POST " + RUNNING + "/end",
        {"at": "2026-11-25T10:00:00", "volume_given_ml": 10}, BAD, "at"),
    # no infusion running
    row("end-no-infusion", "nurse", "POST " + PLANNED + "/end",
        at(-1, volume_given_ml=10), CONFLICT, ANY),
    # no volume given (issue 16 item 4)
    row("end-no-volume", "nurse", "POST " + RUNNING + "/end", at(-1), BAD, "volume_given_ml"),
    # a negative volume
    row("end-negative-volume", "nurse", "POST " + RUNNING + "/end",
        at(-1, volume_given_ml=-1), BAD, "volume_given_ml"),
    # more than the dose's volume
    row("end-too-much", "nurse", "POST " + RUNNING + "/end",
        at(-1, volume_given_ml=100000), BAD, "volume_given_ml"),
    # well short of the dose, not confirmed
    row("end-short-unconfirmed", "nurse", "POST " + RUNNING + "/end",
        at(-1, volume_given_ml=1), CONFLICT, "short_stop_reason"),
    # closing the observation of an infusion still running
    row("observation-not-ended", "nurse", "POST " + RUNNING + "/observation",
        lambda c: {"version": c.day.running.version, "at": c.iso(-1)}, CONFLICT, ANY),
    # no version
    row("observation-no-version", "nurse", "POST " + RUNNING + "/observation",
        at(-1), BAD, "version"),
    # --- POST /api/patients/{id}/outcomes ------------------------------------------------------
    # a measure that is not one of 3TUG, QMG, MG-ADL, MRC
    row("outcome-unknown-measure", "nurse", "POST " + PATIENT + "/outcomes",
        {"measure": "vibes", "value": 3, "measured_on": MEASURED}, BAD, "measure"),
    # QMG runs 0-39
    row("outcome-qmg-50", "nurse", "POST " + PATIENT + "/outcomes",
        {"measure": "qmg", "value": 50, "measured_on": MEASURED},
        RANGE, "value"),
    # a negative 3TUG time
    row("outcome-3tug-negative", "prescriber", "POST " + PATIENT + "/outcomes",
        {"measure": "3tug", "value": -1, "measured_on": MEASURED},
        RANGE, "value"),
    # QMG is a whole number of points
    row("outcome-qmg-fraction", "nurse", "POST " + PATIENT + "/outcomes",
        {"measure": "qmg", "value": 2.5, "measured_on": MEASURED},
        BAD, "value"),
    # a string for a number
    row("outcome-value-string", "nurse", "POST " + PATIENT + "/outcomes",
        {"measure": "qmg", "value": "high", "measured_on": MEASURED}, BAD, "value"),
    # measured tomorrow
    row("outcome-in-the-future", "nurse", "POST " + PATIENT + "/outcomes",
        lambda c: {
            "measure": "qmg",
            "value": 12,
            "measured_on": str(c.today + dt.timedelta(days=1)),
        },
        BAD, "measured_on"),
    # no such patient
    row("outcome-unknown-patient", "nurse", "POST /api/patients/999999/outcomes",
        {"measure": "qmg", "value": 12, "measured_on": MEASURED}, NOT_FOUND, None),
    # --- corrections and voids (requirements 11-13) ---------------------------------------------
    # a correction without a reason
    row("correct-weight-no-reason", "nurse", "POST /api/weights/{c.weight.pk}/corrections",
        {"values": {"weight_kg": 71}, "reason": ""}, BAD, "reason"),
    # an impossible corrected weight
    row("correct-weight-600", "prescriber", "POST /api/weights/{c.weight.pk}/corrections",
        {"values": {"weight_kg": 600}, "reason": "typo"}, RANGE, "weight_kg"),
    # a void without a reason
    row("void-weight-no-reason", "nurse", "POST /api/weights/{c.weight.pk}/void",
        {"reason": "  "}, BAD, "reason"),
    # impossible corrected vital signs
    row("correct-vitals-spo2-120", "nurse", "POST /api/vitals/{c.vitals.pk}/corrections",
        {"values": {"spo2_percent": 120}, "reason": "typo"}, RANGE, "spo2_percent"),
    # a void of vital signs without a reason
    row("void-vitals-no-reason", "nurse", "POST /api/vitals/{c.vitals.pk}/void",
        {"reason": ""}, BAD, "reason"),
    # no such vital signs
    row("correct-vitals-unknown", "nurse", "POST /api/vitals/999999/corrections",
        {"values": {"pulse_per_min": 70}, "reason": "typo"}, NOT_FOUND, None),
    # a reaction correction without a reason
    row("correct-reaction-no-reason", "nurse", "POST /api/reactions/999999/corrections",
        {"values": {"severity": "mild"}, "reason": ""}, BAD, "reason"),
    # a void of no such reaction
    row("void-reaction-unknown", "nurse", "POST /api/reactions/999999/void",
        {"reason": "wrong patient"}, NOT_FOUND, None),
    # an outcome correction without a reason
    row("correct-outcome-no-reason", "prescriber", "POST /api/outcomes/999999/corrections",
        {"values": {"value": 12}, "reason": ""}, BAD, "reason"),
    # a void of no such outcome
    row("void-outcome-unknown", "nurse", "POST /api/outcomes/999999/void",
        {"reason": "wrong patient"}, NOT_FOUND, None),
    # a creatinine correction without a reason
    row("correct-creatinine-no-reason", "nurse",
        "POST /api/creatinine-results/999999/corrections",
        {"values": {"value": 1.2}, "reason": ""}, BAD, "reason"),
    # a void of no such creatinine result
    row("void-creatinine-unknown", "nurse", "POST /api/creatinine-results/999999/void",
        {"reason": "wrong patient"}, NOT_FOUND, None),
    # --- users and tokens (admin) --------------------------------------------------------------
    # a role that does not exist
    row("user-unknown-role", "admin", "POST /api/users",
        {**USER, "roles": ["wizard"]}, BAD, "roles"),
    # no role
    row("user-no-role", "admin", "POST /api/users", {**USER, "roles": []}, BAD, "roles"),
    # roles as a string, not a list
    row("user-roles-string", "admin", "POST /api/users", {**USER, "roles": "nurse"}, BAD, "roles"),
    # a password Django's validators refuse
    row("user-weak-password", "admin", "POST /api/users",
        {**USER, "password": "123"}, BAD, "password"),
    # an empty user name
    row("user-empty-name", "admin", "POST /api/users", {**USER, "username": ""}, BAD, "username"),
    # a user name of spaces
    row("user-blank-name", "admin", "POST /api/users",
        {**USER, "username": "   "}, BAD, "username"),
    # a user name that is taken
    row("user-name-taken", "admin", "POST /api/users",
        {**USER, "username": "nurse"}, CONFLICT, "username"),
    # new roles that do not exist
    row("roles-unknown", "admin", "PUT /api/users/{c.users[nurse].pk}/roles",
        {"roles": ["wizard"]}, BAD, "roles"),
    # no roles at all
    row("roles-empty", "admin", "PUT /api/users/{c.users[nurse].pk}/roles",
        {"roles": []}, BAD, "roles"),
    # an administrator's own administrator role (smallfix item 5: another must)
    row("roles-own-admin", "admin", "PUT /api/users/{c.users[admin].pk}/roles",
        {"roles": ["nurse"]}, CONFLICT, "roles"),
    # an administrator disabling themself
    row("active-own", "admin", "PUT /api/users/{c.users[admin].pk}/active",
        {"active": False}, CONFLICT, "active"),
    # no such user
    row("roles-unknown-user", "admin", "PUT /api/users/999999/roles",
        {"roles": ["nurse"]}, NOT_FOUND, None),
    # a word for yes/no
    row("active-string", "admin", "PUT /api/users/{c.users[nurse].pk}/active",
        {"active": "perhaps"}, BAD, "active"),
    # no such user
    row("active-unknown-user", "admin", "PUT /api/users/999999/active",
        {"active": False}, NOT_FOUND, None),
    # no such user to unlock
    row("unlock-unknown-user", "admin", "POST /api/users/999999/unlock", {}, NOT_FOUND, None),
    # a user with no failed sign-in: nothing to unlock
    row("unlock-not-locked", "admin", "POST /api/users/{c.users[nurse].pk}/unlock", {},
        CONFLICT, "username"),
    # a token for no such user
    row("token-unknown-user", "admin", "POST /api/tokens",
        {"user_id": 999999, "name": "x"}, NOT_FOUND, None),
    # a token without a name
    row("token-empty-name", "admin", "POST /api/tokens", {"user_id": 1, "name": ""}, BAD, "name"),
    # a token named with spaces
    row("token-blank-name", "admin", "POST /api/tokens",
        lambda c: {"user_id": c.users["nurse"].pk, "name": "  "}, BAD, "name"),
    # revoking a token revoked already
    row("revoke-revoked-token", "admin", "POST /api/tokens/{c.revoked.pk}/revoke",
        None, CONFLICT, ANY),
    # revoking no such token
    row("revoke-unknown-token", "admin", "POST /api/tokens/999999/revoke", None, NOT_FOUND, None),
    # --- vial stock (issue 18) --------------------------------------------------------------------
    # a store named with spaces
    row("store-blank-name", "admin", "POST /api/stores", {"name": "  "}, BAD, "name"),
    # a vial size the product does not come in
    row("stock-receive-size", "pharmacist", "POST /api/stock/receive",
        stock_body(vial_size_g=2.5), BAD, "vial_size_g"),
    # an expired lot
    row("stock-receive-expired", "pharmacist", "POST /api/stock/receive",
        stock_body(expiry=str(TODAY - dt.timedelta(days=1))), BAD, "expiry"),
    # a product the catalogue does not know
    row("stock-receive-product", "pharmacist", "POST /api/stock/receive",
        stock_body(product_id="nope"), UNKNOWN_PRODUCT, "product_id"),
    # into no such store
    row("stock-receive-store", "pharmacist", "POST /api/stock/receive",
        stock_body(), NOT_FOUND, None),
    # no vials
    row("stock-receive-zero", "pharmacist", "POST /api/stock/receive",
        stock_body(count=0), BAD, "count"),
    # from no such lot
    row("stock-take-unknown", "pharmacist", "POST /api/stock/lots/999999/take",
        {"count": 1}, NOT_FOUND, None),
    # no vials
    row("stock-take-zero", "pharmacist", "POST /api/stock/lots/999999/take",
        {"count": 0}, BAD, "count"),
    # a return without its order
    row("stock-return-no-order", "pharmacist", "POST /api/stock/lots/999999/return",
        {"count": 1}, BAD, "order_id"),
    # a return to no such lot
    row("stock-return-unknown", "pharmacist", "POST /api/stock/lots/999999/return",
        {"count": 1, "order_id": 1}, NOT_FOUND, None),
    # a quarantine without a reason
    row("stock-quarantine-blank", "pharmacist", "POST /api/stock/quarantine",
        {"lot_number": "P1", "reason": "  "}, BAD, "reason"),
    # a quarantine of a lot number not in stock
    row("stock-quarantine-unknown", "pharmacist", "POST /api/stock/quarantine",
        {"lot_number": "NOPE", "reason": "recall"}, NOT_FOUND, None),
    # a release of a lot number not in stock
    row("stock-release-unknown", "pharmacist", "POST /api/stock/release",
        {"lot_number": "NOPE", "reason": "cleared"}, NOT_FOUND, None),
    # --- the body itself -----------------------------------------------------------------------
    # not JSON
    row("body-malformed-json", "prescriber", "POST /api/patients",
        '{"mrn": ', BAD, ANY),
    # JSON, but a list
    row("body-a-list", "prescriber", "POST /api/patients", "[]", BAD, ANY),
    # JSON null
    row("body-null", "prescriber", "POST /api/patients", "null", BAD, ANY),
    # no body
    row("body-empty", "prescriber", "POST /api/patients", "", BAD, ANY),
]
# fmt: on


def _field(error: dict[str, Any]) -> str | None:
    """The field named, without the ``data.`` that names the handler's argument (see
    ``test_a_pydantic_error_names_the_field_of_the_request``)."""
    field: str | None = error["field"]
    return field.removeprefix("data.") if field else field


def _body(body: Any, c: Context) -> str | None:
    if callable(body):
        body = body(c)
    if body is None or isinstance(body, str):
        return body
    return json.dumps(body)


def _send(client: Client, method: str, url: str, body: str | None) -> Any:
    if body is None:
        return client.generic(method, url)
    return client.generic(method, url, body.encode(), content_type="application/json")


def _check_error(response: Any, status: int, code: str, field: object) -> dict[str, Any]:
    assert b"Traceback" not in response.content
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response.content
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) - {"details"} == {"code", "message", "field"}, body
    assert error["code"] == code, body
    assert isinstance(error["message"], str), body
    assert len(error["message"]) >= 10, body
    if field is not ANY:
        assert _field(error) == field, body
    return error


@pytest.mark.parametrize(("role", "method", "url", "body", "status", "code", "field"), ROWS)
def test_bad_input_is_refused_and_writes_nothing(
    role: str,
    method: str,
    url: str,
    body: Any,
    status: int,
    code: str,
    field: object,
    c: Context,
    client_for: Callable[[str | None], Client],
    db_state: Callable[[], dict[str, Any]],
) -> None:
    client = client_for(role)
    before = db_state()
    response = _send(client, method, url.format(c=c), _body(body, c))
    _check_error(response, status, code, field)
    after = db_state()
    if code in (HARD[1], CAP[1]) and not url.endswith("/preview"):
        # A hard limit writes nothing but its own count (requirement 57): one LimitEvent and
        # its audit event.
        assert after["LimitEvent"] == before["LimitEvent"] + 1
        assert after["AuditEvent"] == before["AuditEvent"] + 1
        assert AuditEvent.objects.order_by("-seq").first().action == "hard-stop"  # type: ignore[union-attr]
        after = {**after, "LimitEvent": before["LimitEvent"], "AuditEvent": before["AuditEvent"]}
    assert after == before


def test_every_write_route_has_a_bad_input_row() -> None:
    """A new write route needs its rows here."""
    from ivig.api.api import api

    writes = {
        (method.upper(), path)
        for path, item in api.get_openapi_schema()["paths"].items()
        for method in item
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
    }
    covered = {(row.values[1], _template(row.values[2])) for row in ROWS}
    assert writes - covered == set()


def _template(url: str) -> str:
    """``/api/patients/{c.patient.pk}/weights`` and ``/api/patients/999999/weights`` ->
    ``/api/patients/{patient_id}/weights``."""
    parts = url.split("/")
    names = {"patients": "patient_id", "orders": "order_id", "courses": "course_id"}
    names |= {"lots": "lot_id"}  # /api/stock/lots/{lot_id}/take (issue 18)
    names |= {"users": "user_id", "tokens": "token_id", "tasks": "task_id"}
    names |= {"units": "unit_id", "hours": "weekday", "bookings": "booking_id"}  # issue 18
    names |= dict.fromkeys(
        ("weights", "vitals", "reactions", "outcomes", "creatinine-results"), "entry_id"
    )
    if parts[2:3] == ["alerts"] and len(parts) > 4:  # /api/alerts/{kind}/{alert_id}/close
        parts[3:5] = ["{kind}", "{alert_id}"]
    for i in range(1, len(parts)):
        previous = parts[i - 1]
        if previous in names and (parts[i][:1] == "{" or parts[i].isdigit() or parts[i] == "abc"):
            parts[i] = "{" + names[previous] + "}"
    return "/".join(parts)


# --- beside the table ----------------------------------------------------------------------


def test_a_pydantic_error_names_the_field_of_the_request(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    body = json.dumps(patient_body(height_cm="tall"))
    response = client_for("prescriber").post("/api/patients", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "height_cm"


def test_abnormal_vitals_are_kept_with_flags(
    c: Context, client_for: Callable[[str | None], Client]
) -> None:
    """38.5 °C is possible but abnormal: recorded (201), flagged, audited."""
    nurse = client_for("nurse")  # signing in is audited too (issue 17 item 13)
    events, rows = AuditEvent.objects.count(), Vitals.objects.count()
    body = json.dumps({"at": c.iso(-5), "temperature_c": 38.5, "pulse_per_min": 130})
    response = nurse.post(
        f"/api/orders/{c.day.running.pk}/vitals", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    flags = response.json()["flags"]
    assert {f["field"] for f in flags} == {"temperature_c", "pulse_per_min"}
    assert all(f["message"] for f in flags)
    assert Vitals.objects.count() == rows + 1
    assert AuditEvent.objects.count() == events + 1


def test_normal_vitals_have_no_flags(
    c: Context, client_for: Callable[[str | None], Client]
) -> None:
    body = json.dumps({"at": c.iso(-5), "temperature_c": 36.8, "spo2_percent": 98})
    response = client_for("nurse").post(
        f"/api/orders/{c.day.running.pk}/vitals", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["flags"] == []


def test_a_preview_saves_nothing(
    c: Context, client_for: Callable[[str | None], Client], db_state: Callable[[], Any]
) -> None:
    before = db_state()
    response = client_for("pharmacist").post(
        f"/api/patients/{c.patient.pk}/courses/preview",
        json.dumps(course_body()),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["doses"]
    assert db_state() == before
