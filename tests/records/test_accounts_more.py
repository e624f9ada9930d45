"""Users and roles, issue 16 item 19: the soft-limit override granted to one member of staff
(and taken back), a password set by an administrator, a set-password link and the password set
through it. Each is for the administrator only, never for a patient's own account, and leaves
an audit event that does not hold the password (OWASP ASVS 4.0.3 V7.2.2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User

from ivig.errors import Conflict, Forbidden, InvalidInput
from ivig.records.models import AuditEvent
from ivig.records.services import accounts
from ivig.records.services.limits import may_override

NEW_PASSWORD = "saline-flush-77-Kp-chair"


def _events(after: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=after).order_by("seq"))


def _last() -> int:
    return int(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


def _fresh(user: User) -> User:
    """The user read again (Django caches permissions on the instance)."""
    return User.objects.get(pk=user.pk)


# --- the override ------------------------------------------------------------------------------


def test_the_override_is_granted_to_a_nurse_and_taken_back(users: dict[str, Any]) -> None:
    admin, nurse = users["admin"], users["nurse"]
    assert not may_override(_fresh(nurse))
    start = _last()
    accounts.set_override(admin, nurse.pk, True)
    assert may_override(_fresh(nurse))
    assert accounts.override_granted(nurse)
    [event] = _events(start)
    assert (event.action, event.entity, event.entity_id, event.actor) == (
        "grant-override",
        "user",
        str(nurse.pk),
        "admin",
    )
    assert event.before == {"username": "nurse", "override": False}
    assert event.after == {"username": "nurse", "override": True, "by_role": []}

    accounts.set_override(admin, nurse.pk, False)
    assert not may_override(_fresh(nurse))
    assert [e.action for e in _events(start)] == ["grant-override", "revoke-override"]


def test_the_prescriber_holds_it_by_role_not_by_grant(users: dict[str, Any]) -> None:
    prescriber = users["prescriber"]
    assert accounts.override_by_role(prescriber) == ["prescriber"]
    assert not accounts.override_granted(prescriber)
    with pytest.raises(Conflict, match="does not hold the override already"):
        accounts.set_override(users["admin"], prescriber.pk, False)
    assert may_override(_fresh(prescriber))  # taking back a grant never touches the role


def test_granting_twice_is_refused(users: dict[str, Any]) -> None:
    accounts.set_override(users["admin"], users["nurse"].pk, True)
    start = _last()
    with pytest.raises(Conflict, match="holds the override already"):
        accounts.set_override(users["admin"], users["nurse"].pk, True)
    assert _events(start) == []


@pytest.mark.parametrize("role", ["prescriber", "pharmacist", "nurse"])
def test_only_an_administrator_changes_credentials(users: dict[str, Any], role: str) -> None:
    someone, nurse = users[role], users["nurse"]
    start = _last()
    with pytest.raises(Forbidden, match="needs the role admin"):
        accounts.set_override(someone, nurse.pk, True)
    with pytest.raises(Forbidden, match="needs the role admin"):
        accounts.set_password(someone, nurse.pk, NEW_PASSWORD)
    with pytest.raises(Forbidden, match="needs the role admin"):
        accounts.password_link(someone, nurse.pk)
    assert _events(start) == []


def test_a_patients_own_account_gets_no_override_and_no_password_from_staff(
    users: dict[str, Any], me: User
) -> None:
    admin = users["admin"]
    with pytest.raises(Conflict, match="patient's own account"):
        accounts.set_override(admin, me.pk, True)
    with pytest.raises(Conflict, match="patient's own account"):
        accounts.set_password(admin, me.pk, NEW_PASSWORD)
    with pytest.raises(Conflict, match="patient's own account"):
        accounts.password_link(admin, me.pk)
    assert not _fresh(me).check_password(NEW_PASSWORD)


# --- passwords ---------------------------------------------------------------------------------


def test_an_administrator_sets_a_password_audited_without_it(users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    start = _last()
    accounts.set_password(users["admin"], nurse.pk, NEW_PASSWORD)
    assert _fresh(nurse).check_password(NEW_PASSWORD)
    [event] = _events(start)
    assert (event.action, event.entity_id, event.actor, event.reason) == (
        "set-password",
        str(nurse.pk),
        "admin",
        "set by an administrator",
    )
    stored = json.dumps([event.before, event.after, event.reason])
    assert NEW_PASSWORD not in stored
    assert _fresh(nurse).password not in stored  # nor its hash


def test_a_weak_password_is_refused_and_nothing_changes(users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    before, start = _fresh(nurse).password, _last()
    with pytest.raises(InvalidInput) as refused:
        accounts.set_password(users["admin"], nurse.pk, "password")
    assert refused.value.field == "password"
    assert _fresh(nurse).password == before
    assert _events(start) == []


def test_a_set_password_link_works_once(users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    start = _last()
    token = accounts.password_link(users["admin"], nurse.pk)
    accounts.set_password_from_link(nurse.pk, token, NEW_PASSWORD)
    assert _fresh(nurse).check_password(NEW_PASSWORD)
    link, own = _events(start)
    assert (link.action, link.actor) == ("password-link", "admin")
    assert token not in json.dumps([link.before, link.after])
    assert (own.action, own.actor, own.reason) == (
        "set-password",
        "nurse",
        "through a set-password link",
    )
    with pytest.raises(Conflict, match="expired or has been used"):
        accounts.set_password_from_link(nurse.pk, token, "another-long-one-42-Zz")
    assert _fresh(nurse).check_password(NEW_PASSWORD)


def test_a_link_is_refused_with_a_weak_password_and_still_works_after(
    users: dict[str, Any],
) -> None:
    nurse = users["nurse"]
    token = accounts.password_link(users["admin"], nurse.pk)
    with pytest.raises(InvalidInput):
        accounts.set_password_from_link(nurse.pk, token, "12345678")
    accounts.set_password_from_link(nurse.pk, token, NEW_PASSWORD)
    assert _fresh(nurse).check_password(NEW_PASSWORD)


def test_a_deactivated_user_gets_no_link_and_an_old_link_stops(users: dict[str, Any]) -> None:
    admin, nurse = users["admin"], users["nurse"]
    token = accounts.password_link(admin, nurse.pk)
    accounts.set_active(admin, nurse.pk, False)
    with pytest.raises(Conflict, match="expired or has been used"):
        accounts.set_password_from_link(nurse.pk, token, NEW_PASSWORD)
    with pytest.raises(Conflict, match="deactivated"):
        accounts.password_link(admin, nurse.pk)


def test_a_link_for_another_user_does_not_work(users: dict[str, Any]) -> None:
    token = accounts.password_link(users["admin"], users["nurse"].pk)
    with pytest.raises(Conflict):
        accounts.set_password_from_link(users["pharmacist"].pk, token, NEW_PASSWORD)


def test_an_invited_user_has_no_password_until_they_set_one(users: dict[str, Any]) -> None:
    start = _last()
    user, token = accounts.invite_user(
        users["admin"], "senior-nurse", ["nurse"], first_name="Ada", last_name="Byrne"
    )
    assert not user.has_usable_password()
    assert [(e.action, e.entity) for e in _events(start)] == [
        ("create", "user"),
        ("password-link", "user"),
    ]
    accounts.set_password_from_link(user.pk, token, NEW_PASSWORD)
    assert _fresh(user).check_password(NEW_PASSWORD)


def test_an_invitation_with_a_taken_name_creates_nothing(users: dict[str, Any]) -> None:
    start = _last()
    with pytest.raises(Conflict, match="taken"):
        accounts.invite_user(users["admin"], "nurse", ["nurse"])
    assert _events(start) == []
