"""Benchmark: the patient search, the patient page and the cap check on seeded databases of
two sizes, and how they grow (databases made by bench/seed.py).

Run:  .venv/bin/python bench/scale.py --data-dir /tmp/ivig-scale/sqlite-10k \\
          --data-dir /tmp/ivig-scale/sqlite-100k [--repeat 15] [--explain]
      .venv/bin/python bench/scale.py --database-url postgres://.../ivig_10k \\
          --database-url postgres://.../ivig_100k

Example: seed 10,000 and 100,000 patients (bench/seed.py), then compare them as above: one row
per operation with the median milliseconds at each size and the growth factor (large / small).

Each database is measured in its own process (Django settings are per process), as the
seeded prescriber ``seed-prescriber``, over ``--repeat`` rounds after one warm-up round; each
round uses the next of five sample patients spread over the table. The operations:

- search by name: ``GET /patients/?q=<the first 4 letters of a family name>`` (the search box's
  htmx request, through Django's test client: the view, ``search_patients`` and the next
  infusion of each row);
- search by MRN: the same with a patient's MRN in lower case;
- the old search query (``icontains`` on the names, ``iexact`` on the MRN; the API's
  ``GET /api/patients?q=`` still runs it), for comparison;
- patient page: ``GET /patients/<id>/`` (all of it: details, cap gauge, a page of infusions,
  outcomes, reactions, what the patient reported);
- cap check: ``courses.plan_with_limits`` for a new maintenance course after the patient's
  20 infusions (the prescriber's plan preview and ``courses.prescribe`` run it: the rolling
  28-day check against every counted order of the patient).

``--explain`` also prints the query plan of every query each operation runs that scans a
table (SQLite ``EXPLAIN QUERY PLAN`` / PostgreSQL ``EXPLAIN``). Timings are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

OPERATIONS = (
    "search by name (page)",
    "search by MRN (page)",
    "old search query (icontains)",
    "patient page",
    "cap check (plan_with_limits)",
)


def _measure(repeat: int, explain: bool) -> dict[str, Any]:
    """Run in a child process configured for one database: the medians, in ms."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivig.server.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Q
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from ivig.errors import IvigError
    from ivig.records.models import Order, Patient
    from ivig.records.services import courses

    client = Client()
    client.force_login(get_user_model().objects.get(username="seed-prescriber"))
    top = Patient.objects.order_by("-id").values_list("id", flat=True).first() or 0
    first = Patient.objects.order_by("id").values_list("id", flat=True).first() or 0
    samples = []
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):
        patient = Patient.objects.filter(id__gte=first + int((top - first) * fraction)).first()
        assert patient is not None, "seed the database first (bench/seed.py)"
        last = Order.objects.filter(patient=patient).order_by("-date").first()
        samples.append((patient, last.date if last else dt.date.today()))

    def get(url: str) -> None:
        response = client.get(url, headers={"HX-Request": "true"} if "?q=" in url else {})
        assert response.status_code == 200, (url, response.status_code)

    def old_search(term: str) -> None:
        query = Patient.objects.filter(
            Q(mrn__iexact=term) | Q(family_name__icontains=term) | Q(given_name__icontains=term)
        )
        list(query.order_by("family_name", "given_name")[:100])

    def cap_check(patient: Patient, last: dt.date) -> None:
        data = courses.CourseInput(
            indication="lems",
            phase="maintenance",
            product="privigen-us",
            place="infusion-centre",
            start=last + dt.timedelta(days=28),
            dose_g_per_kg=1.0,
            every_weeks=4,
            count=6,
        )
        # a refusal (the cap) is the check's answer too: it ran in full
        with contextlib.suppress(IvigError):
            courses.plan_with_limits(patient, data)

    ops: dict[str, Callable[[Patient, dt.date], None]] = {
        OPERATIONS[0]: lambda p, _: get(f"/patients/?q={p.family_name[:4]}"),
        OPERATIONS[1]: lambda p, _: get(f"/patients/?q={p.mrn.lower()}"),
        OPERATIONS[2]: lambda p, _: old_search(p.family_name[:4]),
        OPERATIONS[3]: lambda p, _: get(f"/patients/{p.pk}/"),
        OPERATIONS[4]: cap_check,
    }
    medians: dict[str, float] = {}
    queries: dict[str, int] = {}
    scans: dict[str, list[str]] = {}
    for name, op in ops.items():
        op(*samples[0])  # warm-up
        times = []
        for i in range(repeat):
            began = time.perf_counter()
            op(*samples[i % len(samples)])
            times.append((time.perf_counter() - began) * 1000)
        medians[name] = statistics.median(times)
        with CaptureQueriesContext(connection) as captured:
            op(*samples[1])
        queries[name] = len(captured.captured_queries)
        if explain:
            scans[name] = _scans(connection, [q["sql"] for q in captured.captured_queries])
    from ivig.records.services.patients import search_patients

    found = [len(search_patients(p.family_name[:4])[:100]) for p, _ in samples]
    return {
        "found": found,
        "vendor": connection.vendor,
        "patients": Patient.objects.count(),
        "orders": Order.objects.count(),
        "ms": medians,
        "queries": queries,
        "scans": scans,
    }


