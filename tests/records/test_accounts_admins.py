"""At least one active administrator, and none takes away their own (smallfix item 5): an
administrator cannot remove their own administrator role or disable themself (another must),
and no change on the staff pages, the API or the admin site leaves no active administrator.
The server's command line may still make one (``ivig user create --role admin``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from ivig.errors import Conflict
from ivig.records.actors import group_names
from ivig.records.models import AuditEvent
from ivig.records.services import accounts, credentials


def _roles(user: User) -> list[str]:
    return sorted(User.objects.get(pk=user.pk).groups.values_list("name", flat=True))


def _last() -> int:
    return int(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


def test_an_administrator_cannot_remove_their_own_role(users: dict[str, Any]) -> None:
    admin = users["admin"]
    accounts.create_user(None, "second", None, ["admin"], system=True)
    seq = _last()
    with pytest.raises(Conflict) as refused:
        accounts.set_roles(admin, admin.pk, ["nurse"])
    assert refused.value.message == (
        "you cannot remove your own administrator role: ask another administrator"
    )
    assert refused.value.field == "roles"
    assert _roles(admin) == ["admin"]
    assert User.objects.get(pk=admin.pk).is_staff
    assert _last() == seq  # nothing written
    accounts.set_roles(admin, admin.pk, ["admin", "nurse"])  # keeping it is fine
    assert _roles(admin) == ["admin", "nurse"]


def test_another_administrator_may_remove_it(users: dict[str, Any]) -> None:
    second = accounts.create_user(None, "second", None, ["admin"], system=True)
    accounts.set_roles(second, users["admin"].pk, ["nurse"])
    assert _roles(users["admin"]) == ["nurse"]


def test_an_administrator_cannot_disable_themself(users: dict[str, Any]) -> None:
    admin = users["admin"]
    accounts.create_user(None, "second", None, ["admin"], system=True)
    with pytest.raises(Conflict) as refused:
        accounts.set_active(admin, admin.pk, False)
    assert refused.value.message == "you cannot disable yourself: ask another administrator"
    assert User.objects.get(pk=admin.pk).is_active


def test_the_last_active_administrator_keeps_the_role(users: dict[str, Any]) -> None:
    """Two administrators taking each other's role at once: the second, whose request still
    holds its role, is refused, as the other is the last active administrator."""
    admin = users["admin"]
    second = accounts.create_user(None, "second", None, ["admin"], system=True)
    group_names(second)  # second's request read its roles before its role was taken
    accounts.set_roles(admin, second.pk, ["nurse"])
    with pytest.raises(Conflict) as refused:
        accounts.set_roles(second, admin.pk, ["nurse"])
    assert refused.value.message == (
        "admin is the last active administrator: make another administrator first"
    )
    assert _roles(admin) == ["admin"]
    with pytest.raises(Conflict, match="admin is the last active administrator"):
        accounts.set_active(second, admin.pk, False)
    assert User.objects.get(pk=admin.pk).is_active


def test_a_disabled_administrator_does_not_count(users: dict[str, Any]) -> None:
    admin = users["admin"]
    second = accounts.create_user(None, "second", None, ["admin"], system=True)
    third = accounts.create_user(None, "third", None, ["admin"], system=True)
    accounts.set_active(admin, second.pk, False)
    accounts.set_roles(admin, third.pk, ["pharmacist"])
    with pytest.raises(Conflict, match="admin is the last active administrator"):
        credentials.keep_an_administrator(None, admin, disabling=False)


def test_the_command_line_may_make_an_administrator_again(users: dict[str, Any]) -> None:
    """Recovery stays with the server: a new administrator from the command line."""
    made = accounts.create_user(None, "rescue", None, ["admin"], system=True)
    assert _roles(made) == ["admin"]
    accounts.set_roles(made, users["admin"].pk, ["nurse"])
    assert _roles(users["admin"]) == ["nurse"]
