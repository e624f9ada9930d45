"""Requirement 55 (transparency): every number on the run sheet shows its basis, and each mL/h
printed is derived again here from the printed inputs alone.

The run sheet (and its print view) of orders for several products, units and weights is parsed
with ``html.parser``; each printed calculation is redone with exact decimal arithmetic from the
numbers printed in it (not from the order or the library), and must give the printed result:
the pump rate of each step (mg/kg/min x kg x 60 / mg/mL, or the label's mL/kg/h x kg, or
mL/kg/min x kg x 60; rounded down to 0.1 mL/h), the unit conversions, the step volumes and the
last step's time, the label's maximum, the ordered dose, the vials and the volume. Every mL/h on
the sheet of an order not yet started is one of these derived numbers; the weight and the
concentration in each calculation are the ones printed as the basis; the library (catalogue)
version and the dosing-weight basis are printed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.core.library import packaged_library
from ivig.records.models import Order
from ivig.records.services import courses

PACKAGED = packaged_library().version  # the catalogue_version shipped

TIMES, DIVIDE, ARROW, MINUS = "\u00d7", "\u00f7", "\u2192", "\u2212"
PACKAGED = packaged_library().version  # the drug library the package ships
NUMBER = r"\d+(?:\.\d+)?"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    row: Element | None = None  # the step row (``data-step``) it is in
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.parts)).strip()


class Sheet(HTMLParser):
    """The elements a test asks about (``data-calc``, the step rows, the basis values), each
    with its whole text, and the text of the page as a reader sees it."""

    WATCHED = ("data-calc", "data-step")
    CLASSES = ("pump-rate", "dosing-weight", "weight-basis", "concentration", "catalogue-version")

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[Element] = []
        self.found: list[Element] = []
        self.words: list[str] = []
        self.skip = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self.skip += 1
        if tag in VOID:
            return
        values = {k: v or "" for k, v in attrs}
        classes = values.get("class", "").split()
        watched = any(a in values for a in self.WATCHED) or any(c in classes for c in self.CLASSES)
        row = next((e for e in reversed(self.open) if "data-step" in e.attrs), None)
        element = Element(tag, values, row)
        self.open.append(element)
        if watched:
            self.found.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self.skip -= 1
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i].tag == tag:
                del self.open[i:]
                break

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.words.append(data)
        for element in self.open:
            element.parts.append(data)

    def calcs(self, kind: str) -> list[str]:
        return [e.text for e in self.found if e.attrs.get("data-calc") == kind]

    def one(self, css_class: str) -> str:
        texts = [e.text for e in self.found if css_class in e.attrs.get("class", "").split()]
        assert texts, css_class
        assert len(set(texts)) == 1, (css_class, texts)
        return texts[0]

    def rows(self) -> list[Element]:
        return [e for e in self.found if "data-step" in e.attrs]

    def within(self, row: Element, kind: str) -> list[str]:
        """The texts of a row's elements with ``data-calc`` = ``kind`` (or that class)."""
        return [
            e.text
            for e in self.found
            if e.row is row
            and (e.attrs.get("data-calc") == kind or kind in e.attrs.get("class", "").split())
        ]

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.words))


def d(text: str) -> Decimal:
    return Decimal(text)


def floor_tenth(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_FLOOR)


def half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


RATE = re.compile(
    rf"^(?P<value>{NUMBER}) (?P<unit>mg/kg/min|mL/kg/min|mL/kg/h) {TIMES} (?P<kg>{NUMBER}) kg"
    rf"(?: {TIMES} 60(?: {DIVIDE} (?P<conc>{NUMBER}) mg/mL)?)? = (?P<raw>{NUMBER})"
    rf"(?: {ARROW} (?P<rate>{NUMBER}))? mL/h$"
)


