"""Browser tests: Debian's Chromium, driven by pytest-playwright, against Django's live server.

What every test here gets (README.md in this folder says more):

- the live server (pytest-django's ``live_server``, in a thread of this process) on a
  transactional database, with the audit triggers dropped for Django's flush
  (``live_records``) and put back after it;
- ``page``: a fresh browser context and page whose relative URLs go to the live server;
- a screenshot of every page load in ``var/test-results/screenshots/<test>/``;
- a failure when the browser logs a console error (a CSP refusal, a 404 or 500 of a page or
  a file, a script error) or throws an uncaught page error (``console.allow`` expects one);
- ``live_users`` (one user per role, password ``PASSWORD``) and ``sign_in(role)``;
- ``check_accessibility()``: axe-core (axe-playwright-python) on the current page.

Without Chromium the tests skip, except on CI (``CI`` set) where they fail; ``scripts/browser``
installs it. Nothing here imports Playwright at import time, so that a checkout without the dev
extras still collects (test_basics.py then skips, or fails on CI).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from playwright.sync_api import ConsoleMessage, Error, Page, Playwright

CHROMIUM = Path(os.environ.get("IVIG_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "infusion-chair-42-Xq"  # as the users fixture of tests/conftest.py
ROLES = ("admin", "prescriber", "pharmacist", "nurse")
TIMEOUT_MS = 10_000  # a step that takes longer is a failure, not a slow machine
SCREENSHOTS = Path("var") / "test-results" / "screenshots"  # under the root; /var/ is ignored


def pytest_configure(config: pytest.Config) -> None:
    # --strict-markers: register the marker here too, so the folder runs before pyproject.toml
    # lists it (registering it twice is harmless).
    config.addinivalue_line("markers", "browser: drives Chromium against the live server")


# --- Chromium and the Django side -------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _chromium() -> Path:
    """Skip (fail on CI) every test here when Chromium is missing: first, before Playwright."""
    if not CHROMIUM.is_file():
        reason = f"{CHROMIUM} is missing: scripts/browser installs it (as root, with apt-get)"
        if IN_CI:
            pytest.fail(f"CI: {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright(playwright: Playwright) -> Iterator[Playwright]:
    """pytest-playwright's, plus DJANGO_ALLOW_ASYNC_UNSAFE for as long as it runs.

    Playwright's sync API runs an asyncio loop in a greenlet and marks it as the running loop
    of the main thread between calls, until it stops at the end of the session. Django then
    takes the main thread for async code and refuses every ORM call there
    (SynchronousOnlyOperation): the test's own set-up, pytest-django's flush, and every later
    database test of the session. No query runs on that loop (the live server answers in its
    own thread), so Django's guard can be switched off while Playwright runs.
    """
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield playwright
    if before is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], _chromium: Path
) -> dict[str, Any]:
    """Debian's Chromium (Playwright's own download is not used), headless unless --headed."""
    headed = browser_type_launch_args.get("headless") is False
    return {
        **browser_type_launch_args,
        "executable_path": str(_chromium),
        "args": [*([] if headed else ["--headless"]), *FLAGS],
    }


@pytest.fixture(scope="session")
def base_url(live_server: Any) -> str:
    """Relative URLs (``page.goto("/patients/")``) go to the live server.

    Also replaces pytest-playwright's own ``base_url`` (when pytest-base-url is not installed),
    a fixture on a plugin instance that pytest 9 deprecates with a warning (an error here)."""
    return str(live_server.url)


@pytest.fixture(autouse=True)
def _live(live_records: None, live_server: Any) -> None:
    """Every test here commits through the live server: the audit triggers must go at teardown,
    or Django's flush between tests is refused."""


BLOCKER = pytest.StashKey[Any]()


