"""A small HTTP load generator for the benchmarks: N concurrent clients, each a thread with its
own keep-alive ``http.client`` connection (re-opened when the server closes it, as gunicorn's
sync workers do after each answer), spread over a few processes so that the client is not
held back by one interpreter's lock. Each request's latency is measured (send to last byte).

``run(port, target, clients, seconds)`` gives a :class:`Result`: requests/s, p50, p99, the
count of errors (an answer other than 2xx, or a failed connection) and a few of them.

Used by bench/api.py and bench/writes.py; not a command.
"""

from __future__ import annotations

import datetime as dt
import http.client
import math
import multiprocessing
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

NOW = "{now}"  # in a body: replaced by the current time (UTC, ISO 8601) at each request


@dataclass(frozen=True)
class Target:
    """What the clients send. Client ``i`` uses ``paths[i % len(paths)]`` and
    ``tokens[i % len(tokens)]`` (a bearer token; none if empty)."""

    name: str
    paths: tuple[str, ...]
    body: str
    tokens: tuple[str, ...] = ()
    method: str = "POST"


@dataclass
class Result:
    name: str
    clients: int
    elapsed: float
    latencies: list[float] = field(default_factory=list)  # seconds, of every answered request
    statuses: Counter[int] = field(default_factory=Counter)  # answers by status (0: no answer)
    samples: list[str] = field(default_factory=list)  # a few errors, as text
    server_cpu: float = 0.0  # CPU seconds the server used meanwhile (set by the caller)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    @property
    def per_second(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu / self.requests * 1000 if self.requests else math.nan

    def percentile_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values`` (NaN for none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --- in each client process ----------------------------------------------------------------------


def _client(
    port: int,
    target: Target,
    index: int,
    start: float,
    deadline: float,
    out: list[tuple[list[float], Counter[int], list[str]]],
) -> None:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    samples: list[str] = []
    path = target.paths[index % len(target.paths)]
    headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
    if target.tokens:
        headers["Authorization"] = f"Bearer {target.tokens[index % len(target.tokens)]}"
    stamped = NOW in target.body
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    time.sleep(max(0.0, start - time.perf_counter()))
    try:
        while time.perf_counter() < deadline:
            body = target.body
            if stamped:
                body = body.replace(NOW, dt.datetime.now(dt.UTC).isoformat())
            began = time.perf_counter()
            try:
                conn.request(target.method, path, body.encode(), headers)
                response = conn.getresponse()
                content = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                statuses[0] += 1
                if len(samples) < 5:
                    samples.append(f"{target.name}: no answer: {type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - began)
            statuses[response.status] += 1
            if not 200 <= response.status < 300 and len(samples) < 5:
                text = content[:300].decode(errors="replace")
                samples.append(f"{target.name}: {response.status} {text}")
    finally:
        conn.close()
    out.append((latencies, statuses, samples))


def _process(
    port: int, target: Target, indexes: list[int], start: float, deadline: float
) -> tuple[list[float], Counter[int], list[str], float]:
    out: list[tuple[list[float], Counter[int], list[str]]] = []
    threads = [
        threading.Thread(target=_client, args=(port, target, i, start, deadline, out))
        for i in indexes
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    samples: list[str] = []
    for lat, st, sa in out:
        latencies += lat
        statuses += st
        samples += sa
    return latencies, statuses, samples, time.perf_counter()


def _ready(delay: float) -> int:
    time.sleep(delay)  # busy for a moment, so that each process takes one of these
    return os.getpid()


# --- the driver ----------------------------------------------------------------------------------


def run(
    port: int, target: Target, clients: int, seconds: float, *, processes: int | None = None
) -> Result:
    """``clients`` concurrent clients sending ``target`` to 127.0.0.1:``port`` for ``seconds``.
    The clock (``time.perf_counter``, the system's monotonic clock) is shared by the processes:
    they all start at the same moment, and the time is counted until the last answer."""
    processes = processes or min(clients, 2)
    groups = [list(range(clients))[p::processes] for p in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        # every process ready first (spawn takes a moment), then all clients at once
        ready: set[int] = set()
        while len(ready) < processes:
            ready.update(pool.map(_ready, [0.1] * processes, chunksize=1))
        start = time.perf_counter() + 0.2
        futures = [
            pool.apply_async(_process, (port, target, group, start, start + seconds))
            for group in groups
        ]
        result = Result(target.name, clients, 0.0)
        ended = start
        for future in futures:
            latencies, statuses, samples, finished = future.get()
            result.latencies += latencies
            result.statuses += statuses
            result.samples += samples
            ended = max(ended, finished)
        pool.close()
        pool.join()
    result.elapsed = ended - start
    return result


def warm(port: int, target: Target, requests: int = 20) -> Result:
    """A few requests, one at a time, from each path (the workers' first requests are slower)."""
    result = Result(target.name, 1, 0.0)
    began = time.perf_counter()
    for i in range(max(requests, len(target.paths))):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}
        if target.tokens:
            headers["Authorization"] = f"Bearer {target.tokens[i % len(target.tokens)]}"
        body = target.body.replace(NOW, dt.datetime.now(dt.UTC).isoformat())
        try:
            conn.request(target.method, target.paths[i % len(target.paths)], body, headers)
            response = conn.getresponse()
            content = response.read()
        finally:
            conn.close()
        result.statuses[response.status] += 1
        if not 200 <= response.status < 300 and len(result.samples) < 5:
            result.samples.append(f"{target.name}: {response.status} {content[:300]!r}")
    result.elapsed = time.perf_counter() - began
    return result
