"""``ivig demo``: demo users and fictional LEMS patients with history, made through the
services (so all of it is audited)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import secrets
from dataclasses import dataclass
from typing import Any

import typer

from ivig.commands.common import database_label, open_database
from ivig.errors import Conflict

# --- ivig demo -----------------------------------------------------------------------------------

DEMO_USERS = (
    ("demo-admin", "admin", "Dana", "Okafor"),
    ("demo-prescriber", "prescriber", "Priya", "Raman"),
    ("demo-pharmacist", "pharmacist", "Tomas", "Lindqvist"),
    ("demo-nurse", "nurse", "Grace", "Mwangi"),
)


@dataclass(frozen=True, slots=True)
class _DemoPatient:
    mrn: str
    family_name: str
    given_name: str
    born: dt.date
    sex: str
    height_cm: float
    weight_kg: float  # at the start of the induction
    weight_now_kg: float  # a few days ago, for the maintenance
    risk_codes: tuple[str, ...]
    conditions: str
    product: str
    induction_days_ago: int  # the first induction day, so many days before today
    maintenance_in_days: int  # the first maintenance dose, so many days after today
    maintenance_g_per_kg: float
    every_weeks: int
    severity_measure: str
    severity_detail: str
    outcomes: tuple[tuple[str, float, float], ...]  # (measure, baseline, now)
    start_time: dt.time  # when the chair is booked
    reaction: bool  # a mild headache on the first infusion
    next_verified: bool  # the pharmacy has verified the first maintenance dose already


DEMO_PATIENTS = (
    _DemoPatient(
        mrn="DEMO-0001",
        family_name="Hartley",
        given_name="Margaret",
        born=dt.date(1957, 3, 14),
        sex="female",
        height_cm=163,
        weight_kg=71.0,
        weight_now_kg=70.2,
        risk_codes=(),
        conditions="LEMS, non-paraneoplastic (CT chest and FDG-PET negative); hypertension",
        product="privigen-us",
        induction_days_ago=33,
        maintenance_in_days=2,
        maintenance_g_per_kg=1.0,
        every_weeks=4,
        severity_measure="qms",
        severity_detail="QMG 14; proximal leg weakness, cannot rise from a chair unaided",
        outcomes=(("3tug", 38.5, 27.9), ("qmg", 14, 10), ("mrc-sum", 48, 52)),
        start_time=dt.time(9, 0),
        reaction=False,
        next_verified=False,
    ),
    _DemoPatient(
        mrn="DEMO-0002",
        family_name="Novak",
        given_name="Peter",
        born=dt.date(1961, 9, 2),
        sex="male",
        height_cm=178,
        weight_kg=92.0,
        weight_now_kg=90.5,
        risk_codes=("malignancy",),
        conditions="LEMS with small-cell lung cancer (chemoradiotherapy completed); ex-smoker",
        product="gamunex-c",
        induction_days_ago=30,
        maintenance_in_days=5,
        maintenance_g_per_kg=1.0,
        every_weeks=4,
        severity_measure="mrc",
        severity_detail="MRC sum score 44; dry mouth, ptosis",
        outcomes=(("3tug", 45.0, 39.2), ("qmg", 17, 15), ("mrc-sum", 44, 47)),
        start_time=dt.time(9, 30),
        reaction=False,
        next_verified=False,
    ),
    _DemoPatient(
        mrn="DEMO-0003",
        family_name="Brennan",
        given_name="Sofia",
        born=dt.date(1984, 6, 21),
        sex="female",
        height_cm=168,
        weight_kg=64.0,
        weight_now_kg=64.5,
        risk_codes=(),
        conditions="LEMS, non-paraneoplastic; autoimmune hypothyroidism on levothyroxine",
        product="octagam-10",
        induction_days_ago=37,
        maintenance_in_days=5,
        maintenance_g_per_kg=0.8,
        every_weeks=4,
        severity_measure="adl",
        severity_detail="needs help on stairs; falls twice a month",
        outcomes=(("3tug", 31.0, 22.4), ("qmg", 11, 7), ("mrc-sum", 52, 56)),
        start_time=dt.time(10, 0),
        reaction=True,
        next_verified=True,
    ),
)


def _at(start: dt.datetime, minute: float) -> dt.datetime:
    return start + dt.timedelta(minutes=minute)


def _vitals(rng: random.Random, *, unwell: bool = False) -> Any:
    from ivig.core.vitals import VITAL_SIGNS
    from ivig.records.services.infusions import VitalsInput

    values: dict[str, float | None] = {}
    for sign in VITAL_SIGNS:  # a typical reading; a mild reaction's rise when unwell
        low, high = sign.typical
        rise = sign.reaction_rise if unwell else 0
        if sign.integer:
            values[sign.field] = rng.randint(int(low), int(high)) + int(rise)
        else:
            values[sign.field] = round(rng.uniform(low, high) + rise, 1)
    return VitalsInput(**values)


def _give(
    order_id: int,
    users: dict[str, Any],
    start: dt.datetime,
    rng: random.Random,
    *,
    first: bool,
    reaction: bool,
    now: dt.datetime,
) -> None:
    """One past infusion through every step of the order flow, at realistic times: verified,
    dispensed with lots, checked, started, rate steps and vital signs on the protocol's
    checkpoints, (a mild headache: paused, paracetamol (a task the prescriber acknowledges),
    restarted at the last tolerated rate), ended, observed, closed."""
    from ivig.core.monitoring import (
        CheckReason,
        ReactionSeverity,
        recommended_action,
        vitals_schedule,
    )
    from ivig.core.rates import RateStep
    from ivig.records.library import current_library
    from ivig.records.models import InfusionSession, Order
    from ivig.records.services import infusions, orders

    protocol = current_library().monitoring
    pharmacist, nurse = users["pharmacist"], users["nurse"]
    order = Order.objects.get(pk=order_id)
    order = orders.verify(pharmacist, order.pk, order.version, now=start - dt.timedelta(hours=2))
    lots = [
        orders.LotInput(
            lot_number=f"{order.course.product_id[:2].upper()}{rng.randint(100000, 999999)}",
            expiry=order.date + dt.timedelta(days=400),
            vial_size_g=float(v["size_g"]),
            count=int(v["count"]),
        )
        for v in order.vials
    ]
    order = orders.dispense(
        pharmacist, order.pk, order.version, lots, now=start - dt.timedelta(hours=1)
    )
    infusions.pre_check(
        nurse,
        order.pk,
        infusions.CheckAnswers(
            infection=False,
            fever=False,
            feeling_unwell=False,
            hydrated=True,
            notes="well today; drinking well; no infection or fever in the past week",
        ),
        now=start - dt.timedelta(minutes=25),
    )
    baseline = _at(start, -5)  # the baseline vital signs before the start (issue 16 item 7)
    infusions.record_vitals(nurse, order.pk, baseline, _vitals(rng), now=now)
    order.refresh_from_db()
    infusions.start_infusion(
        nurse,
        order.pk,
        order.version,
        start,
        visual_inspection_ok=True,
        visual_inspection_notes="clear to slightly opalescent, colourless, no particles",
        now=start,  # charted at the chair as it happened (not a late entry)
    )

    def version() -> int:
        """The infusion session's version now (each pump change moves it on)."""
        return int(InfusionSession.objects.get(order_id=order.pk).version)

    # The pump's segments (minute, mL/h): the planned steps; after a mild reaction (in the
    # fourth step, or the last), the protocol's slower rate (the last tolerated one) until the
    # volume is in.
    planned = [(float(s["start_min"]), float(s["rate_ml_per_h"])) for s in order.steps]
    end = float(math.ceil(order.steps[-1]["end_min"]))  # the pump stops; noted to the minute
    events: list[tuple[float, int, str, float]] = []  # (minute, order at that minute, what, rate)
    segments = planned
    resume_at: float | None = None
    k = min(3, len(planned) - 1)
    if reaction and k >= 1 and planned[k][0] + 12 < float(order.steps[k]["end_min"]):
        at = planned[k][0] + 10
        advice = recommended_action(
            ReactionSeverity.mild,
            current_rate_ml_per_h=planned[k][1],
            last_tolerated_ml_per_h=planned[k - 1][1],
            reactions_today=0,
            protocol=protocol,
        )
        slower = advice.restart_max_ml_per_h or planned[k - 1][1]
        segments = [*planned[: k + 1], (at + 2, slower)]
        given = sum(r * (b - a) / 60 for (a, r), (b, _) in itertools.pairwise(segments))
        end = math.ceil(at + 2 + (order.volume_ml - given) / slower * 60)
        events += [(at, 2, "reaction", 0.0), (at + 1, 0, "vitals-unwell", 0.0)]
        resume_at = at + 2
    events += [
        (minute, 1, "resume" if minute == resume_at else "rate", rate)
        for minute, rate in segments[1:]
    ]

    # Vital signs on the protocol's checkpoints of the pump as it ran, and of the plan (the run
    # sheet shows the planned ones).
    def steps(pump: list[tuple[float, float]], last: float) -> list[RateStep]:
        return [
            RateStep(a, b, r, 0.0, r * (b - a) / 60, "protocol")
            for (a, r), (b, _) in zip(pump, [*pump[1:], (last, 0.0)], strict=True)
        ]

    checks = {
        round(c.minute)
        for c in vitals_schedule(steps(segments, end), observation_minutes=60, protocol=protocol)
        if c.reason is not CheckReason.end_of_observation
    }
    # The planned steps as they ran until the real end (as the run sheet's checkpoints:
    # infusions._until), so that the hourly checks of a longer infusion are recorded too.
    begun = [(minute, rate) for minute, rate in planned if minute < end] or planned[:1]
    checks |= {
        round(c.minute)
        for c in vitals_schedule(
            steps(begun, end), observation_minutes=60 if first else 20, protocol=protocol
        )
        if c.minute < end
    }
    events += [(float(minute), 0, "vitals", 0.0) for minute in checks]
    events.append((end, 3, "end", 0.0))

    def vitals(minute: float, *, unwell: bool = False) -> None:
        values = _vitals(rng, unwell=unwell)
        infusions.record_vitals(nurse, order.pk, _at(start, minute), values, now=now)

    for minute, _, what, rate in sorted(events):
        if what == "rate":
            infusions.record_rate(nurse, order.pk, version(), _at(start, minute), rate, now=now)
        elif what == "resume":  # at the last tolerated rate, as the protocol advises
            infusions.resume_infusion(  # after the vital signs, the symptoms resolved
                nurse,
                order.pk,
                version(),
                _at(start, minute),
                rate,
                symptoms_resolved=True,
                now=now,
            )
        elif what == "reaction":
            infusions.record_reaction(
                nurse,
                order.pk,
                version(),
                _at(start, minute),
                ["headache"],
                "headache 3/10: pump paused; paracetamol 1 g orally; prescriber told; "
                "restarted at the last tolerated rate; settled within 30 minutes",
                medicines_given="paracetamol 1 g orally",
                now=now,
            )
            for task in infusions.open_tasks(users["prescriber"]):
                infusions.acknowledge_task(
                    users["prescriber"],
                    task.pk,
                    "seen; paracetamol appropriate; continue at the last tolerated rate",
                    now=now,
                )
        elif what == "end":
            session = infusions.end_infusion(nurse, order.pk, _at(start, minute), now=now)
        else:
            vitals(minute, unwell=what == "vitals-unwell")
    closed = end + (session.observation_minutes or 0)
    vitals(closed)
    order.refresh_from_db()
    infusions.finish_observation(
        nurse,
        order.pk,
        order.version,
        _at(start, closed),
        "well at the end of the observation; cannula out; next dose confirmed",
        now=now,
    )


