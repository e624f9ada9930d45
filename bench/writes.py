"""Benchmark: recorded vital signs per second with 20 concurrent nurses over the API, zero
errors and zero lost rows, against a plain INSERT loop on the same database in the same run.

The app is started as ``ivig serve`` starts it (gunicorn, 2 sync workers unless ``--workers``)
in a temporary data folder, on SQLite or on a fresh PostgreSQL database (see bench/api.py).
Each nurse (``--nurses``, 20) has her own token and her own running infusion and posts a full
set of vital signs timed now (``POST /api/orders/{id}/vitals``), one request after the other,
for ``--seconds``. Afterwards the Vitals rows are counted through the ORM and compared with the
201 answers: PASS when they are equal and no request failed (any answer other than 201, or no
answer, is an error), else FAIL (exit status 1).

Then, on the same database, a plain INSERT loop for the same time: one connection, one INSERT
and one commit per row (SQLite: ``BEGIN IMMEDIATE`` with WAL and synchronous=FULL, as the app
runs it; PostgreSQL: psycopg), into a scratch copy of the Vitals table (same columns, indexes
and foreign keys) with the same values. The ratio is API vitals/s over INSERT rows/s: what the
whole stack (HTTP, gunicorn, Django, auth, the service's checks, its audit event) costs per
recorded row. Timings are printed, never asserted.

Run:      .venv/bin/python bench/writes.py [--seconds 10] [--database sqlite|postgres|both]
                                           [--nurses 20] [--workers 2]
Example:  .venv/bin/python bench/writes.py --seconds 10 --database both
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _load import Result, Target, run, warm
from _server import ServedApp

from api import VITALS, engines, machine, postgres_url

SCRATCH = "bench_plain_vitals"
COLUMNS = (
    "correction_reason, entered_in_error, session_id, at, temperature_c, pulse_per_min, "
    "systolic_mm_hg, diastolic_mm_hg, respiratory_rate_per_min, spo2_percent, flags, "
    "recorded_by_id, recorded_at"
)


Loop = tuple[int, float, int]  # rows inserted, seconds, rows counted afterwards


@dataclass
class Outcome:
    database: str
    api: Result
    ok: int  # 201 answers
    rows: int  # Vitals rows added, counted afterwards
    plain_rows: int
    plain_seconds: float
    plain_counted: int

    @property
    def passed(self) -> bool:
        return self.api.errors == 0 and self.rows == self.ok

    @property
    def api_per_second(self) -> float:
        return self.ok / self.api.elapsed if self.api.elapsed else 0.0

    @property
    def plain_per_second(self) -> float:
        return self.plain_rows / self.plain_seconds if self.plain_seconds else 0.0


def _values(session_id: int, user_id: int) -> tuple[object, ...]:
    now = dt.datetime.now(dt.UTC)
    return ("", False, session_id, now, 36.8, 72, 124, 78, 14, 98, "[]", user_id, now)


def sqlite_loop(path: Path, session_id: int, user_id: int, seconds: float) -> Loop:
    """Rows inserted, the time taken, and the rows counted afterwards."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=20)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=20000"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("PRAGMA foreign_keys=ON")  # as Django does
        conn.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
        rows = conn.execute(
            "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'records_vitals' "
            "AND sql IS NOT NULL ORDER BY type DESC"  # the table, then its indexes
        ).fetchall()
        for _, sql in rows:
            conn.execute(sql.replace('"records_vitals', f'"{SCRATCH}'))
        insert = f"INSERT INTO {SCRATCH} ({COLUMNS}) VALUES ({', '.join('?' * 13)})"
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            values = list(_values(session_id, user_id))
            values[3] = values[12] = values[3].isoformat(sep=" ")  # type: ignore[attr-defined]
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(insert, values)
            conn.execute("COMMIT")
            count += 1
        elapsed = time.perf_counter() - began
        counted = conn.execute(f"SELECT COUNT(*) FROM {SCRATCH}").fetchone()[0]
    finally:
        conn.close()
    return count, elapsed, counted


