"""Shared test set-up: Hypothesis profiles and the shipped drug library."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, settings

from ivig.core.catalogue import Catalogue
from ivig.core.library import Library, packaged_library

# CI runs on a 2-core machine: no per-example deadline, a fixed number of examples.
settings.register_profile(
    "ci", deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# --- the one clock of the suite (issue 13) ------------------------------------------------------
#
# Every test runs at one moment, ``TEST_NOW``: today's date in the service's time zone
# (``IVIG_TIME_ZONE``) at 10:00 there, or the local date and time in ``IVIG_TEST_NOW``
# (``2028-02-29T10:00``; scripts/test runs the date-sensitive tests again at a leap day and at
# the days the clocks change). time-machine moves the clock there before the test modules are
# imported (a date computed at import sees it) and back to it at the start of every test; the
# clock then ticks. Dates in tests are relative to it: ``timezone.localdate()``,
# ``timezone.now()``, or the ``today`` and ``now`` fixtures; a fixed date stays only where no
# clock is read (a pure function given its dates). Tests that drive another process (Chromium,
# a served app, the ``ivig`` command) cannot share a moved clock: they are marked
# ``real_clock`` and run on the machine's.

TEST_NOW_TIME = dt.time(10, 0)
HERE = Path(__file__).parent


def _test_now() -> dt.datetime:
    """The suite's moment, aware, in UTC (a ZoneInfo destination would make time-machine set
    the process's TZ, which child processes inherit)."""
    import zoneinfo

    from django.conf import settings as django_settings

    zone = zoneinfo.ZoneInfo(django_settings.TIME_ZONE)
    given = os.environ.get("IVIG_TEST_NOW", "").strip()
    if given:
        try:
            local = dt.datetime.fromisoformat(given)
        except ValueError:
            raise pytest.UsageError(
                f"IVIG_TEST_NOW: '{given}' is not a date and time (2028-02-29T10:00)"
            ) from None
        if local.tzinfo is None:
            local = local.replace(tzinfo=zone)
    else:
        local = dt.datetime.combine(dt.datetime.now(zone).date(), TEST_NOW_TIME, tzinfo=zone)
    return local.astimezone(dt.UTC)


_SUITE_CLOCK: list[Any] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_clock: runs on the machine's clock, not the suite's (another process)"
    )
    import time_machine

    travel = time_machine.travel(_test_now(), tick=True)
    travel.start()
    _SUITE_CLOCK.append(travel)
    _session_audit_key()


def _session_audit_key() -> None:
    """A new audit key for the session (issue 17 item 1), never a file's: set before the test
    database is migrated, and in the environment for the ``ivig`` commands the tests start on
    it (those with a data folder of their own drop ``IVIG_*`` and make their own key)."""
    import secrets

    from django.conf import settings as django_settings

    from ivig.server.config import AuditKey

    key = secrets.token_hex(32)
    os.environ["IVIG_AUDIT_KEY"] = key
    django_settings.IVIG_AUDIT_KEY = AuditKey(bytes.fromhex(key), "IVIG_AUDIT_KEY")


def pytest_unconfigure(config: pytest.Config) -> None:
    while _SUITE_CLOCK:
        _SUITE_CLOCK.pop().stop()