def _demo_patient(
    data: _DemoPatient,
    users: dict[str, Any],
    today: dt.date,
    now: dt.datetime,
    rng: random.Random,
) -> str:
    """One patient with the history of an induction and a planned maintenance course."""
    from django.utils import timezone

    from ivig.records.library import current_catalogue
    from ivig.records.services import courses, orders, outcomes, patients

    prescriber, nurse = users["prescriber"], users["nurse"]
    first_day = today - dt.timedelta(days=data.induction_days_ago)
    baseline = first_day - dt.timedelta(days=2)
    patient = patients.create_patient(
        prescriber,
        patients.PatientInput(
            mrn=data.mrn,
            family_name=data.family_name,
            given_name=data.given_name,
            date_of_birth=data.born,
            sex=data.sex,
            height_cm=data.height_cm,
            risk_codes=data.risk_codes,
            conditions=data.conditions,
            allergies="no known drug allergies",
            iga_status="normal",
            notes="FICTIONAL DEMO PATIENT",
        ),
        today=today,
    )
    patients.add_weight(prescriber, patient.pk, baseline, data.weight_kg, today=today)
    patients.record_eligibility(
        prescriber,
        patient.pk,
        patients.EligibilityInput(
            indication="lems",
            diagnosed_by_neurologist=True,
            neurologist="Dr Demo Neurologist",
            answers={
                "vgcc_antibodies": "positive",
                "electrophysiology": "consistent",
                "severity_measure": data.severity_measure,
            },
            severity_detail=data.severity_detail,
            alternative_therapy_failed=True,
            alternative_therapy="amifampridine 20 mg three times a day for 3 months and "
            "pyridostigmine 60 mg four times a day: inadequate response",
            review_date=first_day + dt.timedelta(days=182),
        ),
    )
    for measure, before, _ in data.outcomes:
        outcomes.record_outcome(prescriber, patient.pk, measure, before, baseline, today=today)
    induction = courses.prescribe(
        prescriber,
        patient.pk,
        courses.CourseInput(
            indication="lems",
            phase="induction",
            product=data.product,
            place="hospital",
            start=first_day,
            total_g_per_kg=2.0,
            days=2,
        ),
    )
    zone = timezone.get_current_timezone()
    for i, order in enumerate(induction.orders.order_by("sequence")):
        start = dt.datetime.combine(order.date, data.start_time, tzinfo=zone)
        reaction = data.reaction and i == 0
        _give(order.pk, users, start, rng, first=i == 0, reaction=reaction, now=now)
    recent = today - dt.timedelta(days=3)
    patients.add_weight(nurse, patient.pk, recent, data.weight_now_kg, today=today)
    for measure, _, after in data.outcomes:
        outcomes.record_outcome(prescriber, patient.pk, measure, after, recent, today=today)
    maintenance = courses.prescribe(
        prescriber,
        patient.pk,
        courses.CourseInput(
            indication="lems",
            phase="maintenance",
            product=data.product,
            place="infusion-centre",
            start=_open_day(today + dt.timedelta(days=data.maintenance_in_days)),
            dose_g_per_kg=data.maintenance_g_per_kg,
            every_weeks=data.every_weeks,
            count=3,
        ),
    )
    upcoming = maintenance.orders.order_by("sequence")
    if data.next_verified:
        first = upcoming[0]
        orders.verify(users["pharmacist"], first.pk, first.version)
    product = current_catalogue().product(data.product).display_name
    last_day = first_day + dt.timedelta(days=1)
    return (
        f"{data.mrn}  {data.family_name}, {data.given_name}: {product}; induction 2 g/kg given "
        f"{first_day.isoformat()} to {last_day.isoformat()}"
        + (" (a mild headache on day 1)" if data.reaction else "")
        + f"; maintenance {data.maintenance_g_per_kg:g} g/kg every {data.every_weeks} weeks "
        f"from {upcoming[0].date.isoformat()} ({upcoming.count()} doses)"
    )


