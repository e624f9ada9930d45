"""The usage report (issue 18): grams by product, indication and month, infusions, reactions per
100 infusions, checked against a direct count over the rows the test writes (three patients, two
products, two indications, two months, a short infusion with its grams given, one still
running, reactions, a cancelled and a deferred order not counted); the roles; the CSV and its
audit; the month boundary in the service's time zone."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import Forbidden, InvalidInput
from ivig.records.models import AuditEvent, Course, InfusionSession, Order, Reaction
from ivig.records.services import usage

STEPS = [{"start_min": 0, "end_min": 60, "rate_ml_per_h": 100, "volume_ml": 100}]


def _month(today: dt.date, n: int) -> dt.date:
    """The first day of the month ``n`` months from ``today``'s."""
    index = today.year * 12 + today.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _order(users: dict[str, Any], patient: Any, product: str, indication: str, day: dt.date,
           dose: float, status: str = "completed") -> Order:  # fmt: skip
    course = Course.objects.create(
        patient=patient, indication=indication, phase="maintenance", product_id=product,
        place="hospital", start=day, regimen={}, catalogue_version="test",
        plan={"dosing_weight": {"kg": 80, "basis": "actual"}}, prescribed_by=users["prescriber"],
    )  # fmt: skip
    return Order.objects.create(
        course=course, patient=patient, sequence=1, date=day, prescribed_g=dose, dose_g=dose,
        vials=[], volume_ml=dose * 10, steps=STEPS, status=status,
    )  # fmt: skip


def _infusion(users: dict[str, Any], patient: Any, product: str, indication: str,
              started: dt.datetime, dose: float, *, ended: bool = True,
              given: float | None = None) -> InfusionSession:  # fmt: skip
    order = _order(users, patient, product, indication, timezone.localdate(started), dose,
                   "completed" if ended else "in-progress")  # fmt: skip
    return InfusionSession.objects.create(
        order=order, state="closed" if ended else "running", started_at=started,
        started_by=users["nurse"], ended_at=started + dt.timedelta(hours=1) if ended else None,
        given_g=given, volume_given_ml=None if given is None else given * 10,
    )  # fmt: skip


def _reaction(users: dict[str, Any], session: InfusionSession, **kwargs: Any) -> Reaction:
    fields = {"severity": "mild", **kwargs}
    return Reaction.objects.create(
        session=session, at=session.started_at, symptoms=["chills"], recommended={},
        action_taken="paused", recorded_by=users["nurse"], **fields,
    )  # fmt: skip


@pytest.fixture
def seeded(
    users: dict[str, Any], make_patient: Callable[..., Any], today: dt.date
) -> dict[str, Any]:
    """Last month and this month: A on Privigen for LEMS (40 g, then a short stop: 12.5 g of
    40 given), B on Octagam for CIDP (60 g, two reactions in force: a corrected one and
    another), C on Octagam for CIDP still running (no grams yet); not counted: a reaction
    voided on A's first, C's cancelled order, B's deferred order (checked, never started), and
    B's infusion a year before the period."""
    a = make_patient(180, 80, mrn="MRN0001")
    b = make_patient(170, 70, mrn="MRN0002", family_name="Brown")
    c = make_patient(160, 60, mrn="MRN0003", family_name="Clark")
    last, this = _month(today, -1), _month(today, 0)
    a1 = _infusion(users, a, "privigen-us", "lems", _at(last.replace(day=10), 9), 40)
    a2 = _infusion(users, a, "privigen-us", "lems", _at(this, 8), 40, given=12.5)
    b1 = _infusion(users, b, "octagam-10", "cidp", _at(last.replace(day=5), 9), 60)
    c1 = _infusion(users, c, "octagam-10", "cidp", _at(this, 9), 30, ended=False)
    first = _reaction(users, b1)
    _reaction(users, b1, severity="moderate")
    _reaction(users, b1, supersedes=first, correction_reason="severity")  # replaces the first
    _reaction(users, a1, entered_in_error=True, correction_reason="wrong patient")  # a void
    _order(users, c, "privigen-us", "lems", this, 50, status="cancelled")
    deferred = _order(users, b, "octagam-10", "cidp", this, 60, status="deferred")
    InfusionSession.objects.create(
        order=deferred, checked_by=users["nurse"], checked_at=_at(this, 7)
    )
    _infusion(users, b, "octagam-10", "cidp", _at(_month(today, -12), 9), 60)  # before
    return {"a1": a1, "a2": a2, "b1": b1, "c1": c1, "last": last, "this": this}


