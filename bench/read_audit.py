"""Benchmark: what the read audit of a list costs (issue 19 item 5).

``GET /api/patients?limit=200`` lists 200 patients, and each is a ``read`` of that patient's
record (issue 17 item 8): the read-audit middleware appends 200 events to the audit chain. The
request is timed three ways, in this process, through Django's WSGI handler as gunicorn calls it
(no HTTP, no gunicorn), on SQLite in a temporary data folder seeded through ivig's services:

- ``bulk``: as ivig runs now (``reads.record_reads`` -> ``audit.record_all``: one head lock,
  the 200 events in a few multi-row INSERTs, one head update, each event still its own
  chain link);
- ``per event``: as before issue 19 (``audit.record`` once per patient: a head lock, an INSERT
  and a head update each);
- ``no audit``: the read audit switched off, the floor the other two add to.

Printed: per way, the median wall-clock and CPU (``time.process_time``) milliseconds and the
best wall-clock time of ``--requests`` requests (after a warm-up; the three ways take turns, so
that the load of a shared machine falls on each alike), the events and SQL statements of one
request, and the audit chain verified at the end. Timings are printed, never
asserted.

Run:  .venv/bin/python bench/read_audit.py [--patients 200] [--requests 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

PASSWORD = "infusion-chair-42-Xq"
Call = Callable[[], None]


def _environ(path: str, query: str, token: str) -> dict[str, Any]:
    """A GET as gunicorn hands it to the app (bench/request_cpu.py's POST, made a GET)."""
    from request_cpu import _environ as post_environ

    return {**post_environ(path, b"", token), "REQUEST_METHOD": "GET", "QUERY_STRING": query}


def _seed(patients: int) -> str:
    """A prescriber with an API token and ``patients`` patients; the token."""
    from django.utils import timezone

    from ivig.records.services.accounts import create_token, create_user
    from ivig.records.services.patients import PatientInput, create_patient

    prescriber = create_user(None, "prescriber", PASSWORD, ["prescriber"], system=True)
    token = create_token(None, prescriber.pk, "bench", system=True)[1]
    today = timezone.localdate()
    for i in range(patients):
        create_patient(
            prescriber,
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
    return token


def _list_call(token: str, patients: int) -> Call:
    from django.db import connections

    connections.close_all()  # the app's requests open their own, as a fresh worker does
    from ivig.server.wsgi import application

    environ = _environ("/api/patients", f"limit={patients}", token)

    def call() -> None:
        status: list[str] = []
        answer = application(dict(environ), lambda line, headers, exc=None: status.append(line))
        content = b"".join(answer)
        answer.close()  # request_finished, as gunicorn does
        if not status[0].startswith("200"):
            raise SystemExit(f"/api/patients: {status[0]}: {content[:500]!r}")

    return call


def _per_event(actor: Any, url: str, reads: Iterable[tuple[str, object, int]]) -> None:
    """The read audit as it was before issue 19: ``audit.record`` once per patient."""
    from django.db import transaction

    from ivig.records import audit

    with transaction.atomic():
        for category, record_id, patient_id in reads:
            audit.record(
                actor, "read", category, record_id, patient_id=patient_id, after={"url": url[:500]}
            )


def _no_audit(actor: Any, url: str, reads: Iterable[tuple[str, object, int]]) -> None:
    """No read audit at all."""


def _statements(call: Call) -> int:
    """The SQL statements of one request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.ensure_connection()
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries.captured_queries)


def _timed(call: Call) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds of one request."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200, help="patients listed (max 200)")
    parser.add_argument("--requests", type=int, default=15, help="timed requests per way")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="ivig-bench-read-audit-"))
    os.environ["IVIG_DATA_DIR"] = str(data_dir)
    os.environ.pop("IVIG_DATABASE_URL", None)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"python {platform.python_version()}, {os.cpu_count()} cores; load average {load}")
    try:
        from ivig.commands.common import open_database

        with open_database(migrate=True):
            from ivig.records import audit
            from ivig.records.models import AuditEvent
            from ivig.records.services import reads

            token = _seed(args.patients)
            call = _list_call(token, args.patients)
            bulk = reads.record_reads
            ways = {"bulk": bulk, "per event": _per_event, "no audit": _no_audit}
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
            for _ in range(3):  # warm-up: imports, caches, the connection
                call()
            for _ in range(args.requests):  # the ways in turn, so that load falls on each alike
                for name, way in ways.items():
                    reads.record_reads = way  # type: ignore[assignment]
                    times[name].append(_timed(call))
            print(
                f"GET /api/patients?limit={args.patients}, SQLite, {args.requests} requests each:"
            )
            for name, way in ways.items():
                reads.record_reads = way  # type: ignore[assignment]
                before = AuditEvent.objects.count()
                sql = _statements(call)
                written = AuditEvent.objects.count() - before
                wall = statistics.median(t for t, _ in times[name])
                cpu = statistics.median(c for _, c in times[name])
                print(
                    f"  {name:>9}: median {wall:6.1f} ms wall, {cpu:6.1f} ms CPU, "
                    f"best {min(t for t, _ in times[name]):6.1f} ms wall "
                    f"({written} events, {sql} SQL statements a request)"
                )
            reads.record_reads = bulk
            report = audit.verify_chain()
            print(f"audit chain: {'ok' if report.ok else report.problem} ({report.checked} events)")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
