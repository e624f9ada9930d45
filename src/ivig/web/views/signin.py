"""The sign-in page, with the lockout of one computer (requirement 21).

django-axes locks a user name after 5 failed sign-ins in 15 minutes, whatever computer they come
from. A computer (its address) gets a counter of its own with a higher limit: on a ward, several
nurses sign in at one computer, and 5 typing slips between them must not lock everyone out of
the run sheet for 15 minutes; 25 failures from one address in 15 minutes (a guessing program)
do. Each sign-in refused for the address is audited.

The idle sign-out (``ivig.server.middleware.IdleSignOut``) comes here with ``idle=1``: the page
says after how many minutes. ``stay_signed_in`` is what the warning before it asks (issue 16
item 2, static/web/idle.js): a GET (sent as the page's polling, which is not activity) says how
long is left; a POST is activity, so the idle clock starts again.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.views import LoginView
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ivig.records.services.accounts import record_lockout
from ivig.web.idle import idle_minutes, idle_seconds, remaining

ADDRESS_FAILURE_LIMIT = 25  # failed sign-ins from one address within the cool-off (15 minutes)


def address_failures(address: str | None) -> int:
    """Failed sign-ins from ``address`` (any user name) within the cool-off."""
    if not address:
        return 0
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=since)
    total: int | None = recent.aggregate(n=Sum("failures_since_start"))["n"]
    return total or 0


class SignInView(LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "idle_minutes": idle_minutes()}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        address = get_client_ip_address(request)
        if address_failures(address) >= ADDRESS_FAILURE_LIMIT:
            record_lockout(str(request.POST.get("username", "")), address, new=False,
                           by_address=True)  # fmt: skip
            return render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
        return super().post(request, *args, **kwargs)


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