def _direct(first: dt.date, last: dt.date) -> dict[str, dict[str, list[float]]]:
    """The direct count over the rows: per product, indication and month, [infusions, grams,
    infusions with a reaction in force, reactions in force, running]."""
    out: dict[str, dict[str, list[float]]] = {"product": {}, "indication": {}, "month": {}}
    for s in InfusionSession.objects.select_related("order__course"):
        if s.started_at is None:
            continue
        local = timezone.localtime(s.started_at).date().replace(day=1)
        if not first <= local <= last:
            continue
        grams = s.given_g if s.given_g is not None else (s.order.dose_g if s.ended_at else 0)
        n = s.reactions.filter(superseded_by__isnull=True, entered_in_error=False).count()
        keys = {
            "product": s.order.course.product_id,
            "indication": s.order.course.indication,
            "month": local.strftime("%Y-%m"),
        }
        for group, key in keys.items():
            row = out[group].setdefault(key, [0, 0.0, 0, 0, 0])
            row[0] += 1
            row[1] += grams
            row[2] += n > 0
            row[3] += n
            row[4] += s.ended_at is None
    return out


def _rows(rows: list[usage.UsageRow]) -> dict[str, list[float]]:
    return {
        r.key: [r.infusions, r.grams, r.with_reaction, r.reactions, r.running]
        for r in rows
        if r.infusions
    }


def test_the_figures_against_a_direct_count(
    users: dict[str, Any], seeded: dict[str, Any], today: dt.date
) -> None:
    report = usage.usage_report(users["pharmacist"], today=today)
    assert (report.first, report.last) == (_month(today, -11), _month(today, 0))
    assert len(report.by_month) == 12  # every month of the period, with or without infusions
    direct = _direct(report.first, report.last)
    assert _rows(report.by_product) == direct["product"]
    assert _rows(report.by_indication) == direct["indication"]
    assert _rows(report.by_month) == direct["month"]
    # and the same, written out
    assert _rows(report.by_product) == {
        "privigen-us": [2, 52.5, 0, 0, 0],  # 40 g + 12.5 g given of a 40 g dose
        "octagam-10": [2, 60.0, 1, 2, 1],  # 60 g; C's still running: no grams yet
    }
    assert [r.name for r in report.by_indication] == [
        "Chronic inflammatory demyelinating polyneuropathy",
        "Lambert-Eaton myasthenic syndrome",
    ]
    assert report.by_product[0].name == "Octagam 10% (US/EU)"
    last, this = seeded["last"].strftime("%Y-%m"), seeded["this"].strftime("%Y-%m")
    assert _rows(report.by_month) == {last: [2, 100.0, 1, 2, 0], this: [2, 12.5, 0, 0, 1]}
    total = report.total
    assert (total.infusions, total.grams, total.running, total.reactions) == (4, 112.5, 1, 2)
    assert total.reactions_per_100.as_dict() == {
        "numerator": 1, "denominator": 4, "value": 25.0, "scale": "per 100 infusions",
    }  # fmt: skip
    assert "grams given" in report.as_dict()["grams_rule"]


def test_a_period_of_one_month(users: dict[str, Any], seeded: dict[str, Any]) -> None:
    this = seeded["this"]
    report = usage.usage_report(users["admin"], first=this, last=this)
    assert [r.key for r in report.by_month] == [this.strftime("%Y-%m")]
    assert (report.total.infusions, report.total.grams) == (2, 12.5)
    assert report.total.reactions_per_100.value == 0.0


