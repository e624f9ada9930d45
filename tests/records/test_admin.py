"""The Django admin serves the admin role: users and roles (audited), the drug library."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from ivig.records.models import AuditEvent


def test_admin_role_sees_users_and_the_catalogue(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    admin = client_for("admin")
    assert admin.get("/admin/").status_code == 200
    assert admin.get("/admin/auth/user/").status_code == 200
    page = admin.get("/admin/catalogue/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "privigen-us" in html
    assert "UNVERIFIED" in html
    assert "No rate schedule" in html  # yimmugo, alyglo, intragam-10


def test_other_roles_are_kept_out(client_for: Callable[[str | None], Client]) -> None:
    for role in ("prescriber", "pharmacist", "nurse", None):
        response = client_for(role).get("/admin/catalogue/")
        assert response.status_code == 302  # to the admin sign-in


def test_a_change_in_the_admin_is_audited(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    nurse = users["nurse"]
    admin = client_for("admin")  # signing in is audited too (issue 17 item 13)
    before = AuditEvent.objects.count()
    response = admin.post(
        f"/admin/auth/user/{nurse.pk}/change/",
        {"username": "nurse", "first_name": "Nina", "last_name": "Ward", "email": "",
         "is_active": "on", "groups": [g.pk for g in nurse.groups.all()],
         "date_joined_0": "2026-11-25", "date_joined_1": "09:00:00",
         "initial-date_joined_0": "2026-11-25", "initial-date_joined_1": "09:00:00"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(pk=nurse.pk).first_name == "Nina"
    event = AuditEvent.objects.order_by("-seq").first()
    assert AuditEvent.objects.count() == before + 1
    assert event is not None
    assert (event.entity, event.before["first_name"], event.after["first_name"]) == (
        "user", "", "Nina",
    )  # fmt: skip


def test_clinical_records_are_read_only_in_the_admin(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    admin = client_for("admin")
    assert admin.get("/admin/records/patient/").status_code == 200
    assert admin.get("/admin/records/patient/add/").status_code == 403
