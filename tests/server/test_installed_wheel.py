"""The package contains the application (issue 13): what ``pip install`` of the wheel gives, not
the source tree.

The wheel and the sdist are built from a copy of the tracked files (``git ls-files``; the build
writes ``build/`` and ``*.egg-info`` into the copy, never into the working tree) with the
project's own build backend and no network (``pip wheel --no-build-isolation``, setuptools'
``build_sdist``); both must carry every file tracked under ``src/ivig``. The wheel is installed
non-editable (``pip install --no-deps --no-index``) into a fresh virtual environment that sees
the dependencies already installed in this one through a ``.pth`` line naming their folder (a
plain path: the ``.pth`` files there, the editable install of ``src/`` among them, are not
read), so ``ivig`` is imported from the fresh environment and nothing from ``src/``.

There, with a fresh data folder and the temporary folder as working directory: ``python -m
ivig --help``, ``ivig demo``, ``ivig serve``; over HTTP each demo staff user signs in on the
sign-in page (with its CSRF token) and opens every page their role may open (the table of
tests/web/test_page_access.py, checked against the installed app's URL patterns), the
administrator every page of the admin site; a demo patient, invited by a nurse, sets up their
sign-in through the one-time link and opens every page of their own; every static file the
pages name, and every one the package ships, is served. Then ``ivig print`` and the exports
write their files.
"""

from __future__ import annotations

import csv
import http.client
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import served_app
from served_app import Served, app_env

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
NAME, VERSION = "ivig", "0.1.0"


