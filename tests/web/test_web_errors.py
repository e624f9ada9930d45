"""``ivig.web.errors``: a service's error on the form (next to its field, else above), as a
message after a button, and as a page (404 for a record not found, else the error's status)."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import Http404, HttpRequest
from django.test import RequestFactory

from ivig.errors import Conflict, InvalidInput, NotFound, StaleVersion
from ivig.web.errors import attach_error, error_page, flash_error, page_for


class WeightForm(forms.Form):
    weight_kg = forms.FloatField()
    values = forms.CharField(required=False)


def _form() -> WeightForm:
    form = WeightForm({"weight_kg": "70"})
    assert form.is_valid()
    return form


def test_an_error_goes_next_to_its_field() -> None:
    form = _form()
    attach_error(form, InvalidInput("implausible weight", field="weight_kg"))
    assert form.errors == {"weight_kg": ["implausible weight"]}


def test_an_error_without_a_field_of_the_form_goes_above_it() -> None:
    form = _form()
    attach_error(form, InvalidInput("no such option", field="mrn"))
    assert form.non_field_errors() == ["no such option"]


def test_aliases_move_an_error() -> None:
    form = _form()
    attach_error(form, StaleVersion("the order", 1, 2), {"version": ""})  # above the form
    attach_error(form, InvalidInput("not a number", field="value"), {"value": "values"})
    assert form.non_field_errors() == [StaleVersion("the order", 1, 2).message]
    assert form.errors["values"] == ["not a number"]


def _request(users: dict[str, Any]) -> HttpRequest:
    request = RequestFactory().get("/orders/1/runsheet/")
    request.user = users["nurse"]
    request.session = {}  # type: ignore[assignment]
    request._messages = CookieStorage(request)  # type: ignore[attr-defined]
    return request


def test_a_button_says_what_was_not_saved(users: dict[str, Any]) -> None:
    request = _request(users)
    flash_error(request, Conflict("the check was already reviewed"))
    said = [str(m) for m in get_messages(request)]
    assert said == ["Not saved: the check was already reviewed."]


def test_an_error_no_view_showed_is_a_page_with_its_status(users: dict[str, Any]) -> None:
    page = page_for(_request(users), Conflict("the order was cancelled", field="version"))
    assert page.status_code == 409
    assert b"The order was cancelled (field: version)." in page.content


def test_a_record_not_found_is_the_404_page(users: dict[str, Any]) -> None:
    with pytest.raises(Http404, match="no order 7"):
        page_for(_request(users), NotFound("order", 7))


def test_a_refusal_is_the_same_page(users: dict[str, Any]) -> None:
    message = "text may not contain a NUL character"
    page = error_page(_request(users), message, field="note", status=400)
    assert page.status_code == 400
    assert b"Text may not contain a NUL character (field: note)." in page.content
