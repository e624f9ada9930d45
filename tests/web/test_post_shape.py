"""The shape of a page's POST that calls a service (``web.views.common.act_on_post``, issue 19
item 1): the form first, then the service, its refusal on the form or said on the next page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from ivig.errors import Conflict
from ivig.web.views.common import act_on_post, saved


class NameForm(forms.Form):
    name = forms.CharField(max_length=10)


def _post(data: dict[str, str]) -> HttpRequest:
    request = RequestFactory().post("/x/", data)
    request.session = {}  # type: ignore[attr-defined]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def _said(request: HttpRequest) -> list[str]:
    return [str(m) for m in get_messages(request)]


def test_an_invalid_form_calls_nothing() -> None:
    request = _post({"name": ""})
    called: list[Any] = []
    form = NameForm(request.POST)
    assert act_on_post(request, called.append, lambda _: HttpResponse(), form=form) is None
    assert called == []
    assert "name" in form.errors


def test_a_valid_form_calls_the_service_then_answers() -> None:
    request = _post({"name": "Chair 1"})

    def act(data: dict[str, Any]) -> str:
        return str(data["name"]).upper()

    answer = act_on_post(
        request,
        act,
        lambda made: saved(request, f"{made} added.", "web:units"),
        form=NameForm(request.POST),
    )
    assert answer is not None
    assert answer.status_code == 302
    assert _said(request) == ["CHAIR 1 added."]


def test_a_refusal_goes_on_the_form_next_to_its_field() -> None:
    request = _post({"name": "Chair 1"})
    form = NameForm(request.POST)

    def refuse(data: dict[str, Any]) -> None:
        raise Conflict("that name is taken", field="title")

    refused = act_on_post(
        request,
        refuse,
        lambda _: HttpResponse(),
        form=form,
        aliases={"title": "name"},
        refused=lambda exc: HttpResponse(status=exc.http_status),
    )
    assert refused is not None
    assert refused.status_code == 409
    assert form.errors["name"] == ["that name is taken"]
    assert _said(request) == []


def test_without_a_form_a_refusal_is_said_on_the_next_page() -> None:
    request = _post({})

    def refuse(data: dict[str, Any]) -> None:
        assert data == {}
        raise Conflict("already revoked")

    assert act_on_post(request, refuse, lambda _: HttpResponse()) is None
    assert _said(request) == ["Not saved: already revoked."]
