"""How the pages show an error: the web's one place for :class:`ivig.errors.IvigError`.

The API has its own (``ivig.api.api``, answering :func:`ivig.errors.error_body` under ``/api/``),
the command line its own (``ivig.cli.main``). On a page, a service's error is shown where the
user can act on it:

- on the form that was sent (:func:`attach_error`): next to the field at fault when the form
  has it, else above the form, and the page is drawn again with what was typed. Views with more
  to say build on it: the run sheet (``runsheet.actions.show_error``: a hard limit, the soft
  limits on the rate form, a sheet someone else changed), dispensing (the lot row at fault),
  prescribing (the override form);
- after an action without a form (a button), as a message on the page it goes back to
  (:func:`flash_error`): "Not saved: <message>.";
- as a page, for an error no view showed (:func:`page_for`, called by the ``ErrorPages``
  middleware): ``NotFound`` is Django's 404 page, any other a short page with the error's
  status (400, 403, 409, 422) and message, never a 500 with a traceback. :func:`error_page`
  draws that page for a refusal that is not an ``IvigError`` (a NUL character: 400).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from ivig.errors import IvigError, NotFound

__all__ = ["attach_error", "error_page", "flash_error", "page_for"]


def attach_error(form: forms.Form, exc: IvigError, aliases: dict[str, str] | None = None) -> None:
    """Show a service's error on the form: next to its field when the form has that field
    (``aliases`` maps service field names to form field names), else above the form."""
    name = (aliases or {}).get(exc.field or "", exc.field)
    if name and name in form.fields:
        form.add_error(name, exc.message)
    else:
        form.add_error(None, exc.message)


def flash_error(request: HttpRequest, exc: IvigError) -> None:
    """Say on the next page that an action without a form was not saved, and why."""
    messages.error(request, f"Not saved: {exc.message}.")


def error_page(
    request: HttpRequest, message: str, *, field: str | None, status: int
) -> HttpResponse:
    """The page of a refused request: its message (and the field at fault), with ``status``."""
    context = {"title": "Not done", "message": message, "field": field}
    return render(request, "web/error.html", context, status=status)


def page_for(request: HttpRequest, exc: IvigError) -> HttpResponse:
    """The page of an error no view showed: ``NotFound`` is the 404 page (raised as
    ``Http404``), any other :func:`error_page` with the error's status."""
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    return error_page(request, exc.message, field=exc.field, status=exc.http_status)