def redo_rate(text: str) -> tuple[Decimal, dict[str, str]]:
    """mL/h from a printed calculation, unrounded, with the printed parts."""
    m = RATE.match(text)
    assert m is not None, text
    value, kg, unit = d(m["value"]), d(m["kg"]), m["unit"]
    if unit == "mg/kg/min":
        assert m["conc"] is not None, text
        raw = value * kg * 60 / d(m["conc"])
    elif unit == "mL/kg/min":
        assert m["conc"] is None, text
        assert f"{TIMES} 60" in text, text
        raw = value * kg * 60
    else:
        assert f"{TIMES} 60" not in text, text
        raw = value * kg
    return raw, m.groupdict()


def check_sheet(text: str, *, started: bool = False) -> dict[str, Any]:
    """Redo every calculation the sheet prints; return what was derived."""
    sheet = Sheet(text)
    weight = sheet.one("dosing-weight")
    kg = re.fullmatch(rf"({NUMBER}) kg", weight)
    assert kg is not None, weight
    concentration = re.fullmatch(rf"({NUMBER}) mg/mL", sheet.one("concentration"))
    assert concentration is not None
    derived: set[Decimal] = set()

    # each step: the pump rate from the printed rate, weight and concentration
    rows = sheet.rows()
    assert rows, "no rate step printed"
    volumes: list[Decimal] = []
    rates: list[Decimal] = []
    for row in rows:
        (calc,) = sheet.within(row, "rate")
        raw, parts = redo_rate(calc)
        assert half_up(raw, 4) == d(parts["raw"]), calc
        rate = floor_tenth(raw)
        assert rate == d(parts["rate"]), calc
        assert parts["kg"] == kg.group(1), (calc, weight)
        if parts["conc"] is not None:
            assert d(parts["conc"]) == d(concentration.group(1)), calc
        (pump,) = sheet.within(row, "pump-rate")
        assert d(pump.removesuffix(" mL/h")) == rate, (pump, calc)
        rates.append(rate)
        derived.add(rate)
        # the conversion to mg/kg/min, when the label's unit is another
        for conversion in sheet.within(row, "conversion"):
            m = re.fullmatch(
                rf"({NUMBER}) (mL/kg/min|mL/kg/h) {TIMES} ({NUMBER}) mg/mL( {DIVIDE} 60)? = "
                rf"({NUMBER}) mg/kg/min",
                conversion,
            )
            assert m is not None, conversion
            mg = d(m.group(1)) * d(m.group(3)) / (60 if m.group(4) else 1)
            assert half_up(mg, 3) == d(m.group(5)), conversion
            assert (m.group(2) == "mL/kg/h") == bool(m.group(4)), conversion
        # the step's volume (the last step: the rest of the dose, and its time)
        (volume,) = sheet.within(row, "volume")
        m = re.fullmatch(
            rf"this step: ({NUMBER}) mL/h {TIMES} ({NUMBER}) min {DIVIDE} 60 = ({NUMBER}) mL",
            volume,
        )
        if m is not None:
            assert d(m.group(1)) == rate, volume
            assert half_up(d(m.group(1)) * d(m.group(2)) / 60, 2) == d(m.group(3)), volume
            volumes.append(d(m.group(3)))
            continue
        m = re.fullmatch(
            rf"this step: the rest of the dose, ({NUMBER}) {MINUS} ({NUMBER}) = ({NUMBER}) mL",
            volume,
        )
        assert m is not None, volume
        assert row is rows[-1], "only the last step takes the rest"
        assert d(m.group(2)) == sum(volumes, Decimal(0)), volume
        assert d(m.group(1)) - d(m.group(2)) == d(m.group(3)), volume
        (duration,) = sheet.within(row, "duration")
        t = re.fullmatch(
            rf"({NUMBER}) mL {DIVIDE} ({NUMBER}) mL/h {TIMES} 60 = ({NUMBER}) min", duration
        )
        assert t is not None, duration
        assert d(t.group(1)) == d(m.group(3)), duration
        assert d(t.group(2)) == rate, duration
        assert half_up(d(t.group(1)) / d(t.group(2)) * 60, 1) == d(t.group(3)), duration
        total = d(m.group(1))

    # the label's maximum (a hard limit, stored rounded down to 0.1 mL/h) and the ceiling
    (label,) = sheet.calcs("label-max")
    raw, parts = redo_rate(label)
    assert half_up(raw, 4) == d(parts["raw"]), label
    assert Decimal(0) <= raw - d(parts["rate"]) < Decimal("0.1"), label  # rounded down, 0.1 mL/h
    assert parts["kg"] == kg.group(1)
    label_max = d(parts["rate"])
    derived.add(label_max)
    ceiling = re.search(rf"This plan's ceiling\s*({NUMBER}) mL/h", sheet.text)
    assert ceiling is not None
    assert d(ceiling.group(1)) == max(rates)
    assert max(rates) <= label_max

    # the dose: ordered g/kg x kg, the vials, the volume
    (ordered,) = sheet.calcs("ordered")
    m = re.fullmatch(rf"({NUMBER}) g/kg {TIMES} ({NUMBER}) kg = ({NUMBER}) g", ordered)
    assert m is not None, ordered
    assert m.group(2) == kg.group(1)
    assert abs(d(m.group(1)) * d(m.group(2)) - d(m.group(3))) < Decimal("0.01"), ordered
    (vials,) = sheet.calcs("vials")
    m = re.fullmatch(rf"((?:\d+ {TIMES} {NUMBER} g(?: \+ )?)+) = ({NUMBER}) g", vials)
    assert m is not None, vials
    packs = re.findall(rf"(\d+) {TIMES} ({NUMBER}) g", m.group(1))
    dose = sum((d(n) * d(g) for n, g in packs), Decimal(0))
    assert dose == d(m.group(2)), vials
    (volume,) = sheet.calcs("dose-volume")
    m = re.fullmatch(
        rf"({NUMBER}) g {TIMES} 1000 {DIVIDE} ({NUMBER}) mg/mL = ({NUMBER}) mL", volume
    )
    assert m is not None, volume
    assert d(m.group(1)) == dose, volume
    assert d(m.group(2)) == d(concentration.group(1)), volume
    assert d(m.group(1)) * 1000 / d(m.group(2)) == d(m.group(3)), volume
    assert d(m.group(3)) == total, "the steps give the whole dose"

    # every mL/h printed on a sheet not yet started is one of the numbers derived above
    if not started:
        for value in re.findall(rf"(?<!to )(?<![\d.])({NUMBER}) mL/h", sheet.text):  # not "to 0.1"
            assert d(value) in derived, f"{value} mL/h is printed without its basis"
    return {"sheet": sheet, "kg": kg.group(1), "rates": rates, "label_max": label_max}