# --- the unit, its stock and its bookings (issue 18) --------------------------------------------

UNIT = "Day infusion unit"
HOME_TEAM = "Home-infusion team"
CHAIRS = 8
NURSES = 2
OPENS, CLOSES = dt.time(8, 0), dt.time(18, 0)
OPEN_WEEKDAYS = range(5)  # Monday to Friday
STAGGER_MINUTES = 30  # one start per half hour: the nurses set up one chair at a time
BOOKED_DAYS = 7  # today and the next 7 days
EXPIRING_IN_DAYS = 21  # within the stock page's 30 days
RECALL = "manufacturer's recall notice: particles seen in vials of this lot (demo)"


def _open_day(day: dt.date) -> dt.date:
    """The day, or the Monday after it when it falls on the demo unit's closed weekend."""
    while day.weekday() not in OPEN_WEEKDAYS:
        day += dt.timedelta(days=1)
    return day


def _demo_units(admin: Any) -> tuple[Any, Any]:
    """A day infusion unit of 8 chairs and a home-infusion team of 2 visiting nurses, both
    open Monday to Friday 08:00-18:00; the unit's chairs, first."""
    from ivig.records.models import ChairKind, UnitKind
    from ivig.records.services import units

    unit = units.create_unit(admin, UNIT, UnitKind.infusion_centre, 15)
    home = units.create_unit(admin, HOME_TEAM, UnitKind.home_team, 30)
    for n in range(1, CHAIRS + 1):
        units.add_chair(admin, unit.pk, f"Chair {n}")
    for n in range(1, NURSES + 1):
        units.add_chair(admin, home.pk, f"Visiting nurse {n}", ChairKind.nurse)
    for weekday in OPEN_WEEKDAYS:
        units.set_hours(admin, unit.pk, weekday, OPENS, CLOSES)
        units.set_hours(admin, home.pk, weekday, OPENS, CLOSES)
    return unit, home


