"""The service's numbers on the patient pages (issue 16, item 8): the infusion service's phone
and the country's emergency number as tap-to-call links on every patient page and in the
advice ("call the infusion service today", "call emergency services now"); when one is not
set, the patient is told to ask their nurse and the staff are warned."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from ivig.records.models import Order, OrderStatus
from ivig.records.services import patient_reports as reports

PAGES = ["/me/", "/me/handout/", "/me/check/", "/me/diary/", "/me/outcomes/"]
NO = {q.key: "no" for q in reports.CHECK_QUESTIONS}


@pytest.fixture
def mine(me: User) -> Client:
    client = Client()
    client.force_login(me)
    return client


@pytest.fixture
def numbers(settings: Any) -> None:
    settings.IVIG_SERVICE_PHONE = "+61 2 9999 0000"
    settings.IVIG_EMERGENCY_NUMBER = "000"


@pytest.mark.parametrize("url", PAGES)
def test_every_patient_page_has_both_numbers_to_tap(
    mine: Client, numbers: None, dispensed: Order, url: str
) -> None:
    page = mine.get(url).content.decode()
    assert '<a href="tel:+61299990000" class="tel">+61 2 9999 0000</a>' in page
    assert '<a href="tel:000" class="tel">000</a>' in page


@pytest.mark.parametrize("url", PAGES)
def test_without_the_numbers_the_patient_is_told_to_ask(
    mine: Client, settings: Any, dispensed: Order, url: str
) -> None:
    settings.IVIG_SERVICE_PHONE = None
    settings.IVIG_EMERGENCY_NUMBER = None
    page = mine.get(url).content.decode()
    assert "Call the infusion service (number not set — ask your nurse)" in page
    assert "call emergency services (your local emergency number)" in page
    assert 'href="tel:' not in page


def test_the_day_before_advice_gives_the_number(
    mine: Client, numbers: None, dispensed: Order
) -> None:
    done = mine.post("/me/check/", {**NO, "fever": "yes"}).content.decode()
    assert "Please call the infusion service today" in done
    assert (
        'Please call the infusion service on <a href="tel:+61299990000" class="tel">'
        "+61 2 9999 0000</a> before you come in." in done
    )


def test_the_diary_advice_gives_the_emergency_number(
    mine: Client, numbers: None, dispensed: Order
) -> None:
    Order.objects.filter(pk=dispensed.pk).update(status=OrderStatus.completed)
    today = timezone.localdate()
    body = {"day": today.isoformat(), **dict.fromkeys(reports.SYMPTOMS, "none")}
    done = mine.post("/me/diary/", {**body, "chest_pain": "mild"}).content.decode()
    assert "Get help now" in done
    assert (
        'Call emergency services now on <a href="tel:000" class="tel">000</a>, or go to the '
        "nearest emergency room." in done
    )


def test_the_staff_are_warned_when_a_number_is_not_set(
    client_for: Any, settings: Any, patient: Any
) -> None:
    settings.IVIG_SERVICE_PHONE = None
    settings.IVIG_EMERGENCY_NUMBER = "112"
    page = client_for("nurse").get("/patients/").content.decode()
    assert "The service's phone number is not set." in page
    assert "IVIG_SERVICE_PHONE" in page
    assert "The emergency number is not set." not in page
    settings.IVIG_SERVICE_PHONE = "02 9999 0000"
    settings.IVIG_EMERGENCY_NUMBER = None
    page = client_for("admin").get("/patients/").content.decode()
    assert "The service's phone number is not set." not in page
    assert "The emergency number is not set." in page


def test_no_warning_when_both_are_set(client_for: Any, numbers: None, patient: Any) -> None:
    assert "service-phone-missing" not in client_for("nurse").get("/patients/").content.decode()


@pytest.mark.parametrize("url", PAGES)
def test_an_unverified_emergency_number_stays_flagged(
    mine: Client, numbers: None, settings: Any, dispensed: Order, url: str
) -> None:
    """A number emergency_numbers.toml marks unverified is flagged beside it (smallfix item 1),
    and the staff are told."""
    settings.IVIG_EMERGENCY_NUMBER = "112"
    settings.IVIG_EMERGENCY_VERIFIED = False
    page = mine.get(url).content.decode()
    assert (
        '<a href="tel:112" class="tel">112</a> (<strong>UNVERIFIED</strong>: check this number'
        in page
    )


def test_the_staff_are_told_an_emergency_number_is_unverified(
    client_for: Any, numbers: None, settings: Any, patient: Any
) -> None:
    settings.IVIG_EMERGENCY_VERIFIED = False
    page = client_for("nurse").get("/patients/").content.decode()
    assert "The emergency number 000 is UNVERIFIED</strong>" in page