def _load_page_rules() -> Any:
    """tests/web/test_page_access.py: its ``PAGES`` table says who may open each page."""
    path = ROOT / "tests" / "web" / "test_page_access.py"
    spec = importlib.util.spec_from_file_location("_ivig_page_rules", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RULES = _load_page_rules()
STAFF_ROLES = sorted(RULES.STAFF)


def _run(argv: list[str], *, timeout: float = 180, **kwargs: Any) -> str:
    """Run ``argv``; its standard output, or a failure with everything it said."""
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert done.returncode == 0, (
        f"{' '.join(argv)} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


def tracked_package_files() -> list[str]:
    """The files tracked under src/ivig (and present), relative to src/: ``ivig/...``."""
    listed = _run(["git", "ls-files", "-z", "src/ivig"], cwd=ROOT).split("\0")
    files = [name for name in listed if name and (ROOT / name).is_file()]
    assert files, "git lists no file under src/ivig"
    return [str(Path(name).relative_to("src")) for name in files]


# --- the build -----------------------------------------------------------------------------------


@dataclass
class Built:
    wheel: Path
    sdist: Path


def _build(tmp: Path) -> Built:
    """The wheel and the sdist, from a copy of the tracked files (as a fresh clone has them)."""
    tree = tmp / "tree"
    for name in _run(["git", "ls-files", "-z"], cwd=ROOT).split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    dist = tmp / "dist"
    try:
        _run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--no-index", "--quiet", "--wheel-dir", str(dist), str(tree)],
        )  # fmt: skip
        _run(
            [sys.executable, "-c",
             "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
             str(dist)],
            cwd=tree,
        )  # fmt: skip
    except AssertionError as exc:
        setuptools = importlib.metadata.version("setuptools")
        raise AssertionError(
            f"the build failed with this environment's setuptools {setuptools} (the project's "
            f"metadata, PEP 639 `license = ...`, needs setuptools 77 or newer)\n{exc}"
        ) from None
    (wheel,) = dist.glob(f"{NAME}-{VERSION}-*.whl")
    (sdist,) = dist.glob(f"{NAME}-{VERSION}.tar.gz")
    return Built(wheel, sdist)


# --- the fresh environment -----------------------------------------------------------------------


@dataclass
class Installed:
    """The wheel installed in a fresh virtual environment, the demo loaded in its data folder."""

    built: Built
    venv: Path
    home: Path  # the working directory of every command (not the repository)
    env: dict[str, str]
    passwords: dict[str, str] = field(default_factory=dict)  # demo user name: password
    facts: dict[str, Any] = field(default_factory=dict)  # ids and routes of the installed app

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(self, *argv: str, timeout: float = 180) -> str:
        return _run(list(argv), cwd=self.home, env=self.env, timeout=timeout)

    def ivig(self, *argv: str, timeout: float = 180) -> str:
        return self.run(str(self.bin / "ivig"), *argv, timeout=timeout)

    def python(self, code: str) -> str:
        return self.run(str(self.bin / "python"), "-c", code)


def _fresh_venv(tmp: Path, built: Built) -> Path:
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # This environment's pip installs into the fresh one (which has no pip of its own), before
    # the fresh one sees this one's packages: nothing named ivig is installed anywhere it looks.
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(built.wheel)],
    )  # fmt: skip
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(purelib.strip(), "dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    return venv


def _env(venv: Path, data: Path) -> dict[str, str]:
    """The installed app's environment: its own data folder, nothing of this process's ivig,
    Django or Python path settings."""
    env = app_env(data, None)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(name, None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


# The demo database's ids for the page table's routes, and the installed app's URL patterns.
FACTS = """
import json
from ivig.commands.common import open_database
with open_database():
    from django.urls import URLPattern, URLResolver, get_resolver
    from django.contrib.auth.models import User
    from ivig.records.models import Course, Order, Patient, StockLot, Unit

    def routes(patterns, prefix=""):
        out = []
        for p in patterns:
            if isinstance(p, URLResolver):
                out += routes(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append(prefix + str(p.pattern))
        return out

    patient = Patient.objects.get(mrn="DEMO-0003")  # the one with a reaction on day 1
    given = Order.objects.filter(patient=patient, session__isnull=False).order_by("date").first()
    planned = Course.objects.filter(patient=patient, phase="maintenance").get()
    # Issue 18: the demo's day infusion unit and a lot of its main pharmacy.
    unit = Unit.objects.get(name="Day infusion unit")
    lot = StockLot.objects.filter(store__name="Main pharmacy").order_by("pk").first()
    print(json.dumps({
        "routes": routes(get_resolver().url_patterns),
        "ids": {
            "patient_id": patient.pk,
            "mrn": patient.mrn,
            "order_id": given.pk,
            "course_id": planned.pk,
            "kind": "weight",
            "entry_id": patient.weights.order_by("pk").first().pk,
            "weight_id": patient.weights.order_by("pk").first().pk,
            "user_id": User.objects.get(username="demo-nurse").pk,  # issue 16: /staff/<id>/
            "unit_id": unit.pk,  # issue 18
            "lot_id": lot.pk,
        },
        "orders": list(Order.objects.order_by("pk").values_list("pk", flat=True)),
    }))
"""

WELCOME = "welcome/<int:user_id>/<str:token>/"  # a staff set-password link (issue 16)
DEMO_LINE = re.compile(r"^\s+(demo-\S+)\s+(\S+)\s+(\S+)\s*$")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, built: Built) -> Installed:
    tmp = tmp_path_factory.mktemp("installed")
    venv = _fresh_venv(tmp, built)
    home = tmp / "home"
    home.mkdir()
    app = Installed(built, venv, home, _env(venv, tmp / "data"))
    out = app.ivig("demo", timeout=300)
    for line in out.splitlines():
        found = DEMO_LINE.match(line)
        if found:
            app.passwords[found.group(1)] = found.group(3)
    assert len(app.passwords) == 4, out
    app.facts = json.loads(app.python(FACTS).strip().splitlines()[-1])
    return app


# --- the wheel and the sdist ---------------------------------------------------------------------


def test_the_wheel_and_the_sdist_carry_every_file_of_the_package(built: Built) -> None:
    """Every file tracked under src/ivig (templates, partials, static files, the catalogue,
    py.typed, the code) is in the wheel and in the sdist; no compiled file is."""
    tracked = set(tracked_package_files())
    with zipfile.ZipFile(built.wheel) as wheel:
        in_wheel = set(wheel.namelist())
    with tarfile.open(built.sdist) as sdist:
        prefix = f"{NAME}-{VERSION}/src/"
        in_sdist = {n[len(prefix) :] for n in sdist.getnames() if n.startswith(prefix)}
    assert not sorted(tracked - in_wheel), "tracked files missing from the wheel"
    assert not sorted(tracked - in_sdist), "tracked files missing from the sdist"
    compiled = [n for n in in_wheel | in_sdist if n.endswith((".pyc", ".pyo"))]
    assert not compiled, compiled


def test_the_fresh_environment_imports_ivig_from_the_wheel(installed: Installed) -> None:
    """``ivig`` comes from the fresh environment, never from src/; the dependencies come from
    this environment's folder; ``python -m ivig --help`` works."""
    where = json.loads(
        installed.python(
            "import json, sys, django, weasyprint, ivig, ivig.web\n"
            "print(json.dumps({'ivig': ivig.__file__, 'web': list(ivig.web.__path__),"
            " 'django': django.__file__, 'path': sys.path}))"
        )
    )
    venv = str(installed.venv.resolve())
    assert Path(where["ivig"]).resolve().is_relative_to(venv), where["ivig"]
    assert all(Path(p).resolve().is_relative_to(venv) for p in where["web"]), where["web"]
    assert not any(Path(p).resolve().is_relative_to(SRC) for p in where["path"] if p), where
    assert not Path(where["django"]).resolve().is_relative_to(venv)  # this environment's
    assert "Usage: ivig" in installed.run(str(installed.bin / "python"), "-m", "ivig", "--help")


# --- the served app ------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Visitor:
    """One browser: its cookies kept, redirects not followed."""

    served: Served
    cookies: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        """The end of the server's log (its errors), for a failure's message."""
        return "--- server log:\n" + self.served.log_path.read_text(errors="replace")[-6000:]

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        port = self.served.port
        headers = {"Host": f"127.0.0.1:{port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                if morsel["max-age"] == "0":  # Django deletes a cookie so
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Reply(response.status, response.headers, content)

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str], *, page: str) -> Reply:
        """Post ``form`` with the CSRF token of the form on ``page`` (opened first)."""
        opened = self.get(page)
        assert opened.status == 200, f"GET {page}: {opened.status}\n{self.log()}"
        return self.request("POST", path, {**form, "csrfmiddlewaretoken": csrf_token(opened)})


