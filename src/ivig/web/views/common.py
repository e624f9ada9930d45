"""What the views share: the role rule of a page, the form data of a POST, and the shape of a
POST that calls a service (its error shown by ``ivig.web.errors``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect

from ivig.errors import IvigError
from ivig.records.services.access import has_role
from ivig.web.errors import attach_error, flash_error

__all__ = ["act_on_post", "posted", "roles_required", "saved"]

F = TypeVar("F", bound=Callable[..., HttpResponse])
T = TypeVar("T")


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


def act_on_post(
    request: HttpRequest,
    act: Callable[[dict[str, Any]], T],
    then: Callable[[T], HttpResponse],
    *,
    form: forms.Form | None = None,
    aliases: dict[str, str] | None = None,
    refused: Callable[[IvigError], HttpResponse] | None = None,
) -> HttpResponse | None:
    """The shape of a page's POST that calls a service: with a ``form``, nothing (``None``)
    unless it is bound and valid; the service ``act`` with the form's cleaned data (``{}``
    without a form), then ``then`` of its result (usually :func:`saved`). The service's refusal
    (an ``IvigError``) goes on the form next to its field (``attach_error``, with ``aliases``),
    or without a form is said on the next page (``flash_error``); then ``refused`` answers, or
    ``None`` lets the view show the form again (or redirect)."""
    if form is not None and not form.is_valid():
        return None
    data: dict[str, Any] = form.cleaned_data if form is not None else {}
    try:
        result = act(data)
    except IvigError as exc:
        if form is not None:
            attach_error(form, exc, aliases)
        else:
            flash_error(request, exc)
        return refused(exc) if refused is not None else None
    return then(result)


def saved(request: HttpRequest, message: str, to: str, **kwargs: Any) -> HttpResponse:
    """Say ``message`` on the next page, the page named ``to`` (with its URL ``kwargs``)."""
    messages.success(request, message)
    response: HttpResponse = redirect(to, **kwargs)
    return response
