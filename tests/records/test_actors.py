"""The acting user (``ivig.records.actors``): the role check hands the services a signed-in
``User``; a user's roles are read once for its role check and its audit events."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ivig.errors import Forbidden
from ivig.records import audit
from ivig.records.actors import group_names
from ivig.records.services.access import require, roles_of


def test_the_role_check_returns_the_signed_in_user(users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    assert require(nurse, "recording vital signs", "nurse", "prescriber") is nurse
    for nobody in (None, AnonymousUser()):
        with pytest.raises(Forbidden, match="recording vital signs needs the role nurse"):
            require(nobody, "recording vital signs", "nurse")


def test_roles_are_read_once_per_user_object(users: dict[str, Any]) -> None:
    nurse = User.objects.get(pk=users["nurse"].pk)  # a fresh object, as a request's user
    with CaptureQueriesContext(connection) as queries:
        assert roles_of(nurse) == {"nurse"}
        assert group_names(nurse) == {"nurse"}
        with transaction.atomic():
            event = audit.record(nurse, "test", "thing", 1)
    reads = [q for q in queries.captured_queries if "auth_group" in q["sql"]]
    assert len(reads) == 1
    assert (event.actor, event.roles) == ("nurse", ["nurse"])


def test_the_system_and_nobody_are_audited_as_system(users: dict[str, Any]) -> None:
    with transaction.atomic():
        for actor in (None, AnonymousUser()):
            event = audit.record(actor, "test", "thing", 1)
            assert (event.actor, event.actor_id, event.roles) == (audit.SYSTEM, None, [])
