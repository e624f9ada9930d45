"""Django-level views: the error pages (under /api/ they answer JSON like the API itself) and
the health check."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from django.views.defaults import page_not_found

from ivig.errors import error_body


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "no such address"), status=404)
    return page_not_found(request, exception)


@require_safe
def health(request: HttpRequest) -> HttpResponse:
    """``GET /health/`` for a load balancer or a monitor: 200 when the database answers and its
    schema is this version's, else 503 saying which (no sign-in; nothing about patients)."""
    from django.db import DatabaseError

    from ivig import __version__
    from ivig.server.schema import schema_state

    body: dict[str, object] = {"version": __version__}
    try:
        state = schema_state()
    except DatabaseError:
        body |= {"status": "unavailable", "database": "unreachable"}
        response = JsonResponse(body, status=503)
    else:
        body |= {
            "status": "ok" if state.current else "unavailable",
            "database": "ok",
            "schema": state.describe(),
        }
        response = JsonResponse(body, status=200 if state.current else 503)
    response["Cache-Control"] = "no-store"
    if response.status_code == 503:
        response["Retry-After"] = "5"
    return response
