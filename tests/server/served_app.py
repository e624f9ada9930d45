"""The real served app for the fault tests (issue 8): ``ivig serve`` (migrate, collectstatic,
gunicorn with its workers) in a subprocess of its own process group, on its own data folder
and a free port; records seeded into that app's database by a subprocess (this process's
Django is set up on the test database, not the served one); plain HTTP requests.

Used by ``test_crash_recovery.py`` and ``test_database_outage.py``. Every process and socket
is closed (the suite turns ResourceWarning into an error).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = ["PASSWORD", "Answer", "Served", "free_port", "run_in_app", "seed"]

PASSWORD = "infusion-chair-42-Xq"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def app_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The served app's environment: its own data folder (and database), nothing inherited
    from the test process's ivig settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVIG_", "DJANGO_"))}
    env["IVIG_DATA_DIR"] = str(data_dir)
    env["IVIG_SECRET_KEY"] = "fault-tests-" + "k" * 40
    env["PYTHONWARNINGS"] = "ignore"  # the app's own warnings are not this test's business
    if database_url:
        env["IVIG_DATABASE_URL"] = database_url
    return env


def run_in_app(code: str, env: dict[str, str], *, timeout: float = 60) -> Any:
    """Run ``code`` (Python; Django set up on the app's database, migrated; the function
    ``out(value)`` prints the JSON answer) in a subprocess; return the answer."""
    prelude = (
        "import json, sys\n"
        "from ivig.commands.common import open_database\n"
        "def out(value):\n"
        "    sys.stdout.write('\\nANSWER ' + json.dumps(value, default=str) + '\\n')\n"
        "with open_database(migrate=True):\n"
    )
    body = "".join(f"    {line}\n" for line in code.strip("\n").splitlines())
    done = subprocess.run(
        [sys.executable, "-c", prelude + body],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("ANSWER ")]
    if done.returncode != 0 or not lines:
        raise AssertionError(
            f"the app-side script failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return json.loads(lines[-1][len("ANSWER ") :])


# Users with tokens, a patient, day 1 of a Privigen (US) LEMS induction verified, dispensed,
# checked and started now (the first pump row is the plan's first step); a signed-in session.
SEED = """
import datetime as dt
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from ivig.records.models import Order
from ivig.records.services import accounts, courses, infusions, orders, patients
PASSWORD = {password!r}
NURSES = {nurses!r}
# The clients use tokens and a session: the passwords are never checked, so a fast hasher.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
made = {{}}
staff = [("admin", "admin"), ("prescriber", "prescriber"), ("pharmacist", "pharmacist")]
for name, role in staff + [(n, "nurse") for n in NURSES]:
    made[name] = accounts.create_user(None, name, PASSWORD, [role], system=True)
tokens = {{}}
for name, user in made.items():
    tokens[name] = accounts.create_token(made["admin"], user.pk, "fault test")[1]
today = timezone.localdate()
patient = patients.create_patient(
    made["prescriber"],
    patients.PatientInput(
        mrn="MRN0001", family_name="Lambert", given_name="Edward",
        date_of_birth=dt.date(1966, 5, 1), sex="male", height_cm=180,
    ),
    today=today,
)
patients.add_weight(made["prescriber"], patient.pk, today, 100, today=today)
course = courses.prescribe(
    made["prescriber"], patient.pk,
    courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                        place="hospital", start=today, days=2),
)
order = course.orders.order_by("sequence").first()
order = orders.verify(made["pharmacist"], order.pk, order.version)
expiry = today + dt.timedelta(days=730)
lots = [orders.LotInput("P1", expiry, 40, 2), orders.LotInput("P2", expiry, 5, 1)]
order = orders.dispense(made["pharmacist"], order.pk, order.version, lots)
order_id = order.pk
session_version = None
if NURSES:
    now = timezone.now()
    answers = infusions.CheckAnswers(
        infection=False, fever=False, feeling_unwell=False, hydrated=True
    )
    infusions.pre_check(made[NURSES[0]], order_id, answers, now=now)
    version = Order.objects.get(pk=order_id).version
    session = infusions.start_infusion(
        made[NURSES[0]], order_id, version, now, visual_inspection_ok=True, now=now,
        baseline_vitals_missing_reason="served for a test: no patient",  # issue 16 item 7
    )  # fmt: skip
    session_version = session.version
store = SessionStore()
user = made[NURSES[0]] if NURSES else made["prescriber"]
store[SESSION_KEY] = str(user.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.create()
out({{"tokens": tokens, "patient_id": patient.pk, "order_id": order_id,
      "session_version": session_version, "session_cookie": store.session_key}})
"""


def seed(env: dict[str, str], nurses: tuple[str, ...] = ("nurse",)) -> dict[str, Any]:
    """Seed the app's database (migrating it first); the tokens, ids and a session cookie."""
    answer: dict[str, Any] = run_in_app(SEED.format(password=PASSWORD, nurses=nurses), env)
    return answer


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Served:
    """``ivig serve`` on ``port`` with ``env``; ``start()``, ``kill()`` (SIGKILL to the whole
    process group: the gunicorn master and its workers), ``stop()``."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    workers: int = 2
    process: subprocess.Popen[bytes] | None = None
    _log: TextIO | None = None

    def start(self, timeout: float = 60) -> None:
        assert self.process is None
        self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [str(BIN / "ivig"), "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn's master and workers
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                # Answered by the app (not signed in): the workers are up.
                if self.request("GET", "/api/me", timeout=5).status == 401:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"ivig serve did not start:\n{self.log_path.read_text()[-3000:]}")

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the master and every worker at once (no graceful anything)."""
        self._signal_group(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        assert self.process is not None
        self.process.wait(timeout=15)
        # Workers orphaned by the master's death are gone too (same group); wait for them.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        cookie: str | None = None,
        timeout: float = 10,
    ) -> Answer:
        """One request on a new connection (closed after); OSError when the server is gone."""
        headers = {"Host": f"127.0.0.1:{self.port}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = f"sessionid={cookie}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            content = response.read()
            return Answer(
                response.status, {k.lower(): v for k, v in response.getheaders()}, content
            )
        finally:
            connection.close()
