"""Seed a large treatment record for the scale benchmark (bench/scale.py).

Run:  .venv/bin/python bench/seed.py --data-dir /tmp/ivig-scale/sqlite-100k
      .venv/bin/python bench/seed.py --patients 10000 --data-dir /tmp/ivig-scale/sqlite-10k
      .venv/bin/python bench/seed.py --database-url postgres://u:p@127.0.0.1:5432/ivig_scale

Example: the default, 100,000 patients x 20 infusions x 10 vital signs = 2 million infusions and
20 million vital signs (a few GB in SQLite; several minutes on 2 cores).

The database is migrated first through Django (``ivig``'s migrations), then three users are
created (``seed-prescriber``, ``seed-pharmacist``, ``seed-nurse``, password ``seed-password-42``)
and the rows are written in bulk: raw ``executemany`` in large transactions on SQLite,
``COPY`` (psycopg 3 ``cursor.copy``) on PostgreSQL. The database must hold no patient yet.

Every patient gets: one weight; one LEMS maintenance course (1 g/kg every 4 weeks, 20 doses)
whose ``plan`` is the clinical core's real plan for that patient's sex, height, weight and start;
its 20 orders, each completed, verified and dispensed, the last within the 28 days before
today (so the cap gauge shows a dose); one closed infusion session per order with its start,
end and observation; and 10 vital signs per session, every 15 minutes. Not seeded (the pages
work without them): audit events (the seeded history is not an audited entry through the
services; the audit chain stays empty), lots, rate changes, reactions, outcomes, eligibility.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

PASSWORD = "seed-password-42"
USERS = ("prescriber", "pharmacist", "nurse")
SYLLABLES = (
    "al", "ba", "ber", "bran", "cal", "car", "dan", "del", "el", "fen", "gar", "hal", "in",
    "jor", "kel", "lam", "lin", "mar", "mon", "nor", "os", "par", "quin", "ral", "ros", "sel",
    "tan", "ter", "ul", "van", "wes", "yor", "zel",
)  # fmt: skip
CHUNK = 2_000  # patients per transaction / COPY batch

# The columns written per table (checked against the models at start: a new model field
# without a value here stops the seed instead of writing invalid rows).
COLUMNS: dict[str, tuple[str, ...]] = {
    "patient": (
        "id", "version", "created_at", "updated_at", "mrn", "family_name", "given_name",
        "date_of_birth", "sex", "height_cm", "risk_codes", "conditions", "allergies",
        "iga_status", "notes",
    ),
    "weightrecord": (
        "id", "supersedes_id", "correction_reason", "entered_in_error", "patient_id",
        "measured_on", "weight_kg", "recorded_by_id", "recorded_at",
    ),
    "course": (
        "id", "version", "created_at", "updated_at", "patient_id", "indication", "phase",
        "product_id", "place", "start", "regimen", "catalogue_version", "plan",
        "prescribed_by_id", "cancelled_reason",
    ),
    "order": (
        "id", "version", "created_at", "updated_at", "course_id", "patient_id", "sequence",
        "date", "catalogue_version", "label_max_ml_per_h", "prescribed_g", "dose_g", "vials",
        "volume_ml", "steps", "status", "status_reason", "verified_by_id", "verified_at",
        "dispensed_by_id", "dispensed_at",
    ),
    "infusionsession": (
        "id", "version", "created_at", "updated_at", "order_id", "check_answers",
        "check_findings", "checked_by_id", "checked_at", "override_reason", "override_by_id",
        "override_at", "state", "started_at", "started_by_id", "visual_inspection_ok",
        "visual_inspection_notes", "administered_by_id", "restart_order_by_id",
        "restart_order_at", "restart_order_reason", "restart_max_ml_per_h", "ended_at",
        "observation_minutes", "observation_ended_at", "observation_notes",
    ),
    "vitals": (
        "id", "supersedes_id", "correction_reason", "entered_in_error", "session_id", "at",
        "temperature_c", "pulse_per_min", "systolic_mm_hg", "diastolic_mm_hg",
        "respiratory_rate_per_min", "spo2_percent", "flags", "recorded_by_id", "recorded_at",
    ),
}  # fmt: skip
VITAL_MINUTES = tuple(range(0, 150, 15))  # 10 vital signs, every 15 minutes from 09:00


def _setup(data_dir: str | None, database_url: str | None) -> None:
    if data_dir:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        os.environ["IVIG_DATA_DIR"] = data_dir
    if database_url:
        os.environ["IVIG_DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivig.server.settings")
    import django

    django.setup()


def _check_columns() -> dict[str, str]:
    """The table name of each seeded model; stop if a model has a column not written here."""
    from ivig.records import models

    tables = {}
    for key, columns in COLUMNS.items():
        model = {
            "patient": models.Patient,
            "weightrecord": models.WeightRecord,
            "course": models.Course,
            "order": models.Order,
            "infusionsession": models.InfusionSession,
            "vitals": models.Vitals,
        }[key]
        actual = {f.column for f in model._meta.concrete_fields}
        if actual != set(columns):
            sys.exit(
                f"{model.__name__}: the model's columns changed: {sorted(actual ^ set(columns))}"
            )
        tables[key] = model._meta.db_table
    return tables


def _name(n: int, parts: int) -> str:
    out = []
    for _ in range(parts):
        n, i = divmod(n, len(SYLLABLES))
        out.append(SYLLABLES[i])
    return "".join(out).capitalize()


class Plans:
    """The core's plan for each (sex, height, weight, start) met, as stored JSON: real plans,
    computed once per combination."""

    def __init__(self) -> None:
        from ivig import Patient, packaged_library

        self.library = packaged_library()
        self.patient = Patient
        self.cache: dict[tuple[str, int, int, dt.date], dict[str, Any]] = {}

    def get(self, sex: str, height: int, weight: int, start: dt.date) -> dict[str, Any]:
        key = (sex, height, weight, start)
        if key not in self.cache:
            from ivig import Phase, Regimen, Sex, plan_course
            from ivig.core.limits import label_maximum_ml_per_h
            from ivig.core.units import floor_to

            regimen = Regimen(
                indication="lems",
                product="privigen-us",
                phase=Phase.maintenance,
                start=start,
                dose_g_per_kg=1.0,
                every_weeks=4,
                count=20,
                first_infusion=False,
            )
            who = self.patient(sex=Sex(sex), height_cm=height, weight_kg=weight, age=45)
            plan = plan_course(who, regimen, self.library)
            as_dict = plan.as_dict()
            regimen_json = {
                "indication": "lems", "phase": "maintenance", "product": "privigen-us",
                "place": "infusion-centre", "start": start.isoformat(), "total_g_per_kg": None,
                "days": None, "dose_g_per_kg": 1.0, "every_weeks": 4, "count": 20,
                "until": None, "weight_basis": "auto", "pregnant": False, "egfr": None,
            }  # fmt: skip
            self.cache[key] = {
                "plan": json.dumps(as_dict),
                "regimen": json.dumps(regimen_json),
                "version": plan.catalogue_version,
                "label_max": floor_to(label_maximum_ml_per_h(plan)),
                "doses": [
                    (
                        dt.date.fromisoformat(d["date"]),
                        d["prescribed_g"],
                        d["dose_g"],
                        json.dumps(d["vials"]),
                        d["volume_ml"],
                        json.dumps(d["steps"]),
                        d.get("duration_min", 240.0),
                    )
                    for d in as_dict["doses"]
                ],
            }
        return self.cache[key]


def _rows(
    first: int, count: int, per_patient: int, per_infusion: int, today: dt.date,
    users: dict[str, int], plans: Plans, ids: dict[str, int],
) -> dict[str, list[tuple[Any, ...]]]:  # fmt: skip
    """The rows of patients ``first .. first+count-1`` (numbers from 0), table by table."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    prescriber, pharmacist, nurse = users["prescriber"], users["pharmacist"], users["nurse"]
    out: dict[str, list[tuple[Any, ...]]] = {k: [] for k in COLUMNS}
    minutes = VITAL_MINUTES[:per_infusion] + tuple(
        150 + 15 * i for i in range(max(0, per_infusion - len(VITAL_MINUTES)))
    )
    stamps = [f" {9 + m // 60:02d}:{m % 60:02d}:00" for m in minutes]
    for n in range(first, first + count):
        pid = ids["patient"] = ids["patient"] + 1
        sex = "male" if n % 2 else "female"
        height = 155 + (n % 7) * 5
        weight = 55 + (n % 9) * 5
        # the last infusion 0-27 days before today, one every 28 days before it
        last = today - dt.timedelta(days=n % 28)
        start = last - dt.timedelta(days=28 * (per_patient - 1))
        born = dt.date(1950 + n % 40, 1 + n % 12, 1 + n % 28)
        out["patient"].append(
            (pid, 1, now, now, f"S{n:08d}", _name(n * 7919 % 27_000 + 1, 3), _name(n, 2),
             born.isoformat(), sex, float(height), "[]", "", "", "unknown", "")
        )  # fmt: skip
        wid = ids["weightrecord"] = ids["weightrecord"] + 1
        out["weightrecord"].append(
            (wid, None, "", 0, pid, (start - dt.timedelta(days=7)).isoformat(), float(weight),
             prescriber, now)
        )  # fmt: skip
        template = plans.get(sex, height, weight, start)
        cid = ids["course"] = ids["course"] + 1
        out["course"].append(
            (cid, 1, now, now, pid, "lems", "maintenance", "privigen-us", "infusion-centre",
             start.isoformat(), template["regimen"], template["version"], template["plan"],
             prescriber, "")
        )  # fmt: skip
        doses = template["doses"]
        for seq in range(per_patient):
            day, prescribed, dose, vials, volume, steps, duration = doses[seq % len(doses)]
            if seq >= len(doses):
                day = start + dt.timedelta(days=28 * seq)
            d = day.isoformat()
            before = (day - dt.timedelta(days=1)).isoformat()
            oid = ids["order"] = ids["order"] + 1
            out["order"].append(
                (oid, 5, now, now, cid, pid, seq + 1, d, template["version"],
                 template["label_max"], prescribed, dose, vials, volume, steps, "completed", "",
                 pharmacist, f"{before} 14:00:00", pharmacist, f"{d} 07:30:00")
            )  # fmt: skip
            sid = ids["infusionsession"] = ids["infusionsession"] + 1
            ended = 9 * 60 + int(duration)
            ended_at = f"{d} {ended // 60:02d}:{ended % 60:02d}:00"
            observed = ended + 30
            out["infusionsession"].append(
                (sid, 6, now, now, oid, "{}", "[]", nurse, f"{d} 08:45:00", "", None, None,
                 "closed", f"{d} 09:00:00", nurse, 1, "", nurse, None, None, "", None,
                 ended_at, 30, f"{d} {observed // 60:02d}:{observed % 60:02d}:00", "")
            )  # fmt: skip
            vitals = out["vitals"]
            vid = ids["vitals"]
            for i, stamp in enumerate(stamps):
                vid += 1
                at = d + stamp
                vitals.append(
                    (vid, None, "", 0, sid, at, 36.5 + (vid % 7) / 10, 60 + vid % 30,
                     110 + vid % 25, 70 + vid % 15, 12 + i % 6, 95 + vid % 5, "[]", nurse, at)
                )  # fmt: skip
            ids["vitals"] = vid
    return out


