"""The drug library's limits through the API, as a crafted request that bypasses the pages
would send them (requirements 46, 47, 48, 56, 16, 64, 26): hard limits are 422 for every role
and counted; soft limits are 422 ``override_required`` until a signed override comes with the
request; verification carries the numbers shown and is refused on any mismatch or for the
course's own prescriber; a re-plan is a prescriber's."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.core.library import packaged_library
from ivig.records.models import AuditEvent, Course, LimitEvent, Lot, Order
from ivig.records.services import courses, orders
from ivig.records.services.accounts import create_user

PACKAGED = packaged_library().version  # the drug library the package ships
PASSWORD = "infusion-chair-42-Xq"  # tests/conftest.py
TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = TODAY + dt.timedelta(days=5)
EXPIRY = START + dt.timedelta(days=210)  # lots good for seven months after the course
INDUCTION = {"indication": "lems", "phase": "induction", "product": "privigen-us",
             "place": "hospital", "start": str(START), "days": 2}  # fmt: skip
HIGH = {**INDUCTION, "phase": "maintenance", "days": None, "dose_g_per_kg": 1.2,
        "every_weeks": 4, "count": 2}  # fmt: skip
OVERRIDE = {"reason_code": "prescriber-order", "reason_text": "agreed at the MDT",
            "password": PASSWORD}  # fmt: skip


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def _error(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def _planned(users: dict[str, Any], patient: Any, prescriber: Any = None) -> Order:
    course = courses.prescribe(
        prescriber or users["prescriber"],
        patient.pk,
        courses.CourseInput(**{**INDUCTION, "start": START}),
    )
    first = course.orders.order_by("sequence").first()
    assert first is not None
    return first


def _shown(order: Order, **changes: Any) -> dict[str, Any]:
    return {"version": order.version, "dose_g": order.dose_g, "volume_ml": order.volume_ml,
            **changes}  # fmt: skip


# --- prescribing: hard and soft limits -----------------------------------------------------------


def test_a_crafted_prescription_over_the_cap_is_refused_even_with_an_override(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """Requirement 48: 422 for a crafted POST over the cap, override or not; counted."""
    prescriber = client_for("prescriber")
    url = f"/api/patients/{patient.pk}/courses"
    over = {**INDUCTION, "total_g_per_kg": 3}
    for body in (over, {**over, "override": OVERRIDE}):
        response = _post(prescriber, url, body)
        assert response.status_code == 422, response.content
        assert _error(response)["code"] == "cap_exceeded"
    assert Course.objects.count() == 0
    assert list(LimitEvent.objects.values_list("kind", "rule")) == [("hard", "rolling-cap")] * 2
    assert AuditEvent.objects.filter(action="hard-stop").count() == 2


def test_a_soft_limit_needs_a_signed_override_through_the_api(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """Requirements 47, 26: 422 override_required listing the limits; a wrong password 422 on
    the password; signed, 201 and the override recorded with the library version."""
    prescriber = client_for("prescriber")
    url = f"/api/patients/{patient.pk}/courses"
    asked = _post(prescriber, url, HIGH)
    assert asked.status_code == 422
    error = _error(asked)
    assert error["code"] == "override_required"
    assert [limit["code"] for limit in error["details"]["limits"]] == ["dose-outside-usual-range"]
    wrong = _post(prescriber, url, {**HIGH, "override": {**OVERRIDE, "password": "guess"}})
    assert wrong.status_code == 422
    assert _error(wrong)["field"] == "password"
    assert Course.objects.count() == 0
    done = _post(prescriber, url, {**HIGH, "override": OVERRIDE})
    assert done.status_code == 201, done.content
    event = LimitEvent.objects.get()
    assert (event.kind, event.limit_value, event.attempted_value) == ("soft", 1.0, 1.2)
    assert event.catalogue_version == done.json()["catalogue_version"]


@pytest.mark.parametrize("role", ["pharmacist", "nurse", "admin"])
def test_no_other_role_prescribes_with_an_override(
    client_for: Callable[[str | None], Client], patient: Any, role: str
) -> None:
    """Requirement 47 (paired with the prescriber's 201 above): 403 for the other roles."""
    url = f"/api/patients/{patient.pk}/courses"
    assert _post(client_for(role), url, {**HIGH, "override": OVERRIDE}).status_code == 403
    assert Course.objects.count() == 0
    assert not LimitEvent.objects.exists()


# --- verification --------------------------------------------------------------------------------


def test_verify_needs_the_numbers_shown_and_refuses_a_mismatch(
    users: dict[str, Any], client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """Requirement 56: the body carries the dose and volume shown; a mismatch is 409."""
    order = _planned(users, patient)
    pharmacist = client_for("pharmacist")
    url = f"/api/orders/{order.pk}/verify"
    missing = _post(pharmacist, url, {"version": order.version})
    assert missing.status_code == 422
    assert _error(missing)["field"] == "dose_g"
    other = _post(pharmacist, url, _shown(order, dose_g=80))
    assert other.status_code == 409
    assert _error(other)["field"] == "dose_g"
    assert Order.objects.get(pk=order.pk).status == "planned"
    done = _post(pharmacist, url, _shown(order))
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "verified"


def test_verify_refuses_another_library_and_a_recomputation_that_differs(
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    patient: Any,
    library: Callable[..., str],
) -> None:
    """Requirements 46, 56: 409 "re-plan needed" under another library version; 409 when the
    plan recomputed from the stored inputs differs (a step rate changed behind the service)."""
    order = _planned(users, patient)
    pharmacist = client_for("pharmacist")
    url = f"/api/orders/{order.pk}/verify"
    steps = [dict(s) for s in order.steps]
    steps[-1]["rate_ml_per_h"] = 480.0
    Order.objects.filter(pk=order.pk).update(steps=steps)
    changed = _post(pharmacist, url, _shown(order))
    assert changed.status_code == 409
    assert "recomputation" in _error(changed)["message"]
    library("2026.12.0")
    refused = _post(pharmacist, url, _shown(order))
    assert refused.status_code == 409
    assert _error(refused)["field"] == "catalogue_version"
    assert "re-plan needed" in _error(refused)["message"]
    assert Order.objects.get(pk=order.pk).status == "planned"


def test_the_courses_prescriber_cannot_verify_through_the_api(
    users: dict[str, Any], client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """Requirement 16: 403 for a user holding both roles on the course they prescribed; 200
    for another pharmacist; 403 for a nurse."""
    both = create_user(None, "dr.both", PASSWORD, ["prescriber", "pharmacist"], system=True)
    order = _planned(users, patient, prescriber=both)
    url = f"/api/orders/{order.pk}/verify"
    client = Client()
    client.force_login(both)
    refused = _post(client, url, _shown(order))
    assert refused.status_code == 403
    assert "segregation of duties" in _error(refused)["message"]
    assert _post(client_for("nurse"), url, _shown(order)).status_code == 403
    assert Order.objects.get(pk=order.pk).status == "planned"
    assert _post(client_for("pharmacist"), url, _shown(order)).status_code == 200


# --- re-plan -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("prescriber", 200), ("pharmacist", 403),
                                              ("nurse", 403), ("admin", 403)])  # fmt: skip
def test_only_a_prescriber_re_plans_through_the_api(
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    patient: Any,
    library: Callable[..., str],
    role: str,
    status: int,
) -> None:
    """Requirement 46: POST /api/courses/{id}/replan is a prescriber's, with a reason."""
    order = _planned(users, patient)
    course = order.course
    library("2026.12.0")
    url = f"/api/courses/{course.pk}/replan"
    response = _post(client_for(role), url, {"version": course.version, "reason": "new library"})
    assert response.status_code == status, response.content
    versions = set(Order.objects.values_list("catalogue_version", flat=True))
    if status == 200:
        body = response.json()
        assert body["old_catalogue_version"] == PACKAGED
        assert body["new_catalogue_version"] == "2026.12.0"
        assert len(body["replanned"]) == 2
        assert body["kept"] == []
        assert versions == {"2026.12.0"}
        verified = _post(client_for("pharmacist"), f"/api/orders/{order.pk}/verify",
                         _shown(Order.objects.get(pk=order.pk)))  # fmt: skip
        assert verified.status_code == 200, verified.content
    else:
        assert versions == {PACKAGED}


# --- dispensing: lots ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "rule"),
    [({"expiry": str(START - dt.timedelta(days=1))}, "expired-lot"),
     ({"product_id": "gamunex-c"}, "wrong-product-lot"),
     ({"product_id": "octagam-5"}, "concentration-mismatch")],
)  # fmt: skip
def test_a_crafted_dispense_of_a_bad_lot_is_a_counted_hard_limit(
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    patient: Any,
    change: dict[str, str],
    rule: str,
) -> None:
    """Requirements 64, 48: 422 hard_limit with the row at fault; counted; nothing saved."""
    order = _planned(users, patient)
    order = orders.verify(users["pharmacist"], order.pk, order.version)
    lots = [
        {
            "lot_number": "P1",
            "expiry": str(EXPIRY),
            "vial_size_g": 40,
            "count": 2,
            "product_id": "privigen-us",
        },
        {
            "lot_number": "P2",
            "expiry": str(EXPIRY),
            "vial_size_g": 5,
            "count": 1,
            "product_id": "privigen-us",
            **change,
        },
    ]
    response = _post(client_for("pharmacist"), f"/api/orders/{order.pk}/dispense",
                     {"version": order.version, "lots": lots})  # fmt: skip
    assert response.status_code == 422, response.content
    error = _error(response)
    assert error["code"] == "hard_limit"
    assert error["details"]["row"] == 2
    assert Order.objects.get(pk=order.pk).status == "verified"
    assert not Lot.objects.exists()
    event = LimitEvent.objects.get()
    assert (event.kind, event.rule, event.entity, event.order_id) == ("hard", rule, "lot", order.pk)
