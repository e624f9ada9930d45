"""Benchmark: a month of a 12-chair unit booked first come, first served against ivig's
suggested slots (``core.slots``), side by side. Pure core, no database.

Run:  .venv/bin/python bench/bookings.py [--seed 18] [--days 20] [--maintenance 20]

The unit: 12 chairs, open 08:00-18:00 on weekdays (20 days), set-up 15 minutes. Each request's
length is what the service books: ``core.booking_length`` (set-up + the pump time of the steps
``core.rates`` gives from the catalogue's label ramp + the observation ``core.monitoring``
gives: 60 minutes for a first infusion, else 20). The mix, seeded (``random.Random(seed)``):

- every weekday, 2 new induction courses of 2 g/kg (split over 2 days, 40 %, or 5 days, 60 %)
  start: day 1 is a first infusion (the label's lowest starting rate), the next weekdays are
  induction days at the later-infusion ramp;
- ``--maintenance`` maintenance infusions a day (1 g/kg 60 %, 0.4 g/kg 40 %), 4 weeks
  after the last;
- patients of 50-110 kg, 25 % at renal or thrombotic risk (the product's at-risk cap);
  products privigen-us 30 %, gamunex-c 25 %, octagam-10 20 %, kiovig 15 %, panzyga 10 %;
- 10 % more requests are same-week add-ons, arriving after the day's others;
- 8 % of the booked requests are cancelled a few requests later, leaving a hole.

A day's requests arrive in random order; each is placed on its day by first-fit (the earliest
start, the first chair on a tie) or by ``core.slots.suggest``'s top slot; a request that fits
nowhere is turned away. On the day, 25 % of the infusions run 10-45 minutes longer (a slowed
rate, a late arrival; the same draw for both policies) and push the chair's next infusion.
Printed: chair utilization (booked chair-minutes / open chair-minutes), peak-to-mean occupancy
(each day's busiest minute over its mean, averaged), patients turned away, and overtime
(minutes past closing, summed over chairs and days).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from ivig.core.booking_length import booking_length
from ivig.core.library import Library, packaged_library
from ivig.core.rates import rate_ramp, rate_steps
from ivig.core.slots import ChairFree, Slot, first_fit, free_intervals, profile, suggest

CHAIRS = 12
OPENS, CLOSES = 8 * 60, 18 * 60
SETUP_MINUTES = 15
PRODUCTS = {"privigen-us": 30, "gamunex-c": 25, "octagam-10": 20, "kiovig": 15, "panzyga": 10}
MAINTENANCE_G_PER_KG = {1.0: 60, 0.4: 40}
INDUCTION_DAYS = {2: 40, 5: 60}
ADD_ON_SHARE, CANCEL_SHARE, AT_RISK_SHARE, OVERRUN_SHARE = 0.10, 0.08, 0.25, 0.25
# The shortest bookable infusion (a free time shorter than it is a sliver): set-up + the
# standard 20-minute observation + a 60-minute pump, as records.services.bookings counts it.
SHORTEST_PUMP_MINUTES = 60


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    day: int
    minutes: int
    kind: str  # "first", "induction", "maintenance"
    add_on: bool
    cancel_after: int | None  # cancelled once this many later requests have arrived
    overrun: int  # minutes longer than booked on the day


def _pick(rng: random.Random, weights: dict[object, int]) -> object:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _minutes(
    library: Library,
    product_id: str,
    weight_kg: float,
    grams: float,
    *,
    first: bool,
    risk: bool,
    gap_days: int = 28,
) -> int:
    """The booked length of one infusion, as the service computes it."""
    catalogue = library.catalogue
    product = catalogue.products[product_id]
    schedule = product.schedule_for(catalogue.indications["cidp"])
    ramp = rate_ramp(schedule, product, catalogue.protocol, at_risk=risk, lowest_start=first)[0]
    steps = rate_steps(
        ramp,
        dose_ml=grams * 1000 / product.concentration,
        weight_kg=weight_kg,
        concentration_mg_per_ml=product.concentration,
    )
    return booking_length(
        setup_minutes=SETUP_MINUTES,
        steps=[{"start_min": s.start_min, "end_min": s.end_min} for s in steps],
        first_infusion=first,
        product_switch=False,
        gap_days=None if first else gap_days,
        protocol=library.monitoring,
    ).minutes


def requests(seed: int, days: int, maintenance: int, library: Library) -> list[list[Request]]:
    """Each day's requests in their order of arrival (add-ons last)."""
    rng = random.Random(seed)
    by_day: list[list[tuple[int, str]]] = [[] for _ in range(days)]

    def patient() -> tuple[str, float, bool]:
        return (
            str(_pick(rng, PRODUCTS)),  # type: ignore[arg-type]
            round(rng.uniform(50, 110), 1),
            rng.random() < AT_RISK_SHARE,
        )

    for day in range(days):
        for _ in range(2):  # new induction courses
            product, kg, risk = patient()
            split = int(_pick(rng, INDUCTION_DAYS))  # type: ignore[call-overload]
            grams = round(2 * kg / split / 5) * 5 or 5
            for i in range(split):
                if day + i < days:
                    first = i == 0
                    length = _minutes(
                        library, product, kg, grams, first=first, risk=risk, gap_days=1
                    )
                    by_day[day + i].append((length, "first" if first else "induction"))
        for _ in range(maintenance):
            product, kg, risk = patient()
            g_per_kg = float(_pick(rng, MAINTENANCE_G_PER_KG))  # type: ignore[arg-type]
            grams = round(g_per_kg * kg / 5) * 5 or 5
            length = _minutes(library, product, kg, grams, first=False, risk=risk)
            by_day[day].append((length, "maintenance"))
    out: list[list[Request]] = []
    ids = 0
    for day, wanted in enumerate(by_day):
        rng.shuffle(wanted)
        add_ons = round(len(wanted) * ADD_ON_SHARE)
        rows = []
        for i, (length, kind) in enumerate(wanted):
            cancel = rng.randint(1, 10) if rng.random() < CANCEL_SHARE else None
            overrun = rng.randint(10, 45) if rng.random() < OVERRUN_SHARE else 0
            rows.append(
                Request(ids, day, length, kind, i >= len(wanted) - add_ons, cancel, overrun)
            )
            ids += 1
        out.append(rows)
    return out


