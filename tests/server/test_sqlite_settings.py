"""The embedded database's settings, read back from a live connection: WAL, foreign keys on,
synchronous=FULL (an acknowledged write survives a power cut, not only a crash of the app), a
busy timeout, and IMMEDIATE transactions."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.django_db
def test_the_sqlite_connection_is_set_for_durability() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's durability is the server's own setting")
    with connection.cursor() as cursor:
        pragma = {
            name: cursor.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                      "busy_timeout": 20000}  # fmt: skip
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
