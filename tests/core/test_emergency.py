"""The emergency number of the service's country (issue 16, item 8), from the packaged,
sourced table: 000 in Australia (Triple Zero, triplezero.gov.au), 911 in the US and Canada
(FCC), 112 in the EU; and the checks of a telephone number and its tel: link (RFC 3966)."""

from __future__ import annotations

import pytest

from ivig.core.emergency import emergency_number, emergency_numbers, is_phone, tel_uri


@pytest.mark.parametrize(
    ("country", "number", "verified"),
    [("AU", "000", True), ("au", "000", True), ("US", "911", True), ("CA", "911", True),
     ("GB", "999", False), ("NZ", "111", False), ("DE", "112", False), ("IE", "112", False)],
)  # fmt: skip
def test_a_countrys_number(country: str, number: str, verified: bool) -> None:
    found = emergency_number(country)
    assert found is not None
    assert (found.value, found.verified) == (number, verified)
    assert found.source.url.startswith("https://")


def test_an_unknown_country_has_none() -> None:
    assert emergency_number("XX") is None


def test_every_number_is_sourced_and_every_eu_state_is_there() -> None:
    numbers = emergency_numbers()
    eu = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
    assert {c: numbers[c].value for c in eu.split()} == dict.fromkeys(eu.split(), "112")
    assert all(n.source.title for n in numbers.values())


@pytest.mark.parametrize(
    ("text", "ok", "tel"),
    [
        ("000", True, "tel:000"),
        ("+61 2 9999 0000", True, "tel:+61299990000"),
        ("(02) 9999 0000", True, "tel:0299990000"),
        ("02-9999-0000", True, "tel:0299990000"),
        ("12", False, "tel:12"),
        ("call us", False, "tel:"),
        ("12+34", False, "tel:1234"),
        ("1" * 21, False, "tel:" + "1" * 21),
    ],
)
def test_a_phone_number_and_its_link(text: str, ok: bool, tel: str) -> None:
    assert is_phone(text) is ok
    assert tel_uri(text) == tel
