"""The sign-in page, with the slow-down of one computer (requirement 21; issue 17 item 5).

django-axes locks a user name after 5 failed sign-ins in 15 minutes, whatever computer they come
from. A computer (its address) is never locked: on a ward several nurses sign in at one
computer, and behind a proxy every user has the proxy's address. Beyond 25 failures from one
address in 15 minutes (a guessing program) the address is slowed down instead: a name that has
failed may be tried again from there only after a delay that doubles with each further failure
(2, 4, 8... seconds, ``records.services.signin.address_wait``), and each further failure is
answered 429 "try again in N seconds"; a user who has not failed still signs in with the right
password. ``ivig user unlock --address IP`` lifts it. Refusals are counted per address and
audited once per window (``records.services.signin``).

The idle sign-out (``ivig.server.middleware.IdleSignOut``) comes here with ``idle=1``: the page
says after how many minutes. ``stay_signed_in`` is what the warning before it asks (issue 16
item 2, static/web/idle.js): a GET (sent as the page's polling, which is not activity) says how
long is left; a POST is activity, so the idle clock starts again.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ivig.records.services import signin
from ivig.web.idle import idle_minutes, idle_seconds, remaining


def _slowed(request: HttpRequest, wait: int) -> HttpResponse:
    response = render(request, settings.AXES_LOCKOUT_TEMPLATE, {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


class SignInView(LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "idle_minutes": idle_minutes()}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        address = get_client_ip_address(request)
        name = str(request.POST.get("username", ""))[:150]
        wait = signin.address_wait(address)
        if wait and signin.name_failures(name):
            signin.note_refusal(address, "slowed", name)
            return _slowed(request, wait)
        response = super().post(request, *args, **kwargs)
        failed = response.status_code == 200  # the form again: not signed in
        if failed and signin.address_failures(address) > signin.ADDRESS_FAILURE_LIMIT:
            return _slowed(request, signin.address_wait(address))
        return response


@never_cache
@require_http_methods(["GET", "POST"])
def stay_signed_in(request: HttpRequest) -> JsonResponse:
    """How long the user stays signed in without activity, in seconds (``remaining``), and the
    limit (``idle_seconds``). A POST is the "Stay signed in" button: the middleware counted it
    as activity, so all of the limit is left. Signed out (or signed out just now, for being
    idle): ``signed_in`` false."""
    limit = idle_seconds()
    if not request.user.is_authenticated:
        return JsonResponse({"signed_in": False, "remaining": 0, "idle_seconds": limit})
    left = round(remaining(request), 1)
    return JsonResponse({"signed_in": True, "remaining": left, "idle_seconds": limit})