@pytest.fixture(scope="session", autouse=True)
def _db_blocker(django_db_blocker: Any, pytestconfig: pytest.Config) -> None:
    pytestconfig.stash[BLOCKER] = django_db_blocker  # for pytest_runtest_teardown below


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Put the audit triggers back once Django's flush has run.

    ``live_records`` drops them at teardown and counts on the committing tests running last
    (pytest-django's order). Browser tests do not: pytest-playwright parametrizes
    ``browser_name`` at session scope, and pytest then regroups the tests around that
    parameter, after pytest-django's sort, so these run among the ``db`` tests, whose audit
    tests need the triggers."""
    try:
        return (yield)
    finally:
        blocker = item.config.stash.get(BLOCKER, None)
        used = "live_records" in getattr(item, "fixturenames", ())
        if used and blocker is not None and nextitem is not None:  # None: the session ends
            from django.db import connection

            from ivig.records import triggers

            with blocker.unblock(), connection.cursor() as cursor:
                for sql in triggers.statements(connection.vendor, drop=True):
                    cursor.execute(sql)
                for sql in triggers.statements(connection.vendor):
                    cursor.execute(sql)


@pytest.fixture
def live_users(_live: None) -> dict[str, User]:
    """One user per role, named after it, committed (the ``users`` fixture is not: it uses
    ``db``, whose transaction the live server's thread cannot see)."""
    from ivig.records.services.accounts import create_user

    return {role: create_user(None, role, PASSWORD, [role], system=True) for role in ROLES}


@pytest.fixture
def live_patient(live_users: dict[str, User]) -> Any:
    """A committed LEMS patient, as the ``patient`` fixture but dated today (the live server's
    today): Lambert, Edward, MRN0001, a man born 1966-05-01, 180 cm, 100 kg (dosing weight
    85.0 kg)."""
    from django.utils import timezone

    from ivig.records.services.patients import PatientInput, add_weight, create_patient

    today = timezone.localdate()
    prescriber = live_users["prescriber"]
    record = create_patient(
        prescriber,
        PatientInput(
            mrn="MRN0001",
            family_name="Lambert",
            given_name="Edward",
            date_of_birth=dt.date(1966, 5, 1),
            sex="male",
            height_cm=180,
        ),
        today=today,
    )
    add_weight(prescriber, record.pk, today, 100, today=today)
    return record


# --- the page: screenshots, console errors ----------------------------------------------------


@dataclass
class Console:
    """What the browser said: console errors and uncaught page errors, and the patterns a test
    expects (``console.allow(r"403 \\(Forbidden\\)")``)."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    seen_allowed: list[str] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self._add(f"console error: {message.text}" + (f" ({where})" if where else ""))

    def on_page_error(self, error: Error) -> None:
        self._add(f"page error: {error.message}")

    def _add(self, text: str) -> None:
        if any(p.search(text) for p in self.allowed):
            self.seen_allowed.append(text)
        else:
            self.errors.append(text)


@dataclass
class Shots:
    """A full-page screenshot at every page load, numbered in order: 01-signin.png, ..."""

    page: Page
    folder: Path
    started: int = 0
    done: int = 0
    failures: list[str] = field(default_factory=list)

    def take(self, name: str) -> Path:
        self.started += 1
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "root"
        path = self.folder / f"{self.started:02d}-{slug[:60]}.png"
        try:
            self.page.screenshot(path=path, full_page=True, timeout=TIMEOUT_MS)
        except Exception as exc:  # the page moved on or closed: keep going, say so
            self.failures.append(f"{path.name}: {exc}")
        finally:
            self.done += 1
        return path

    def on_load(self, page: Page) -> None:
        # Runs in Playwright's event greenlet, alongside the test: settle() waits for it.
        self.take(page.url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0])

    def settle(self) -> None:
        """Wait for the screenshots of the loads so far (each sync call lets them run)."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while self.done < self.started and time.monotonic() < deadline:
            self.page.wait_for_timeout(20)


CONSOLE = pytest.StashKey[tuple["Page", Console, Shots]]()


@pytest.fixture(scope="session")
def screenshots_root(pytestconfig: pytest.Config) -> Path:
    """This run's screenshots: emptied once per session, like pytest-playwright's --output."""
    root = pytestconfig.rootpath / SCREENSHOTS
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root


@pytest.fixture
def console(page: Page, request: pytest.FixtureRequest) -> Console:
    """The console log of this test's page (to ``allow`` an expected error)."""
    return request.node.stash[CONSOLE][1]


@pytest.fixture
def shots(page: Page, request: pytest.FixtureRequest) -> Shots:
    """The screenshots of this test's page (``shots.take("name")`` for one more)."""
    return request.node.stash[CONSOLE][2]


@pytest.fixture
def page(page: Page, request: pytest.FixtureRequest, screenshots_root: Path) -> Iterator[Page]:
    """pytest-playwright's page, watched: a screenshot at each load, every console error and
    uncaught error kept for the check after the test (``pytest_runtest_call`` below)."""
    page.set_default_timeout(TIMEOUT_MS)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{request.node.path.stem}.{request.node.name}")
    folder = screenshots_root / name.strip("-")[:150]
    folder.mkdir(parents=True, exist_ok=True)
    log, shots = Console(), Shots(page, folder)
    page.on("console", log.on_console)
    page.on("pageerror", log.on_page_error)
    page.on("load", shots.on_load)
    request.node.stash[CONSOLE] = (page, log, shots)
    yield page
    if not page.is_closed():
        shots.settle()
        shots.take("end")
    if shots.failures:
        (folder / "failures.txt").write_text("\n".join(shots.failures) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test (not its teardown) on any console error or uncaught page error."""
    watched = item.stash.get(CONSOLE, None)
    try:
        result = yield
    except BaseException as exc:
        if watched is not None and watched[1].errors:
            exc.add_note("The browser also said:\n  " + "\n  ".join(watched[1].errors))
        raise
    if watched is not None:
        page, log, shots = watched
        if not page.is_closed():
            with contextlib.suppress(Exception):  # e.g. mid-navigation: nothing to wait for
                page.evaluate("0")  # a round trip, so that late messages arrive
            shots.settle()
        if log.errors:
            pytest.fail("The browser logged errors:\n  " + "\n  ".join(log.errors), pytrace=False)
    return result


# --- helpers: signing in, accessibility -------------------------------------------------------


@pytest.fixture
def sign_in(page: Page, live_users: dict[str, User], shots: Shots) -> Callable[[str], Page]:
    """``sign_in("nurse")``: through the sign-in form, as the browser would; ends on the
    patients page (the home page)."""
    from playwright.sync_api import expect

    def sign_in(role: str) -> Page:
        page.goto("/signin/")
        page.get_by_label("Username").fill(live_users[role].username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1, name="Patients")).to_be_visible()
        shots.settle()
        return page

    return sign_in


# WCAG 2.0, 2.1 and 2.2 A and AA, and Deque's best practices (axe-core's tags).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@pytest.fixture
def check_accessibility(page: Page) -> Callable[[], list[str]]:
    """Run axe-core on the page as it is now; return one line per violation (empty: none).

    axe.min.js (bundled by axe-playwright-python) is evaluated through the DevTools protocol,
    which the page's CSP does not govern, so the CSP stays as served."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check() -> list[str]:
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}}).response
        return [
            f"{page.url}: {v['id']} ({v['impact']}): {v['help']}: "
            + "; ".join(", ".join(map(str, node["target"])) for node in v["nodes"])
            for v in results["violations"]
        ]

    return check
