"""Kept database connections (issue 15): a worker's second request reuses the connection its
first request opened (``CONN_MAX_AGE``), and that connection keeps what was set when it opened:
foreign keys on, WAL, synchronous=FULL, the busy timeout, IMMEDIATE transactions (SQLite).

The requests go through Django's WSGI handler as gunicorn calls it, so the request signals that
close old connections run (the test client switches them off)."""

from __future__ import annotations

import io
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, transaction
from django.db.backends.signals import connection_created
from django.test.utils import CaptureQueriesContext


def _get(handler: WSGIHandler, path: str) -> str:
    """``GET path`` as a WSGI server sends it; the status line."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status: list[str] = []
    answer = handler(environ, lambda line, headers, exc_info=None: status.append(line))
    b"".join(answer)
    answer.close()  # the end of the request: request_finished, as a WSGI server does
    return status[0]


def test_a_second_request_reuses_the_connection_with_its_settings(
    transactional_db: None,
) -> None:
    opened: list[Any] = []

    def count(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened.append(connection.alias)

    handler = WSGIHandler()
    connection.close()
    connection_created.connect(count)
    try:
        assert _get(handler, "/health/") == "200 OK"
        first = connection.connection
        assert first is not None, "the connection was closed at the end of the request"
        assert _get(handler, "/health/") == "200 OK"
        assert connection.connection is first
    finally:
        connection_created.disconnect(count)
    assert opened == ["default"]  # one connection for both requests
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        pragma = {
            name: cursor.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("foreign_keys", "journal_mode", "synchronous", "busy_timeout")
        }
    assert pragma == {"foreign_keys": 1, "journal_mode": "wal", "synchronous": 2,
                      "busy_timeout": 20000}  # fmt: skip
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        connection.cursor().execute("SELECT 1")
    assert queries[0]["sql"] == "BEGIN IMMEDIATE"
    assert connection.connection is first


def test_a_connection_older_than_its_maximum_age_is_replaced(transactional_db: None) -> None:
    """Past ``CONN_MAX_AGE`` Django closes a kept connection at the next request's start or
    end; that request opens another."""
    handler = WSGIHandler()
    assert _get(handler, "/health/") == "200 OK"
    first = connection.connection
    assert first is not None
    connection.close_at = 0.0  # as if it had outlived its maximum age
    assert _get(handler, "/health/") == "200 OK"
    assert connection.connection is not None
    assert connection.connection is not first
