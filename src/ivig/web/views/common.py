"""What the views share: the role rule of a page, and the form data of a POST (a service's
error is shown by ``ivig.web.errors``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict

from ivig.records.services.access import has_role

F = TypeVar("F", bound=Callable[..., HttpResponse])


def posted(request: HttpRequest) -> QueryDict | None:
    """The form data of a POST, even an empty one (``request.POST or None`` would leave an empty
    POST unbound, and the page would show a blank form instead of the missing fields)."""
    return request.POST if request.method == "POST" else None


def roles_required(*roles: str) -> Callable[[F], F]:
    """A page for signed-in users holding one of ``roles`` (403 for the others)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)  # type: ignore[return-value]

    return decorate
