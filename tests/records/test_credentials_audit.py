"""Every credential and privilege change is audited wherever it is made, one event per change,
never with the password hash; superuser status only from the server's command line (issue 17
item 3; requirements 5, 6 and 10; ONC §170.315(d)(2) privilege changes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User

from ivig.errors import Forbidden
from ivig.records.models import ApiToken, AuditEvent
from ivig.records.services import accounts, credentials

PASSWORD = "infusion-chair-42-Xq"
NEW_PASSWORD = "another-chair-77-Zq"
Run = Callable[[list[str]], tuple[int, str, str]]


def _events(since: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=since).order_by("seq"))


def _last_seq() -> int:
    last = AuditEvent.objects.order_by("-seq").first()
    return last.seq if last else 0


def _no_hash_in_the_trail(*users: User) -> None:
    """Requirement 10: no password (nor its hash) in the audit trail."""
    trail = json.dumps([[e.before, e.after, e.reason] for e in AuditEvent.objects.all()])
    for user in users:
        user.refresh_from_db()
        assert user.password not in trail
        assert user.password.split("$")[-1] not in trail
    assert NEW_PASSWORD not in trail


def test_a_password_set_in_a_shell_is_audited_without_its_hash(users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    since = _last_seq()
    nurse.set_password(NEW_PASSWORD)
    nurse.save()
    [event] = _events(since)
    assert (event.action, event.entity, event.entity_id, event.actor) == (
        "set-password", "user", str(nurse.pk), "system",
    )  # fmt: skip
    assert event.after == {"username": "nurse", "password": "changed"}
    assert "shell or a script" in event.reason
    _no_hash_in_the_trail(nurse)


def test_only_the_fields_a_save_writes_are_compared(users: dict[str, Any]) -> None:
    """A save of the password alone (``update_fields``) is one password event, whatever else
    differs on the object in memory (not saved)."""
    nurse = users["nurse"]
    nurse.is_active = False  # in memory only
    nurse.set_password(NEW_PASSWORD)
    since = _last_seq()
    nurse.save(update_fields=["password"])
    assert [e.action for e in _events(since)] == ["set-password"]
    assert User.objects.get(pk=nurse.pk).is_active


def test_a_change_names_who_made_it(users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    since = _last_seq()
    with credentials.acting(users["admin"], "admin site"):
        nurse.is_active = False
        nurse.save()
    [event] = _events(since)
    assert (event.action, event.actor, event.reason) == ("disable", "admin", "admin site")
    assert (event.before["is_active"], event.after["is_active"]) == (True, False)


def test_roles_and_permissions_changed_anywhere_are_audited(users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    since = _last_seq()
    nurse.groups.add(Group.objects.get(name="prescriber"))
    Group.objects.get(name="admin").user_set.add(nurse)  # the other side of the relation
    override = Permission.objects.get(codename="override_soft_limit")
    nurse.user_permissions.add(override)
    nurse.groups.clear()
    events = _events(since)
    assert [(e.action, e.before and e.before.get("groups"), e.after.get("groups")) for e in events
            if e.action == "set-roles"] == [
        ("set-roles", ["nurse"], ["nurse", "prescriber"]),
        ("set-roles", ["nurse", "prescriber"], ["admin", "nurse", "prescriber"]),
        ("set-roles", ["admin", "nurse", "prescriber"], []),
    ]  # fmt: skip
    [granted] = [e for e in events if e.action == "set-permissions"]
    assert granted.after["user_permissions"] == ["records.override_soft_limit"]
    assert {e.entity_id for e in events} == {str(nurse.pk)}


def test_a_user_created_in_a_shell_is_audited_once(db: None) -> None:
    since = _last_seq()
    user = User.objects.create_user("script-made", password=PASSWORD)
    [event] = _events(since)
    assert (event.action, event.entity_id) == ("create", str(user.pk))
    assert event.after["password"] == "set"
    _no_hash_in_the_trail(user)


def test_tokens_changed_anywhere_are_audited(users: dict[str, Any]) -> None:
    token, _ = accounts.create_token(users["admin"], users["nurse"].pk, "tablet")
    since = _last_seq()
    token.roles = ["nurse"]
    token.save()
    token.revoked_at = token.created_at
    token.save()
    pk = token.pk
    token.delete()
    events = _events(since)
    assert [(e.action, e.entity, e.entity_id) for e in events] == [
        ("update", "api-token", str(pk)),
        ("revoke", "api-token", str(pk)),
        ("delete", "api-token", str(pk)),
    ]
    assert events[0].after == {"roles": ["nurse"]}


def test_the_services_write_one_event_per_change(users: dict[str, Any]) -> None:
    """The services audit themselves; the receivers add nothing."""
    admin = users["admin"]
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("create", lambda: accounts.create_user(admin, "newcomer", PASSWORD, ["nurse"])),
        ("set-roles", lambda: accounts.set_roles(admin, users["nurse"].pk, ["pharmacist"])),
        ("set-password", lambda: accounts.set_password(admin, users["nurse"].pk, NEW_PASSWORD)),
        ("disable", lambda: accounts.set_active(admin, users["nurse"].pk, False)),
        ("enable", lambda: accounts.set_active(admin, users["nurse"].pk, True)),
        ("grant-override", lambda: accounts.set_override(admin, users["nurse"].pk, True)),
        ("create", lambda: accounts.create_token(admin, users["nurse"].pk, "tablet")),
    ]
    for action, step in steps:
        since = _last_seq()
        step()
        assert [e.action for e in _events(since)] == [action], action
    token = ApiToken.objects.get()
    since = _last_seq()
    accounts.revoke_token(admin, token.pk)
    assert [e.action for e in _events(since)] == ["revoke"]
    _no_hash_in_the_trail(users["nurse"])


def test_superuser_status_is_refused_outside_the_command_line(users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    since = _last_seq()
    nurse.is_superuser = True
    with pytest.raises(Forbidden, match="only from the server's command line"):
        nurse.save()
    with pytest.raises(Forbidden):
        User.objects.create_superuser("root", password=PASSWORD)
    with credentials.acting(users["admin"], "admin site"), pytest.raises(Forbidden):
        nurse.save()
    assert not User.objects.get(pk=nurse.pk).is_superuser
    assert not User.objects.filter(username="root").exists()
    assert _events(since) == []


def test_the_command_line_gives_superuser_status_audited(
    db: None, run: Run, users: dict[str, Any]
) -> None:
    code, _, err = run(["user", "superuser", "admin"])
    assert code != 0
    assert "--yes" in err
    assert not User.objects.get(username="admin").is_superuser
    since = _last_seq()
    code, out, err = run(["user", "superuser", "admin", "--yes"])
    assert code == 0, err
    assert "superuser" in out
    assert User.objects.get(username="admin").is_superuser
    [event] = _events(since)
    assert (event.action, event.actor) == ("set-privileges", "system")
    assert (event.before["is_superuser"], event.after["is_superuser"]) == (False, True)
    assert "ivig user superuser" in event.reason
    assert "on the server" in event.reason
    code, _, err = run(["user", "superuser", "admin", "--remove", "--yes"])
    assert code == 0, err
    assert not User.objects.get(username="admin").is_superuser


def test_user_create_superuser_from_the_command_line(
    db: None, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    code, _, err = run(["user", "create", "root", "--role", "admin", "--superuser",
                        "--password-stdin"])  # fmt: skip
    assert code == 0, err
    root = User.objects.get(username="root")
    assert root.is_superuser
    assert [e.action for e in AuditEvent.objects.filter(entity_id=str(root.pk))] == ["create"]
    assert AuditEvent.objects.get(entity_id=str(root.pk)).after["is_superuser"] is True
