"""Benchmark: API throughput of the real app under gunicorn, against the bare endpoint of the
same framework and server, in the same run.

The app is started as ``ivig serve`` starts it (migrate, collectstatic, gunicorn with its
default 2 sync workers unless ``--workers``) in a temporary data folder, on SQLite or on a
fresh PostgreSQL database (created on the server of ``scripts/postgres start`` and dropped
after). The bare app is bench/bare_app.py (django-ninja, one endpoint, no database, no
middleware) under the same gunicorn with the same workers. Load: bench/_load.py, N clients
on this machine (client and server share its cores).

- ``POST /api/patients/{id}/courses/preview``: the plan of a one-year LEMS maintenance course
  (1 g/kg every 4 weeks, Privigen), with the prescriber's API token;
- ``POST /api/orders/{id}/vitals``: a full set of vital signs timed now, each client a nurse
  with her own token on her own running infusion (so every answer should be a 201);
- ``POST /bare``: the bare endpoint echoing a small JSON body.

Each at 1, 10 and 50 concurrent clients (``--clients``) for ``--seconds``; any answer other
than 2xx is an error, counted and shown. Timings are printed, never asserted.

Run:      .venv/bin/python bench/api.py [--seconds 5] [--database sqlite|postgres|both]
                                        [--workers 2] [--clients 1,10,50]
Example:  .venv/bin/python bench/api.py --seconds 5 --database both
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _load import Result, Target, run, warm
from _server import BareApp, ServedApp

ROOT = Path(__file__).resolve().parent.parent
VITALS = json.dumps(
    {
        "at": "{now}",
        "temperature_c": 36.8,
        "pulse_per_min": 72,
        "systolic_mm_hg": 124,
        "diastolic_mm_hg": 78,
        "respiratory_rate_per_min": 14,
        "spo2_percent": 98,
    }
)


def postgres_url() -> str:
    """The private server's URL (``scripts/postgres start``: starts it if needed)."""
    url = os.environ.get("IVIG_BENCH_POSTGRES_URL")
    if url:
        return url
    done = subprocess.run(
        [str(ROOT / "scripts" / "postgres"), "start"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def engines(choice: str) -> list[str]:
    return ["sqlite", "postgres"] if choice == "both" else [choice]


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{platform.machine()}, {platform.processor() or '?'}; load average {load}"
    )


def preview_body() -> str:
    start = dt.date.today() + dt.timedelta(days=28)
    return json.dumps(
        {
            "indication": "lems",
            "phase": "maintenance",
            "product": "privigen-us",
            "place": "hospital",
            "start": start.isoformat(),
            "dose_g_per_kg": 1.0,
            "every_weeks": 4,
            "until": (start + dt.timedelta(days=365)).isoformat(),
        }
    )


def measure(database: str, args: argparse.Namespace, console: Console) -> list[Result]:
    clients = [int(c) for c in args.clients.split(",")]
    url = postgres_url() if database == "postgres" else None
    results: list[Result] = []
    console.print(f"[bold]{database}[/]: seeding {max(clients)} nurses and starting the servers")
    with (
        ServedApp(database, nurses=max(clients), workers=args.workers, postgres_url=url) as app,
        BareApp(workers=args.workers) as bare,
    ):
        seed = app.seed
        assert seed is not None
        targets: list[tuple[ServedApp | BareApp, Target]] = [
            (bare, Target("bare", ("/bare",), '{"name": "bench", "value": 1.5}')),
            (
                app,
                Target(
                    "preview",
                    (f"/api/patients/{seed.patient_id}/courses/preview",),
                    preview_body(),
                    (seed.tokens["prescriber"],),
                ),
            ),
            (
                app,
                Target(
                    "vitals",
                    tuple(f"/api/orders/{o}/vitals" for o in seed.orders),
                    VITALS,
                    tuple(seed.nurse_tokens),
                ),
            ),
        ]
        for server, target in targets:
            warmed = warm(server.port, target)
            if warmed.errors:
                raise SystemExit(f"warm-up failed: {warmed.samples}")
        for n in clients:
            for server, target in targets:
                cpu = server.cpu_seconds()
                result = run(server.port, target, n, args.seconds)
                result.server_cpu = server.cpu_seconds() - cpu
                console.print(
                    f"  {target.name:8} {n:3} clients: {result.per_second:8,.0f} req/s"
                    f"  p50 {result.percentile_ms(50):7.1f} ms  p99 {result.percentile_ms(99):7.1f}"
                    f" ms  CPU {result.cpu_ms_per_request:5.1f} ms/req  errors {result.errors}"
                )
                results.append(result)
    return results


def table(database: str, workers: int, results: list[Result]) -> Table:
    out = Table(
        title=f"API throughput on {database}, gunicorn {workers} sync workers",
        caption="bare: POST /bare; preview: POST /api/patients/{id}/courses/preview; "
        "vitals: POST /api/orders/{id}/vitals",
    )
    for column in (
        "endpoint", "clients", "req/s", "p50 ms", "p99 ms", "errors", "ratio to bare",
        "server CPU ms/req",
    ):  # fmt: skip
        out.add_column(column, justify="left" if column == "endpoint" else "right")
    bare = {r.clients: r.per_second for r in results if r.name.startswith("bare")}
    for r in results:
        ratio = r.per_second / bare[r.clients] if bare.get(r.clients) else float("nan")
        out.add_row(
            r.name,
            str(r.clients),
            f"{r.per_second:,.0f}",
            f"{r.percentile_ms(50):.1f}",
            f"{r.percentile_ms(99):.1f}",
            str(r.errors),
            f"{ratio:.2f}",
            f"{r.cpu_ms_per_request:.1f}",
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (ivig serve: 2)")
    parser.add_argument("--clients", default="1,10,50", help="concurrent clients, e.g. 1,10,50")
    args = parser.parse_args()
    console = Console()
    if not console.is_terminal:  # a file or a pipe: wide enough for the table
        console = Console(width=150)
    console.print(f"{machine()}; gunicorn workers: {args.workers} (sync); client on this machine")
    failed = False
    for database in engines(args.database):
        results = measure(database, args, console)
        console.print(table(database, args.workers, results))
        console.print(f"after {database}: {machine()}")
        for r in results:
            if r.errors:
                failed = True
                console.print(f"[red]{r.name}, {r.clients} clients: {r.errors} errors[/]")
                console.print(f"  statuses: {dict(r.statuses)}")
                for sample in r.samples:
                    console.print(f"  {sample}", markup=False)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