def _scans(connection: Any, statements: list[str]) -> list[str]:
    """The statements whose plan reads a whole table (or a whole index without a bound)."""
    out = []
    for sql in statements:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                plan = [str(row[-1]) for row in cursor.fetchall()]
                bad = [p for p in plan if p.startswith("SCAN ") and "django_session" not in p]
            else:
                cursor.execute(f"EXPLAIN {sql}")
                plan = [str(row[0]) for row in cursor.fetchall()]
                bad = [p for p in plan if "Seq Scan" in p and "django_session" not in p]
        if bad:
            out.append(f"{sql[:300]}\n    -> {' | '.join(plan)}")
    return out


def _child(target: tuple[str, str], repeat: int, explain: bool) -> dict[str, Any]:
    kind, value = target
    env = dict(os.environ)
    env.pop("IVIG_DATABASE_URL", None)
    if kind == "data-dir":
        env["IVIG_DATA_DIR"] = value
    else:
        env["IVIG_DATABASE_URL"] = value
        env.setdefault("IVIG_DATA_DIR", "/tmp/ivig-scale/pg-data")
    env["IVIG_ALLOWED_HOSTS"] = "testserver"
    args = [sys.executable, __file__, "--child", "--repeat", str(repeat)]
    done = subprocess.run(
        [*args, *(["--explain"] if explain else [])],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"measuring {value} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", action="append", default=[], help="a seeded SQLite dir")
    parser.add_argument("--database-url", action="append", default=[], help="a seeded PG")
    parser.add_argument("--repeat", type=int, default=15, help="rounds per operation")
    parser.add_argument("--explain", action="store_true", help="print the plans that scan")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_measure(args.repeat, args.explain)))
        return
    targets = [("data-dir", d) for d in args.data_dir] + [
        ("database-url", u) for u in args.database_url
    ]
    if not targets:
        parser.error("give at least one --data-dir or --database-url")
    results = [_child(t, args.repeat, args.explain) for t in targets]

    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
        f"median of {args.repeat} rounds; {dt.date.today()}"
    )
    table = Table(title="scale: median ms (queries)")
    table.add_column("operation")
    for r in results:
        table.add_column(f"{r['vendor']} {r['patients']:,} patients", justify="right")
    if len(results) > 1:
        table.add_column("growth (last / first)", justify="right")
    for name in OPERATIONS:
        cells = [f"{r['ms'][name]:.2f} ({r['queries'][name]})" for r in results]
        if len(results) > 1:
            cells.append(f"x{results[-1]['ms'][name] / results[0]['ms'][name]:.2f}")
        table.add_row(name, *cells)
    console.print(table)
    for r in results:
        console.print(
            f"{r['vendor']} {r['patients']:,} patients, {r['orders']:,} infusions: the name "
            f"searches found {', '.join(map(str, r['found']))} patients (at most 100 listed)"
        )
    for r in results:
        for name, found in r["scans"].items():
            for line in found:
                console.print(f"[{r['vendor']} {r['patients']:,}] {name}: {line}", markup=False)


if __name__ == "__main__":
    main()
