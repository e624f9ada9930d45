"""The pharmacy pages: the queue, verification (the rounding check, stale versions), dispensing
(errors next to the row at fault, typed values kept) and the lot look-up."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.core.library import packaged_library
from ivig.records.models import LimitEvent, Order
from ivig.records.services import courses, orders
from ivig.records.services.accounts import create_user
from ivig.records.services.patients import add_weight, confirm_weight

PACKAGED = packaged_library().version  # the drug library the package ships
X = "\N{MULTIPLICATION SIGN}"
TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = TODAY + dt.timedelta(days=5)
EXPIRY = START + dt.timedelta(days=210)  # lots good for seven months after the course
INDUCTION = courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                                place="hospital", start=START, days=2)  # fmt: skip


@pytest.fixture
def order(users: dict[str, Any], patient: Any) -> Order:
    """Day 1 of a 2-day LEMS induction: 85 g = 2 x 40 g + 1 x 5 g, planned."""
    first = courses.prescribe(users["prescriber"], patient.pk, INDUCTION).orders.first()
    assert first is not None
    return first


@pytest.fixture
def verified(users: dict[str, Any], order: Order) -> Order:
    return orders.verify(users["pharmacist"], order.pk, order.version)


def _shown(order: Order, **changes: Any) -> dict[str, Any]:
    """The verify form's POST: the version read and the dose and volume the page showed."""
    return {
        "version": order.version,
        "dose_g": order.dose_g,
        "volume_ml": order.volume_ml,
        **changes,
    }


def _lots(order: Order, rows: list[dict[str, Any]], extra: int = 1) -> dict[str, Any]:
    """The dispense form's POST: the management form, the version and the rows."""
    data: dict[str, Any] = {
        "version": order.version,
        "lots-TOTAL_FORMS": len(rows) + extra,
        "lots-INITIAL_FORMS": len(rows),
        "lots-MIN_NUM_FORMS": 0,
        "lots-MAX_NUM_FORMS": 12,
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"lots-{i}-{key}"] = value
    for i in range(len(rows), len(rows) + extra):
        for key in ("vial_size_g", "lot_number", "expiry", "count"):
            data[f"lots-{i}-{key}"] = ""
    return data


GOOD = [
    {
        "vial_size_g": "40",
        "lot_number": "P123",
        "expiry": str(EXPIRY),
        "count": "2",
        "product_id": "privigen-us",
    },
    {
        "vial_size_g": "5",
        "lot_number": "P124",
        "expiry": str(EXPIRY),
        "count": "1",
        "product_id": "privigen-us",
    },
]


def _no_inline(html: str) -> None:
    assert 'style="' not in html
    assert "<script>" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script of any kind
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        if f'id="{input_id}"' in html and 'type="hidden"' not in _tag(html, input_id):
            assert f'for="{input_id}"' in html, f"no label for {input_id}"


def _tag(html: str, input_id: str) -> str:
    found = re.search(rf'<[^>]*\bid="{re.escape(input_id)}"[^>]*>', html)
    return found.group(0) if found else ""


@pytest.mark.parametrize(
    ("role", "status"), [("pharmacist", 200), ("nurse", 403), ("prescriber", 403), ("admin", 403)]
)
def test_only_a_pharmacist_sees_the_queue(
    client_for: Callable[[str | None], Client], order: Order, role: str, status: int
) -> None:
    client = client_for(role)
    assert client.get("/pharmacy/").status_code == status
    assert client.get(f"/pharmacy/orders/{order.pk}/verify/").status_code == status
    assert client.get(f"/pharmacy/orders/{order.pk}/dispense/").status_code == status


def test_anonymous_is_sent_to_sign_in(client_for: Callable[[str | None], Client]) -> None:
    page = client_for(None).get("/pharmacy/")
    assert page.status_code == 302
    assert "/signin/" in page["Location"]


def test_an_unknown_order_is_not_found(client_for: Callable[[str | None], Client]) -> None:
    pharmacist = client_for("pharmacist")
    assert pharmacist.get("/pharmacy/orders/999/verify/").status_code == 404
    assert pharmacist.get("/pharmacy/orders/999/dispense/").status_code == 404


