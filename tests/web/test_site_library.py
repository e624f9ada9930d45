"""A site's own drug library (``IVIG_CATALOGUE_DIR``, requirement 46) is the one every edge
uses (issue 15): a product the site adds and a limit it changes are offered by the prescribe
form, listed by ``GET /api/products`` with the site's version, planned, dispensed, and shown and
applied on the run sheet."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from ivig.records.models import Course, Order
from ivig.records.services import courses, infusions, orders

SITE = "2026.12.9-site"
# The site's own product: 10 % in 10 g and 25 g vials, its CIDP schedule up to 6 mg/kg/min
# (0.5, 1, 2, 4, 6 mg/kg/min: 25.5, 51, 102, 204, 306 mL/h at 85 kg).
PRODUCT = """
[[products]]
id = "site-ivig-10"
name = "Site IVIG"
manufacturer = "Site pharmacy"
region = "AU"
status = "current"
concentration_mg_per_ml = { value = 100, source = "service-protocol", verified = true }
vial_sizes_g = { value = [10, 25], source = "service-protocol", verified = true }
excipients = { value = ["glycine"], source = "service-protocol", verified = true }

[[products.schedules]]
group = "cidp"
label = "site protocol, CIDP"
source = "service-protocol"
verified = true
unit = "mg/kg/min"
initial = 0.5
maximum = 6
"""
# The site's limit: vital signs within 25 minutes before a rate increase (the package: 15).
WITHIN = {"vitals_within_minutes = { value = 15,": "vitals_within_minutes = { value = 25,"}
X = "\u00d7"  # as the pages write vials (3 x 25 g)
CALM = {
    "temperature_c": "36.8",
    "pulse_per_min": "76",
    "systolic_mm_hg": "128",
    "diastolic_mm_hg": "78",
    "respiratory_rate_per_min": "16",
    "spo2_percent": "98",
}


@pytest.fixture
def site(library: Callable[..., str]) -> str:
    """The site's library in service: the package's, with the product added and the limit
    changed."""
    return library(SITE, add={"products.toml": PRODUCT}, files={"limits.toml": WITHIN})


def text(response: Any) -> str:
    """What the page says: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", response.content.decode())).split())


def course_input(start: dt.date) -> dict[str, str]:
    return {
        "indication": "lems",
        "phase": "induction",
        "product": "site-ivig-10",
        "place": "hospital",
        "start": start.isoformat(),
        "days": "2",
        "total_g_per_kg": "",
        "dose_g_per_kg": "",
        "every_weeks": "",
        "count": "",
        "weight_basis": "auto",
        "egfr": "",
    }


def test_the_prescribe_form_offers_and_plans_the_sites_product(
    client_for: Callable[[str | None], Client], patient: Any, site: str, settings: Any
) -> None:
    prescriber = client_for("prescriber")
    form = f"/patients/{patient.pk}/prescribe/"
    option = '<option value="site-ivig-10">Site IVIG (AU)</option>'
    assert option in prescriber.get(form).content.decode()
    # the plan: 85 g a day of the site's vials, rates up to its 6 mg/kg/min, its version
    start = timezone.localdate() + dt.timedelta(days=5)
    preview = text(
        prescriber.post(form + "preview/", course_input(start), headers={"HX-Request": "true"})
    )
    assert f"3 {X} 25 g + 1 {X} 10 g" in preview
    assert "306 mL/h" in preview
    assert "site protocol, CIDP schedule" in preview
    assert f"catalogue version {SITE}" in preview
    assert prescriber.post(form, course_input(start)).status_code == 302
    course = Course.objects.get(patient=patient)
    assert (course.product_id, course.catalogue_version) == ("site-ivig-10", SITE)
    # by key: PostgreSQL's jsonb keeps keys in its own order
    assert {(v["size_g"], v["count"]) for o in course.orders.all() for v in o.vials} == {
        (25.0, 3),
        (10.0, 1),
    }
    # without the site's library the product is not offered
    settings.IVIG_CATALOGUE_DIR = None
    assert option not in prescriber.get(form).content.decode()


def test_the_api_lists_the_sites_products_and_version(
    client_for: Callable[[str | None], Client], site: str
) -> None:
    products = client_for("nurse").get("/api/products").json()
    assert {p["catalogue_version"] for p in products} == {SITE}
    added = next(p for p in products if p["id"] == "site-ivig-10")
    assert added["name"] == "Site IVIG (AU)"
    assert added["vial_sizes_g"] == [10.0, 25.0]
    assert added["schedules"] == ["cidp"]


def _dispensed(users: dict[str, Any], patient: Any) -> Order:
    """Day 1 of a 2-day induction of the site's product, which began yesterday (an infusion
    started an hour ago is within the order's day), verified and dispensed at its midnight."""
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput("lems", "induction", "site-ivig-10", "hospital", yesterday, days=2),
    )
    order = course.orders.order_by("sequence")[0]
    midnight = dt.datetime.combine(yesterday, dt.time(0), tzinfo=timezone.get_current_timezone())
    order = orders.verify(users["pharmacist"], order.pk, order.version, now=midnight)
    expiry = yesterday + dt.timedelta(days=365)
    lots = [
        orders.LotInput(f"S{v['size_g']:g}", expiry, float(v["size_g"]), int(v["count"]))
        for v in order.vials
    ]
    return orders.dispense(users["pharmacist"], order.pk, order.version, lots, now=midnight)


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_the_run_sheet_shows_and_applies_the_sites_limit(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any, site: str
) -> None:
    order = _dispensed(users, patient)
    nurse = client_for("nurse")
    sheet = f"/orders/{order.pk}/runsheet/"
    begin = (timezone.now() - dt.timedelta(minutes=60)).replace(second=0, microsecond=0)
    infusions.pre_check(
        users["nurse"],
        order.pk,
        infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True),
        now=begin - dt.timedelta(minutes=1),
    )
    baseline = infusions.VitalsInput(pulse_per_min=74)  # before the start (issue 16 item 7)
    infusions.record_vitals(users["nurse"], order.pk, begin, baseline, now=begin)
    started = nurse.post(
        sheet + "start/",
        {
            "at": _local(begin),
            "version": Order.objects.get(pk=order.pk).version,
            "visual_inspection_ok": "on",
            "administered_by": User.objects.get(username="nurse").pk,
        },
    )
    assert started.status_code == 302
    page = text(nurse.get(sheet))
    assert "Site IVIG (AU)" in page
    assert f"drug library (catalogue) {SITE}" in page
    assert "with vital signs from the 25 minutes before it" in page

    def increase(ml_h: str, minute: int) -> Any:
        session = Order.objects.get(pk=order.pk).session
        at = _local(begin + dt.timedelta(minutes=minute))
        data = {"rate_ml_per_h": ml_h, "at": at, "session_version": session.version}
        return nurse.post(sheet + "rate/", data)

    vitals = {**CALM, "at": _local(begin + dt.timedelta(minutes=10))}
    assert nurse.post(sheet + "vitals/", vitals).status_code == 302
    # 20 minutes after the vital signs: within the site's 25 (the package's 15 would refuse it)
    assert increase("51", 30).status_code == 302
    # 50 minutes after them: refused, naming the site's window
    refused = text(increase("102", 60))
    assert "none in the 25 minutes before" in refused
    rates = Order.objects.get(pk=order.pk).session.rate_changes.values_list(
        "rate_ml_per_h", flat=True
    )
    assert sorted(rates) == [25.5, 51.0]
