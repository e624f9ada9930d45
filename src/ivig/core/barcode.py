"""A GS1 barcode read by a scanner as keystrokes: the GTIN, lot and expiry of a vial.

GS1 General Specifications (release 24.0), section 3 (the Application Identifiers) and 7.8
(element strings): AI (01) GTIN, 14 digits with a mod-10 check digit (7.9.1); AI (10) batch or
lot number, up to 20 characters, variable length; AI (17) expiration date, YYMMDD, where a day
of 00 means the last day of the month (3.4.3) and the century is the one that puts the year
within 49 years behind or 50 years ahead of the current year (7.12). A variable-length element
not last in the string ends with FNC1, which a scanner types as the group separator (ASCII 29);
the scanner may type its symbology identifier first (``]d2`` GS1 DataMatrix, ``]C1``
GS1-128, ``]Q3`` GS1 QR code, ``]e0`` GS1 DataBar). The human-readable form puts each AI in
parentheses: ``(01)09506000134352(17)250531(10)ABC123``.

The pharmacy's dispensing page parses on the server what its "Scan" field sends (and the page's
script fills the lot and expiry fields with the same rules as the pharmacist scans).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from ivig.errors import InvalidInput

__all__ = ["GS", "Gs1Data", "gtin_check_digit", "parse_gs1"]

GS = "\x1d"  # FNC1 as a scanner types it (ASCII 29, group separator)
_SYMBOLOGY = re.compile(r"^\][A-Za-z][0-9]")  # ]d2, ]C1, ]Q3, ]e0 (ISO/IEC 15424)

# AI -> fixed length of its data (GS1 General Specifications figure 5.10.1-1: the AIs of
# predefined length), else the maximum length of a variable-length element.
_FIXED = {"00": 18, "01": 14, "02": 14, "11": 6, "12": 6, "13": 6, "15": 6, "16": 6, "17": 6,
          "20": 2}  # fmt: skip
_VARIABLE = {"10": 20, "21": 20, "22": 20, "30": 8, "37": 8, "240": 30, "241": 30, "90": 30}
_DATE_AIS = ("11", "12", "13", "15", "16", "17")


@dataclass(frozen=True, slots=True)
class Gs1Data:
    """What a scanned code says: the GTIN, lot and expiry (each ``None`` when absent) and every
    element string read, by AI."""

    gtin: str | None
    lot: str | None
    expiry: dt.date | None
    elements: dict[str, str] = field(default_factory=dict)


def gtin_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit of the digits before it (7.9.1): weights 3 and 1 from the
    right, the digit that brings the sum to a multiple of 10."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _date(text: str, ai: str, today: dt.date) -> dt.date:
    """YYMMDD (day 00: the last day of the month), the century by the sliding window (7.12)."""
    if not re.fullmatch(r"\d{6}", text):
        raise InvalidInput(f"({ai}) must be a date as YYMMDD, not '{text}'", field="scan")
    yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:])
    difference = yy - today.year % 100
    century = today.year // 100 * 100
    if difference >= 51:
        century -= 100
    elif difference <= -50:
        century += 100
    year = century + yy
    if not 1 <= mm <= 12:
        raise InvalidInput(f"({ai}) {text}: there is no month {mm}", field="scan")
    if dd == 0:
        dd = calendar.monthrange(year, mm)[1]
    try:
        return dt.date(year, mm, dd)
    except ValueError:
        raise InvalidInput(f"({ai}) {text} is not a date", field="scan") from None


def _elements_bracketed(text: str) -> list[tuple[str, str]]:
    found = re.findall(r"\((\d{2,4})\)([^(]*)", text)
    if not found or re.sub(r"\((\d{2,4})\)([^(]*)", "", text).strip():
        raise InvalidInput("the code in brackets could not be read: (AI)value...", field="scan")
    return [(ai, value.strip()) for ai, value in found]


def _elements_raw(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if text[i] == GS:
            i += 1
            continue
        ai = next((a for a in (text[i : i + 2], text[i : i + 3]) if a in _FIXED or a in _VARIABLE),
                  None)  # fmt: skip
        if ai is None:
            raise InvalidInput(
                f"the code has an application identifier this page does not read at "
                f"'{text[i : i + 4]}'",
                field="scan",
            )
        i += len(ai)
        if ai in _FIXED:
            value = text[i : i + _FIXED[ai]]
            if len(value) != _FIXED[ai]:
                raise InvalidInput(f"({ai}) needs {_FIXED[ai]} characters", field="scan")
            i += _FIXED[ai]
        else:
            end = text.find(GS, i)
            end = len(text) if end < 0 else end
            value = text[i:end]
            if len(value) > _VARIABLE[ai]:
                raise InvalidInput(
                    f"({ai}) is at most {_VARIABLE[ai]} characters: a separator (FNC1) is "
                    "missing after it",
                    field="scan",
                )
            i = end
        out.append((ai, value))
    return out


def parse_gs1(text: str, *, today: dt.date) -> Gs1Data:
    """Parse a GS1 element string as a scanner types it, or in its bracketed human-readable
    form. ``today`` fixes the century of a date (7.12). Raises InvalidInput naming the part
    that cannot be read: an unknown AI, a wrong length, a bad GTIN check digit, a bad date."""
    raw = text.strip().replace("<GS>", GS).replace("\\x1d", GS)
    raw = _SYMBOLOGY.sub("", raw).lstrip(GS)
    if not raw:
        raise InvalidInput("scan a code, or type it", field="scan")
    pairs = _elements_bracketed(raw) if raw.startswith("(") else _elements_raw(raw)
    elements = dict(pairs)
    gtin = elements.get("01")
    if gtin is not None and (
        not re.fullmatch(r"\d{14}", gtin) or gtin_check_digit(gtin[:-1]) != int(gtin[-1])
    ):
        raise InvalidInput(f"(01) {gtin} is not a valid GTIN (check digit)", field="scan")
    dates = {ai: _date(v, ai, today) for ai, v in elements.items() if ai in _DATE_AIS}
    lot = elements.get("10")
    if lot is not None and not lot:
        raise InvalidInput("(10) the lot number is empty", field="scan")
    return Gs1Data(gtin=gtin, lot=lot, expiry=dates.get("17"), elements=elements)
