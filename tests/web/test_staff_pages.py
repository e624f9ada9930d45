"""Users and roles in the app's own pages (issue 16, item 19), as an administrator uses them:
the staff with roles and state, a new user with a password or a set-password link, roles, the
override, deactivation, passwords, API tokens (shown once), the patients' own accounts apart,
and the audit trail newest first with filters, whose reading of a patient is itself audited."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from ivig.records import audit
from ivig.records.models import ApiToken, AuditEvent
from ivig.records.services import accounts
from ivig.records.services.limits import may_override
from ivig.web.views.staff import AUDIT_PAGE_SIZE

PASSWORD = "infusion-chair-42-Xq"  # the ``users`` fixture's
NEW_PASSWORD = "saline-flush-77-Kp-chair"


def text(response: Any) -> str:
    html = response.content.decode()
    main = html[html.index("<main") : html.index("</main>")]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())


@pytest.fixture
def admin(client_for: Callable[[str | None], Client]) -> Client:
    return client_for("admin")


def _last() -> int:
    return int(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


def _can_sign_in(username: str, password: str) -> bool:
    response = Client().post("/signin/", {"username": username, "password": password})
    return response.status_code == 302 and not response["Location"].startswith("/signin/")


# --- the staff list ------------------------------------------------------------------------------


def test_the_staff_list_names_roles_in_words_and_the_override(
    admin: Client, users: dict[str, Any], me: User
) -> None:
    accounts.set_override(users["admin"], users["nurse"].pk, True)
    accounts.set_active(users["admin"], users["pharmacist"].pk, False)
    page = admin.get("/staff/")
    assert page.status_code == 200
    words = text(page)
    assert "nurse Nurse yes, granted to them active" in words
    assert "prescriber Prescriber yes, as prescriber active" in words
    assert "pharmacist Pharmacist no deactivated" in words
    assert "edward" not in words  # the patient's own account is listed apart
    assert "1 patient account" in words
    assert "superuser" not in words.lower()


def test_the_menu_offers_the_pages_to_an_administrator_only(
    client_for: Callable[[str | None], Client],
) -> None:
    assert 'href="/staff/"' in client_for("admin").get("/patients/").content.decode()
    assert 'href="/audit/"' in client_for("admin").get("/patients/").content.decode()
    for role in ("prescriber", "pharmacist", "nurse"):
        html = client_for(role).get("/patients/").content.decode()
        assert 'href="/staff/"' not in html
        assert client_for(role).get("/staff/").status_code == 403
        assert client_for(role).get("/audit/").status_code == 403


# --- a new user --------------------------------------------------------------------------------


def test_a_new_user_with_an_initial_password(admin: Client, users: dict[str, Any]) -> None:
    start = _last()
    response = admin.post(
        "/staff/new/",
        {
            "username": "ada",
            "first_name": "Ada",
            "last_name": "Byrne",
            "roles": ["nurse", "prescriber"],
            "how": "password",
            "password": NEW_PASSWORD,
        },
    )
    user = User.objects.get(username="ada")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/{user.pk}/"
    assert sorted(user.groups.values_list("name", flat=True)) == ["nurse", "prescriber"]
    assert _can_sign_in("ada", NEW_PASSWORD)
    assert AuditEvent.objects.filter(seq__gt=start, action="create", entity="user").count() == 1
    page = text(admin.get(response["Location"]))
    assert "Ada Byrne" in page
    assert "Nurse, Prescriber" in page


def test_a_new_user_with_a_link_sets_their_own_password(admin: Client) -> None:
    response = admin.post(
        "/staff/new/",
        {"username": "bo", "first_name": "Bo", "roles": ["pharmacist"], "how": "link"},
    )
    assert response.status_code == 200
    link = re.search(r'value="(http://testserver/welcome/\d+/[^"]+/)"', response.content.decode())
    assert link is not None
    assert "It is shown only once" in text(response)
    assert "not set yet" in text(response)
    path = link.group(1).removeprefix("http://testserver")

    anonymous = Client()
    form = anonymous.get(path)
    assert form.status_code == 200
    assert "You sign in as bo" in text(form)
    mismatch = anonymous.post(path, {"password": NEW_PASSWORD, "again": NEW_PASSWORD + "x"})
    assert "The two passwords are not the same." in text(mismatch)
    done = anonymous.post(path, {"password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (302, "/signin/")
    assert _can_sign_in("bo", NEW_PASSWORD)
    again = anonymous.get(path)
    assert again.status_code == 404
    assert "This link does not work" in text(again)


def test_a_new_user_form_shows_what_is_wrong(admin: Client, users: dict[str, Any]) -> None:
    response = admin.post("/staff/new/", {"username": "nurse", "how": "password"})
    words = text(response)
    assert response.status_code == 200
    assert "Give the initial password, or choose a link." in words
    taken = admin.post(
        "/staff/new/",
        {"username": "nurse", "roles": ["nurse"], "how": "password", "password": NEW_PASSWORD},
    )
    assert "the user name nurse is taken" in text(taken)
    weak = admin.post(
        "/staff/new/",
        {"username": "cy", "roles": ["nurse"], "how": "password", "password": "password"},
    )
    assert "too common" in text(weak)
    assert not User.objects.filter(username="cy").exists()


# --- one user ------------------------------------------------------------------------------------


def test_roles_are_changed_on_the_users_page(admin: Client, users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    response = admin.post(f"/staff/{nurse.pk}/roles/", {"roles": ["nurse", "pharmacist"]})
    assert response.status_code == 302
    assert sorted(nurse.groups.values_list("name", flat=True)) == ["nurse", "pharmacist"]
    assert "The roles of nurse are saved." in text(admin.get(response["Location"]))
    none = admin.post(f"/staff/{nurse.pk}/roles/", {})
    assert none.status_code == 422
    assert 'class="field has-error"><legend>Roles' in none.content.decode()  # its own words
    assert sorted(nurse.groups.values_list("name", flat=True)) == ["nurse", "pharmacist"]


def test_the_override_is_granted_and_taken_back_on_the_page(
    admin: Client, users: dict[str, Any]
) -> None:
    nurse = users["nurse"]
    page = text(admin.get(f"/staff/{nurse.pk}/"))
    assert "Grant nurse the override" in page
    admin.post(f"/staff/{nurse.pk}/override/", {"allowed": "yes"})
    assert may_override(User.objects.get(pk=nurse.pk))
    page = text(admin.get(f"/staff/{nurse.pk}/"))
    assert "nurse may now override a soft limit." in page
    assert "Take back the override granted to nurse" in page
    admin.post(f"/staff/{nurse.pk}/override/", {"allowed": "no"})
    assert not may_override(User.objects.get(pk=nurse.pk))
    prescriber = text(admin.get(f"/staff/{users['prescriber'].pk}/"))
    assert "may override as prescriber: change the roles to take it away" in prescriber


def test_deactivate_and_reactivate(admin: Client, users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    admin.post(f"/staff/{nurse.pk}/active/", {"active": "no"})
    assert not _can_sign_in("nurse", PASSWORD)
    page = text(admin.get(f"/staff/{nurse.pk}/"))
    assert "nurse is deactivated." in page
    assert "Reactivate nurse" in page
    admin.post(f"/staff/{nurse.pk}/active/", {"active": "yes"})
    assert _can_sign_in("nurse", PASSWORD)
    own = text(admin.get(f"/staff/{users['admin'].pk}/"))
    assert "This is your own account" in own
    assert "Deactivate admin" not in own


def test_an_administrator_cannot_remove_their_own_role_or_disable_themself(
    admin: Client, users: dict[str, Any]
) -> None:
    """Smallfix item 5: the page says why, and nothing changes."""
    own = users["admin"]
    refused = admin.post(f"/staff/{own.pk}/roles/", {"roles": ["nurse"]})
    assert refused.status_code == 422
    assert "you cannot remove your own administrator role: ask another administrator" in text(
        refused
    )
    assert list(own.groups.values_list("name", flat=True)) == ["admin"]
    response = admin.post(f"/staff/{own.pk}/active/", {"active": "no"})
    assert response.status_code == 302
    page = text(admin.get(response["Location"]))
    assert "you cannot disable yourself: ask another administrator" in page
    assert User.objects.get(pk=own.pk).is_active


def test_an_administrator_sets_a_password(admin: Client, users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    weak = admin.post(f"/staff/{nurse.pk}/password/", {"password": "password"})
    assert weak.status_code == 422
    assert "too common" in text(weak)
    ok = admin.post(f"/staff/{nurse.pk}/password/", {"password": NEW_PASSWORD})
    assert ok.status_code == 302
    assert _can_sign_in("nurse", NEW_PASSWORD)
    event = AuditEvent.objects.filter(action="set-password").get()
    assert NEW_PASSWORD not in str([event.before, event.after])


def test_a_set_password_link_for_a_user_who_forgot(admin: Client, users: dict[str, Any]) -> None:
    response = admin.post(f"/staff/{users['nurse'].pk}/link/")
    assert response.status_code == 200
    assert re.search(r'value="http://testserver/welcome/\d+/[^"]+/"', response.content.decode())
    assert "It works once, until they set a password or sign in, and for 3 days at most" in text(
        response
    )
    assert AuditEvent.objects.filter(action="password-link").count() == 1


def test_a_token_is_shown_once_and_revoked(admin: Client, users: dict[str, Any]) -> None:
    nurse = users["nurse"]
    blank = admin.post(f"/staff/{nurse.pk}/tokens/", {"name": ""})
    assert blank.status_code == 422
    created = admin.post(f"/staff/{nurse.pk}/tokens/", {"name": "pump gateway"})
    assert created.status_code == 200
    raw = re.search(r'id="new-token"[^>]*value="(ivig_[^"]+)"', created.content.decode())
    assert raw is not None
    token = ApiToken.objects.get(user=nurse)
    assert Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw.group(1)}").status_code == 200
    later = admin.get(f"/staff/{nurse.pk}/").content.decode()
    assert raw.group(1) not in later  # shown once
    assert f"{token.prefix}…" in later
    assert "pump gateway" in later
    revoked = admin.post(f"/staff/tokens/{token.pk}/revoke/")
    assert revoked["Location"] == f"/staff/{nurse.pk}/"
    assert Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw.group(1)}").status_code == 401
    assert "revoked" in text(admin.get(f"/staff/{nurse.pk}/"))


def test_a_patients_account_has_no_staff_page(admin: Client, me: User) -> None:
    assert admin.get(f"/staff/{me.pk}/").status_code == 409
    assert admin.post(f"/staff/{me.pk}/override/", {"allowed": "yes"}).status_code == 409


# --- the patients' own accounts ----------------------------------------------------------------


def test_patient_accounts_are_listed_apart_and_can_be_deactivated(
    admin: Client, me: User, patient: Any
) -> None:
    page = admin.get("/staff/patients/")
    words = text(page)
    assert "Lambert, Edward MRN0001 edward" in words
    assert f'href="/patients/{patient.pk}/"' in page.content.decode()
    response = admin.post(f"/staff/{me.pk}/active/", {"active": "no"})
    assert response["Location"] == "/staff/patients/"
    assert not User.objects.get(pk=me.pk).is_active
    assert "Reactivate the account of Lambert, Edward" in text(admin.get("/staff/patients/"))


# --- the audit trail -----------------------------------------------------------------------------


def test_the_audit_trail_is_newest_first_and_paginated(
    admin: Client, users: dict[str, Any]
) -> None:
    for n in range(AUDIT_PAGE_SIZE + 5):
        accounts.set_active(users["admin"], users["nurse"].pk, n % 2 == 1)
    page = admin.get("/audit/")
    seqs = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', page.content.decode())]
    assert len(seqs) == AUDIT_PAGE_SIZE
    assert seqs == sorted(seqs, reverse=True)
    assert seqs[0] == AuditEvent.objects.order_by("-seq").first().seq  # type: ignore[union-attr]
    assert "Older events" in text(page)
    older = admin.get("/audit/?page=2")
    assert "Newer events" in text(older)


def test_the_audit_trail_filters_by_user_action_and_date(
    admin: Client, users: dict[str, Any], now: dt.datetime
) -> None:
    accounts.set_override(users["admin"], users["nurse"].pk, True)
    page = text(admin.get("/audit/?action=grant-override"))
    assert "1 event, newest first" in page
    by_user = admin.get("/audit/?user=admin").content.decode()
    assert "grant-override" in by_user
    nobody = text(admin.get("/audit/?user=nurse&action=grant-override"))
    assert "No event matches." in nobody
    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    assert "No event matches." in text(admin.get(f"/audit/?start={tomorrow}"))
    assert "grant-override" in text(admin.get(f"/audit/?start={today}&end={today}"))
    wrong = text(admin.get(f"/audit/?start={tomorrow}&end={today}"))
    assert "The end date is before the start date." in wrong


def test_reading_a_patients_audit_is_itself_audited(
    admin: Client, users: dict[str, Any], patient: Any, make_patient: Callable[..., Any]
) -> None:
    other = make_patient(170, 60, mrn="MRN0002", family_name="Other", given_name="Olive")
    start = _last()
    page = admin.get("/audit/?patient=MRN0001")
    words = text(page)
    assert "Lambert, Edward (MRN0001)" in words
    assert "Other, Olive" not in words
    reads = AuditEvent.objects.filter(seq__gt=start, action="read")
    assert [(e.patient_id, e.entity, e.actor) for e in reads] == [
        (patient.pk, "audit trail", "admin")
    ]
    assert reads[0].after == {"url": "/audit/?patient=MRN0001"}
    everyone = _last()
    admin.get("/audit/")
    shown = set(
        AuditEvent.objects.filter(seq__gt=everyone, action="read").values_list(
            "patient_id", flat=True
        )
    )
    assert shown == {patient.pk, other.pk}  # each patient named on the page, once


def test_an_audit_page_of_no_patient_writes_nothing(admin: Client, users: dict[str, Any]) -> None:
    accounts.set_override(users["admin"], users["nurse"].pk, True)
    start = _last()
    admin.get("/audit/?action=grant-override")
    assert _last() == start
    assert audit.verify_chain().ok