def test_an_empty_period_has_no_made_up_figures(users: dict[str, Any], today: dt.date) -> None:
    report = usage.usage_report(users["admin"], today=today)
    assert report.total.infusions == 0
    assert report.total.reactions_per_100.value is None
    assert report.by_product == []
    assert report.by_indication == []


def test_only_the_admin_and_the_pharmacist(users: dict[str, Any], today: dt.date) -> None:
    for role in ("nurse", "prescriber"):
        with pytest.raises(Forbidden):
            usage.usage_report(users[role], today=today)
        with pytest.raises(Forbidden):
            usage.export_usage(users[role], today=today)


def test_a_wrong_period_is_refused(users: dict[str, Any], today: dt.date) -> None:
    with pytest.raises(InvalidInput) as caught:
        usage.usage_report(users["admin"], first=today, last=_month(today, -1))
    assert caught.value.field == "to"
    with pytest.raises(InvalidInput):
        usage.usage_report(users["admin"], first=_month(today, -36), last=today)
    with pytest.raises(InvalidInput) as bad:
        usage.parse_month("2026-13", "from")
    assert bad.value.field == "from"
    assert usage.parse_month("2026-02", "from") == dt.date(2026, 2, 1)


def test_the_csv_is_an_audited_export(
    users: dict[str, Any], seeded: dict[str, Any], today: dt.date
) -> None:
    """One ``export`` event with the period; no event per patient (aggregates only)."""
    before = AuditEvent.objects.count()
    report, text = usage.export_usage(users["pharmacist"], today=today)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["group"] for r in rows].count("month") == 12
    total = rows[-1]
    assert total == {
        "group": "total", "key": "total", "name": "All infusions", "infusions": "4",
        "grams": "112.5", "running": "1", "infusions_with_reaction": "1", "reactions": "2",
        "reactions_per_100": "25",
    }  # fmt: skip
    octagam = next(r for r in rows if r["key"] == "octagam-10")
    assert (octagam["grams"], octagam["reactions_per_100"]) == ("60", "50")
    events = list(AuditEvent.objects.order_by("seq")[before:])
    assert [(e.action, e.entity, e.patient_id) for e in events] == [("export", "usage csv", None)]
    assert events[0].after == {
        "from": report.first.strftime("%Y-%m"), "to": report.last.strftime("%Y-%m"),
        "rows": len(rows), "infusions": 4,
    }  # fmt: skip


@pytest.fixture
def sydney(settings: Any) -> Iterator[zoneinfo.ZoneInfo]:
    """The service in Sydney (UTC+10 or +11): a local month starts the day before in UTC."""
    settings.TIME_ZONE = "Australia/Sydney"
    zone = zoneinfo.ZoneInfo("Australia/Sydney")
    timezone.activate(zone)
    yield zone
    timezone.deactivate()


def test_the_month_boundary_is_the_services(
    users: dict[str, Any], patient: Any, today: dt.date, sydney: zoneinfo.ZoneInfo
) -> None:
    """Two infusions an hour apart across local midnight at the start of this month: in UTC
    both are last month's; in Sydney one is last month's, the other this month's."""
    this = _month(today, 0)
    midnight = dt.datetime.combine(this, dt.time(0), tzinfo=sydney)
    before = _infusion(users, patient, "privigen-us", "lems",
                       midnight - dt.timedelta(minutes=30), 20)  # fmt: skip
    after = _infusion(users, patient, "privigen-us", "lems",
                      midnight + dt.timedelta(minutes=30), 30)  # fmt: skip
    assert before.started_at.astimezone(dt.UTC).month == after.started_at.astimezone(dt.UTC).month
    report = usage.usage_report(users["admin"], first=_month(today, -1), last=this)
    assert [(r.key, r.infusions, r.grams) for r in report.by_month] == [
        (_month(today, -1).strftime("%Y-%m"), 1, 20.0),
        (this.strftime("%Y-%m"), 1, 30.0),
    ]
    only_this = usage.usage_report(users["admin"], first=this, last=this)
    assert (only_this.total.infusions, only_this.total.grams) == (1, 30.0)