def test_the_queue_lists_a_planned_order(
    client_for: Callable[[str | None], Client], order: Order
) -> None:
    page = client_for("pharmacist").get("/pharmacy/")
    html = page.content.decode()
    assert "Lambert, Edward" in html
    assert str(START) in html
    assert "85 g" in html
    assert f"2 {X} 40 g + 1 {X} 5 g" in html
    assert f"/pharmacy/orders/{order.pk}/verify/" in html
    assert "Nothing to dispense" in html
    _no_inline(html)


def test_verify_shows_the_rounding_check_and_verifies(
    client_for: Callable[[str | None], Client], order: Order
) -> None:
    pharmacist = client_for("pharmacist")
    page = pharmacist.get(f"/pharmacy/orders/{order.pk}/verify/")
    html = page.content.decode()
    assert f"85 g = 2 {X} 40 g + 1 {X} 5 g" in html
    assert "85.0 kg" in html  # the dosing weight of the course plan
    assert "adjusted" in html  # its basis
    assert "0 %" in html  # the deviation from the prescribed dose
    assert "Sum of the steps" in html
    assert f"{order.volume_ml:g} mL" in html
    _no_inline(html)
    panel = pharmacist.get(f"/pharmacy/orders/{order.pk}/verify/", headers={"HX-Request": "true"})
    assert b"<html" not in panel.content  # htmx gets the panel only
    assert b"2 \xc3\x97 40 g" in panel.content
    assert 'name="dose_g" value="85.0"' in html  # the numbers shown go back with the form
    done = pharmacist.post(f"/pharmacy/orders/{order.pk}/verify/", _shown(order))
    assert done.status_code == 302
    assert Order.objects.get(pk=order.pk).status == "verified"
    queue = pharmacist.get("/pharmacy/").content.decode()
    assert "Verified: Lambert" in queue
    assert f"/pharmacy/orders/{order.pk}/dispense/" in queue


def test_a_stale_version_shows_a_conflict(
    client_for: Callable[[str | None], Client], order: Order
) -> None:
    pharmacist = client_for("pharmacist")
    page = pharmacist.post(
        f"/pharmacy/orders/{order.pk}/verify/", _shown(order, version=order.version - 1)
    )
    assert page.status_code == 409
    html = page.content.decode()
    assert "has changed since you read it" in html
    assert "Reload the order" in html
    assert Order.objects.get(pk=order.pk).status == "planned"
    pharmacist.post(f"/pharmacy/orders/{order.pk}/verify/", _shown(order))
    again = pharmacist.post(f"/pharmacy/orders/{order.pk}/verify/", _shown(order))
    assert again.status_code == 409
    assert "is verified: it cannot become verified" in again.content.decode()


def test_dispense_with_an_expired_lot_shows_the_error_next_to_the_expiry(
    client_for: Callable[[str | None], Client], verified: Order
) -> None:
    pharmacist = client_for("pharmacist")
    form = pharmacist.get(f"/pharmacy/orders/{verified.pk}/dispense/").content.decode()
    assert 'value="2"' in form  # the ordered count prefilled
    _no_inline(form)
    rows = [
        dict(GOOD[0]),
        dict(GOOD[1], lot_number="X-OLD-9", expiry=str(START - dt.timedelta(days=1))),
    ]
    page = pharmacist.post(f"/pharmacy/orders/{verified.pk}/dispense/", _lots(verified, rows))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="id_lots-1-expiry_error"' in html  # next to the expiry of the second row
    assert f"expires {START - dt.timedelta(days=1)}, before the infusion on {START}" in html
    assert 'value="X-OLD-9"' in html  # what was typed is kept
    assert 'value="P123"' in html
    assert "id_lots-0-expiry_error" not in html
    _no_inline(html)
    assert Order.objects.get(pk=verified.pk).status == "verified"


def test_dispense_vials_not_matching_the_order(
    client_for: Callable[[str | None], Client], verified: Order
) -> None:
    rows = [dict(GOOD[0], count="1"), GOOD[1]]
    page = client_for("pharmacist").post(
        f"/pharmacy/orders/{verified.pk}/dispense/", _lots(verified, rows)
    )
    html = page.content.decode()
    assert "the lots must hold the ordered vials: 2 x 40 g + 1 x 5 g" in html
    assert 'id="id_lots-0-count_error"' in html  # the 40 g row does not add up
    assert "id_lots-1-count_error" not in html


