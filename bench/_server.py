"""The served app for the HTTP benchmarks (bench/api.py, bench/writes.py): the real ivig, run
by ``ivig serve`` (migrate, collectstatic, gunicorn) in a temporary data folder on a free port,
on SQLite or on a fresh PostgreSQL database; and the bare django-ninja app (bench/bare_app.py)
under the same gunicorn with the same workers.

The records are seeded through ivig's services (never raw SQL), in a child process with the
served app's environment: one user and one API token per role, and per simulated nurse a
patient with a weight, a 2-day induction course whose first order is verified and dispensed,
the pre-infusion check and the infusion started by that nurse (so each nurse records vital
signs on her own running infusion).

Used as a module by the benchmarks; run as a script only by them, in the child process:
``python bench/_server.py seed NURSES`` (prints the seed as JSON) or ``python bench/_server.py
count`` (prints the number of Vitals rows).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
PASSWORD = "infusion-chair-42-Xq"
ROLES = ("admin", "prescriber", "pharmacist")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def gunicorn_argv(app: str, port: int, workers: int) -> list[str]:
    """gunicorn as ``ivig serve`` runs it (src/ivig/commands/serve.py): same flags."""
    gunicorn = VENV_BIN / "gunicorn"
    argv = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
    flags = ["--workers", str(workers), "--access-logfile", "-", "--no-control-socket"]
    return [*argv, app, "--bind", f"127.0.0.1:{port}", *flags]


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Until the server answers any HTTP request (a 404 is an answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-3000:]
            raise RuntimeError(f"the server stopped (exit {process.returncode}):\n{tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    tail = log.read_text()[-3000:]
    raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{tail}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the gunicorn master (gunicorn's graceful stop), then wait for it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(master: int) -> float:
    """CPU time (user + system) used so far by a gunicorn master and its workers (Linux
    /proc): the server's own cost, whatever else the machine runs."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        pid, ppid = int(entry.name), int(fields[1])
        if master in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


# --- PostgreSQL: a fresh database per run --------------------------------------------------------


def _with_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(base_url: str) -> str:
    """A new, empty database on the server of ``base_url``; its URL."""
    import psycopg

    name = f"ivig_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_name(base_url, name)


def drop_database(base_url: str, url: str) -> None:
    import psycopg

    name = urlsplit(url).path.strip("/")
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the served app ------------------------------------------------------------------------------


@dataclass
class Seed:
    """What the seeding made: tokens by role, and per nurse her token and her order."""

    tokens: dict[str, str]
    nurse_tokens: list[str]
    orders: list[int]
    patient_id: int
    session_ids: list[int] = field(default_factory=list)
    nurse_ids: list[int] = field(default_factory=list)


