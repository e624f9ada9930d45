"""The HTTP benchmarks' own parts (bench/_load.py, bench/_server.py, bench/bare_app.py): the
percentiles, the load generator's counts against a small local server, and the bare app under
gunicorn. The benchmarks themselves are commands; nothing here times anything."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import math
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _load import NOW, Target, percentile, run
from _server import BareApp

# The load generator's clients are processes of their own, on the machine's clock.
pytestmark = pytest.mark.real_clock


def test_percentile_is_the_nearest_rank() -> None:
    hundred = [float(i) for i in range(100, 0, -1)]  # unsorted on purpose
    assert percentile(hundred, 50) == 50
    assert percentile(hundred, 99) == 99
    assert percentile(hundred, 100) == 100
    assert percentile(hundred, 0) == 1
    assert percentile([3.0, 1.0, 2.0], 50) == 2
    assert percentile([0.25], 99) == 0.25
    assert math.isnan(percentile([], 50))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the load generator expects

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append(dt.datetime.fromisoformat(body["at"]))  # type: ignore[attr-defined]
        status = 201 if self.path == "/ok" else 503
        answer = b'{"error": "down"}' if status == 503 else b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_load_counts_answers_errors_and_latencies(local_server: ThreadingHTTPServer) -> None:
    """Client 0 posts to /ok (201), client 1 to /bad (503): every answer is counted under its
    status, every 503 is an error with a sample, each body has the time of its request."""
    port = local_server.server_address[1]
    target = Target("smoke", ("/ok", "/bad"), json.dumps({"at": NOW}))
    began = dt.datetime.now(dt.UTC)
    result = run(port, target, clients=2, seconds=0.5)
    assert set(result.statuses) == {201, 503}
    assert result.errors == result.statuses[503] > 0
    assert result.requests == len(result.latencies) == len(local_server.seen)  # type: ignore[attr-defined]
    assert result.per_second > 0
    assert result.samples
    assert result.samples[0].startswith("smoke: 503")
    assert all(began <= at <= dt.datetime.now(dt.UTC) for at in local_server.seen)  # type: ignore[attr-defined]


def test_bare_app_echoes_under_gunicorn() -> None:
    with BareApp(workers=1) as bare:
        conn = http.client.HTTPConnection("127.0.0.1", bare.port, timeout=30)
        try:
            headers = {"Content-Type": "application/json"}
            conn.request("POST", "/bare", json.dumps({"name": "a", "value": 1.5}), headers)
            response = conn.getresponse()
            echoed = json.loads(response.read())
            assert (response.status, echoed) == (200, {"name": "a", "value": 1.5})
            conn.close()
            conn.request("POST", "/bare", json.dumps({"name": "a"}), headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 422  # validated by its schema, as the real API's bodies
        finally:
            conn.close()
    assert bare.process is None
    assert not bare.dir.exists()
