"""SIGKILL in the middle of recording (issue 8, faults): nurses record vital signs and rate
changes over the API of the real served app (``ivig serve``: gunicorn, 2 workers); while they
do, the whole server (the master and every worker) is killed with SIGKILL, then started again
on the same data. Every write the API acknowledged (201 with its id) is there with the values
sent; no record is half-written: every recorded row has its audit event (``create``, the row as
``after``), nothing was recorded that no one sent, the audit chain verifies, and on SQLite
``PRAGMA integrity_check`` says ok with no foreign key broken.

On SQLite (the served app's own file) and, when ``IVIG_DATABASE_URL`` is set (the PostgreSQL
pass of scripts/test), on a fresh database made for the test on that server and dropped after.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from served_app import Answer, Served, app_env, run_in_app, seed

pytestmark = pytest.mark.database

NURSES = ("nurse1", "nurse2", "nurse3")
ENOUGH_VITALS = 30  # acknowledged before the kill
ENOUGH_RATES = 5
MOST_SECONDS = 10  # the kill comes by then whatever was acknowledged


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """None (SQLite in the app's data folder), or a fresh PostgreSQL database on the server of
    ``IVIG_DATABASE_URL``, dropped after the test."""
    url = os.environ.get("IVIG_DATABASE_URL")
    if not url:
        yield None
        return
    import psycopg

    name = f"ivig_faults_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def served(tmp_path: Path, database_url: str | None) -> Iterator[Served]:
    server = Served(app_env(tmp_path / "data", database_url), tmp_path / "server.log")
    try:
        yield server
    finally:
        server.stop()


class Nurses:
    """The clients: threads that post until told to stop, keeping what was acknowledged
    (201 with an id) apart from what got no answer (the kill) and from any other answer."""

    def __init__(self, served: Served, info: dict[str, Any]) -> None:
        self.served = served
        self.info = info
        self.order = info["order_id"]
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.vitals: dict[
            int, tuple[str, dict[str, Any], dict[str, Any]]
        ] = {}  # id: who, sent, body
        self.rates: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}  # id: sent, body
        self.unanswered: list[dict[str, Any]] = []  # sent, no answer (in flight at the kill)
        self.refused: list[tuple[str, int, bytes]] = []  # any answer but 201

    def _post(self, path: str, body: dict[str, Any], token: str) -> Answer | None:
        try:
            return self.served.request("POST", path, body, token=token, timeout=15)
        except (OSError, http.client.HTTPException):
            with self.lock:
                self.unanswered.append(body)
            return None

    def record_vitals(self, nurse: str, n: int) -> None:
        token = self.info["tokens"][nurse]
        i = 0
        while not self.stop.is_set():
            i += 1
            sent = {
                "at": dt.datetime.now(dt.UTC).isoformat(),
                "pulse_per_min": 60 + (n * 13 + i) % 40,
                "systolic_mm_hg": 100 + (n * 7 + i) % 50,
                "diastolic_mm_hg": 60 + i % 25,
                "temperature_c": round(36.0 + (i % 15) / 10, 1),
                "spo2_percent": 94 + i % 6,
            }
            answer = self._post(f"/api/orders/{self.order}/vitals", sent, token)
            if answer is None:
                if self.stop.wait(0.05):
                    return
                continue
            with self.lock:
                if answer.status == 201:
                    body = answer.json()
                    self.vitals[body["id"]] = (nurse, sent, body)
                else:
                    self.refused.append((nurse, answer.status, answer.body[:300]))

    def change_rates(self) -> None:
        """Rate decreases on the running pump, one at a time, each with the session version the
        last one returned (a lost acknowledgement leaves the version unknown: stop there)."""
        token = self.info["tokens"][NURSES[0]]
        version = self.info["session_version"]
        rate = 25.5  # the plan's first step (0.5 mg/kg/min on 85 kg)
        while not self.stop.is_set():
            rate = round(rate - 0.1, 1)
            sent = {"at": dt.datetime.now(dt.UTC).isoformat(), "rate_ml_per_h": rate}
            answer = self._post(
                f"/api/orders/{self.order}/rates", {**sent, "version": version}, token
            )
            if answer is None:
                return
            with self.lock:
                if answer.status != 201:
                    self.refused.append(("rates", answer.status, answer.body[:300]))
                    return
                body = answer.json()
                self.rates[body["id"]] = (sent, body)
                version = body["session_version"]

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return len(self.vitals), len(self.rates)


DUMP = """
import dataclasses
from ivig.records import audit
from ivig.records.models import AuditEvent, RateChange, Vitals
vitals = {v.pk: {**audit.snapshot(v), "by": v.recorded_by.username}
          for v in Vitals.objects.select_related("recorded_by")}
rates = {r.pk: audit.snapshot(r) for r in RateChange.objects.all()}
events = [
    {"entity": e.entity, "entity_id": e.entity_id, "action": e.action, "after": e.after}
    for e in AuditEvent.objects.filter(entity__in=["vitals", "rate-change"]).order_by("seq")
]
checks = {}
from django.db import connection
if connection.vendor == "sqlite":
    with connection.cursor() as cursor:
        checks["integrity"] = [r[0] for r in cursor.execute("PRAGMA integrity_check")]
        checks["foreign_keys"] = [list(r) for r in cursor.execute("PRAGMA foreign_key_check")]
out({"vitals": vitals, "rates": rates, "events": events, "checks": checks,
     "chain": dataclasses.asdict(audit.verify_chain())})
"""


def _same_moment(a: str, b: str) -> bool:
    return dt.datetime.fromisoformat(a) == dt.datetime.fromisoformat(b)


def test_sigkill_mid_recording_loses_no_acknowledged_write(served: Served) -> None:
    started = time.monotonic()
    info = seed(served.env, NURSES)
    print(f"seeded in {time.monotonic() - started:.1f} s")
    served.start()
    print(f"served in {time.monotonic() - started:.1f} s")
    nurses = Nurses(served, info)
    threads = [
        threading.Thread(target=nurses.record_vitals, args=(nurse, n), name=nurse)
        for n, nurse in enumerate(NURSES)
    ]
    threads.append(threading.Thread(target=nurses.change_rates, name="rates"))
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + MOST_SECONDS
        while time.monotonic() < deadline:
            done_vitals, done_rates = nurses.counts()
            if done_vitals >= ENOUGH_VITALS and done_rates >= ENOUGH_RATES:
                break
            time.sleep(0.05)
        served.kill()  # the clients are still posting: some requests are in flight
        time.sleep(0.3)  # they find the server gone
    finally:
        nurses.stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert nurses.refused == [], nurses.refused  # before the kill, every write was accepted
    assert len(nurses.vitals) >= ENOUGH_VITALS // 2, "too few writes before the kill"
    assert nurses.rates, "no rate change was acknowledged before the kill"

    print(
        f"acknowledged: {len(nurses.vitals)} vital signs, {len(nurses.rates)} rate changes; "
        f"unanswered (in flight at the kill, or after it): {len(nurses.unanswered)}"
    )
    served.start()  # the same data folder and database
    data = run_in_app(DUMP, served.env)
    vitals = {int(k): v for k, v in data["vitals"].items()}
    rates = {int(k): v for k, v in data["rates"].items()}

    # Every acknowledged write is there, with the values sent and as the API answered it.
    for pk, (nurse, sent, body) in nurses.vitals.items():
        assert pk in vitals, f"acknowledged vital signs {pk} are lost"
        row = vitals[pk]
        assert row["by"] == nurse
        assert _same_moment(row["at"], sent["at"])
        for name, value in sent.items():
            if name != "at":
                assert row[name] == value, (pk, name, row[name], value)
        assert {k: row[k] for k in body} == body
    for pk, (sent, body) in nurses.rates.items():
        assert pk in rates, f"acknowledged rate change {pk} is lost"
        assert rates[pk]["rate_ml_per_h"] == sent["rate_ml_per_h"]
        assert _same_moment(rates[pk]["at"], sent["at"])
        assert {k: rates[pk][k] for k in rates[pk]} == {k: body[k] for k in rates[pk]}

    # Nothing recorded that no one sent: a row not acknowledged was in flight at the kill
    # (committed, its answer lost), at most one per client, with the values of such a request.
    extra_vitals = set(vitals) - set(nurses.vitals)
    extra_rates = {pk for pk, row in rates.items() if row["action"] == "change"} - set(nurses.rates)
    assert len(extra_vitals) + len(extra_rates) <= len(threads)
    print(f"committed but unacknowledged: {len(extra_vitals)} vitals, {len(extra_rates)} rates")
    in_flight = [
        (s["at"], s.get("pulse_per_min"), s.get("rate_ml_per_h")) for s in nurses.unanswered
    ]
    for pk in extra_vitals:
        row = vitals[pk]
        assert any(
            _same_moment(row["at"], at) and row["pulse_per_min"] == pulse
            for at, pulse, _ in in_flight
        )
    for pk in extra_rates:
        row = rates[pk]
        assert any(
            _same_moment(row["at"], at) and row["rate_ml_per_h"] == rate
            for at, _, rate in in_flight
        )

    # No half-written record: every row has exactly one audit event, made with it, equal to it.
    created: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for event in data["events"]:
        if event["action"] == "create":
            created.setdefault((event["entity"], int(event["entity_id"])), []).append(event)
    rows = [("vitals", pk, row) for pk, row in vitals.items()]
    rows += [("rate-change", pk, row) for pk, row in rates.items()]
    for entity, pk, row in rows:
        events = created.get((entity, pk), [])
        assert len(events) == 1, f"{entity} {pk} has {len(events)} audit events"
        after = dict(row)
        after.pop("by", None)
        assert events[0]["after"] == after, (entity, pk)
    assert set(created) == {(entity, pk) for entity, pk, _ in rows}  # no event without its row
    assert data["chain"]["ok"], data["chain"]
    if data["checks"]:  # SQLite: the file itself is sound (requirement 33)
        assert data["checks"] == {"integrity": ["ok"], "foreign_keys": []}, data["checks"]

    # The restarted app works: the chain verifies over the API, and recording goes on.
    admin = info["tokens"]["admin"]
    report = served.request("GET", "/api/audit/verify", token=admin).json()
    assert report["ok"] is True, report
    assert report["checked"] >= len(rows)
    sent = {"at": dt.datetime.now(dt.UTC).isoformat(), "pulse_per_min": 72}
    after_restart = served.request(
        "POST", f"/api/orders/{info['order_id']}/vitals", sent, token=info["tokens"]["nurse2"]
    )
    assert after_restart.status == 201, after_restart.body
    assert after_restart.json()["id"] not in vitals
    assert served.request("GET", "/api/audit/verify", token=admin).json()["ok"] is True
