"""Who may open each page and post each form (issue 8, requirements on access): a table-driven
test generated from the site's URL patterns, so that a new page without a line in ``PAGES``
fails here; from the same table, every form refuses a POST without the CSRF token and every
page sends the security headers. Each route is tried by every staff role and by an anonymous
client, GET and POST (an empty POST: the role check comes before the form, so what is posted
does not matter).

- anonymous: sent to the sign-in page (or 405 for a method the route never answers);
- a GET of a POST-only action, by anyone: sent to the action's page (issue 16 item 2);
- a role the route allows: neither refused (403), nor sent to sign in;
- any other staff role: 403 (404 for the patient's own ``/me/`` pages, which staff never see);
- a refused request writes nothing (the audit log is unchanged).

The API has the same matrix from its OpenAPI document (tests/api/test_access.py); the patient's
side is tested in tests/web/test_patient_portal.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from ivig.records.models import AuditEvent
from ivig.server.middleware import action_page

STAFF = frozenset({"admin", "prescriber", "pharmacist", "nurse"})
ADMIN, PRESCRIBER, PHARMACIST, NURSE = "admin", "prescriber", "pharmacist", "nurse"
PUBLIC = "public"  # no sign-in needed
PATIENT_ONLY = "patient"  # the patient's own pages: 404 for staff, whatever the method
NO = None  # the route does not answer this method (405)

Rule = frozenset[str] | str | None

# route: (who may GET, who may POST)
PAGES: dict[str, tuple[Rule, Rule]] = {
    "favicon.ico": (PUBLIC, PUBLIC),
    "health/": (PUBLIC, NO),
    "signin/": (PUBLIC, PUBLIC),
    "signin/stay/": (PUBLIC, PUBLIC),  # the idle warning asks it (issue 16 item 2)
    "signout/": (NO, PUBLIC),
    "": (STAFF, STAFF),
    "patients/": (STAFF, STAFF),
    "patients/new/": (frozenset({ADMIN, PRESCRIBER}),) * 2,
    "patients/<int:patient_id>/": (STAFF, STAFF),
    "patients/<int:patient_id>/edit/": (frozenset({ADMIN, PRESCRIBER}),) * 2,
    "patients/<int:patient_id>/outcomes/": (frozenset({PRESCRIBER, NURSE}),) * 2,
    # issue 14 item 8: a weight by the roles that record one; its confirmation by a prescriber
    "patients/<int:patient_id>/weights/": (frozenset({ADMIN, PRESCRIBER, NURSE}),) * 2,
    "patients/<int:patient_id>/weights/<int:weight_id>/confirm/": (frozenset({PRESCRIBER}),) * 2,
    "patients/<int:patient_id>/creatinine/": (frozenset({ADMIN, PRESCRIBER, NURSE}),) * 2,
    "patients/<int:patient_id>/prescribe/": (frozenset({PRESCRIBER}),) * 2,
    "patients/<int:patient_id>/prescribe/preview/": (NO, frozenset({PRESCRIBER})),
    "courses/<int:course_id>/replan/": (frozenset({PRESCRIBER}),) * 2,
    # issue 16 item 1: defer a dose (prescriber, nurse), cancel a dose or a course (prescriber)
    "orders/<int:order_id>/defer/": (frozenset({PRESCRIBER, NURSE}),) * 2,
    "orders/<int:order_id>/cancel/": (frozenset({PRESCRIBER}),) * 2,
    "courses/<int:course_id>/cancel/": (frozenset({PRESCRIBER}),) * 2,
    "pharmacy/": (frozenset({PHARMACIST}),) * 2,
    "pharmacy/orders/<int:order_id>/verify/": (frozenset({PHARMACIST}),) * 2,
    "pharmacy/orders/<int:order_id>/dispense/": (frozenset({PHARMACIST}),) * 2,
    "pharmacy/lots/": (frozenset({ADMIN, PRESCRIBER, PHARMACIST}),) * 2,
    "chairs/": (STAFF, STAFF),
    "orders/<int:order_id>/runsheet/": (STAFF, NO),
    "orders/<int:order_id>/runsheet/print/": (STAFF, NO),
    "orders/<int:order_id>/runsheet.pdf": (STAFF, NO),
    "orders/<int:order_id>/runsheet/reaction-advice/": (STAFF, NO),
    "orders/<int:order_id>/runsheet/acknowledge/": (NO, frozenset({PRESCRIBER})),
    "orders/<int:order_id>/runsheet/check/": (NO, frozenset({NURSE})),
    "orders/<int:order_id>/runsheet/override/": (NO, frozenset({PRESCRIBER})),
    "orders/<int:order_id>/runsheet/start/": (NO, frozenset({NURSE})),
    "orders/<int:order_id>/runsheet/rate/": (NO, frozenset({NURSE})),
    "orders/<int:order_id>/runsheet/resume/": (NO, frozenset({NURSE})),
    "orders/<int:order_id>/runsheet/restart/": (NO, frozenset({PRESCRIBER})),
    "orders/<int:order_id>/runsheet/vitals/": (NO, frozenset({NURSE})),
    "orders/<int:order_id>/runsheet/reaction/": (NO, frozenset({NURSE})),
    "orders/<int:order_id>/runsheet/end/": (NO, frozenset({NURSE})),
    "orders/<int:order_id>/runsheet/observation/": (NO, frozenset({NURSE})),
    "corrections/<str:kind>/<int:entry_id>/": (STAFF, STAFF),
    "corrections/<str:kind>/<int:entry_id>/void/": (NO, STAFF),
    "reports/safety/": (frozenset({ADMIN, PHARMACIST}),) * 2,
    "patients/<int:patient_id>/handout/": (STAFF, NO),
    "patients/<int:patient_id>/handout.pdf": (STAFF, NO),
    "patients/<int:patient_id>/calendar.ics": (STAFF, NO),
    "patients/<int:patient_id>/invite/": (NO, frozenset({ADMIN, PRESCRIBER, NURSE})),
    "patients/<int:patient_id>/invite/email/": (NO, frozenset({ADMIN, PRESCRIBER, NURSE})),
    "invite/<str:token>/": (PUBLIC, PUBLIC),
    "me/": (PATIENT_ONLY, PATIENT_ONLY),
    "me/handout/": (PATIENT_ONLY, PATIENT_ONLY),
    "me/handout.pdf": (PATIENT_ONLY, PATIENT_ONLY),
    "me/calendar.ics": (PATIENT_ONLY, PATIENT_ONLY),
    "me/check/": (PATIENT_ONLY, PATIENT_ONLY),
    "me/diary/": (PATIENT_ONLY, PATIENT_ONLY),
    "me/outcomes/": (PATIENT_ONLY, PATIENT_ONLY),
    "me/reminders/": (PATIENT_ONLY, PATIENT_ONLY),  # issue 18
    # issue 16 item 9: the patient alerts worklist and closing one
    "alerts/": (frozenset({PRESCRIBER, NURSE}), NO),
    "alerts/<str:kind>/<int:alert_id>/close/": (NO, frozenset({PRESCRIBER, NURSE})),
    # issue 16 item 19: users and roles, the audit trail (admin); the staff's set-password link
    "staff/": (frozenset({ADMIN}),) * 2,
    "staff/new/": (frozenset({ADMIN}),) * 2,
    "staff/patients/": (frozenset({ADMIN}),) * 2,
    "staff/<int:user_id>/": (frozenset({ADMIN}),) * 2,
    "staff/<int:user_id>/roles/": (NO, frozenset({ADMIN})),
    "staff/<int:user_id>/override/": (NO, frozenset({ADMIN})),
    "staff/<int:user_id>/active/": (NO, frozenset({ADMIN})),
    "staff/<int:user_id>/password/": (NO, frozenset({ADMIN})),
    "staff/<int:user_id>/link/": (NO, frozenset({ADMIN})),
    "staff/<int:user_id>/tokens/": (NO, frozenset({ADMIN})),
    "staff/tokens/<int:token_id>/revoke/": (NO, frozenset({ADMIN})),
    "welcome/<int:user_id>/<str:token>/": (PUBLIC, PUBLIC),
    "audit/": (frozenset({ADMIN}),) * 2,
    # issue 16 items 6 and 15
    "pharmacy/courses/<int:course_id>/verify/": (frozenset({PHARMACIST}),) * 2,
    "pharmacy/courses/<int:course_id>/dispense/": (frozenset({PHARMACIST}),) * 2,
    "patients/<int:patient_id>/premedication/": (STAFF, frozenset({PRESCRIBER})),
    "orders/<int:order_id>/premedication/given/": (NO, frozenset({NURSE})),
    # issue 18: the usage report and its CSV download (an audited export)
    "reports/usage/": (frozenset({ADMIN, PHARMACIST}),) * 2,
    "reports/usage.csv": (frozenset({ADMIN, PHARMACIST}), NO),
    # issue 18: vial stock (the pharmacist); the stores: the administrator adds them
    "pharmacy/stock/": (frozenset({PHARMACIST}), NO),
    "pharmacy/stock/receive/": (frozenset({PHARMACIST}),) * 2,
    "pharmacy/stock/lots/<int:lot_id>/": (frozenset({PHARMACIST}), NO),
    "pharmacy/stock/quarantine/": (frozenset({PHARMACIST}),) * 2,
    "pharmacy/stock/expiring/": (frozenset({PHARMACIST}), NO),
    "pharmacy/stock/stores/": (frozenset({ADMIN, PHARMACIST}), frozenset({ADMIN})),
    "pharmacy/orders/<int:order_id>/return/": (frozenset({PHARMACIST}),) * 2,
    # issue 18: units and chairs (administrator); the day's bookings (staff); booking an order
    "staff/units/": (frozenset({ADMIN}),) * 2,
    "staff/units/<int:unit_id>/": (frozenset({ADMIN}),) * 2,
    "staff/units/<int:unit_id>/chairs/": (NO, frozenset({ADMIN})),
    "staff/units/<int:unit_id>/hours/": (NO, frozenset({ADMIN})),
    "bookings/": (STAFF, NO),
    "orders/<int:order_id>/book/": (frozenset({ADMIN, PRESCRIBER, NURSE}),) * 2,
    "bookings/<int:booking_id>/cancel/": (NO, frozenset({ADMIN, PRESCRIBER, NURSE})),
    # issue 18: the unit's day and week board (every staff role reads it)
    "bookings/board/": (STAFF, NO),
    "bookings/board/week/": (STAFF, NO),
}


def _routes(patterns: list[Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            out += _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            out.append(prefix + str(p.pattern))
    return out


def _pages() -> list[str]:
    """The site's pages: every route but the API (its own matrix) and Django's admin (below)."""
    return [r for r in _routes(get_resolver().url_patterns) if not r.startswith(("api/", "admin/"))]


def test_every_page_has_a_rule() -> None:
    """A new page without a line in ``PAGES`` fails here; so does a line for a page gone."""
    assert set(_pages()) == set(PAGES), {
        "pages without a rule": sorted(set(_pages()) - set(PAGES)),
        "rules without a page": sorted(set(PAGES) - set(_pages())),
    }


@pytest.fixture
def ids(dispensed: Any, patient: Any) -> dict[str, Any]:
    weight = patient.weights.first()
    return {
        "patient_id": patient.pk,
        "order_id": dispensed.pk,
        "course_id": dispensed.course_id,
        "kind": "weight",
        "entry_id": weight.pk,
        "weight_id": weight.pk,
        "check_id": 1,
        "alert_id": 1,
        "token": "not-a-real-invitation",
        "user_id": weight.recorded_by_id,  # the prescriber
        "token_id": 1,
        "lot_id": 1,  # issue 18: no stock lot; the page answers 404
        "unit_id": 1,  # issue 18: none exists; the role check comes first (404 for the allowed)
        "booking_id": 1,
    }


def _url(route: str, ids: dict[str, Any]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), route)


def _signed_in(client: Client) -> bool:
    return client.get("/patients/").status_code == 200


def _signin_redirect(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/signin/")


def _to_page(response: Any) -> bool:
    """A GET of a POST-only action sent to the action's page (issue 16 item 2)."""
    request = response.request
    return (
        request["REQUEST_METHOD"] == "GET"
        and response.status_code == 302
        and response["Location"] == action_page(request["PATH_INFO"])
    )


