"""The middleware of the pages and the API (the Django project's, listed in ``settings``).

- ``IdleSignOut``: sign a user out after ``IDLE_MINUTES`` without a request, or 12 hours after
  signing in whatever the activity, on pages and API calls alike (requirement 24, issue 17):
  the next page goes to the sign-in page; the next htmx request gets 401 with ``HX-Redirect``
  so that no partial page is swapped in. Either way ``next`` is the page the user was on (for
  a form sent, the page of the form, never its POST-only action) and ``idle=1`` makes the
  sign-in page say why (issue 16 item 2; the warning and the kept entry: static/web/idle.js).
- ``ActionPages``: a GET of an action that takes only POST (``.../runsheet/vitals/``: a
  bookmark, a ``next`` from an older link) goes to its page instead of 405.
- ``ErrorPages``: a service's error that a view did not show on its form is a page with the
  error's status and message (a record not found: 404), never a 500.
- ``PatientPortal``: a signed-in patient reaches only their own pages under ``/me/`` (issue 7).
- ``NoHardDelete``: HTTP DELETE is 405 everywhere (requirement 13).
- ``NoNulCharacters``: a NUL character in a query, a form or a JSON body is refused: no
  clinical text holds one, and PostgreSQL cannot store it.
- ``Idempotent``: a submission with an idempotency key is done once (requirement 29), its
  record kept in the write's transaction (issue 17 item 12).
- ``NoStore``: ``Cache-Control: no-store`` on every answer but static files (issue 17 item 16).
- ``BodyLimits``: a body too big is 413, a JSON body too deep 400, as the API's JSON error or
  the error page (issue 17 item 10).

Reads of a patient's record are audited by ``ivig.server.middleware_audit.ReadAudit``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.http.request import RawPostDataException
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from ivig.errors import IvigError, error_body
from ivig.records.services.signin import SIGN_OUT_WHY, SIGNED_IN, session_expired
from ivig.web.errors import error_page, page_for
from ivig.web.idle import LAST_SEEN, idle_minutes, idle_seconds
from ivig.web.templatetags.ivig_forms import IDEMPOTENCY_FIELD


def action_page(path: str) -> str | None:
    """The page of an action URL: the nearest parent path that is a page of the site
    (``/orders/7/runsheet/vitals/`` -> ``/orders/7/runsheet/``), or None."""
    parts = [p for p in path.split("/") if p]
    while parts:
        parts.pop()
        parent = "/" + "".join(f"{p}/" for p in parts)
        try:
            resolve(parent)
        except Resolver404:
            continue
        return parent
    return None


def _same_site(request: HttpRequest, url: str) -> str | None:
    """``url``'s path and query when it is an address of this site, else None."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def page_of(request: HttpRequest) -> str:
    """The page the user was on when the request was sent: the page itself for a page load;
    for htmx, the page htmx names (``HX-Current-URL``); for a form sent, the page it was sent
    from (``Referer``), else the page of its action URL."""
    if request.headers.get("HX-Request"):
        page = _same_site(request, request.headers.get("HX-Current-URL", ""))
        if page:
            return page
    elif request.method in ("GET", "HEAD"):
        return request.get_full_path()
    page = _same_site(request, request.headers.get("Referer", ""))
    if page and not page.startswith(settings.LOGIN_URL):
        return page
    return action_page(request.path) or "/"


class IdleSignOut:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A page's own polling (X-Ivig-Poll) is not the user's activity: it neither resets the
        # idle clock nor keeps an unattended screen signed in.
        polling = bool(request.headers.get("X-Ivig-Poll"))
        if request.user.is_authenticated:
            now = time.time()
            # no request since signing in: the idle clock runs from the sign-in (issue 17)
            last = request.session.get(LAST_SEEN, request.session.get(SIGNED_IN))
            idle = last is not None and now - float(last) > idle_seconds()
            # The API with a session cookie alike (issue 17 item 4): once signed out, its own
            # authentication answers 401 (a bearer token still works).
            if idle or session_expired(request.session):
                why = f"{idle_minutes()} minutes without a request" if idle else "12 hours"
                setattr(request, SIGN_OUT_WHY, why)
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                target = f"{settings.LOGIN_URL}?next={quote(page_of(request))}"
                target += "&idle=1" if idle else ""
                if request.headers.get("HX-Request"):
                    response = HttpResponse(status=401)
                    response["HX-Redirect"] = target
                    return response
                return HttpResponseRedirect(target)
            if not polling:
                request.session[LAST_SEEN] = now
        return self.get_response(request)


