"""Make docs/board.png, the README's picture of a unit's day board (issue 18).

Run from the repository's root, with the dev extras and Debian's Chromium installed:

    PYTHONPATH=src .venv/bin/python scripts/board_screenshot.py [--out docs/board.png]

It makes its own data in a temporary data folder (never the site's): an infusion centre open
08:00-18:00 with 7 chairs, a full day of first infusions (induction day 1: 60 minutes of
observation) and maintenance doses (20 minutes), each booked on the chair free soonest, one
booking flagged "no longer fits", and the live states at 13:30 (the process's clock is set to
it) written directly on the sessions (checked in, running, paused, a reaction, in observation,
finished: the states' own services are tested with them). It serves the app
with Django's live-server thread and photographs ``/bookings/board/`` at 1024 px wide in
Chromium (``/usr/bin/chromium``, or ``IVIG_CHROMIUM``) driven by Playwright.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("IVIG_CHROMIUM", "/usr/bin/chromium")

# (family, given, height cm, weight kg, first infusion or maintenance)
PATIENTS: tuple[tuple[str, str, int, float, str], ...] = (
    ("Hartley", "Margaret", 162, 58.0, "first"),
    ("Brennan", "Patrick", 176, 62.0, "first"),
    ("Shah", "Priya", 165, 52.0, "first"),
    ("Okafor", "Daniel", 181, 84.0, "maintenance"),
    ("Lindqvist", "Astrid", 170, 61.5, "maintenance"),
    ("Moreau", "Claire", 158, 55.0, "maintenance"),
    ("Nakamura", "Ken", 172, 70.0, "maintenance"),
    ("Evans", "Gareth", 185, 91.0, "maintenance"),
    ("Kowalski", "Anna", 168, 72.0, "maintenance"),
    ("Adeyemi", "Tunde", 178, 80.0, "maintenance"),
    ("Rossi", "Giulia", 160, 58.0, "maintenance"),
    ("Murphy", "Sean", 183, 88.0, "maintenance"),
    ("Fischer", "Lena", 171, 66.0, "maintenance"),
    ("Silva", "Rui", 174, 77.0, "maintenance"),
    ("Dubois", "Marie", 163, 60.0, "maintenance"),
    ("Novak", "Petr", 180, 83.0, "maintenance"),
)
CHAIRS = ("Chair 1", "Chair 2", "Chair 3", "Chair 4", "Chair 5", "Chair 6", "Chair 7")
NOW = dt.time(13, 30)  # the moment of the picture (the clock is set to it, today)
OPENS, CLOSES = dt.time(8), dt.time(18)
STAGGER = (0, 30, 0, 60, 15, 90, 45)  # each chair's first start, minutes after opening


def _setup(data_dir: Path) -> None:
    """Django on a new database in ``data_dir``, its clock stopped at ``NOW`` today (the
    server runs in this process: the pages see the same moment)."""
    os.environ["IVIG_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivig.server.settings")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"  # Playwright's sync API runs a loop
    import django

    django.setup()
    from django.utils import timezone

    moment = dt.datetime.combine(timezone.localdate(), NOW, tzinfo=timezone.get_current_timezone())
    timezone.now = lambda: moment  # type: ignore[assignment]
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _data() -> dict[str, Any]:
    """The unit, its chairs and hours, the patients, their courses and bookings (each on the
    chair free soonest, longest first), today's live states; the nurse who reads the board."""
    from django.utils import timezone

    from ivig.records.models import Booking
    from ivig.records.services import accounts, bookings, courses, patients, units

    admin = accounts.create_user(None, "admin", None, ["admin"], system=True)
    prescriber = accounts.create_user(None, "prescriber", None, ["prescriber"], system=True)
    nurse = accounts.create_user(None, "nurse", None, ["nurse"], system=True)
    today = timezone.localdate()
    zone = timezone.get_current_timezone()
    unit = units.create_unit(admin, "Infusion centre", "infusion-centre", 15)
    for weekday in range(7):
        units.set_hours(admin, unit.pk, weekday, OPENS, CLOSES)
    chairs = [units.add_chair(admin, unit.pk, name) for name in CHAIRS]
    orders = []
    for i, (family, given, height, weight, kind) in enumerate(PATIENTS):
        person = patients.create_patient(
            prescriber,
            patients.PatientInput(
                mrn=f"MRN{1001 + i}", family_name=family, given_name=given,
                date_of_birth=dt.date(1950 + 2 * i, 1 + i % 12, 10),
                sex="female" if i % 2 else "male", height_cm=height,
            ),
            today=today,
        )  # fmt: skip
        weighed = today - dt.timedelta(days=3)
        patients.add_weight(prescriber, person.pk, weighed, weight, today=today)
        if kind == "first":  # induction day 1: 60 minutes of observation
            regimen = courses.CourseInput(
                indication="lems", phase="induction", product="privigen-us",
                place="infusion-centre", start=today, total_g_per_kg=2.0, days=5,
            )  # fmt: skip
        else:  # the dose of four weeks ago counts as given: 20 minutes of observation
            regimen = courses.CourseInput(
                indication="lems", phase="maintenance", product="privigen-us",
                place="infusion-centre", start=today - dt.timedelta(weeks=4),
                dose_g_per_kg=0.4 if i % 2 else 1.0, every_weeks=4, count=2,
            )  # fmt: skip
        course = courses.prescribe(prescriber, person.pk, regimen)
        orders.append(course.orders.get(date=today))
    closing = dt.datetime.combine(today, CLOSES, tzinfo=zone)
    opening = dt.datetime.combine(today, OPENS, tzinfo=zone)
    free = [opening + dt.timedelta(minutes=m) for m in STAGGER]
    lengths = {o.pk: bookings.length_for(o, unit).minutes for o in orders}
    made = []
    for order in sorted(orders, key=lambda o: -lengths[o.pk]):
        i = min(range(len(chairs)), key=lambda c: free[c])
        end = free[i] + dt.timedelta(minutes=lengths[order.pk])
        if end > closing:
            continue
        made.append(bookings.book(nurse, order.pk, chairs[i].pk, free[i]))
        quarter = (-(-end.minute // 15) * 15) - end.minute + 15  # a quarter-hour's turnaround
        free[i] = end + dt.timedelta(minutes=quarter)
    late = max(made, key=lambda b: b.start)
    Booking.objects.filter(pk=late.pk).update(no_longer_fits=True)  # a re-plan made it longer
    _live_states(made, nurse, timezone.now())
    return {"unit": unit, "nurse": nurse}


def _live_states(made: list[Any], nurse: Any, now: dt.datetime) -> None:
    """Today's sessions as they stand at ``now``: finished, in observation, running (one
    paused, one after a reaction), the next one checked in."""
    from ivig.records.models import InfusionSession, Order, Reaction

    running = 0
    for booking in sorted(made, key=lambda b: b.start):
        started = booking.start + dt.timedelta(minutes=booking.setup_minutes)
        pump_end = started + dt.timedelta(minutes=booking.pump_minutes)
        end = booking.start + dt.timedelta(minutes=booking.length_minutes)
        if end <= now:
            status, state = "completed", "closed"
        elif pump_end <= now:
            status, state = "in-progress", "ended"
        elif started <= now:
            status = "in-progress"
            state = {1: "paused", 2: "paused"}.get(running, "running")
            running += 1
        elif booking.start <= now + dt.timedelta(minutes=45):
            status, state = "dispensed", "not-started"
        else:
            continue
        Order.objects.filter(pk=booking.order_id).update(status=status)
        values: dict[str, Any] = {"state": state, "checked_at": booking.start, "checked_by": nurse}
        if state != "not-started":
            values |= {"started_at": started, "started_by": nurse}
        if state in ("ended", "closed"):
            values |= {"ended_at": pump_end, "observation_minutes": booking.observation_minutes}
        session = InfusionSession.objects.create(order_id=booking.order_id, **values)
        if state == "paused" and running == 3:  # the second paused one: a reaction
            Reaction.objects.create(
                session=session, at=now - dt.timedelta(minutes=10),
                symptoms=["headache", "chills"], severity="mild", recommended={},
                action_taken="paused", recorded_by=nurse,
            )  # fmt: skip


def _cookie(user: Any) -> dict[str, str]:
    from django.conf import settings
    from django.test import Client

    from ivig.records.services.signin import SIGNED_IN

    client = Client()
    client.force_login(user)
    session = client.session  # signed in by the wall clock (the idle sign-out reads it)
    session[SIGNED_IN] = time.time()
    session.save()
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
    }


def _shoot(url: str, cookie: dict[str, str], out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        browser = play.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(
            viewport={"width": 1024, "height": 768}, device_scale_factor=1
        )
        context.add_cookies([{**cookie, "url": url}])
        page = context.new_page()
        page.goto(url)
        if page.url != url or not page.locator("svg.board-svg").count():
            raise SystemExit(f"no board at {page.url}: {page.content()[:2000]}")
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "board.png")
    parser.add_argument("--week", action="store_true", help="the week's board instead")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ivig-board-") as folder:
        _setup(Path(folder))
        made = _data()
        from django.contrib.staticfiles.handlers import StaticFilesHandler
        from django.test.testcases import LiveServerThread

        server = LiveServerThread("127.0.0.1", StaticFilesHandler)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        try:
            board = "/bookings/board/week/" if args.week else "/bookings/board/"
            url = f"http://127.0.0.1:{server.port}{board}?unit={made['unit'].pk}"
            _shoot(url, _cookie(made["nurse"]), args.out)
        finally:
            server.terminate()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
