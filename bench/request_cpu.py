"""Benchmark: where the server CPU of one API request goes, in this process.

The real ivig app is seeded as bench/api.py seeds it (one nurse with her running infusion, the
prescriber's token; SQLite in a temporary data folder) and called through Django's WSGI handler
as gunicorn calls it, so the request signals that keep or close the database connection run; no
HTTP, no gunicorn, no client on the line. For each endpoint of bench/api.py (the plan preview,
the vitals write) it prints:

- the CPU time per request (``time.process_time``, each of ``--rounds`` rounds of
  ``--requests`` requests, after a warm-up), the figure that bench/api.py's server CPU per
  request adds HTTP and gunicorn to;
- the SQL statements of one request;
- with ``--profile``, cProfile's table of ``--requests`` requests (``--sort``, ``--top`` rows).

Run:      .venv/bin/python bench/request_cpu.py [--endpoint preview|vitals|both] [--requests 300]
                                            [--rounds 3] [--profile] [--sort cumulative]
Example:  .venv/bin/python bench/request_cpu.py --endpoint preview --profile --sort tottime
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import platform
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _load import NOW

Call = Callable[[], bytes]


def _environ(path: str, body: bytes, token: str) -> dict[str, Any]:
    """A POST as gunicorn hands it to the app."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def endpoints() -> dict[str, Call]:
    """Seed a temporary database; the two requests of bench/api.py as calls of the app."""
    import _server

    from api import VITALS, preview_body

    seed = _server._seed(1)
    from django.db import connections

    connections.close_all()  # the app's requests open their own, as a fresh worker does
    from ivig.server.wsgi import application

    def caller(path: str, body: Callable[[], str], token: str) -> Call:
        def call() -> bytes:
            status: list[str] = []
            raw = body().encode()
            answer = application(
                _environ(path, raw, token), lambda line, headers, exc=None: status.append(line)
            )
            content = b"".join(answer)
            answer.close()  # request_finished: the end of the request, as gunicorn does
            if not status[0].startswith("2"):
                raise SystemExit(f"{path}: {status[0]}: {content[:500]!r}")
            return content

        return call

    preview = preview_body()
    return {
        "preview": caller(
            f"/api/patients/{seed['patient_id']}/courses/preview",
            lambda: preview,
            seed["tokens"]["prescriber"],
        ),
        "vitals": caller(
            f"/api/orders/{seed['orders'][0]}/vitals",
            lambda: VITALS.replace(NOW, dt.datetime.now(dt.UTC).isoformat()),
            seed["nurse_tokens"][0],
        ),
    }


def cpu_ms(call: Call, requests: int) -> float:
    began = time.process_time()
    for _ in range(requests):
        call()
    return (time.process_time() - began) / requests * 1000


def statements(call: Call) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.ensure_connection()
    with CaptureQueriesContext(connection) as queries:
        call()
    return [q["sql"] for q in queries.captured_queries]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", choices=("preview", "vitals", "both"), default="both")
    parser.add_argument("--requests", type=int, default=300, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print cProfile's table")
    parser.add_argument("--sort", default="cumulative", help="cProfile's sort key")
    parser.add_argument("--top", type=int, default=40, help="rows of cProfile's table")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="ivig-bench-profile-"))
    os.environ["IVIG_DATA_DIR"] = str(data_dir)
    os.environ.pop("IVIG_DATABASE_URL", None)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"python {platform.python_version()}, {os.cpu_count()} cores; load average {load}")
    try:
        calls = endpoints()
        names = list(calls) if args.endpoint == "both" else [args.endpoint]
        for name in names:
            call = calls[name]
            for _ in range(20):  # warm-up: imports, caches, the connection
                call()
            rounds = [cpu_ms(call, args.requests) for _ in range(args.rounds)]
            shown = " ".join(f"{ms:.2f}" for ms in rounds)
            print(f"{name}: CPU ms/request {shown} (best {min(rounds):.2f})")
            sql = statements(call)
            print(f"  {len(sql)} SQL statements:")
            for text in sql:
                print(f"    {text[:160]}")
            if args.profile:
                profile = cProfile.Profile()
                profile.runcall(cpu_ms, call, args.requests)
                pstats.Stats(profile, stream=sys.stdout).sort_stats(args.sort).print_stats(args.top)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