def csrf_token(reply: Reply) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', reply.text)
    assert found, "no CSRF token in the page"
    return found.group(1)


def signed_in(served: Served, username: str, password: str) -> Visitor:
    """Signed in on the real sign-in page (its form and CSRF token)."""
    visitor = Visitor(served)
    answer = visitor.post("/signin/", {"username": username, "password": password, "next": ""},
                          page="/signin/")  # fmt: skip
    assert (answer.status, answer.headers.get("Location")) == (302, "/"), (
        f"{username} not signed in: {answer.status}\n{answer.text[-2000:]}\n{visitor.log()}"
    )
    return visitor


PAGE_TYPES = ("text/html", "application/json")  # a page, or the health check's answer
ASSET = re.compile(r'(?:src|href)="(/static/[^"?#]+)')


class Pages:
    """Opens pages and checks each answer: 200, and the kind of file the route promises; notes
    every static file a page names."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.assets: set[str] = set()
        self.wrong: list[str] = []
        self.opened = 0

    def open(self, visitor: Visitor, url: str, who: str) -> Reply:
        reply = visitor.get(url)
        self.opened += 1
        kind = reply.headers.get("Content-Type", "")
        problem = None
        if reply.status != 200:
            problem = f"{reply.status} {reply.headers.get('Location', '')}"
        elif url.endswith(".pdf") and not reply.body.startswith(b"%PDF-"):
            problem = f"not a PDF ({kind})"
        elif url.endswith(".ics") and not reply.body.startswith(b"BEGIN:VCALENDAR"):
            problem = f"not a calendar ({kind})"
        elif url.endswith(".csv") and not kind.startswith("text/csv"):
            problem = f"not a CSV file ({kind})"
        elif not url.endswith((".pdf", ".ics", ".csv")) and not kind.startswith(PAGE_TYPES):
            problem = f"not a page ({kind})"
        if problem:
            self.wrong.append(f"{who} GET {url}: {problem}")
        if kind.startswith("text/html"):
            self.assets |= set(ASSET.findall(reply.text))
        return reply

    def check(self) -> None:
        log = self.served.log_path.read_text(errors="replace")
        assert not self.wrong, "\n".join([*self.wrong, "--- server log:", log[-6000:]])


def _url(route: str, ids: dict[str, Any]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), route)


@pytest.fixture
def served(installed: Installed, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """``ivig serve`` of the fresh environment (its own ``ivig`` script) on a free port."""
    monkeypatch.setattr(served_app, "BIN", installed.bin)
    server = Served(installed.env, installed.home.parent / "server.log")
    server.start(timeout=120)
    try:
        yield server
    finally:
        server.stop()


def test_the_installed_app_serves_every_page(installed: Installed, served: Served) -> None:
    facts = installed.facts
    pages = set(facts["routes"]) - {r for r in facts["routes"] if r.startswith(("api/", "admin/"))}
    assert pages == set(RULES.PAGES), "the installed app's pages are not the page table's"
    ids = dict(facts["ids"], check_id=0)  # no GET route needs a check id
    check = Pages(served)

    # Each demo staff user, signed in on the sign-in page: every page their role may open.
    for role in STAFF_ROLES:
        username = f"demo-{role}"
        visitor = signed_in(served, username, installed.passwords[username])
        for route, (get_rule, _) in RULES.PAGES.items():
            if isinstance(get_rule, frozenset) and role in get_rule:
                check.open(visitor, _url(route, ids), username)
        check.open(visitor, "/api/docs", username)
        if role == "nurse":  # the run sheet of every demo order, whatever its state
            for order_id in facts["orders"]:
                check.open(visitor, f"/orders/{order_id}/runsheet/", username)
        if role == "admin":  # the admin site: its index and every page it links to
            index = check.open(visitor, "/admin/", username)
            links = set(re.findall(r'href="(/admin/[^"#?]*)"', index.text)) - {"/admin/"}
            assert len(links) > 10, sorted(links)
            for url in sorted(links):
                if "logout" not in url:
                    check.open(visitor, url, username)
    check.check()

    # A demo patient: invited by the nurse, their sign-in set up through the one-time link.
    nurse = signed_in(served, "demo-nurse", installed.passwords["demo-nurse"])
    patient_page = _url("patients/<int:patient_id>/", ids)
    sent = nurse.post(f"{patient_page}invite/", {}, page=patient_page)
    found = re.search(r"/invite/([^\"/]+)/", sent.text)
    assert sent.status == 200, f"no invitation: {sent.status}\n{nurse.log()}"
    assert found, sent.text
    ids["token"] = found.group(1)

    # The public pages (the invitation's among them, before it is used), signed out.
    anonymous = Visitor(served)
    for route, (get_rule, _) in RULES.PAGES.items():
        if get_rule == RULES.PUBLIC and route not in ("favicon.ico", WELCOME):
            check.open(anonymous, _url(route, ids), "anonymous")
    stale = anonymous.get(_url(WELCOME, {**ids, "token": "not-a-link"}))
    assert stale.status == 404, stale.status  # a staff set-password link that does not work
    icon = anonymous.get("/favicon.ico")
    assert icon.status == 301, icon.status

    patient = Visitor(served)
    link = _url("invite/<str:token>/", ids)
    password = "blue-kettle-river-93"
    accepted = patient.post(
        link, {"username": "sofia.b", "password": password, "password2": password}, page=link
    )
    assert (accepted.status, accepted.headers.get("Location")) == (302, "/me/"), (
        f"the patient's sign-in not set up: {accepted.status}\n{patient.log()}"
    )
    for route, (get_rule, _) in RULES.PAGES.items():
        if get_rule == RULES.PATIENT_ONLY:
            check.open(patient, _url(route, ids), "the patient")

    # Every static file a page named, the icon, and every static file the package ships.
    shipped = {
        "/static/" + name.split("/static/", 1)[1]
        for name in tracked_package_files()
        if "/static/" in name
    }
    assert shipped, "the package ships no static file"
    assert any("htmx" in a for a in check.assets), sorted(check.assets)
    for url in sorted(check.assets | shipped | {icon.headers["Location"]}):
        reply = anonymous.get(url)
        if reply.status != 200 or not reply.body:
            check.wrong.append(f"GET {url}: {reply.status}, {len(reply.body)} bytes")
    check.check()
    assert check.opened > 60, check.opened


# --- the commands --------------------------------------------------------------------------------


def test_the_installed_commands_write_their_files(installed: Installed) -> None:
    """``ivig print`` and the exports, to files, from the installed package."""
    home, ids = installed.home, installed.facts["ids"]
    installed.ivig("print", str(ids["order_id"]), "--out", "run-sheet.pdf")
    pdf = (home / "run-sheet.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-"), pdf[:40]
    assert b"%%EOF" in pdf[-1024:]

    installed.ivig("export", "ics", ids["mrn"], "--out", "infusions.ics")
    calendar = (home / "infusions.ics").read_text()
    assert calendar.startswith("BEGIN:VCALENDAR"), calendar[:200]
    assert "BEGIN:VEVENT" in calendar, calendar

    installed.ivig("export", "fhir", ids["mrn"], "--out", "bundle.json")
    bundle = json.loads((home / "bundle.json").read_text())
    assert bundle["resourceType"] == "Bundle", str(bundle)[:200]
    assert bundle["entry"], str(bundle)[:200]

    for what in ("infusions", "outcomes"):
        installed.ivig("export", "csv", what, "--out", f"{what}.csv")
        with (home / f"{what}.csv").open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert len(rows) > 1, (what, rows)  # a header and rows
        assert len(rows[0]) > 1, (what, rows[0])
