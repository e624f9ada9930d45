"""Django-level error pages: under /api/ they answer JSON like the API itself."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = {"error": {"code": "not_found", "message": "no such address", "field": None}}
        return JsonResponse(body, status=404)
    return page_not_found(request, exception)