def _demo_stock(users: dict[str, Any], today: dt.date, rng: random.Random) -> list[str]:
    """A main pharmacy and a day-ward fridge with lots of the demo's products: enough for the
    planned and verified orders of the next weeks but for one product and size, a vial or two
    short of the next 7 days' orders (the stock page's shortfall); a recalled lot (one a
    patient received at the induction) quarantined; a lot in the fridge expiring within 30
    days."""
    from ivig.records.models import Lot
    from ivig.records.services import stock

    admin, pharmacist = users["admin"], users["pharmacist"]
    main = stock.create_store(admin, "Main pharmacy")
    fridge = stock.create_store(admin, "Day-ward fridge")
    # Nothing on hand yet: the lines are the needs (the page's days, and the next weeks').
    week = stock.stock_against_orders(today=today)
    short = max(week, key=lambda line: line.needed) if week else None
    gap = min(2, short.needed) if short is not None else 0
    weeks = stock.stock_against_orders(5 * 7, today=today)

    def receive(store: Any, product: str, size: float, count: int, expiry: dt.date) -> str:
        number = f"{product[:2].upper()}{rng.randint(100000, 999999)}"
        stock.receive(pharmacist, store.pk, stock.Received(product, size, number, expiry, count),
                      today=today)  # fmt: skip
        return number

    later = today + dt.timedelta(days=300)
    for line in weeks:
        key = (line.product_id, line.vial_size_g)
        if short is not None and key == (short.product_id, short.vial_size_g):
            if short.needed > gap:
                receive(main, line.product_id, line.vial_size_g, short.needed - gap, later)
        else:
            receive(main, line.product_id, line.vial_size_g, line.needed + 10, later)
    said: list[str] = []
    # The fridge: a few vials of the smallest size of the other products, one expiring soon.
    others = sorted({line.product_id for line in weeks} - {short.product_id if short else ""})
    for i, product in enumerate(others):
        size = min(line.vial_size_g for line in weeks if line.product_id == product)
        expiry = today + dt.timedelta(days=EXPIRING_IN_DAYS if i == 0 else 200)
        number = receive(fridge, product, size, 4, expiry)
        if i == 0:
            said.append(f"lot {number} in the day-ward fridge expires {expiry.isoformat()}")
    # The recall: a lot a demo patient received, some of it still in the main pharmacy.
    given = Lot.objects.filter(expiry__gte=today).order_by("order__date", "pk").first()
    if given is not None:
        stock.receive(
            pharmacist,
            main.pk,
            stock.Received(given.product_id, given.vial_size_g, given.lot_number, given.expiry, 6),
            today=today,
        )
        stock.quarantine(pharmacist, given.lot_number, RECALL)
        said.append(f"lot {given.lot_number} quarantined (a recall; a patient received it)")
    said += [
        f"{line.product_id} {line.vial_size_g:g} g: {line.shortfall} "
        f"vial{'s' if line.shortfall != 1 else ''} short of the next "
        f"{stock.SHORTFALL_DAYS} days' orders"
        for line in stock.stock_against_orders(today=today)
        if line.shortfall
    ]
    return said


