"""A GS1 code typed by a scanner: worked examples after the GS1 General Specifications (AIs 01,
10, 17; FNC1 as ASCII 29; 7.9.1 check digit; 7.12 century; 3.4.3 day 00)."""

from __future__ import annotations

import datetime as dt

import pytest

from ivig.core.barcode import GS, gtin_check_digit, parse_gs1
from ivig.errors import InvalidInput

TODAY = dt.date(2026, 12, 7)
# GS1's own example GTIN (General Specifications and GS1 Digital Link): 0950600013435 + 2.
GTIN = "09506000134352"


def test_check_digit_worked_example() -> None:
    # 7.9.1: digits 0950600013435 weighted 3,1,3,... from the right sum to 58: 60 - 58 = 2.
    assert gtin_check_digit("0950600013435") == 2
    assert gtin_check_digit("0061414100002") == 9


@pytest.mark.parametrize(
    "typed",
    [
        # GS1 DataMatrix as a scanner types it: ]d2, the fixed AIs, then the variable lot last.
        f"]d201{GTIN}17271231" + "10AB12C",
        # GS1-128: ]C1, the lot first, ended by FNC1 (ASCII 29) before the next AI.
        f"]C110AB12C{GS}01{GTIN}17271231",
        # no symbology prefix; a leading FNC1
        f"{GS}01{GTIN}10AB12C{GS}17271231",
        # the human-readable form printed under the code
        f"(01){GTIN}(17)271231(10)AB12C",
        "(01) " + GTIN + " (10) AB12C (17) 271231",
    ],
)
def test_gtin_lot_and_expiry(typed: str) -> None:
    data = parse_gs1(typed, today=TODAY)
    assert (data.gtin, data.lot, data.expiry) == (GTIN, "AB12C", dt.date(2027, 12, 31))


def test_day_00_is_the_last_day_of_the_month() -> None:
    # 3.4.3: "270200" is 28 February 2027; "280200" is 29 February 2028 (a leap year).
    assert parse_gs1("17270200", today=TODAY).expiry == dt.date(2027, 2, 28)
    assert parse_gs1("17280200", today=TODAY).expiry == dt.date(2028, 2, 29)


def test_century_sliding_window() -> None:
    # 7.12: in 2026, YY 76 (50 ahead) is 2076, YY 77 (51 ahead) is 1977.
    assert parse_gs1("17760101", today=TODAY).expiry == dt.date(2076, 1, 1)
    assert parse_gs1("17770101", today=TODAY).expiry == dt.date(1977, 1, 1)


def test_other_ais_are_read_and_kept() -> None:
    data = parse_gs1(f"01{GTIN}21SER1{GS}10L1{GS}11260101", today=TODAY)
    assert data.elements["21"] == "SER1"
    assert data.lot == "L1"
    assert data.expiry is None


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "scan a code"),
        ("0109506000134353", "check digit"),
        ("17271301", "no month 13"),
        ("17270231", "not a date"),
        ("99ABC", "does not read"),
        ("0112345", "14 characters"),
        ("10" + "X" * 21 + "17271231", "separator"),
        ("(01)" + GTIN + "junk(", "could not be read"),
    ],
)
def test_what_cannot_be_read_is_named(typed: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as raised:
        parse_gs1(typed, today=TODAY)
    assert raised.value.field == "scan"