def postgres_loop(url: str, session_id: int, user_id: int, seconds: float) -> Loop:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
        conn.execute(f"CREATE TABLE {SCRATCH} (LIKE records_vitals INCLUDING ALL)")
        conn.execute(
            f"ALTER TABLE {SCRATCH} "
            "ADD FOREIGN KEY (session_id) REFERENCES records_infusionsession (id), "
            "ADD FOREIGN KEY (recorded_by_id) REFERENCES auth_user (id), "
            f"ADD FOREIGN KEY (supersedes_id) REFERENCES {SCRATCH} (id)"
        )
        conn.commit()
        marks = ", ".join(["%s"] * 10 + ["%s::jsonb", "%s", "%s"])
        insert = f"INSERT INTO {SCRATCH} ({COLUMNS}) VALUES ({marks})"
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            conn.execute(insert, _values(session_id, user_id))
            conn.commit()
            count += 1
        elapsed = time.perf_counter() - began
        row = conn.execute(f"SELECT COUNT(*) FROM {SCRATCH}").fetchone()
        counted = row[0] if row else 0
    return count, elapsed, counted


def measure(database: str, args: argparse.Namespace, console: Console) -> Outcome:
    url = postgres_url() if database == "postgres" else None
    console.print(f"[bold]{database}[/]: seeding {args.nurses} nurses and starting the server")
    with ServedApp(database, nurses=args.nurses, workers=args.workers, postgres_url=url) as app:
        seed = app.seed
        assert seed is not None
        target = Target(
            "vitals",
            tuple(f"/api/orders/{o}/vitals" for o in seed.orders),
            VITALS,
            tuple(seed.nurse_tokens),
        )
        warmed = warm(app.port, target, args.nurses)
        if warmed.errors:
            raise SystemExit(f"warm-up failed: {warmed.samples}")
        before, cpu = app.count_vitals(), app.cpu_seconds()
        result = run(app.port, target, args.nurses, args.seconds)
        result.server_cpu = app.cpu_seconds() - cpu
        rows = app.count_vitals() - before
        console.print(
            f"  API: {result.statuses[201]:,} answered 201, {rows:,} rows counted, "
            f"{result.errors} errors"
        )
        loop = sqlite_loop if database == "sqlite" else postgres_loop
        where: Path | str = app.sqlite_file() if database == "sqlite" else str(app.url)
        plain, seconds, counted = loop(
            where,  # type: ignore[arg-type]
            seed.session_ids[0],
            seed.nurse_ids[0],
            args.seconds,
        )
        console.print(f"  plain INSERT loop: {plain:,} rows in {seconds:.1f} s")
    return Outcome(database, result, result.statuses[201], rows, plain, seconds, counted)


def table(outcomes: list[Outcome], args: argparse.Namespace) -> Table:
    out = Table(
        title=f"Writes: {args.nurses} nurses recording vitals over the API for {args.seconds:g} s, "
        f"gunicorn {args.workers} sync workers; a plain INSERT loop on the same database"
    )
    for column in (
        "database", "201 answers", "rows counted", "errors", "lost", "API vitals/s", "p50 ms",
        "p99 ms", "server CPU ms/req", "INSERT rows/s", "API / INSERT", "verdict",
    ):  # fmt: skip
        out.add_column(column, justify="left" if column == "database" else "right")
    for o in outcomes:
        out.add_row(
            o.database,
            f"{o.ok:,}",
            f"{o.rows:,}",
            str(o.api.errors),
            str(o.ok - o.rows),
            f"{o.api_per_second:,.0f}",
            f"{o.api.percentile_ms(50):.1f}",
            f"{o.api.percentile_ms(99):.1f}",
            f"{o.api.cpu_ms_per_request:.1f}",
            f"{o.plain_per_second:,.0f}",
            f"{o.api_per_second / o.plain_per_second:.3f}" if o.plain_per_second else "-",
            "[green]PASS[/]" if o.passed else "[red]FAIL[/]",
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="time of each part")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--nurses", type=int, default=20, help="concurrent nurses")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (ivig serve: 2)")
    args = parser.parse_args()
    console = Console()
    if not console.is_terminal:  # a file or a pipe: wide enough for the table
        console = Console(width=150)
    console.print(f"{machine()}; gunicorn workers: {args.workers} (sync); client on this machine")
    outcomes = [measure(database, args, console) for database in engines(args.database)]
    console.print(table(outcomes, args))
    console.print(f"after: {machine()}")
    for o in outcomes:
        if o.plain_counted != o.plain_rows:
            console.print(f"[red]{o.database}: the INSERT loop counted {o.plain_counted}[/]")
        if not o.passed:
            console.print(
                f"[red]{o.database}: FAIL: {o.ok} answers 201, {o.rows} rows, "
                f"{o.api.errors} errors {dict(o.api.statuses)}[/]"
            )
            for sample in o.api.samples:
                console.print(f"  {sample}", markup=False)
        else:
            console.print(
                f"{o.database}: PASS: {o.ok:,} answers 201 = {o.rows:,} rows, zero errors"
            )
    if not all(o.passed for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
