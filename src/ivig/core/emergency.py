"""The emergency telephone number of the service's country (issue 16, item 8), from the
packaged table ``data/emergency_numbers.toml`` (each number sourced: 000 in Australia, Triple
Zero; 911 in the US and Canada, FCC; 112 in the EU, the single European emergency number).

Pure: the country comes from the caller (``server/config.py`` reads ``IVIG_COUNTRY``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ivig.core.sourced import Reader, Source, Sourced, read_toml
from ivig.errors import CatalogueError

__all__ = ["FILE", "EmergencyPhone", "emergency_number", "emergency_numbers", "is_phone", "tel_uri"]

FILE = "emergency_numbers.toml"
# A telephone number as a person writes it: digits, spaces, dots, dashes and brackets, a "+"
# only in front; 3 to 20 digits (ITU-T E.164 numbers have at most 15; room for an extension's
# digits is not needed in a tel: link).
_PHONE = re.compile(r"^\+?[0-9 ().-]+$")


def is_phone(text: str) -> bool:
    """Whether ``text`` is a telephone number as written ("000", "+61 2 9999 0000",
    "(02) 9999 0000")."""
    digits = sum(c.isdigit() for c in text)
    return len(text) <= 30 and bool(_PHONE.match(text)) and 3 <= digits <= 20


def tel_uri(text: str) -> str:
    """The ``tel:`` link of a number (RFC 3966): its digits, with the "+" of an international
    one; "+61 2 9999 0000" -> "tel:+61299990000"."""
    digits = "".join(c for c in text if c.isdigit())
    return f"tel:{'+' if text.strip().startswith('+') else ''}{digits}"


@dataclass(frozen=True, slots=True)
class EmergencyPhone:
    """The emergency number the service gives its patients, and whether it is verified: a
    number the table marks unverified stays flagged wherever it is shown (the patient pages,
    the handout); a site's own ``IVIG_EMERGENCY_NUMBER`` is the site's choice, not flagged."""

    number: str
    verified: bool = True

    @property
    def tel(self) -> str:
        return tel_uri(self.number)


def _read(folder: Traversable | Path) -> dict[str, Sourced[str]]:
    data = read_toml(folder, FILE)
    sources = {
        key: Source(key, str(t.get("title", "")), str(t.get("url", "")), str(t.get("ref", "")))
        for key, t in data.get("sources", {}).items()
    }
    reader = Reader(data.get("numbers", {}), f"{FILE} [numbers]", sources)
    out: dict[str, Sourced[str]] = {}
    for country in reader.table:
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise reader.fail(country, "is not an ISO 3166-1 alpha-2 country code")
        number = reader.required(country)
        if not isinstance(number.value, str) or not is_phone(number.value):
            raise reader.fail(country, "value must be a telephone number, as text")
        out[country] = number
    if not out:
        raise CatalogueError(f"{FILE}: no [numbers]")
    return out


@cache
def emergency_numbers() -> dict[str, Sourced[str]]:
    """Every country's number: ISO 3166-1 alpha-2 code -> the sourced number."""
    return _read(resources.files("ivig").joinpath("data"))


def emergency_number(country: str) -> Sourced[str] | None:
    """The emergency number of ``country`` (``"AU"`` -> 000), or ``None`` if not in the table."""
    return emergency_numbers().get(country.upper())