class ActionPages:
    """A GET (or HEAD) of a page action that answers only POST goes to the action's page
    (:func:`action_page`) instead of 405: ``GET .../runsheet/vitals/`` opens the run sheet.
    The API keeps its 405."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 405
            and request.method in ("GET", "HEAD")
            and not request.path.startswith("/api/")
        ):
            page = action_page(request.path)
            if page is not None:
                return HttpResponseRedirect(page)
        return response


# What a signed-in patient may reach: their own pages, signing in and out, the invitation link,
# static files. Everything else is 404 for them (deny by default).
PATIENT_PATHS = ("/me/", "/signin/", "/signout/", "/invite/", "/static/", "/favicon.ico")


class PatientPortal:
    """A patient signed in with their own account (issue 7) reaches only ``/me/...`` (their
    record, nobody else's): every staff page and every API route answers 404, as if it did not
    exist, so that nothing about other patients leaks. ``/`` takes them to ``/me/``. A user
    with neither a staff role nor a patient account reaches nothing but signing out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from ivig.records.services.access import patient_of, roles_of

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or roles_of(user):
            return self.get_response(request)
        # Signed in without a staff role: a patient's own pages, else nothing (deny by default:
        # a user whose roles were all taken away reads no record).
        if patient_of(user) is None:
            if request.path.startswith(("/signin/", "/signout/", "/static/", "/favicon.ico")):
                return self.get_response(request)
        elif request.path == "/":
            return HttpResponseRedirect("/me/")
        elif request.path.startswith(PATIENT_PATHS):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return _error(request, 404, "not_found", "no such page", None)
        raise Http404("no such page")


class ErrorPages:
    """An ``IvigError`` that a view let through is a page (``ivig.web.errors.page_for``: a
    record not found is the 404 page, any other its status and message), never a 500. API
    paths have their own handler."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, IvigError) or request.path.startswith("/api/"):
            return None
        return page_for(request, exception)


# --- no hard delete (requirement 13) -----------------------------------------------------------


def _api_methods(path: str) -> list[str]:
    """The methods an API path answers (from the OpenAPI document), for the ``Allow`` header."""
    from ivig.api.api import api

    try:
        route = resolve(path).route
    except Resolver404:
        return []
    key = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    item = api.get_openapi_schema()["paths"].get(key, {})
    return sorted(m.upper() for m in item if m.upper() in {"GET", "POST", "PUT", "PATCH"})


class NoHardDelete:
    """HTTP DELETE is refused everywhere with 405 (requirement 13; OpenMRS "never lose data"):
    clinical records are never deleted; an entry recorded in error is voided, with a reason
    (``POST .../void``), and stays in the record, marked."""

    message = (
        "records are never deleted: void an entry recorded in error, with a reason "
        "(POST .../void), or cancel with a reason"
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "DELETE":
            return self.get_response(request)
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                error_body("method_not_allowed", self.message), status=405
            )
            response["Allow"] = ", ".join(_api_methods(request.path_info)) or "GET"
            return response
        response = HttpResponse(self.message, status=405, content_type="text/plain; charset=utf-8")
        response["Allow"] = "GET, HEAD, POST"
        return response


# --- idempotent submissions (requirement 29) -----------------------------------------------------

IDEMPOTENCY_HEADER = "Idempotency-Key"
IN_PROGRESS = 0  # the status of a placeholder: the first submission is still running
WAIT = dt.timedelta(seconds=5)  # how long a repeat waits for the first one to finish
ABANDONED = dt.timedelta(minutes=2)  # a placeholder this old was left by a crashed worker
KEPT_HEADERS = ("location",)  # with every HX-* header
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _error(
    request: HttpRequest, status: int, code: str, message: str, field: str | None
) -> HttpResponse:
    """A refusal by a middleware: the API's error body under ``/api/``, else plain text."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, message, field), status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _content(request: HttpRequest) -> bytes:
    """The request's body, for its fingerprint. A multipart form already parsed (by the CSRF
    check) no longer has its raw body: its fields and files, in order, stand for it."""
    try:
        return request.body
    except RawPostDataException:
        fields = sorted((k, v) for k in request.POST for v in request.POST.getlist(k))
        files = sorted(
            (k, f.name or "", f.size or 0) for k in request.FILES for f in request.FILES.getlist(k)
        )
        return json.dumps([fields, files]).encode()


def _nul_field(value: Any, name: str = "") -> str | None:
    """The name of the first field (or key) of ``value`` holding a NUL character, else None."""
    if isinstance(value, str):
        return (name or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in str(key):
                return str(key).replace("\x00", "")
            found = _nul_field(item, str(key))
            if found:
                return found
    if isinstance(value, list):
        for item in value:
            found = _nul_field(item, name)
            if found:
                return found
    return None


class NoNulCharacters:
    """A NUL character (U+0000) in the query string, a form field or a JSON body is refused (a
    page: 400; the API: 422 ``invalid_input``, as its other invalid input) naming the field,
    before the view runs: no clinical text holds one, and PostgreSQL's
    text columns cannot store it (found by tests/web/test_hostile_forms.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        field = _nul_field({k: request.GET.getlist(k) for k in request.GET})
        if field is None and request.method in ("POST", "PUT", "PATCH"):
            if request.content_type in FORMS:
                field = _nul_field({k: request.POST.getlist(k) for k in request.POST})
            elif request.content_type == "application/json":
                try:
                    field = _nul_field(json.loads(request.body))
                except (ValueError, RawPostDataException):
                    field = None  # not JSON: the view says so
        if field is None:
            return None
        message = "text may not contain a NUL character"
        if request.path.startswith("/api/"):
            return _error(request, 422, "invalid_input", message, field)  # as the API does
        return error_page(request, message, field=field, status=400)


class Idempotent:
    """A submission (POST, PUT, PATCH) sent with an ``Idempotency-Key`` header (the API) or an
    ``idempotency_key`` form field (a page's nonce) is done once per signed-in user and key
    (ASVS 11.1; requirement 29: a double click on "Start infusion" records one start).

    - The first request claims the key: a placeholder row (the unique ``(user, key)``
      constraint decides between simultaneous requests); the view runs; its answer (status,
      content type, body, ``Location`` and ``HX-*`` headers) is stored with the key, all in
      one transaction (issue 17 item 12): a crash in between leaves neither the write nor the
      key. An answer of 500 or more is not stored: the key is released, so a retry runs again.
    - A repeat with the same key and the same request (SHA-256 of method, path and body) gets
      the stored answer without running the view (``Idempotent-Replayed: true``); one that
      arrives while the first still runs waits for it (up to 5 seconds), else 409.
    - The same key with a different request: 422.

    The claim is made in ``process_view``, after the CSRF check and the sign-in; requests
    without a key, or not signed in, pass untouched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self._keyed(request):
            return self.get_response(request)
        # One transaction for the claim, the view's writes and the stored answer (issue 17 item
        # 12): a crash before the commit leaves none of them (the retry runs once), after it
        # all of them (the retry is replayed). A simultaneous duplicate waits on the claim's
        # row (PostgreSQL) or on the write lock (SQLite's BEGIN IMMEDIATE).
        with transaction.atomic():
            response = self.get_response(request)
            claim = getattr(request, "_ivig_idempotency", None)
            if claim is not None:
                self._finish(claim, response)
        return response

    @staticmethod
    def _keyed(request: HttpRequest) -> bool:
        """A submission that carries an idempotency key."""
        if request.method not in ("POST", "PUT", "PATCH"):
            return False
        if IDEMPOTENCY_HEADER in request.headers:
            return True
        return request.content_type in FORMS and IDEMPOTENCY_FIELD in request.POST

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if request.method not in ("POST", "PUT", "PATCH"):
            return None
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None and request.content_type in FORMS:
            key = request.POST.get(IDEMPOTENCY_FIELD)
        if key is None:
            return None
        body = _content(request)
        user = self._user(request)
        if user is None:
            return None  # the view answers 401 or the sign-in page, and nothing is kept
        key = key.strip()
        if not 1 <= len(key) <= 100 or not key.isprintable():
            return _error(request, 422, "invalid_input", "the idempotency key must be 1-100 "
                          "printable characters", IDEMPOTENCY_FIELD)  # fmt: skip
        path = request.get_full_path()
        digest = hashlib.sha256(f"{request.method}\n{path}\n".encode() + body).hexdigest()
        return self._claim(request, user, key, path[:300], digest)

    # -- who: the session's user, else the bearer token's (as the API's auth does)

    def _user(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if request.path.startswith("/api/"):
                from ninja.utils import check_csrf

                if check_csrf(request) is not None:
                    return None  # the API refuses it (403); nothing to keep
            return user
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            return None
        from ivig.records.tokens import active_token

        token = active_token(raw.strip())
        return token.user if token is not None else None

    # -- the claim, a repeat, and the stored answer

    def _claim(
        self, request: HttpRequest, user: User, key: str, path: str, digest: str
    ) -> HttpResponse | None:
        from ivig.records.models import IdempotencyKey

        deadline = time.monotonic() + WAIT.total_seconds()
        while True:
            try:
                with transaction.atomic():
                    claimed = IdempotencyKey.objects.create(
                        user=user, key=key, method=request.method or "", path=path,
                        fingerprint=digest, status=IN_PROGRESS, content_type="", body=b"",
                        headers={},
                    )  # fmt: skip
                request._ivig_idempotency = claimed  # type: ignore[attr-defined]
                return None  # the first: the view runs
            except IntegrityError:
                pass
            row = IdempotencyKey.objects.filter(user=user, key=key).first()
            if row is None:
                continue  # released by a failed first request in between: claim it again
            if row.fingerprint != digest:
                return _error(
                    request, 422, "invalid_input",
                    "this idempotency key was used for a different request: use a new key",
                    IDEMPOTENCY_FIELD,
                )  # fmt: skip
            if row.status != IN_PROGRESS:
                return self._replay(row)
            if timezone.now() - row.created_at > ABANDONED and self._take_over(row):
                request._ivig_idempotency = row  # type: ignore[attr-defined]
                return None
            if time.monotonic() > deadline:
                return _error(
                    request, 409, "conflict",
                    "the same submission is still being processed: reload in a moment",
                    IDEMPOTENCY_FIELD,
                )  # fmt: skip
            time.sleep(0.1)

    @staticmethod
    def _take_over(row: Any) -> bool:
        from ivig.records.models import IdempotencyKey

        with transaction.atomic():
            return bool(
                IdempotencyKey.objects.filter(
                    pk=row.pk, status=IN_PROGRESS, created_at=row.created_at
                ).update(created_at=timezone.now())
            )

    @staticmethod
    def _replay(row: Any) -> HttpResponse:
        response = HttpResponse(bytes(row.body), status=row.status, content_type=row.content_type)
        for name, value in row.headers.items():
            response[name] = value
        response["Idempotent-Replayed"] = "true"
        return response

    @staticmethod
    def _finish(row: Any, response: HttpResponse) -> None:
        from ivig.records.models import IdempotencyKey

        with transaction.atomic():
            if response.status_code >= 500 or response.streaming:
                # Not kept: a retry with the key runs again (the refused write was rolled back).
                IdempotencyKey.objects.filter(pk=row.pk, status=IN_PROGRESS).delete()
                return
            headers = {
                name: value
                for name, value in response.items()
                if name.lower().startswith("hx-") or name.lower() in KEPT_HEADERS
            }
            IdempotencyKey.objects.filter(pk=row.pk).update(
                status=response.status_code,
                content_type=response.get("Content-Type", ""),
                body=response.content,
                headers=headers,
            )


# --- nothing kept by a cache (issue 17 item 16) ------------------------------------------------


class NoStore:
    """Every answer that reaches Django (a page, a form's answer, the API, a PDF, a calendar, a
    FHIR bundle, an error) carries ``Cache-Control: no-store``: a ward computer is shared, and
    what one user saw must not come back from the browser's cache (or a proxy's) for the next
    one, nor after signing out (requirement 25; ASVS v4.0.3-8.2.1). Static files never reach it
    (WhiteNoise, before it, answers them with their own long cache)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["Cache-Control"] = "no-store"
        return response


# --- bodies too deep or too big (issue 17 item 10) -----------------------------------------------

MAX_JSON_DEPTH = 32  # no request of the API nests deeper than 4 levels


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


def too_deep(body: bytes) -> bool:
    """Whether a JSON body's arrays and objects nest deeper than :data:`MAX_JSON_DEPTH`, found
    without recursion or parsing: the brackets outside strings are kept and the innermost
    pairs removed, one level a pass; brackets left after :data:`MAX_JSON_DEPTH` passes are
    deeper (or do not pair up: not JSON either way). About 0.3 s for 2 MB of brackets at the
    worst, less than parsing them; a body with few brackets is not scanned at all."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", body))
    for _ in range(MAX_JSON_DEPTH):
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if shorter == brackets:
            break
        brackets = shorter
    return bool(brackets)


class BodyLimits:
    """A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's 2.5 MB; a multipart form's files
    excepted, Django counts only its fields) is 413, and a JSON body nested deeper than
    :data:`MAX_JSON_DEPTH` is 400 (any body but a form: the API reads it as JSON, whatever
    its type says), both naming the field ``body``, before any other middleware
    reads the body: the API's error under ``/api/``, else the error page (not a 500 from a
    ``RecursionError``, nor Django's bare 400 page). It runs in ``__call__``, before every
    ``process_view`` (the CSRF check reads a form's body)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit and self._too_big(request):
            message = f"the request is too large (at most {limit // 1024} KB)"
            return self._refuse(request, 413, "too_large", message)
        deep = request.content_type not in FORMS and length > 0  # the API reads it as JSON
        if deep and too_deep(request.body):
            message = f"the JSON body is too deeply nested (at most {MAX_JSON_DEPTH} levels)"
            return self._refuse(request, 400, "invalid_input", message)
        return self.get_response(request)

    @staticmethod
    def _too_big(request: HttpRequest) -> bool:
        """Over the limit: any body but a multipart form, whose fields (not files) Django
        counts as it reads them."""
        if request.content_type != "multipart/form-data":
            return True
        try:
            request.POST  # noqa: B018 (read now, as the CSRF check would)
        except RequestDataTooBig:
            return True
        return False

    @staticmethod
    def _refuse(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return _error(request, status, code, message, "body")
        return error_page(request, message, field="body", status=status)
