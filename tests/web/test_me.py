"""The patient's side on the web (issue 7): the staff's "Invite the patient", the one-time link
(works once; expired, revoked and unknown links give one same page), the patient signed in on
"My plan" with their own dates and durations and nobody else's, the handout and calendar,
every read audited, the staff's lockout rule, and plain words (textstat)."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pypdf
import pytest
import textstat
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from ivig.interop import ics
from ivig.interop.handout import duration_words, long_date
from ivig.records.models import AuditEvent, PatientAccount, PatientInvitation
from ivig.records.services import courses, documents, portal

GOOD = "blue-kettle-river-93"


class _Text(HTMLParser):
    """The visible text of the page's <main>."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "main" or self.depth:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and data.strip():
            self.parts.append(" ".join(data.split()))


def main_text(html: bytes) -> str:
    parser = _Text()
    parser.feed(html.decode())
    return "\n".join(parser.parts)


def _last() -> int:
    return int(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


@pytest.fixture
def other(users: dict[str, Any], make_patient: Callable[..., Any]) -> Any:
    """A second patient with a planned course (their name and MRN must never show)."""
    record = make_patient(
        175,
        80,
        weighed=timezone.localdate(),
        mrn="OTHER-777",
        family_name="Zebedee",
        given_name="Quentin",
        date_of_birth=dt.date(1970, 2, 3),
    )
    courses.prescribe(
        users["prescriber"],
        record.pk,
        courses.CourseInput(
            indication="lems",
            phase="induction",
            product="privigen-us",
            place="infusion-centre",
            start=timezone.localdate() + dt.timedelta(days=3),
            days=2,
        ),
    )
    return record


def invite_link(client: Client, patient: Any) -> str:
    page = client.post(f"/patients/{patient.pk}/invite/")
    assert page.status_code == 200
    found = re.search(r'value="(https?://[^"]+/invite/([^"/]+)/)"', page.content.decode())
    assert found, page.content
    return "/invite/" + found.group(2) + "/"


@pytest.fixture
def signed_in_patient(client_for: Any, patient: Any, dispensed: Any, other: Any) -> Client:
    """The patient, signed in through their own invitation."""
    link = invite_link(client_for("nurse"), patient)
    client = Client()
    answer = client.post(link, {"username": "edward.l", "password": GOOD, "password2": GOOD})
    assert (answer.status_code, answer["Location"]) == (302, "/me/")
    return client


# --- the staff's side -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["prescriber", "nurse", "admin"])
def test_staff_invite_from_the_patient_page(client_for: Any, role: str, patient: Any) -> None:
    staff = client_for(role)
    page = staff.get(f"/patients/{patient.pk}/").content.decode()
    assert "Invite the patient" in page
    assert "no account yet" in page
    link = invite_link(staff, patient)
    token = link.split("/")[2]
    assert PatientInvitation.objects.get().token_hash == portal.hash_token(token)
    page = staff.get(f"/patients/{patient.pk}/").content.decode()
    assert "Invitation sent" in page
    assert token not in page  # shown once only


def test_a_pharmacist_may_not_invite(client_for: Any, patient: Any) -> None:
    pharmacist = client_for("pharmacist")
    assert "Invite the patient" not in pharmacist.get(f"/patients/{patient.pk}/").content.decode()
    assert pharmacist.post(f"/patients/{patient.pk}/invite/").status_code == 403
    # a GET of the POST-only action opens its page (issue 16 item 2)
    got = client_for("nurse").get(f"/patients/{patient.pk}/invite/")
    assert (got.status_code, got["Location"]) == (302, f"/patients/{patient.pk}/")
    assert not PatientInvitation.objects.exists()


def test_an_invited_patient_with_an_account_cannot_be_invited_again(
    client_for: Any, patient: Any, signed_in_patient: Client
) -> None:
    nurse = client_for("nurse")
    assert "has their own account" in nurse.get(f"/patients/{patient.pk}/").content.decode()
    assert nurse.post(f"/patients/{patient.pk}/invite/").status_code == 409


# --- the link -----------------------------------------------------------------------------


def test_the_link_works_once_and_signs_the_patient_in(
    client_for: Any, patient: Any, dispensed: Any, other: Any
) -> None:
    link = invite_link(client_for("nurse"), patient)
    visitor = Client()
    form = visitor.get(link)
    assert form.status_code == 200
    assert "Choose a user name" in form.content.decode()
    assert "Edward" not in form.content.decode()  # the link alone shows no record
    start = _last()
    page = visitor.post(link, {"username": "edward.l", "password": GOOD, "password2": GOOD})
    assert (page.status_code, page["Location"]) == (302, "/me/")
    account = PatientAccount.objects.get(patient=patient)
    assert account.user.username == "edward.l"
    created = AuditEvent.objects.get(seq__gt=start, entity="patient-account")
    assert (created.action, created.actor, created.patient_id) == ("create", "edward.l", patient.pk)
    plan = visitor.get("/me/")
    assert plan.status_code == 200
    assert long_date(dispensed.date) in plan.content.decode()
    # a second use: the same page as any link that does not work
    again = Client().get(link)
    assert again.status_code == 404
    assert "ask the service for a new one" in again.content.decode()
    second = Client().post(link, {"username": "x.y.z", "password": GOOD, "password2": GOOD})
    assert second.status_code == 404
    assert not User.objects.filter(username="x.y.z").exists()


def test_links_that_do_not_work_all_look_the_same(
    users: dict[str, Any], client_for: Any, patient: Any
) -> None:
    past = timezone.now() - dt.timedelta(days=8)
    _, expired = portal.invite(users["nurse"], patient.pk, now=past)  # revoked by the next too
    _, revoked = portal.invite(users["nurse"], patient.pk, now=timezone.now())
    portal.invite(users["nurse"], patient.pk, now=timezone.now())
    other_expired = PatientInvitation.objects.create(
        patient=patient, token_hash=portal.hash_token("old-link"), invited_by=users["nurse"],
        invited_at=past, expires_at=past + portal.VALID_FOR,
    )  # fmt: skip
    assert other_expired.revoked_at is None
    pages = set()
    for token in (expired, revoked, "old-link", "no-such-link"):
        page = Client().get(f"/invite/{token}/")
        assert page.status_code == 404, token
        assert (
            "this link does not work; ask the service for a new one"
            in page.content.decode().lower()
        )
        pages.add(main_text(page.content))
    assert len(pages) == 1


def test_the_password_rules_and_the_repeat(client_for: Any, patient: Any) -> None:
    link = invite_link(client_for("nurse"), patient)
    visitor = Client()
    page = visitor.post(link, {"username": "edward.l", "password": GOOD, "password2": GOOD + "x"})
    assert page.status_code == 200
    assert "The two passwords are not the same." in page.content.decode()
    page = visitor.post(link, {"username": "edward.l", "password": "abc", "password2": "abc"})
    assert page.status_code == 200
    assert 'id="id_password_error"' in page.content.decode()
    assert "too short" in page.content.decode()
    assert 'value="edward.l"' in page.content.decode()  # what was typed is kept
    assert not PatientAccount.objects.exists()
    ok = visitor.post(link, {"username": "edward.l", "password": GOOD, "password2": GOOD})
    assert ok.status_code == 302


# --- my plan --------------------------------------------------------------------------------


def test_my_plan_shows_my_dates_and_durations_only(
    signed_in_patient: Client, patient: Any, other: Any
) -> None:
    plan = documents.patient_plan(patient, today=timezone.localdate())
    assert len(plan.infusions) == 2
    page = signed_in_patient.get("/me/")
    text = main_text(page.content)
    for infusion in plan.infusions:
        assert long_date(infusion.date) in text
        assert duration_words(infusion.total_minutes) in text
    assert "at the hospital" in text
    assert "step by step" in text
    assert f"in {plan.infusions[0].steps} steps" in text
    assert "Tell the nurse about any new medicines" in text
    assert "Drink plenty of water" in text
    for url in ("/me/handout/", "/me/handout.pdf", "/me/calendar.ics"):
        assert f'href="{url}"' in page.content.decode()
    theirs = documents.patient_plan(other, today=timezone.localdate())
    for url in ("/me/", "/me/handout/", "/me/calendar.ics"):
        body = signed_in_patient.get(url).content.decode()
        for secret in ("Zebedee", "Quentin", "OTHER-777", "infusion centre"):
            assert secret not in body, (url, secret)
        for infusion in theirs.infusions:
            assert long_date(infusion.date) not in body, url


def test_my_handout_pdf_and_calendar(signed_in_patient: Client, patient: Any) -> None:
    handout = signed_in_patient.get("/me/handout/")
    assert handout.status_code == 200
    assert "For Edward Lambert" in handout.content.decode()
    pdf = signed_in_patient.get("/me/handout.pdf")
    if pdf.status_code == 503:  # no PDF engine on this machine
        pytest.skip(pdf.content.decode())
    assert pdf["Content-Type"] == "application/pdf"
    words = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Edward Lambert" in " ".join(words.split())
    cal = signed_in_patient.get("/me/calendar.ics")
    assert cal["Content-Type"].startswith("text/calendar")
    events = list(Calendar.from_ical(cal.content).walk("VEVENT"))
    orders = {str(e["UID"]) for e in events}
    assert orders == {ics.uid(o.pk) for o in patient.orders.all()}


def test_every_read_of_my_pages_is_audited(signed_in_patient: Client, patient: Any) -> None:
    start = _last()
    assert signed_in_patient.get("/me/").status_code == 200
    assert signed_in_patient.get("/me/handout/").status_code == 200
    assert signed_in_patient.get("/me/calendar.ics").status_code == 200
    rows = list(AuditEvent.objects.filter(seq__gt=start).order_by("seq"))
    assert [(e.actor, e.action, e.entity, e.patient_id) for e in rows] == [
        ("edward.l", "read", "my plan", patient.pk),
        ("edward.l", "read", "patient handout", patient.pk),
        ("edward.l", "read", "calendar", patient.pk),
        ("edward.l", "export", "calendar", patient.pk),
    ]


def test_my_pages_are_for_patients_only(client_for: Any, patient: Any) -> None:
    for url in ("/me/", "/me/handout/", "/me/handout.pdf", "/me/calendar.ics"):
        assert client_for("nurse").get(url).status_code == 404
        assert client_for(None).get(url).status_code == 302  # to the sign-in page


def test_the_patient_has_the_staff_lockout(
    client_for: Any, patient: Any, signed_in_patient: Client
) -> None:
    """Five failed sign-ins lock the patient's user name out, like staff's."""
    visitor = Client()
    for _ in range(5):
        visitor.post("/signin/", {"username": "edward.l", "password": "wrong-password-1"})
    locked = visitor.post("/signin/", {"username": "edward.l", "password": GOOD})
    assert locked.status_code == 429
    assert "Signing in is locked" in locked.content.decode()
    assert visitor.get("/me/").status_code == 302  # not signed in


def test_a_patient_signs_in_and_lands_on_my_plan(signed_in_patient: Client) -> None:
    client = Client()
    answer = client.post("/signin/", {"username": "edward.l", "password": GOOD}, follow=True)
    assert answer.redirect_chain[-1][0] == "/me/"
    assert "My plan" in answer.content.decode()


def test_my_plan_is_plain_words(signed_in_patient: Client) -> None:
    text = main_text(signed_in_patient.get("/me/").content)
    assert textstat.lexicon_count(text) >= 120
    sentences = "\n".join(t if t.endswith((".", "?", ":")) else t + "." for t in text.split("\n"))
    assert float(textstat.flesch_kincaid_grade(sentences)) <= 8.0, sentences