Place = Callable[[list[ChairFree], int], Slot | None]


def _first_fit(chairs: list[ChairFree], minutes: int) -> Slot | None:
    return first_fit(OPENS, CLOSES, chairs, minutes, shortest=SHORTEST)


def _levelled(chairs: list[ChairFree], minutes: int) -> Slot | None:
    found = suggest(OPENS, CLOSES, chairs, minutes, n=1, shortest=SHORTEST)
    return found[0] if found else None


SHORTEST = SETUP_MINUTES + 20 + SHORTEST_PUMP_MINUTES


@dataclass
class Figures:
    booked_minutes: int = 0
    turned_away: int = 0
    overtime: int = 0
    peak_to_mean: float = 0.0
    seconds: float = 0.0


def simulate(days: list[list[Request]], place: Place) -> Figures:
    figures = Figures()
    ratios = []
    began = time.perf_counter()
    for rows in days:
        busy: list[dict[int, tuple[int, int]]] = [{} for _ in range(CHAIRS)]  # id -> (start, end)
        pending: list[tuple[int, int, int]] = []  # (arrival index to cancel at, chair, id)
        for arrival, request in enumerate(rows):
            for due, chair, rid in [p for p in pending if p[0] <= arrival]:
                busy[chair].pop(rid, None)
                pending.remove((due, chair, rid))
            chairs = [
                ChairFree(f"Chair {i + 1}", free_intervals(OPENS, CLOSES, list(b.values())))
                for i, b in enumerate(busy)
            ]
            slot = place(chairs, request.minutes)
            if slot is None:
                figures.turned_away += 1
                continue
            busy[slot.chair][request.id] = (slot.start, slot.end)
            if request.cancel_after is not None:
                pending.append((arrival + request.cancel_after, slot.chair, request.id))
        for _, chair, rid in pending:  # cancelled by the day
            busy[chair].pop(rid, None)
        overrun = {r.id: r.overrun for r in rows}
        chairs = []
        for b in busy:
            figures.booked_minutes += sum(end - start for start, end in b.values())
            at = OPENS
            for rid, (start, end) in sorted(b.items(), key=lambda item: item[1]):
                at = max(at, start) + (end - start) + overrun[rid]
            figures.overtime += max(0, at - CLOSES)
            chairs.append(ChairFree("", free_intervals(OPENS, CLOSES, list(b.values()))))
        counts = profile(OPENS, CLOSES, chairs)
        mean = statistics.fmean(counts)
        if mean > 0:
            ratios.append(max(counts) / mean)
    figures.peak_to_mean = statistics.fmean(ratios) if ratios else 0.0
    figures.seconds = time.perf_counter() - began
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--days", type=int, default=20, help="weekdays simulated")
    parser.add_argument("--maintenance", type=int, default=20, help="maintenance infusions a day")
    args = parser.parse_args()
    library = packaged_library()
    days = requests(args.seed, args.days, args.maintenance, library)
    every = [r for rows in days for r in rows]
    lengths = [r.minutes for r in every]
    print(
        f"python {platform.python_version()} on {platform.machine()}; seed {args.seed}, "
        f"{args.days} days, {CHAIRS} chairs {OPENS // 60:02d}:00-{CLOSES // 60:02d}:00"
    )
    kinds = {k: sum(r.kind == k for r in every) for k in ("first", "induction", "maintenance")}
    print(
        f"{len(every)} requests ({', '.join(f'{v} {k}' for k, v in kinds.items())}; "
        f"{sum(r.add_on for r in every)} add-ons, {sum(r.cancel_after is not None for r in every)}"
        f" cancelled); length {min(lengths)}-{max(lengths)} min, "
        f"mean {statistics.fmean(lengths):.0f}"
    )
    results = {
        "first-fit": simulate(days, _first_fit),
        "ivig suggestion": simulate(days, _levelled),
    }
    open_minutes = CHAIRS * (CLOSES - OPENS) * args.days
    print(f"{'':28}" + "".join(f"{name:>18}" for name in results))
    rows = [
        ("chair utilization %", lambda f: f"{100 * f.booked_minutes / open_minutes:.1f}"),
        ("peak-to-mean occupancy", lambda f: f"{f.peak_to_mean:.2f}"),
        ("patients turned away", lambda f: f"{f.turned_away}"),
        ("overtime minutes", lambda f: f"{f.overtime}"),
        ("seconds to place", lambda f: f"{f.seconds:.1f}"),
    ]
    for label, show in rows:
        print(f"{label:28}" + "".join(f"{show(f):>18}" for f in results.values()))


if __name__ == "__main__":
    main()