# --- the orders --------------------------------------------------------------------------------


CASES = [  # product (its label unit), the patient's weight, risks
    ("privigen-us", 70, []),  # mg/kg/min, 10 %
    ("gammagard-liquid", 63.3, ["diabetes"]),  # mL/kg/h; the at-risk cap in mg/kg/min
    ("octagam-10", 123.4, []),  # mL/kg/min
    ("flebogamma-5", 55.5, []),  # mL/kg/min, 5 %
    ("bivigam", 88.8, []),  # mg/kg/min by increments
    ("kiovig", 101, []),  # mL/kg/h
]


@pytest.fixture
def orders_for(
    users: dict[str, Any], make_patient: Callable[..., Any]
) -> Callable[[str, float, list[str]], Order]:
    def make(product: str, weight: float, risks: list[str]) -> Order:
        mrn = f"B-{product}"
        patient = make_patient(
            165, weight, weighed=timezone.localdate(), mrn=mrn, family_name="Basis",
            given_name=mrn, sex="female", date_of_birth=dt.date(1970, 3, 1),
            risk_codes=tuple(risks),
        )  # fmt: skip
        course = courses.prescribe(
            users["prescriber"],
            patient.pk,
            courses.CourseInput(indication="lems", phase="induction", product=product,
                                place="hospital", start=timezone.localdate(), days=2),
        )  # fmt: skip
        order = course.orders.order_by("sequence").first()
        assert order is not None
        return order

    return make