def _writer_sqlite(tables: dict[str, str]) -> tuple[Callable[[dict[str, list[Any]]], None], Any]:
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    raw.isolation_level = None  # explicit BEGIN / COMMIT below
    cur = raw.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    cur.execute("PRAGMA cache_size=-1000000")  # 1 GB
    cur.execute("PRAGMA temp_store=MEMORY")
    sql = {
        k: f'INSERT INTO "{tables[k]}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})'
        for k, cols in COLUMNS.items()
    }

    def write(rows: dict[str, list[Any]]) -> None:
        cur.execute("BEGIN")
        for key in COLUMNS:
            cur.executemany(sql[key], rows[key])
        cur.execute("COMMIT")

    def finish() -> None:
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("ANALYZE")

    return write, finish


def _writer_postgres(tables: dict[str, str]) -> tuple[Callable[[dict[str, list[Any]]], None], Any]:
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection  # psycopg 3
    raw.autocommit = False
    with raw.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute("SET synchronous_commit = off")
    raw.commit()

    def write(rows: dict[str, list[Any]]) -> None:
        with raw.cursor() as cur:
            for key, cols in COLUMNS.items():
                copy_sql = f'COPY "{tables[key]}" ({", ".join(cols)}) FROM STDIN'
                with cur.copy(copy_sql) as copy:
                    for row in rows[key]:
                        copy.write_row(row)
        raw.commit()

    def finish() -> None:
        with raw.cursor() as cur:
            for key in COLUMNS:  # the ids were given: move each sequence past them
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{tables[key]}\"', 'id'), "
                    f'(SELECT coalesce(max(id), 1) FROM "{tables[key]}"))'
                )
            cur.execute("ANALYZE")
        raw.commit()

    return write, finish


