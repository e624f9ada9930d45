"""PostgreSQL restarted under the running app (issue 8, faults): the test runs its own private
PostgreSQL cluster (initdb into a temporary folder, a free port; as the ``postgres`` OS user
when the test runs as root, as scripts/postgres does) and the real served app on it
(``ivig serve``: gunicorn, 2 workers).

- A quick restart between requests: the next requests succeed at once (the pooled connection
  that died with the server is health-checked and replaced, ``CONN_HEALTH_CHECKS``).
- While PostgreSQL is down: an API GET and POST get a clear 503, the API's error body
  (``database_unavailable``) with ``Retry-After``; a page gets a short 503 page; no 500, no
  traceback; and the POST saved nothing.
- Once it is up again: the same requests succeed, without restarting the app.

Skipped only when PostgreSQL's server binaries are not installed (``scripts/postgres start``
installs them; scripts/test runs it before the tests). This test starts its own server, so it
runs once, in the SQLite pass; it does not need ``IVIG_DATABASE_URL``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from served_app import Answer, Served, app_env, free_port, seed

DOWN_MESSAGE = "The database is not reachable"


def _bindir() -> Path | None:
    """PostgreSQL's server binaries: 15 if installed, else the newest Debian version."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: (
            p.parent.name != "15",
            -int(p.parent.name) if p.parent.name.isdigit() else 0,
        ),
    )
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


@dataclass
class Cluster:
    bindir: Path
    folder: Path
    port: int
    owner: str | None  # the OS user to run as (None: this one)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgres://ivig@127.0.0.1:{self.port}/ivig"

    def run(self, *argv: str, timeout: float = 60) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        done = subprocess.run(
            command, cwd="/", capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise AssertionError(f"{argv} failed:\n{done.stdout}\n{done.stderr}\n{tail}")

    def start(self) -> None:
        self.run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                 "-w", "-t", "30")  # fmt: skip

    def stop(self) -> None:
        self.run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "30")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = _bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
            "run scripts/postgres start once to install them"
        )
    owner = "postgres" if os.geteuid() == 0 else None
    # Not in pytest's tmp_path: as root, that is private to root and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="ivig-pg-", dir="/tmp"))
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    made = Cluster(bindir, folder, free_port(), owner)
    try:
        made.run("initdb", "-D", str(made.data), "-U", "ivig", "--auth=trust", "--no-sync",
                 "--encoding=UTF8", "--no-locale")  # fmt: skip
        with (made.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {made.port}\n"
                f"unix_socket_directories = '{folder}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        made.start()
        made.run("createdb", "-h", "127.0.0.1", "-p", str(made.port), "-U", "ivig", "ivig")
        yield made
    finally:
        if made.running():
            made.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def served(tmp_path: Path, cluster: Cluster) -> Iterator[Served]:
    server = Served(app_env(tmp_path / "data", cluster.url), tmp_path / "server.log")
    try:
        yield server
    finally:
        server.stop()


class Requests:
    """The three requests: an API GET and POST (tokens) and a page (a signed-in session)."""

    def __init__(self, served: Served, info: dict[str, Any]) -> None:
        self.served = served
        self.token = info["tokens"]["prescriber"]
        self.cookie = info["session_cookie"]
        self.posted = 0

    def api_get(self) -> Answer:
        return self.served.request("GET", "/api/patients?q=Lambert", token=self.token)

    def api_post(self, mrn: str | None = None) -> Answer:
        self.posted += 1
        body = {
            "mrn": mrn or f"OUTAGE{self.posted:04d}",
            "family_name": "Outage",
            "given_name": f"Test{self.posted}",
            "date_of_birth": "1970-01-01",
            "sex": "female",
            "height_cm": 165,
        }
        return self.served.request("POST", "/api/patients", body, token=self.token)

    def page(self) -> Answer:
        return self.served.request("GET", "/patients/", cookie=self.cookie)

    def all_work(self) -> None:
        got = self.api_get()
        assert got.status == 200, got.body[:500]
        assert [p["mrn"] for p in got.json()] == ["MRN0001"]
        posted = self.api_post()
        assert posted.status == 201, posted.body[:500]
        page = self.page()
        assert page.status == 200, page.body[:500]
        assert "Lambert" in page.body.decode()


def _api_unavailable(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.body[:500])
    assert answer.headers["content-type"].startswith("application/json")
    assert int(answer.headers["retry-after"]) > 0
    error = answer.json()["error"]
    assert error["code"] == "database_unavailable"
    assert error["message"].startswith(DOWN_MESSAGE)
    assert error["field"] is None
    assert set(error) == {"code", "message", "field"}


def _page_unavailable(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.body[:500])
    assert answer.headers["content-type"].startswith("text/html")
    assert int(answer.headers["retry-after"]) > 0
    text = answer.body.decode()
    assert "The database is unavailable" in text
    assert "try again" in text
    for leak in ("Traceback", "OperationalError", "psycopg", "Server Error"):
        assert leak not in text


def test_postgresql_down_is_503_and_back_without_restarting_the_app(
    cluster: Cluster, served: Served
) -> None:
    info = seed(served.env, nurses=())
    served.start()
    requests = Requests(served, info)
    for _ in range(3):  # both workers hold a pooled connection
        requests.all_work()

    # A quick restart between requests: the dead pooled connections are replaced at once.
    cluster.stop()
    cluster.start()
    for _ in range(3):
        requests.all_work()

    cluster.stop()
    for _ in range(3):  # whichever worker answers
        _api_unavailable(requests.api_get())
        _api_unavailable(requests.api_post(mrn="DOWN0001"))
        _page_unavailable(requests.page())

    cluster.start()
    requests.all_work()  # at the first try, with the same app
    for _ in range(2):
        requests.all_work()
    assert served.process is not None
    assert served.process.poll() is None
    # The POSTs refused while the database was down saved nothing.
    found = served.request("GET", "/api/patients?q=DOWN0001", token=requests.token)
    assert found.status == 200
    assert found.json() == []
    log = served.log_path.read_text()
    assert "database unavailable: GET /api/patients answered 503" in log
    assert "database unavailable: GET /patients/ answered 503" in log
