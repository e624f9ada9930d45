"""The Django admin serves the admin role: users and roles (audited), the drug library."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group, User
from django.test import Client

from ivig.records.models import AuditEvent

PASSWORD = "infusion-chair-42-Xq"
NEW_PASSWORD = "another-chair-77-Zq"


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


# --- credentials and privileges (issue 17 item 3; requirements 6 and 10) -------------------------


def _change_form(user: User, **changes: Any) -> dict[str, Any]:
    return {"username": user.username, "first_name": user.first_name,
            "last_name": user.last_name, "email": user.email, "is_active": "on",
            "groups": [g.pk for g in user.groups.all()],
            "date_joined_0": "2026-11-25", "date_joined_1": "09:00:00",
            "initial-date_joined_0": "2026-11-25", "initial-date_joined_1": "09:00:00",
            **changes}  # fmt: skip


def test_the_admin_site_sets_no_ones_password(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    """An administrator cannot set a colleague's password on the admin site (and then sign in
    as them): the page sends them to the staff page's set-password link (the colleague
    chooses their own) or its audited password form."""
    nurse = users["nurse"]
    admin = client_for("admin")  # signed in (an audited sign-in) before the count
    before = AuditEvent.objects.count()
    url = f"/admin/auth/user/{nurse.pk}/password/"
    posted = admin.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
                              "usable_password": "true"})  # fmt: skip
    assert posted.status_code == 302
    assert posted["Location"] == f"/staff/{nurse.pk}/"
    assert admin.get(url)["Location"] == f"/staff/{nurse.pk}/"
    nurse.refresh_from_db()
    assert nurse.check_password(PASSWORD)
    assert not nurse.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.count() == before
    change = admin.get(f"/admin/auth/user/{nurse.pk}/change/").content.decode()
    assert f"/staff/{nurse.pk}/" in change


def test_an_admins_own_password_change_on_the_admin_site_is_audited(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    admin = client_for("admin")
    form = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    response = admin.post("/admin/password_change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert (event.action, event.actor, event.entity_id) == (
        "set-password", "admin", str(users["admin"].pk),
    )  # fmt: skip
    assert event.after == {"username": "admin", "password": "changed"}
    users["admin"].refresh_from_db()
    assert users["admin"].password not in json.dumps([event.before, event.after])


def test_the_admin_site_cannot_make_a_superuser(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    """Superuser status only from the server's command line: the admin form has no such
    field (posted anyway, it is ignored), nor the staff flag (it follows the admin role)."""
    me = users["admin"]
    admin = client_for("admin")
    page = admin.get(f"/admin/auth/user/{me.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page
    assert 'name="is_staff"' not in page
    before = AuditEvent.objects.count()
    response = admin.post(f"/admin/auth/user/{me.pk}/change/",
                          _change_form(me, is_superuser="on", is_staff="on"))  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    me.refresh_from_db()
    assert (me.is_superuser, me.is_staff) == (False, True)
    assert AuditEvent.objects.count() == before  # nothing changed


def test_roles_changed_on_the_admin_site_are_audited_with_the_admin(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    """A role given on the admin site is audited as the administrator's; the staff flag (the
    admin site's door) follows the admin role, audited too."""
    nurse = users["nurse"]
    admin_role = Group.objects.get(name="admin")
    admin = client_for("admin")  # signed in (an audited sign-in) first
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    response = admin.post(
        f"/admin/auth/user/{nurse.pk}/change/",
        _change_form(nurse, groups=[g.pk for g in nurse.groups.all()] + [admin_role.pk]),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    events = list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))
    assert [(e.action, e.actor, e.reason) for e in events] == [
        ("set-roles", "admin", "admin site"),
        ("set-privileges", "admin", "admin site"),
    ]
    assert events[0].after["groups"] == ["admin", "nurse"]
    assert (events[1].before["is_staff"], events[1].after["is_staff"]) == (False, True)


def test_the_admin_site_keeps_an_administrator(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    """Smallfix item 5 on the admin site too: an administrator's own role and own account
    stay; nothing is written."""
    own = users["admin"]
    admin = client_for("admin")
    nurse_role = Group.objects.get(name="nurse")
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    url = f"/admin/auth/user/{own.pk}/change/"
    refused = admin.post(url, _change_form(own, groups=[nurse_role.pk]))
    assert refused.status_code == 409
    assert "You cannot remove your own administrator role" in refused.content.decode()
    assert list(own.groups.values_list("name", flat=True)) == ["admin"]
    form = _change_form(own)
    del form["is_active"]
    refused = admin.post(url, form)
    assert refused.status_code == 409
    assert "You cannot disable yourself" in refused.content.decode()
    assert User.objects.get(pk=own.pk).is_active
    assert not AuditEvent.objects.filter(seq__gt=seq).exclude(action="read").exists()


def test_a_user_added_on_the_admin_site_is_audited_once(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    admin = client_for("admin")  # signed in (an audited sign-in) first
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    response = admin.post(
        "/admin/auth/user/add/",
        {"username": "newcomer", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
         "usable_password": "true"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    new = User.objects.get(username="newcomer")
    events = list(AuditEvent.objects.filter(seq__gt=seq))
    assert [(e.action, e.actor, e.entity_id) for e in events] == [("create", "admin", str(new.pk))]
    assert new.password not in json.dumps(events[0].after)