def _users() -> dict[str, int]:
    from django.contrib.auth import get_user_model

    from ivig.records.services.accounts import create_user

    out = {}
    for role in USERS:
        name = f"seed-{role}"
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            user = create_user(None, name, PASSWORD, [role], system=True)
        out[role] = user.pk
    return out


def seed(patients: int, per_patient: int, per_infusion: int, today: dt.date) -> dict[str, Any]:
    """Migrate, then write the rows with a progress bar; the counts and the time taken."""
    from django.core.management import call_command
    from django.db import connection

    from ivig.records.models import Patient

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    tables = _check_columns()
    if Patient.objects.exists():
        sys.exit("the database holds patients already: seed an empty one")
    users = _users()
    make = _writer_postgres if connection.vendor == "postgresql" else _writer_sqlite
    write, finish = make(tables)
    plans = Plans()
    ids = dict.fromkeys(COLUMNS, 0)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn()) as progress:
        task = progress.add_task(f"seeding ({connection.vendor})", total=patients)
        for first in range(0, patients, CHUNK):
            count = min(CHUNK, patients - first)
            write(_rows(first, count, per_patient, per_infusion, today, users, plans, ids))
            progress.advance(task, count)
        finish_task = progress.add_task("ANALYZE", total=1)
        finish()
        progress.advance(finish_task)
    return {
        "seconds": time.perf_counter() - began,
        "vendor": connection.vendor,
        **ids,
        "plans": len(plans.cache),
    }


def _summary(result: dict[str, Any], data_dir: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"seeded {result['vendor']} in {result['seconds']:.0f} s")
    table.add_column("rows")
    table.add_column("count", justify="right")
    for key in COLUMNS:
        table.add_row(key, f"{result[key]:,}")
    table.add_row("distinct plans computed", f"{result['plans']:,}")
    if data_dir:
        size = sum(p.stat().st_size for p in Path(data_dir).glob("ivig.sqlite3*"))
        table.add_row("database size", f"{size / 2**30:.2f} GiB")
    Console().print(table)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--infusions-per-patient", type=int, default=20)
    parser.add_argument("--vitals-per-infusion", type=int, default=10)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data-dir", help="SQLite: the IVIG_DATA_DIR to seed (ivig.sqlite3)")
    where.add_argument("--database-url", help="PostgreSQL: postgres://user:pw@host:port/name")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today())
    args = parser.parse_args(argv)
    _setup(args.data_dir, args.database_url)
    result = seed(args.patients, args.infusions_per_patient, args.vitals_per_infusion, args.today)
    _summary(result, args.data_dir)


if __name__ == "__main__":
    main()