@pytest.fixture(autouse=True)
def _clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts at ``TEST_NOW`` (``real_clock``: at the machine's time)."""
    import time_machine

    if request.node.get_closest_marker("real_clock"):
        destination = time_machine.escape_hatch.time.time()
    else:
        destination = _test_now().timestamp()
    with time_machine.travel(destination, tick=True):
        yield


@pytest.fixture
def today() -> dt.date:
    """The suite's date in the service's time zone (``TEST_NOW``'s)."""
    from django.utils import timezone

    return timezone.localdate()


@pytest.fixture
def now() -> dt.datetime:
    """The suite's moment (``TEST_NOW``), aware."""
    from django.utils import timezone

    return timezone.now()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the database, so that scripts/test can run just those again
    on PostgreSQL (``pytest -m database``); the browser tests and the served apps
    (tests/server) run on the machine's clock."""
    for item in items:
        if {"db", "transactional_db", "live_records"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)
        if item.get_closest_marker("browser") or HERE / "server" in item.path.parents:
            item.add_marker(pytest.mark.real_clock)  # Chromium, served apps: other processes


IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On CI (``CI`` set) a browser test never passes by being skipped: its skip is a failure
    (a missing Chromium, say), so that a green CI run has driven the browser."""
    report = yield
    browser = item.get_closest_marker("browser")
    if IN_CI and browser and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"CI: a browser test may not be skipped: {report.longrepr}"
    return report


@pytest.fixture(scope="session")
def packaged() -> Library:
    """The drug library shipped in the package (the one in service unless a test sets a site's
    with ``library``)."""
    return packaged_library()


@pytest.fixture(scope="session")
def catalogue(packaged: Library) -> Catalogue:
    return packaged.catalogue


# --- the ivig command, in-process ---------------------------------------------------------------


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], tuple[int, str, str]]:
    """``run(argv)``: ``ivig ARGV`` in-process through :func:`ivig.cli.main` (it returns the
    exit code); (exit code, standard output, standard error), as printed."""
    from ivig.cli import main

    def invoke(argv: list[str]) -> tuple[int, str, str]:
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def demo(db: None, run: Callable[[list[str]], tuple[int, str, str]]) -> dict[str, Any]:
    """The demo loaded on the test database (``ivig demo``: three fictional patients with their
    history); its users by role (``demo["nurse"]``)."""
    from django.contrib.auth.models import User

    code, _, err = run(["demo"])
    assert code == 0, err
    return {
        u.username.removeprefix("demo-"): u
        for u in User.objects.filter(username__startswith="demo-")
    }


# --- the records: users per role, a patient, API clients ----------------------------------------

PASSWORD = "infusion-chair-42-Xq"
ROLES = ("admin", "prescriber", "pharmacist", "nurse")


@pytest.fixture
def users(db: None) -> dict[str, Any]:
    """One user per role, named after it (``users["nurse"]``)."""
    from ivig.records.services.accounts import create_user

    return {role: create_user(None, role, PASSWORD, [role], system=True) for role in ROLES}


@pytest.fixture
def make_patient(users: dict[str, Any], today: dt.date) -> Callable[..., Any]:
    """``make_patient(height_cm, weight_kg, **identity)``: a patient made by the prescriber and
    weighed (``weighed``: 5 days before the suite's date unless given): Lambert, Edward
    (MRN0001), a man born 1966-05-01 (an adult on any date), unless ``identity`` names another
    (``mrn``, ``family_name``, ``given_name``, ``date_of_birth``, ``sex``, ``risk_codes``)."""
    from ivig.records.services.patients import PatientInput, add_weight, create_patient

    def make(
        height_cm: float, weight_kg: float, *, weighed: dt.date | None = None, **identity: Any
    ) -> Any:
        who: dict[str, Any] = {
            "mrn": "MRN0001",
            "family_name": "Lambert",
            "given_name": "Edward",
            "date_of_birth": dt.date(1966, 5, 1),
            "sex": "male",
            **identity,
        }
        prescriber = users["prescriber"]
        record = create_patient(prescriber, PatientInput(height_cm=height_cm, **who), today=today)
        when = today - dt.timedelta(days=5) if weighed is None else weighed
        add_weight(prescriber, record.pk, when, weight_kg, today=today)
        return record

    return make


@pytest.fixture
def patient(make_patient: Callable[..., Any]) -> Any:
    """A LEMS patient: 190 cm, 86.4 kg: dosing weight 85.0 kg (IBW 84.05 + 0.4 x 2.35), BMI
    23.9, no risk, so the full label ramp (the README's 180 cm, 100 kg man has the same dosing
    weight but a BMI of 30.9: obesity, an at-risk cap since issue 14, item 4)."""
    return make_patient(190, 86.4)


@pytest.fixture
def me(patient: Any) -> Any:
    """``patient``'s own account (user name edward), as the portal's pages (/me/) know them."""
    from django.contrib.auth.models import User

    from ivig.records.models import PatientAccount

    user = User.objects.create_user("edward", password=PASSWORD)
    PatientAccount.objects.create(user=user, patient=patient)
    return user


@pytest.fixture
def dispensed(users: dict[str, Any], patient: Any) -> Any:
    """Day 1 of a 2-day Privigen (US) induction for ``patient``, verified and dispensed with
    lots at the start of the day (local midnight: a start is never before them, issue 14),
    dated today: 85 g = 2 x 40 g + 1 x 5 g."""
    from django.utils import timezone

    from ivig.records.services import courses, orders

    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems",
            phase="induction",
            product="privigen-us",
            place="hospital",
            start=timezone.localdate(),
            days=2,
        ),
    )
    order = course.orders.order_by("sequence").first()
    assert order is not None
    midnight = dt.datetime.combine(
        timezone.localdate(), dt.time(0), tzinfo=timezone.get_current_timezone()
    )
    order = orders.verify(users["pharmacist"], order.pk, order.version, now=midnight)
    expiry = timezone.localdate() + dt.timedelta(days=730)  # two years after the suite's date
    lots = [
        orders.LotInput("P1", expiry, 40, 2),
        orders.LotInput("P2", expiry, 5, 1),
    ]
    return orders.dispense(users["pharmacist"], order.pk, order.version, lots, now=midnight)


@pytest.fixture
def client_for(users: dict[str, Any]) -> Callable[[str | None], Client]:
    """A Django test client signed in as the user of a role (``None``: anonymous)."""

    def make(role: str | None) -> Client:
        client = Client()
        if role is not None:
            client.force_login(users[role])
        return client

    return make


@pytest.fixture(autouse=True)
def _audit_triggers(request: pytest.FixtureRequest) -> None:
    """Every database test starts with the append-only triggers in place (a committing test
    before it may have dropped them for Django's flush); the statements are idempotent."""
    if "db" not in request.fixturenames or "transactional_db" in request.fixturenames:
        return
    request.getfixturevalue("db")
    from django.db import connection

    from ivig.records import triggers

    with connection.cursor() as cursor:
        for sql in triggers.statements(connection.vendor):
            cursor.execute(sql)
    _audit_head()


def _audit_head() -> None:
    """The audit trail's head (migration 0014 makes it; Django's flush after a committing test
    empties its table): an empty trail's, if missing (issue 17 item 1)."""
    from ivig.records import audit
    from ivig.records.models import AuditHead

    if not AuditHead.objects.filter(pk=1).exists():
        audit.create_head()


@pytest.fixture
def live_records(transactional_db: None) -> Iterator[None]:
    """For tests that commit (threads, several connections): the audit triggers stop Django's
    flush between tests, so they are dropped at teardown and made again at the next start."""
    from django.db import connection

    from ivig.records import triggers as _triggers

    with connection.cursor() as cursor:
        for sql in _triggers.statements(connection.vendor, drop=True):
            cursor.execute(sql)
        for sql in _triggers.statements(connection.vendor):
            cursor.execute(sql)
    _audit_head()
    yield
    with connection.cursor() as cursor:
        for sql in _triggers.statements(connection.vendor, drop=True):
            cursor.execute(sql)


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest) -> Iterator[None]:
    """Argon2 is deliberately slow; tests that do not check hashing use a fast hasher."""
    if "argon2" in request.keywords:
        yield
        return
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


# --- at the chair ---------------------------------------------------------------------------------


@pytest.fixture
def chair_now() -> dt.datetime:
    """A fixed clock for service tests at the chair: 18:00 local time today, so an infusion
    started hours earlier stays within the order's day whatever the real time is (the services
    take ``now``; only the API reads the real clock)."""
    from django.utils import timezone

    return dt.datetime.combine(
        timezone.localdate(), dt.time(18, 0), tzinfo=timezone.get_current_timezone()
    )


@pytest.fixture
def chair_clock(chair_now: dt.datetime) -> Iterator[dt.datetime]:
    """The clock itself at ``chair_now`` (18:00 today), for page tests whose views read it: an
    infusion started hours before stays within the order's day and a time typed as the nurse
    types it is not in the future, whatever the suite's moment (03:00 on a clock change)."""
    import time_machine

    with time_machine.travel(chair_now, tick=True):
        yield chair_now


@pytest.fixture
def start_chair(users: dict[str, Any], chair_now: dt.datetime) -> Callable[..., Any]:
    """``start_chair(order, at, now=...)``: the nurse's pre-infusion check (well, hydrated)
    and the baseline vital signs at ``at``, and the start at ``at`` (vials inspected, given by
    the nurse), recorded at ``now``; returns the session. A start is never before its check
    (issue 14 item 7)."""
    from ivig.records.models import Order
    from ivig.records.services import infusions

    def start(order: Any, at: dt.datetime, *, now: dt.datetime | None = None) -> Any:
        now = now or chair_now
        answers = infusions.CheckAnswers(
            infection=False, fever=False, feeling_unwell=False, hydrated=True
        )
        infusions.pre_check(users["nurse"], order.pk, answers, now=at)
        baseline = infusions.VitalsInput(pulse_per_min=74, systolic_mm_hg=124)
        infusions.record_vitals(users["nurse"], order.pk, at, baseline, now=at)  # issue 16 item 7
        version = Order.objects.get(pk=order.pk).version
        return infusions.start_infusion(
            users["nurse"], order.pk, version, at, visual_inspection_ok=True, now=now
        )

    return start


# --- the drug library in service ------------------------------------------------------------------


@pytest.fixture
def library(tmp_path: Any, settings: Any) -> Callable[..., str]:
    """``library(version, {old: new, ...}, files={name: {old: new}}, add={name: text})`` puts a
    site drug library in service (setting ``IVIG_CATALOGUE_DIR``, requirement 46): a copy of the
    packaged one with its ``catalogue_version`` bumped to ``version``, each ``old`` text of
    products.toml (or of the file ``name``: limits.toml, monitoring.toml...) replaced by
    ``new``, and ``text`` added at the end of the file ``name`` (a site's own product, say).
    Returns the version."""
    import re
    import shutil
    from pathlib import Path

    import ivig

    def edit(path: Path, replacements: dict[str, str], added: str) -> None:
        text = path.read_text()
        for old, new in replacements.items():
            assert old in text, old
            text = text.replace(old, new, 1)
        path.write_text(text + added)

    def switch(
        version: str,
        edits: dict[str, str] | None = None,
        *,
        files: dict[str, dict[str, str]] | None = None,
        add: dict[str, str] | None = None,
    ) -> str:
        folder = tmp_path / f"library-{version}"
        shutil.copytree(Path(ivig.__file__).parent / "data", folder)
        replaced = dict(files or {})
        replaced["products.toml"] = {**replaced.get("products.toml", {}), **(edits or {})}
        products = folder / "products.toml"
        products.write_text(
            re.sub(
                r'^catalogue_version = "[^"]*"',
                f'catalogue_version = "{version}"',
                products.read_text(),
                count=1,
                flags=re.M,
            )
        )
        for name in {*replaced, *(add or {})}:
            edit(folder / name, replaced.get(name, {}), (add or {}).get(name, ""))
        settings.IVIG_CATALOGUE_DIR = folder
        return version

    return switch


# --- concurrency ------------------------------------------------------------------------------


@pytest.fixture
def race() -> Callable[..., list[Any]]:
    """``race(job, job, ...)``: run the jobs at the same moment, each on its own database
    connection (a live, committed database: ``live_records``); their results or errors."""
    import threading

    from django.db import connection

    def run_together(*jobs: Callable[[], Any]) -> list[Any]:
        barrier = threading.Barrier(len(jobs))
        results: list[Any] = [None] * len(jobs)

        def run(i: int) -> None:
            try:
                barrier.wait()
                results[i] = jobs[i]()
            except Exception as exc:  # the outcome is what the test checks
                results[i] = exc
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        return results

    return run_together


# --- work per request (issue 15) ----------------------------------------------------------------


@pytest.fixture
def plan_work(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times the records plan a course (the core's ``plan_course``) and a plan is
    turned into its JSON (``Plan.as_dict``), counted from now on."""
    from ivig.core.plan import Plan
    from ivig.records.services import courses

    counts = {"plans": 0, "documents": 0}
    plan_course, as_dict = courses.plan_course, Plan.as_dict

    def counted_plan(*args: Any, **kwargs: Any) -> Plan:
        counts["plans"] += 1
        return plan_course(*args, **kwargs)

    def counted_document(self: Plan) -> dict[str, Any]:
        counts["documents"] += 1
        return as_dict(self)

    monkeypatch.setattr(courses, "plan_course", counted_plan)
    monkeypatch.setattr(Plan, "as_dict", counted_document)
    return counts


# --- reminders (issue 18) ------------------------------------------------------------------------


@pytest.fixture
def booked_tomorrow(users: dict[str, Any], patient: Any, today: dt.date) -> Any:
    """``patient``'s first infusion (a 2-day induction from tomorrow) booked tomorrow 09:00 on
    chair A of "Day ward" (open 08:00-18:00 every day; chairs A and B)."""
    from django.utils import timezone

    from ivig.records.services import bookings, courses, units

    tomorrow = today + dt.timedelta(days=1)
    admin = users["admin"]
    unit = units.create_unit(admin, "Day ward", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, unit.pk, weekday, dt.time(8), dt.time(18))
    units.add_chair(admin, unit.pk, "A")
    units.add_chair(admin, unit.pk, "B")
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=tomorrow, days=2,
        ),
    )  # fmt: skip
    start = dt.datetime.combine(tomorrow, dt.time(9), tzinfo=timezone.get_current_timezone())
    chair = unit.chairs.get(name="A")
    return bookings.book(users["nurse"], course.orders.get(sequence=1).pk, chair.pk, start)


@pytest.fixture
def reachable(me: Any) -> Any:
    """``me`` (the patient's own account) with an e-mail address: reminders reach them."""
    me.email = "edward.lambert@example.org"
    me.save()
    return me
