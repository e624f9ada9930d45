"""Re-authentication of a soft-limit override is no password oracle (issue 17 item 2).

Signing an override (``Override.password``, a colleague's ``signed_by``) goes through the
sign-in's lockout (requirement 21: 5 failures lock the name, for sign-in too), the same hashing
work for an unknown name (requirement 20), an audit event for every refusal (requirement 17,
ASVS 4.0.3 V7.2.1), and one message, "not accepted", whatever the reason (requirements 20, 26).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client, override_settings
from django.utils import timezone

from ivig.errors import InvalidInput
from ivig.records.models import AuditEvent, Course
from ivig.records.services import courses
from ivig.records.services.accounts import create_user
from ivig.records.services.limits import Override

PASSWORD = "infusion-chair-42-Xq"  # tests/conftest.py
HIGH = courses.CourseInput(indication="lems", phase="maintenance", product="privigen-us",
                           place="hospital", start=timezone.localdate() + dt.timedelta(days=5),
                           dose_g_per_kg=1.2, every_weeks=4, count=2)  # fmt: skip


def _signed(signed_by: str, password: str) -> Override:
    return Override("prescriber-order", "agreed at the MDT", password, signed_by)


def _refusal(users: dict[str, Any], patient: Any, override: Override) -> str:
    with pytest.raises(InvalidInput) as caught:
        courses.prescribe(users["prescriber"], patient.pk, HIGH, override=override)
    assert Course.objects.count() == 0
    return caught.value.message


def test_every_refusal_reads_the_same(users: dict[str, Any], patient: Any) -> None:
    """A colleague who may not override (with the right password), a wrong password and an
    unknown name: one message, naming no reason (no oracle)."""
    role = _refusal(users, patient, _signed("nurse", PASSWORD))
    wrong = _refusal(users, patient, _signed("pharmacist", "wrong-password"))
    unknown = _refusal(users, patient, _signed("nobody-here", PASSWORD))
    assert role == wrong == unknown
    assert "not accepted" in role
    assert "may not" not in role


def test_each_refusal_is_audited(users: dict[str, Any], patient: Any) -> None:
    """One audit event per refused re-authentication, naming who entered it and the name
    tried, written although the refused write is rolled back."""
    for name, password in (("nurse", PASSWORD), ("pharmacist", "x"), ("nobody-here", "x")):
        _refusal(users, patient, _signed(name, password))
    events = AuditEvent.objects.filter(action="reauth-refused").order_by("seq")
    assert [(e.actor, e.entity, e.entity_id) for e in events] == [
        ("prescriber", "sign-in", "nurse"),
        ("prescriber", "sign-in", "pharmacist"),
        ("prescriber", "sign-in", "nobody-here"),
    ]
    assert [e.after["why"] for e in events] == [
        "may not override",
        "wrong user name or password",
        "wrong user name or password",
    ]
    assert all(PASSWORD not in str(e.after) for e in events)  # never the password tried


def test_five_failures_lock_the_name_for_overrides_and_sign_in(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 21: 5 wrong passwords through the override lock the name: then even the
    right password is refused there, and at the sign-in page."""
    for _ in range(5):
        _refusal(users, patient, _signed("prescriber", "wrong-password"))
    assert AuditEvent.objects.filter(action="lockout", entity_id="prescriber").exists()
    _refusal(users, patient, _signed("prescriber", PASSWORD))  # the right one, refused
    signin = Client().post("/signin/", {"username": "prescriber", "password": PASSWORD})
    assert signin.status_code == 429


def test_the_signer_s_own_password_goes_through_the_lockout(
    users: dict[str, Any], patient: Any
) -> None:
    own = Override("prescriber-order", "agreed at the MDT", "wrong-password")
    for _ in range(5):
        _refusal(users, patient, own)
    _refusal(users, patient, Override("prescriber-order", "agreed at the MDT", PASSWORD))
    assert AuditEvent.objects.filter(action="reauth-refused").count() == 6


def test_a_locked_name_is_refused_at_the_override(users: dict[str, Any], patient: Any) -> None:
    for _ in range(5):
        Client().post("/signin/", {"username": "prescriber", "password": "wrong-password"})
    _refusal(users, patient, _signed("prescriber", PASSWORD))
    # a colleague allowed to override, whose name is not locked, still signs
    create_user(None, "prescriber2", PASSWORD, ["prescriber"], system=True)
    course = courses.prescribe(
        users["prescriber"], patient.pk, HIGH, override=_signed("prescriber2", PASSWORD)
    )
    assert course.orders.count() == 2


class CountingHasher(MD5PasswordHasher):
    """A fast hasher that counts the passwords it checks or makes (requirement 20)."""

    algorithm = "counting-md5-reauth"
    calls: ClassVar[list[str]] = []

    def encode(self, password: str, salt: str) -> str:
        self.calls.append("hash")
        return super().encode(password, salt)


def test_an_unknown_name_costs_the_same_hashing(users: dict[str, Any], patient: Any) -> None:
    """Requirement 20: an unknown name is hashed (a dummy) as a wrong password is, so the time
    tells nothing; a locked name is refused before any hashing, as at the sign-in page."""
    with override_settings(PASSWORD_HASHERS=[f"{__name__}.CountingHasher"]):
        users["pharmacist"].set_password(PASSWORD)
        users["pharmacist"].save()
        CountingHasher.calls.clear()
        _refusal(users, patient, _signed("pharmacist", "wrong-password"))
        known = len(CountingHasher.calls)
        CountingHasher.calls.clear()
        _refusal(users, patient, _signed("nobody-here", "wrong-password"))
        assert len(CountingHasher.calls) == known >= 1