class ServedApp:
    """``with ServedApp("sqlite", nurses=20) as app:`` the real ivig served on ``app.port``.

    ``database``: ``sqlite`` or ``postgres`` (then ``postgres_url`` is the server's URL; a fresh
    database is created for the run and dropped after it)."""

    def __init__(
        self,
        database: str,
        *,
        nurses: int,
        workers: int = 2,
        postgres_url: str | None = None,
    ) -> None:
        if database not in ("sqlite", "postgres"):
            raise ValueError(f"database: sqlite or postgres, not {database!r}")
        if database == "postgres" and not postgres_url:
            raise ValueError("postgres needs its server's URL (scripts/postgres start)")
        self.database = database
        self.nurses = nurses
        self.workers = workers
        self.postgres_url = postgres_url
        self.port = 0
        self.url: str | None = None
        self.data_dir = Path(tempfile.mkdtemp(prefix="ivig-bench-"))
        self.log = self.data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.seed: Seed | None = None
        self._log_file: Any = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IVIG_")}
        env["IVIG_DATA_DIR"] = str(self.data_dir)
        env["PYTHONUNBUFFERED"] = "1"
        if self.url:
            env["IVIG_DATABASE_URL"] = self.url
        return env

    def _child(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"bench/_server.py {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout.strip().splitlines()[-1]

    def __enter__(self) -> ServedApp:
        try:
            if self.database == "postgres":
                assert self.postgres_url is not None
                self.url = create_database(self.postgres_url)
            self.seed = Seed(**json.loads(self._child("seed", str(self.nurses))))
            self.port = free_port()
            self._log_file = self.log.open("wb")
            argv = [
                str(VENV_BIN / "ivig"),
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ]
            self.process = subprocess.Popen(
                argv, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT
            )
            wait_ready(self.port, self.process, self.log)
        except BaseException:
            self.close()
            raise
        return self

    def count_vitals(self) -> int:
        """The Vitals rows in the database (through the ORM, in a child process)."""
        return int(self._child("count"))

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def sqlite_file(self) -> Path:
        return self.data_dir / "ivig.sqlite3"

    def close(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.url and self.postgres_url:
            with contextlib.suppress(Exception):
                drop_database(self.postgres_url, self.url)
            self.url = None
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class BareApp:
    """``with BareApp(workers=2) as bare:`` bench/bare_app.py under the same gunicorn."""

    def __init__(self, *, workers: int = 2) -> None:
        self.workers = workers
        self.port = 0
        self.dir = Path(tempfile.mkdtemp(prefix="ivig-bench-bare-"))
        self.log = self.dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    def __enter__(self) -> BareApp:
        self.port = free_port()
        self._log_file = self.log.open("wb")
        argv = gunicorn_argv("bare_app:application", self.port, self.workers)
        env = {**os.environ, "PYTHONPATH": str(BENCH), "PYTHONUNBUFFERED": "1"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        self.process = subprocess.Popen(
            argv, env=env, cwd=self.dir, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        try:
            wait_ready(self.port, self.process, self.log)
        except BaseException:
            self.close()
            raise
        return self

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def close(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- in the child process: seed, count -----------------------------------------------------------


def _seed(nurses: int) -> dict[str, Any]:
    import datetime as dt

    from django.utils import timezone

    from ivig.commands.common import open_database

    with open_database(migrate=True):
        from ivig.records.models import Order
        from ivig.records.services import courses, infusions, orders
        from ivig.records.services.accounts import create_token, create_user
        from ivig.records.services.patients import PatientInput, add_weight, create_patient

        users = {r: create_user(None, r, PASSWORD, [r], system=True) for r in ROLES}
        tokens = {r: create_token(None, u.pk, "bench", system=True)[1] for r, u in users.items()}
        today = timezone.localdate()
        nurse_tokens, order_ids, session_ids, nurse_ids = [], [], [], []
        patient_id = 0
        for i in range(nurses):
            nurse = create_user(None, f"nurse{i:02d}", PASSWORD, ["nurse"], system=True)
            nurse_tokens.append(create_token(None, nurse.pk, "bench", system=True)[1])
            nurse_ids.append(nurse.pk)
            patient = create_patient(
                users["prescriber"],
                PatientInput(
                    mrn=f"BENCH{i:04d}",
                    family_name=f"Lambert{i}",
                    given_name="Edward",
                    date_of_birth=dt.date(1966, 5, 1),
                    sex="male",
                    height_cm=180,
                ),
                today=today,
            )
            patient_id = patient_id or patient.pk
            add_weight(
                users["prescriber"], patient.pk, today - dt.timedelta(days=5), 100, today=today
            )
            course = courses.prescribe(
                users["prescriber"],
                patient.pk,
                courses.CourseInput(
                    indication="lems",
                    phase="induction",
                    product="privigen-us",
                    place="hospital",
                    start=today,
                    days=2,
                ),
            )
            order = course.orders.order_by("sequence").first()
            assert order is not None
            order = orders.verify(users["pharmacist"], order.pk, order.version)
            lots = [
                orders.LotInput("P1", dt.date(2030, 1, 1), 40, 2),
                orders.LotInput("P2", dt.date(2030, 1, 1), 5, 1),
            ]
            order = orders.dispense(users["pharmacist"], order.pk, order.version, lots)
            now = timezone.now()
            answers = infusions.CheckAnswers(
                infection=False, fever=False, feeling_unwell=False, hydrated=True
            )
            infusions.pre_check(nurse, order.pk, answers, now=now)
            baseline = infusions.VitalsInput(pulse_per_min=72)  # before the start (issue 16)
            infusions.record_vitals(nurse, order.pk, now, baseline, now=now)
            version = Order.objects.get(pk=order.pk).version
            session = infusions.start_infusion(
                nurse, order.pk, version, now, visual_inspection_ok=True, now=now
            )
            order_ids.append(order.pk)
            session_ids.append(session.pk)
    return {
        "tokens": tokens,
        "nurse_tokens": nurse_tokens,
        "orders": order_ids,
        "patient_id": patient_id,
        "session_ids": session_ids,
        "nurse_ids": nurse_ids,
    }


def _count() -> int:
    from ivig.commands.common import open_database

    with open_database():
        from ivig.records.models import Vitals

        return Vitals.objects.count()


if __name__ == "__main__":
    if sys.argv[1:2] == ["seed"]:
        print(json.dumps(_seed(int(sys.argv[2]))))
    elif sys.argv[1:2] == ["count"]:
        print(_count())
    else:
        sys.exit(__doc__)