def test_dispense_an_unknown_size_and_a_missing_lot_number(
    client_for: Callable[[str | None], Client], verified: Order
) -> None:
    rows = [dict(GOOD[0], vial_size_g="2.5"), dict(GOOD[1], lot_number="")]
    html = (
        client_for("pharmacist")
        .post(f"/pharmacy/orders/{verified.pk}/dispense/", _lots(verified, rows))
        .content.decode()
    )
    assert 'id="id_lots-0-vial_size_g_error"' in html
    assert 'id="id_lots-1-lot_number_error"' in html


def test_a_good_dispense_with_a_second_lot(
    client_for: Callable[[str | None], Client], verified: Order
) -> None:
    pharmacist = client_for("pharmacist")
    rows = [dict(GOOD[0], count="1"), GOOD[1]]
    data = _lots(verified, rows)
    data.update({"lots-2-vial_size_g": "40", "lots-2-lot_number": "P125",
                 "lots-2-expiry": str(EXPIRY), "lots-2-count": "1",
                 "lots-2-product_id": "privigen-us"})  # fmt: skip
    page = pharmacist.post(f"/pharmacy/orders/{verified.pk}/dispense/", data)
    assert page.status_code == 302
    order = Order.objects.get(pk=verified.pk)
    assert order.status == "dispensed"
    assert sorted(order.lots.values_list("lot_number", flat=True)) == ["P123", "P124", "P125"]


def test_a_good_dispense(client_for: Callable[[str | None], Client], verified: Order) -> None:
    pharmacist = client_for("pharmacist")
    page = pharmacist.post(f"/pharmacy/orders/{verified.pk}/dispense/", _lots(verified, GOOD))
    assert page.status_code == 302
    assert Order.objects.get(pk=verified.pk).status == "dispensed"
    assert "Dispensed: Lambert" in pharmacist.get("/pharmacy/").content.decode()
    stale = pharmacist.post(f"/pharmacy/orders/{verified.pk}/dispense/", _lots(verified, GOOD))
    assert stale.status_code == 409
    assert "is dispensed: it cannot become dispensed" in stale.content.decode()


@pytest.mark.parametrize(
    ("role", "status"), [("pharmacist", 200), ("prescriber", 200), ("admin", 200), ("nurse", 403)]
)
def test_lot_look_up_finds_the_patient(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    verified: Order,
    role: str,
    status: int,
) -> None:
    lots = [orders.LotInput("P123", EXPIRY, 40, 2),
            orders.LotInput("P124", EXPIRY, 5, 1)]  # fmt: skip
    orders.dispense(users["pharmacist"], verified.pk, verified.version, lots)
    client = client_for(role)
    page = client.get("/pharmacy/lots/?lot=p123")
    assert page.status_code == status
    if status != 200:
        return
    html = page.content.decode()
    assert "Lambert, Edward" in html
    assert "MRN0001" in html
    assert str(START) in html
    assert "Privigen" in html
    assert f'href="/patients/{verified.patient_id}/"' in html
    assert "dispensed" in html
    _no_inline(html)
    none = client.get("/pharmacy/lots/?lot=NOPE", headers={"HX-Request": "true"})
    assert b"<html" not in none.content
    assert "No patient received lot “NOPE”" in none.content.decode()


# --- the safety checks of verification and dispensing (issue 5) ----------------------------------


def test_verify_refuses_an_order_of_another_library_and_links_to_the_re_plan(
    client_for: Callable[[str | None], Client], order: Order, library: Callable[..., str]
) -> None:
    """Requirements 46, 56: the page says a re-plan is needed (with the prescriber's link)
    before the pharmacist presses Verify, and the server refuses it."""
    library("2026.12.0")
    pharmacist = client_for("pharmacist")
    queue = pharmacist.get("/pharmacy/").content.decode()
    assert f"re-plan needed: library {PACKAGED}" in queue
    page = pharmacist.get(f"/pharmacy/orders/{order.pk}/verify/").content.decode()
    assert f"Re-plan needed: this order was planned with drug library {PACKAGED}" in page
    assert f'href="/courses/{order.course_id}/replan/"' in page
    _no_inline(page)
    refused = pharmacist.post(f"/pharmacy/orders/{order.pk}/verify/", _shown(order))
    assert refused.status_code == 409
    assert "re-plan needed" in refused.content.decode()
    assert Order.objects.get(pk=order.pk).status == "planned"