@pytest.mark.parametrize(("product", "weight", "risks"), CASES)
def test_every_rate_is_derived_again_from_the_printed_inputs(
    client_for: Callable[[str | None], Client],
    orders_for: Callable[[str, float, list[str]], Order],
    product: str,
    weight: float,
    risks: list[str],
) -> None:
    """Requirement 55: the sheet and its print view print each mL/h with the calculation
    that gives it; redone from the printed numbers, each gives the printed mL/h."""
    order = orders_for(product, weight, risks)
    client = client_for("pharmacist")
    for address in (f"/orders/{order.pk}/runsheet/", f"/orders/{order.pk}/runsheet/print/"):
        page = client.get(address)
        assert page.status_code == 200
        derived = check_sheet(page.content.decode())
        assert [float(r) for r in derived["rates"]] == [s["rate_ml_per_h"] for s in order.steps]
        assert derived["kg"] == f"{order.course.dosing_weight_kg:.1f}"
        sheet = derived["sheet"]
        # the library (catalogue) version and the dosing-weight basis, printed
        assert sheet.one("catalogue-version") == order.catalogue_version == PACKAGED
        assert sheet.one("weight-basis") == f"{order.course.weight_basis} weight"
        reason = order.course.plan["dosing_weight"]["reason"]
        assert reason
        assert reason in sheet.text
        assert "rounded down to 0.1 mL/h" in sheet.text


def test_a_started_sheet_keeps_its_basis(
    client_for: Callable[[str | None], Client], users: dict[str, Any], ready_basis: Order
) -> None:
    """Requirement 55 once the infusion runs: the step calculations still redo exactly, and
    the recorded rates beside them are the pump's, not computed."""
    page = client_for("nurse").get(f"/orders/{ready_basis.pk}/runsheet/")
    derived = check_sheet(page.content.decode(), started=True)
    assert derived["label_max"] == 408
    assert "pump rate now: 25.5 mL/h" in derived["sheet"].text


@pytest.fixture
def ready_basis(users: dict[str, Any], dispensed: Order) -> Order:
    from ivig.records.services import infusions

    now = timezone.now()
    answers = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False,
                                     hydrated=True)  # fmt: skip
    infusions.pre_check(users["nurse"], dispensed.pk, answers, now=now)
    baseline = infusions.VitalsInput(pulse_per_min=74)  # before the start (issue 16 item 7)
    infusions.record_vitals(users["nurse"], dispensed.pk, now, baseline, now=now)
    version = Order.objects.get(pk=dispensed.pk).version
    infusions.start_infusion(users["nurse"], dispensed.pk, version, now, visual_inspection_ok=True,
                             now=now)  # fmt: skip
    return dispensed


def test_a_tampered_basis_is_caught() -> None:
    """The check itself fails when a printed result does not follow from its inputs (a test
    that could not fail would prove nothing)."""
    good = (
        '<strong class="dosing-weight">85.0 kg</strong>'
        '<span class="weight-basis">adjusted weight</span>'
        '<strong class="concentration">100 mg/mL</strong>'
    )
    row = (
        '<table><tr data-step="1"><td><strong class="pump-rate">{rate} mL/h</strong>'
        f'<div class="calc" data-calc="rate">0.5 mg/kg/min {TIMES} 85.0 kg {TIMES} 60 {DIVIDE} '
        f"100 mg/mL = 25.5 {ARROW} {{rate}} mL/h</div></td></tr></table>"
    )
    with pytest.raises(AssertionError):
        check_sheet(good + row.format(rate="25.6"))
    with pytest.raises(AssertionError):
        redo_rate(f"0.5 mg/kg/min {TIMES} 85.0 kg {TIMES} 60 = 25.5 {ARROW} 25.5 mL/h")
    raw, _ = redo_rate(f"0.5 mL/kg/h {TIMES} 76.3 kg = 38.15 {ARROW} 38.1 mL/h")
    assert floor_tenth(raw) == Decimal("38.1")