def _demo_bookings(nurse: Any, unit: Any, today: dt.date) -> list[str]:
    """The planned and verified orders of today and the next 7 days booked on the unit's
    chairs (the demo's maintenance courses are given in the infusion centre): each day's
    longest first, from opening, one start per half hour, a chair each."""
    from django.utils import timezone

    from ivig.records.models import Chair, Order, OrderStatus
    from ivig.records.services import bookings

    chairs = list(Chair.objects.filter(unit=unit).order_by("pk"))
    due = (
        Order.objects.filter(
            status__in=(OrderStatus.planned, OrderStatus.verified),
            date__gte=today,
            date__lte=today + dt.timedelta(days=BOOKED_DAYS),
        )
        .select_related("patient", "course")
        .order_by("date", "pk")
    )
    days: dict[dt.date, list[Any]] = {}
    for order in due:
        days.setdefault(order.date, []).append(order)
    zone = timezone.get_current_timezone()
    said = []
    for day, orders in days.items():
        longest_first = sorted(orders, key=lambda o: -bookings.length_for(o, unit).minutes)
        for rank, (order, chair) in enumerate(zip(longest_first, chairs, strict=False)):
            opens = dt.datetime.combine(day, OPENS, tzinfo=zone)
            start = opens + dt.timedelta(minutes=STAGGER_MINUTES * rank)
            booked = bookings.book(nurse, order.pk, chair.pk, start)
            said.append(
                f"{day.isoformat()} {start:%H:%M} {chair.name}: {order.patient.mrn} "
                f"({booked.length_minutes} minutes)"
            )
    return said


