"""A database that cannot be reached is a clear 503, never a 500 or a traceback.

When PostgreSQL is stopped or restarting (or SQLite's file cannot be opened), Django raises
``django.db.OperationalError`` or ``InterfaceError``. ``DatabaseDown`` answers such a request
with 503 and ``Retry-After``:

- under ``/api/``: the API's error body, ``{"error": {"code": "database_unavailable",
  "message": "The database is not reachable, ...", "field": null}}``
  (:class:`ivig.errors.DatabaseUnavailable`; the API's handler in ``ivig.api.api`` passes such
  an error raised inside a route on to this middleware);
- elsewhere: a short HTML page saying the database is unavailable and to try again (built
  without the database: no session, no user, no template context processors).

Each such answer logs one warning line (logger ``ivig.database``). Nothing else changes: a
worker's kept connection is checked before its next use (``CONN_HEALTH_CHECKS``, with
``CONN_MAX_AGE`` in ``ivig.server.settings``) and replaced when it died with the server, so
requests succeed again as soon as the database is back, without restarting the app.

Where the error is caught: a view's error in ``process_exception``; an error in a middleware
inside this one (the session, the signed-in user, the read audit) has already been turned into
a 500 by Django's handler when it reaches here, so the ``got_request_exception`` signal marks
the request and ``__call__`` swaps that 500 for the 503.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

from ivig.errors import DatabaseUnavailable

__all__ = [
    "RETRY_AFTER_SECONDS",
    "DatabaseDown",
    "api_response",
    "is_unreachable",
    "page_response",
    "unavailable_response",
]

log = logging.getLogger("ivig.database")

RETRY_AFTER_SECONDS = 5
_MARK = "_ivig_database_down"

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Database unavailable - ivig</title></head>
<body>
<main>
<h1>The database is unavailable</h1>
<p>{message}.</p>
<p>Nothing is lost that was saved before. Wait a moment, then try again
(reload the page, or send the form again).</p>
</main>
</body>
</html>
"""


def is_unreachable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot be used (not a bad query or a broken rule:
    ``IntegrityError`` and ``ProgrammingError`` are not this)."""
    return isinstance(exc, OperationalError | InterfaceError)


def _headers(response: HttpResponse) -> HttpResponse:
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def api_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The API's 503: ``DatabaseUnavailable().body()`` with ``Retry-After``."""
    _log(request, exc)
    error = DatabaseUnavailable()
    return _headers(JsonResponse(error.body(), status=error.http_status))


def page_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """A page's 503: a short HTML page (no script, no style, no database) with ``Retry-After``."""
    _log(request, exc)
    error = DatabaseUnavailable()
    response = HttpResponse(
        PAGE.format(message=escape(error.message)),
        status=error.http_status,
        content_type="text/html; charset=utf-8",
    )
    # The CSP and frame middleware are inside this one: set their headers here.
    response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    response["X-Frame-Options"] = "DENY"
    return _headers(response)


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The API's JSON under ``/api/``, else the HTML page."""
    if request.path.startswith("/api/"):
        return api_response(request, exc)
    return page_response(request, exc)


def _log(request: HttpRequest, exc: BaseException) -> None:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    log.warning(
        "database unavailable: %s %s answered 503 (%s: %s)",
        request.method,
        request.path,
        type(exc).__name__,
        first,
    )


def _mark(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Django's handler turns an exception raised in a middleware into a 500; remember that it
    was the database's, for ``DatabaseDown.__call__``."""
    exc = sys.exc_info()[1]
    if request is not None and is_unreachable(exc):
        setattr(request, _MARK, exc)


got_request_exception.connect(_mark, dispatch_uid="ivig.server.middleware_db")


class DatabaseDown:
    """Turns a database that cannot be reached into 503 (see the module's docstring). Listed
    near the top of ``MIDDLEWARE``, outside every middleware that reads the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self.get_response(request)
        except (OperationalError, InterfaceError) as exc:  # only when nothing inside caught it
            return unavailable_response(request, exc)
        marked = getattr(request, _MARK, None)
        if marked is not None and response.status_code >= 500:
            return unavailable_response(request, marked)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_unreachable(exception):
            return unavailable_response(request, exception)
        return None