def test_verify_refuses_when_the_servers_recomputation_differs(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    order: Order,
    today: dt.date,
) -> None:
    """Requirement 56: a weight recorded since prescribing changes the plan: refused, with the
    differences named."""
    heavier = add_weight(users["nurse"], order.patient_id, today, 120, today=today)
    # +20 %: confirmed by a prescriber before any plan uses it (issue 14 item 8)
    confirm_weight(users["prescriber"], heavier.pk, "re-weighed", now=timezone.now())
    page = client_for("pharmacist").post(f"/pharmacy/orders/{order.pk}/verify/", _shown(order))
    assert page.status_code == 409
    html = page.content.decode()
    assert "re-plan needed: weight confirmed: 120 kg" in html  # issue 16 item 3
    assert "would be 95 g, not 85 g" in html  # 120 kg, 190 cm: 98.4 kg
    assert Order.objects.get(pk=order.pk).status == "planned"


def test_verify_refuses_numbers_that_are_not_the_orders(
    client_for: Callable[[str | None], Client], order: Order
) -> None:
    """Requirement 56: the dose and volume the page showed go back; a mismatch is refused,
    missing numbers too."""
    pharmacist = client_for("pharmacist")
    url = f"/pharmacy/orders/{order.pk}/verify/"
    page = pharmacist.post(url, _shown(order, dose_g=80))
    assert page.status_code == 409
    assert "your screen showed 80 g" in page.content.decode()
    assert pharmacist.post(url, {"version": order.version}).status_code == 400
    assert Order.objects.get(pk=order.pk).status == "planned"


def test_the_courses_prescriber_cannot_verify_it_on_the_page(
    users: dict[str, Any], patient: Any, client_for: Callable[[str | None], Client]
) -> None:
    """Requirement 16: a user holding both roles is warned and refused (403); another
    pharmacist verifies."""
    both = create_user(None, "dr.both", "infusion-chair-42-Xq", ["prescriber", "pharmacist"],
                       system=True)  # fmt: skip
    first = courses.prescribe(both, patient.pk, INDUCTION).orders.order_by("sequence").first()
    assert first is not None
    client = Client()
    client.force_login(both)
    url = f"/pharmacy/orders/{first.pk}/verify/"
    assert "You prescribed this course" in client.get(url).content.decode()
    refused = client.post(url, _shown(first))
    assert refused.status_code == 403
    assert "segregation of duties" in refused.content.decode()
    assert Order.objects.get(pk=first.pk).status == "planned"
    assert client_for("pharmacist").post(url, _shown(first)).status_code == 302


def test_dispense_a_lot_of_another_product_shows_the_error_on_its_row(
    client_for: Callable[[str | None], Client], verified: Order
) -> None:
    """Requirement 64: a 5 % product for a 10 % order is a hard limit, shown next to the
    product of the row at fault (the service names the row), counted, and nothing saved."""
    pharmacist = client_for("pharmacist")
    form = pharmacist.get(f"/pharmacy/orders/{verified.pk}/dispense/").content.decode()
    assert "Privigen (US) (the order&#x27;s product)" in form
    assert "selected>Choose the product on the label" in form  # no default (issue 16 item 12)
    assert '<label for="id_lots-0-product_id">' in form
    rows = [GOOD[0], dict(GOOD[1], product_id="octagam-5")]
    page = pharmacist.post(f"/pharmacy/orders/{verified.pk}/dispense/", _lots(verified, rows))
    html = page.content.decode()
    error = re.search(r'id="id_lots-1-product_id_error">([^<]*)<', html)
    assert error is not None
    assert "concentration mismatch" in error.group(1)
    assert "id_lots-0-product_id_error" not in html
    _no_inline(html)
    assert Order.objects.get(pk=verified.pk).status == "verified"
    assert LimitEvent.objects.get().rule == "concentration-mismatch"