def _password(username: str, first: str, last: str) -> str:
    """A random password that Django's validators accept for this user (a random draw can,
    rarely, look too like the user name)."""
    from django.contrib.auth.models import User
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    person = User(username=username, first_name=first, last_name=last)
    while True:
        candidate = secrets.token_urlsafe(12)
        try:
            validate_password(candidate, person)
        except ValidationError:
            continue
        return candidate


def demo() -> None:
    """Load demo data: a user per role (passwords printed), three fictional LEMS patients, a
    day infusion unit and a home-infusion team, stock in two stores, the week's bookings."""
    with open_database(migrate=True):
        from django.contrib.auth.models import User
        from django.db import transaction
        from django.utils import timezone

        from ivig.records.audit import verify_chain
        from ivig.records.models import Patient
        from ivig.records.services.accounts import create_user

        names = [name for name, *_ in DEMO_USERS]
        taken = sorted(User.objects.filter(username__in=names).values_list("username", flat=True))
        if taken:
            raise Conflict(
                f"the demo users exist already ({', '.join(taken)}): the demo was loaded before, "
                "and is never loaded twice"
            )
        if Patient.objects.exists():
            raise Conflict(
                "the database holds patients already: the demo loads only into a database "
                "without patients (use a new IVIG_DATA_DIR or database)"
            )
        now = timezone.now()
        today = timezone.localdate(now)
        rng = random.Random(20261201)
        passwords: dict[str, str] = {}
        with transaction.atomic():  # all or nothing
            users: dict[str, Any] = {}
            for name, role, first, last in DEMO_USERS:
                passwords[name] = _password(name, first, last)
                users[role] = create_user(
                    None,
                    name,
                    passwords[name],
                    [role],
                    first_name=first,
                    last_name=last,
                    system=True,
                )
            lines = [_demo_patient(p, users, today, now, rng) for p in DEMO_PATIENTS]
            unit, _ = _demo_units(users["admin"])
            stocked = _demo_stock(users, today, rng)
            booked = _demo_bookings(users["nurse"], unit, today)
        report = verify_chain()
        where = database_label()
    typer.echo(f"Demo data loaded into {where}. The patients are fictional: never treat from it.")
    typer.echo("\nSign-in names and passwords (shown once):")
    for name, role, *_ in DEMO_USERS:
        typer.echo(f"  {name:<17} {role:<11} {passwords[name]}")
    typer.echo("\nPatients:")
    for line in lines:
        typer.echo(f"  {line}")
    typer.echo(
        f"\nUnits: {UNIT} ({CHAIRS} chairs), {HOME_TEAM} ({NURSES} visiting nurses); "
        f"Monday to Friday {OPENS:%H:%M}-{CLOSES:%H:%M}."
    )
    typer.echo("Stock (main pharmacy, day-ward fridge):")
    for line in stocked:
        typer.echo(f"  {line}")
    typer.echo("Bookings:")
    for line in booked:
        typer.echo(f"  {line}")
    state = "ok" if report.ok else f"BROKEN at event {report.first_bad_seq}"
    typer.echo(f"\nAudit chain {state}: {report.checked} events.")