def _check(response: Any, rule: Rule, role: str | None) -> str | None:
    """What is wrong with ``response`` under ``rule`` for ``role`` (None: it is right)."""
    status = response.status_code
    if rule is NO:
        ok = status == 405 or (role is None and _signin_redirect(response)) or _to_page(response)
    elif rule == PUBLIC:
        ok = status not in (403, 405) and not _signin_redirect(response)
    elif role is None:
        ok = _signin_redirect(response)
    elif rule == PATIENT_ONLY:
        ok = status == 404
    elif isinstance(rule, frozenset) and role in rule:
        ok = status != 403 and status != 405 and not _signin_redirect(response)
    else:
        ok = status == 403
    return None if ok else f"{status} {response.get('Location', '')}"


def _written() -> int:
    """Audit events other than the access log's own (signing in, a refusal: issue 17 item 13)."""
    from ivig.records.services.signin import ACCESS_ACTIONS

    return AuditEvent.objects.exclude(action__in=ACCESS_ACTIONS).count()


@pytest.mark.parametrize("role", [None, *sorted(STAFF)])
def test_page_access_matrix(
    role: str | None, ids: dict[str, Any], client_for: Callable[[str | None], Client]
) -> None:
    client = client_for(role)
    wrong: list[tuple[str, str, str]] = []
    for route, (get_rule, post_rule) in PAGES.items():
        url = _url(route, ids)
        for method, rule in (("get", get_rule), ("post", post_rule)):
            if (route, method) == ("signout/", "post"):
                continue  # last: it ends the session
            refused = rule != PUBLIC and not (isinstance(rule, frozenset) and role in rule)
            before = _written()
            response = getattr(client, method)(url)
            problem = _check(response, rule, role)
            if problem:
                wrong.append((method.upper(), url, problem))
            if refused and _written() != before:
                wrong.append((method.upper(), url, "a refused request wrote to the audit log"))
    assert not wrong, wrong
    response = client.post("/signout/")
    assert (response.status_code, response["Location"]) == (302, "/signin/")


