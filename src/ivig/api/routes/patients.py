"""Patients, weights, creatinine results, eligibility, courses and outcomes of a patient."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import (
    ConfirmWeightIn,
    CourseIn,
    CourseOut,
    CreatinineIn,
    CreatinineOut,
    EligibilityIn,
    EligibilityOut,
    Id,
    PatientIn,
    PatientOut,
    PatientUpdate,
    PrescribeIn,
    Reason,
    WeightIn,
    WeightOut,
    override_of,
)
from ivig.api.serializers import course_out, patient_out, weight_out
from ivig.records.models import Course, Eligibility, Patient, Role
from ivig.records.services import corrections, courses, patients, reads, renal
from ivig.records.services.common import get

router = Router(tags=["patients"])


def _input(data: PatientIn) -> patients.PatientInput:
    fields = data.dict()
    fields.pop("version", None)
    fields["risk_codes"] = tuple(fields["risk_codes"])
    return patients.PatientInput(**fields)


@router.get("/patients", response=list[PatientOut], **rule(*EVERYONE))
def list_patients(request: HttpRequest, q: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """Search as the search box does: the MRN exactly, or a family or given name beginning with
    ``q`` (ignoring case; "family, given" narrows on both), served by indexes; at most ``limit``
    (1-200) patients."""
    query = patients.search_patients(q).prefetch_related("weights")
    found = list(query[: max(1, min(limit, 200))])
    reads.listed(request, "demographics", (p.pk for p in found))  # audited (issue 17 item 8)
    return [patient_out(p) for p in found]


@router.post("/patients", response={201: PatientOut}, **rule(Role.prescriber, Role.admin))
def create_patient(request: HttpRequest, data: PatientIn) -> Status[dict[str, Any]]:
    patient = patients.create_patient(request.user, _input(data), today=timezone.localdate())
    return Status(201, patient_out(patient))


@router.get("/patients/{patient_id}", response=PatientOut, **rule(*EVERYONE))
def read_patient(request: HttpRequest, patient_id: Id) -> dict[str, Any]:
    return patient_out(get(Patient, patient_id, "patient"))


@router.put("/patients/{patient_id}", response=PatientOut, **rule(Role.prescriber, Role.admin))
def update_patient(request: HttpRequest, patient_id: Id, data: PatientUpdate) -> dict[str, Any]:
    patient = patients.update_patient(
        request.user, patient_id, data.version, _input(data), today=timezone.localdate()
    )
    return patient_out(patient)


@router.post(
    "/patients/{patient_id}/weights",
    response={201: WeightOut},
    **rule(Role.prescriber, Role.nurse, Role.admin),
)
def add_weight(request: HttpRequest, patient_id: Id, data: WeightIn) -> Status[Any]:
    """Record a weight, dated between the date of birth and today (else 422). One that differs
    from the weight in use by 10 % or more is kept with ``awaiting_confirmation`` true: no
    course is planned on it (409) until a prescriber confirms it (``.../confirm``)."""
    record = patients.add_weight(
        request.user, patient_id, data.measured_on, data.weight_kg, today=timezone.localdate()
    )
    return Status(201, weight_out(record))


@router.post("/weights/{entry_id}/confirm", response=WeightOut, **rule(Role.prescriber))
def confirm_weight(request: HttpRequest, entry_id: Id, data: ConfirmWeightIn) -> dict[str, Any]:
    """A prescriber confirms a weight that changed by 10 % or more, with the reason (audited);
    409 when it needs no confirmation, has one, or was corrected or voided."""
    record = patients.confirm_weight(request.user, entry_id, data.reason, now=timezone.now())
    return weight_out(record)


@router.get(
    "/patients/{patient_id}/creatinine-results",
    response=list[CreatinineOut],
    **rule(*EVERYONE),
)
def list_creatinine(request: HttpRequest, patient_id: Id) -> list[Any]:
    """The patient's serum creatinine results in force, the latest first (the latest is the
    renal function of a plan made without an eGFR or creatinine of its own)."""
    patient = get(Patient, patient_id, "patient")
    return list(corrections.current(patient.creatinine_results.all()))


@router.post(
    "/patients/{patient_id}/creatinine-results",
    response={201: CreatinineOut},
    **rule(*renal.ROLES),
)
def add_creatinine(request: HttpRequest, patient_id: Id, data: CreatinineIn) -> Status[Any]:
    """Record a serum creatinine with its unit (mg/dL or umol/L, never assumed): a value
    implausible for its unit is refused (422), naming the unit it would fit."""
    record = renal.add_creatinine(
        request.user,
        patient_id,
        data.measured_on,
        data.value,
        data.unit,
        today=timezone.localdate(),
    )
    return Status(201, record)


@router.put("/patients/{patient_id}/eligibility", response=EligibilityOut, **rule(Role.prescriber))
def record_eligibility(request: HttpRequest, patient_id: Id, data: EligibilityIn) -> Eligibility:
    return patients.record_eligibility(
        request.user, patient_id, patients.EligibilityInput(**data.dict())
    )


@router.get("/patients/{patient_id}/eligibility", response=list[EligibilityOut], **rule(*EVERYONE))
def list_eligibility(request: HttpRequest, patient_id: Id) -> list[Eligibility]:
    return list(get(Patient, patient_id, "patient").eligibility.all())


@router.get("/patients/{patient_id}/courses", response=list[CourseOut], **rule(*EVERYONE))
def list_courses(request: HttpRequest, patient_id: Id) -> list[dict[str, Any]]:
    patient = get(Patient, patient_id, "patient")
    return [course_out(c) for c in patient.courses.order_by("-start", "-id")]


def _course_input(data: CourseIn) -> courses.CourseInput:
    return courses.CourseInput(**data.dict())


@router.post("/patients/{patient_id}/courses/preview", **rule(Role.prescriber, Role.pharmacist))
def preview_course(request: HttpRequest, patient_id: Id, data: CourseIn) -> dict[str, Any]:
    """The plan the course would have, without saving anything."""
    patient = get(Patient, patient_id, "patient")
    return courses.preview(patient, _course_input(data)).document


@router.post("/patients/{patient_id}/courses", response={201: CourseOut}, **rule(Role.prescriber))
def prescribe(request: HttpRequest, patient_id: Id, data: PrescribeIn) -> Status[Any]:
    """Plan and save a course. Over the cap: 422 ``cap_exceeded`` (a hard limit, for every
    role). Outside a soft limit: 422 ``override_required`` listing them in ``details.limits``;
    send ``override`` (a coded reason, a note, your password) to save it."""
    course = courses.prescribe(
        request.user,
        patient_id,
        courses.CourseInput(**data.dict(exclude={"override"})),
        override=override_of(data.override),
    )
    return Status(201, course_out(course))


@router.get("/courses/{course_id}", response=CourseOut, **rule(*EVERYONE))
def read_course(request: HttpRequest, course_id: Id) -> dict[str, Any]:
    return course_out(get(Course, course_id, "course"))


@router.post("/courses/{course_id}/cancel", response=CourseOut, **rule(Role.prescriber))
def cancel_course(request: HttpRequest, course_id: Id, data: Reason) -> dict[str, Any]:
    return course_out(courses.cancel_course(request.user, course_id, data.version, data.reason))
