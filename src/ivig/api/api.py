"""The API object: every router, and the one place errors become JSON.

Every error answer is ``ivig.errors.error_body``: ``{"error": {"code", "message", "field"}}``
(plus ``"details"`` when the error carries data for machines, e.g. the soft limits an override
must cover) with the status that fits: 400 a clinical time outside its window, 422 bad input or
a drug-library limit (hard: no one may save it; ``override_required``: a soft limit), 401 not
signed in, 403 role, 404 no such record, 409 conflict (a stale version, a wrong state), 503 the
database cannot be reached (``database_unavailable``, with ``Retry-After``). No stack trace ever
reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema

from ivig.api.auth import ExpiredToken
from ivig.errors import IvigError, error_body

__all__ = ["ERRORS", "api", "error_responses"]

log = logging.getLogger("ivig.api")

ERRORS = {
    400: "A clinical time outside its window",
    401: "Not signed in (no session, no valid token)",
    403: "Your role may not do this (or a failed CSRF check)",
    404: "No such record",
    409: "A conflict: the record changed since you read it, or is in the wrong state",
    422: "Bad input, or a drug-library limit (hard, or a soft one needing an override)",
    503: "The database cannot be reached: try again after Retry-After seconds",
}
"""The error answers, each ``ErrorOut``; which ones an operation declares: ``error_responses``."""


def error_responses(method: str, path: str) -> list[int]:
    """The error statuses an operation can answer with: every one can refuse an anonymous
    client, a role and bad input; one with an id in its path can find nothing; one that writes
    can also meet a conflict, a time outside its window, or a record it names that is gone."""
    if method.lower() == "get":
        return [401, 403, *([404] if "{" in path else []), 422, 503]
    return sorted(ERRORS)


class _Api(NinjaAPI):
    """The API whose document declares, on every operation, the error answers of the one
    error handler below (``ErrorOut``), so that clients and the schema checks know them."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        from ivig.api.schemas import ErrorOut

        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        shape = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(shape.pop("$defs", {}))
        components["ErrorOut"] = shape
        ref = {"$ref": "#/components/schemas/ErrorOut"}
        for path, item in document["paths"].items():
            for method, operation in item.items():
                answers = operation.setdefault("responses", {})
                also = operation.pop("x-errors", [])  # declared by the route (``rule``)
                for status in sorted({*error_responses(method, path), *also}):
                    answers.setdefault(
                        status,
                        {
                            "description": ERRORS[status],
                            "content": {"application/json": {"schema": ref}},
                        },
                    )
        return document


api = _Api(
    title="ivig API",
    version="1",
    description="Records, orders and infusions for IVIG treatment. Every route names the roles "
    "allowed (x-roles); every error is JSON with the field at fault.",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def _answer(
    request: HttpRequest, status: int, code: str, message: str, field: str | None = None
) -> HttpResponse:
    return api.create_response(request, error_body(code, message, field), status=status)


@api.exception_handler(IvigError)
def _ivig_error(request: HttpRequest, exc: IvigError) -> HttpResponse:
    return api.create_response(request, exc.body(), status=exc.http_status)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    wrappers = ("body", "query", "path", "payload", "data", "filters")
    loc = [str(p) for p in first.get("loc", ()) if p not in wrappers]
    field = ".".join(loc) or None
    message = str(first.get("msg", "invalid input"))
    if field:
        message = f"{field}: {message}"
    return _answer(request, 422, "invalid_input", message, field)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    expired = exc.message if isinstance(exc, ExpiredToken) else None  # issue 17 item 17
    return _answer(request, 401, "unauthenticated", expired or "sign in, or send a valid API token")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:  # e.g. a body that is not JSON: bad input, like any other
        return _answer(request, 422, "invalid_input", str(exc))
    if exc.status_code == 403:  # the CSRF check of a browser session
        return _answer(request, 403, "forbidden", str(exc))
    return _answer(request, exc.status_code, "http_error", str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _answer(request, 404, "not_found", "no such record")


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database cannot be reached: not the API's to answer. Raised on to the server's
    ``DatabaseDown`` middleware, which answers 503 ``database_unavailable`` with
    ``Retry-After`` for the pages and the API alike (not the 500 of ``_unexpected``)."""
    raise exc


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unexpected error in %s %s", request.method, request.path)
    return _answer(request, 500, "internal_error", "an unexpected error occurred; it is logged")


def _add_routers() -> None:
    from ivig.api.routes import (
        accounts,
        alerts,
        board,
        bookings,
        catalogue,
        corrections,
        fhir,
        infusions,
        orders,
        patients,
        premedication,
        reminders,  # issue 18
        reports,
        slots,
        stock,
        units,
    )

    api.add_router("/", catalogue.router)
    api.add_router("/", patients.router)
    api.add_router("/", orders.router)
    api.add_router("/", infusions.router)
    api.add_router("/", accounts.router)
    api.add_router("/", corrections.router)
    api.add_router("/", reports.router)
    api.add_router("/", fhir.router)
    api.add_router("/", alerts.router)  # issue 16 item 9
    api.add_router("/", premedication.router)
    api.add_router("/", stock.router)  # issue 18
    api.add_router("/", units.router)  # issue 18
    api.add_router("/", bookings.router)  # issue 18
    api.add_router("/", slots.router)  # issue 18: suggested slots
    api.add_router("/", reminders.router)  # issue 18
    api.add_router("/", board.router)  # issue 18: the unit's board


_add_routers()