@pytest.mark.parametrize("role", sorted(STAFF - {ADMIN}))
def test_only_an_administrator_reaches_the_admin_site(
    role: str, client_for: Callable[[str | None], Client]
) -> None:
    """Django's admin site (users, roles, records) is for the administrator only: another role
    is sent to the admin's own sign-in page, and sees nothing of it."""
    admin_pages = [
        "/" + r
        for r in _routes(get_resolver().url_patterns)
        if r.startswith("admin/") and "<" not in r and "(?P" not in r and "logout" not in r
    ]
    assert len(admin_pages) > 10
    assert client_for(ADMIN).get("/admin/").status_code == 200
    client = client_for(role)
    for url in admin_pages:
        response = client.get(url)
        if url == "/admin/login/":
            assert response.status_code == 200, url  # the form, which refuses a non-admin
            continue
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith("/admin/login/"), url
    client_for(None).get("/admin/")
    anonymous = client_for(None).get("/admin/auth/user/")
    assert anonymous["Location"].startswith("/admin/login/")


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(STAFF))
def test_every_form_refuses_a_post_without_the_csrf_token(role: str, ids: dict[str, Any]) -> None:
    """Every route that takes a POST from this role, signed in, without the CSRF token: 403,
    and nothing written (generated from the page table, so a new form is covered)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(_user(role))
    checked = 0
    for route, (_, post_rule) in PAGES.items():
        if post_rule in (NO, PATIENT_ONLY) or route == "favicon.ico":
            continue
        before = _written()
        response = client.post(_url(route, ids), {"reason": "x", "note": "x"})
        assert response.status_code == 403, (route, response.status_code)
        assert b"CSRF" in response.content or b"csrf" in response.content, route
        assert _written() == before, route
        checked += 1
    assert checked > 25
    assert _signed_in(client)  # signing out without the token was refused too


def _user(role: str) -> Any:
    from django.contrib.auth.models import User

    return User.objects.get(username=role)


# --- headers ------------------------------------------------------------------------------------

INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(rb"<[^>]+\son[a-z]+=", re.IGNORECASE)
INLINE_STYLE = re.compile(rb"<style\b|\sstyle=\"", re.IGNORECASE)


def _check_headers(response: Any, where: str) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    directives = dict(
        [*part.split(" ", 1), ""][:2] for part in (p.strip() for p in policy.split(";")) if part
    )
    assert directives.get("script-src") == "'self'", (where, policy)
    assert "unsafe-inline" not in policy, where
    assert "unsafe-eval" not in policy, where
    assert directives.get("frame-ancestors") == "'none'", where
    assert directives.get("default-src") == "'self'", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    if headers.get("Content-Type", "").startswith("text/html"):
        body = response.content
        assert not INLINE_SCRIPT.search(body), (where, INLINE_SCRIPT.search(body))
        assert not INLINE_HANDLER.search(body), (where, INLINE_HANDLER.search(body))
        assert not INLINE_STYLE.search(body), (where, INLINE_STYLE.search(body))


@pytest.mark.parametrize("role", [None, *sorted(STAFF)])
def test_every_page_sends_the_security_headers(
    role: str | None, ids: dict[str, Any], client_for: Callable[[str | None], Client]
) -> None:
    """Every page a role can open (and the sign-in page, the refusals and the not-found page):
    a CSP without inline script, X-Frame-Options DENY, Referrer-Policy same-origin, nosniff;
    and no inline script, event handler or style in the HTML (the CSP would block them)."""
    client = client_for(role)
    seen = 0
    for route, (get_rule, _) in PAGES.items():
        if get_rule is NO or route == "favicon.ico":
            continue
        response = client.get(_url(route, ids))
        _check_headers(response, f"{role} GET /{route} ({response.status_code})")
        seen += 1
    for url in ("/signin/", "/patients/999999/", "/no-such-page/", "/api/products"):
        _check_headers(client.get(url), f"{role} GET {url}")
    assert seen > 20


def test_the_api_sends_the_security_headers(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    nurse = client_for("nurse")
    for url in (f"/api/patients/{patient.pk}", "/api/patients/999999", "/api/openapi.json"):
        _check_headers(nurse.get(url), url)
    _check_headers(client_for(None).get("/api/products"), "anonymous /api/products")


def test_public_pages_are_the_public_ones() -> None:
    """Only the sign-in page (and how long is left before the idle sign-out: "signed out" to
    anyone else), the invitation link, the staff's set-password link, the icon and the health
    check (no patient data) are open without signing in."""
    public = {route for route, rules in PAGES.items() if PUBLIC in rules}
    assert public == {
        "signin/",
        "signin/stay/",
        "signout/",
        "invite/<str:token>/",
        "welcome/<int:user_id>/<str:token>/",
        "favicon.ico",
        "health/",
    }
