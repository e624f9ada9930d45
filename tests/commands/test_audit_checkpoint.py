"""``ivig audit checkpoint`` and ``ivig audit verify --checkpoint`` on a data folder of their own
(issue 17 item 1; requirement 4): a database gone, or emptied, is caught by a checkpoint kept
elsewhere. (The tamper suite, tests/records/test_audit_tamper.py, runs them in-process.)"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "infusion-chair-42-Xq"


def _ivig(data: Path, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVIG_", "DJANGO_"))}
    script = shutil.which("ivig", path=str(Path(sys.executable).parent))
    return subprocess.run(
        [*([script] if script else [sys.executable, "-m", "ivig.cli"]), *argv],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env={**env, "IVIG_DATA_DIR": str(data)},
        timeout=120,
        check=False,
    )


@pytest.mark.real_clock
def test_a_missing_or_emptied_database_fails_its_checkpoint(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = _ivig(
        data, "user", "create", "ann", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert done.returncode == 0, done.stderr
    done = _ivig(data, "audit", "checkpoint")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"ivig-audit-checkpoint v1 at=\S+Z seq=1 mac=[0-9a-f]{64} sig=[0-9a-f]{64}\n", done.stdout
    )
    kept = tmp_path / "offsite.log"  # copied off the machine
    shutil.copyfile(data / "audit-checkpoints.log", kept)
    assert _ivig(data, "audit", "verify", "--checkpoint", str(kept)).returncode == 0

    # Emptied: every event deleted and a head at seq 0 put back (the genesis copied).
    with sqlite3.connect(data / "ivig.sqlite3") as con:
        genesis = con.execute("SELECT prev_hash FROM records_auditevent WHERE seq = 1").fetchone()
        for trigger in ("audit_no_delete", "audit_head_forward"):
            con.execute(f"DROP TRIGGER {trigger}")
        con.execute("DELETE FROM records_auditevent")
        con.execute("UPDATE records_audithead SET seq = 0, hash = ?", genesis)
    con.close()
    assert _ivig(data, "audit", "verify").stdout == "audit chain ok: 0 events\n"
    done = _ivig(data, "audit", "verify", "--checkpoint", str(kept))
    assert done.returncode == 1
    assert "saw event 1, but the trail ends at event 0: events were deleted" in done.stderr

    # Gone: the database file deleted.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data / 'ivig.sqlite3'}{suffix}").unlink(missing_ok=True)
    done = _ivig(data, "audit", "verify", "--checkpoint", str(kept))
    assert done.returncode == 1
    assert done.stderr.startswith("Error: there is no ivig database yet (SQLite ")
    assert done.stderr.endswith(f"(line 1 of {kept}) saw 1 event: the database is missing\n")
    assert "Traceback" not in done.stderr
