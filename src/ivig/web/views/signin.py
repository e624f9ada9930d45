"""The sign-in page, with the lockout of one computer (requirement 21).

django-axes locks a user name after 5 failed sign-ins in 15 minutes, whatever computer they come
from. A computer (its address) gets a counter of its own with a higher limit: on a ward, several
nurses sign in at one computer, and 5 typing slips between them must not lock everyone out of
the run sheet for 15 minutes; 25 failures from one address in 15 minutes (a guessing program)
do. Each sign-in refused for the address is audited.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.views import LoginView
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ivig.records.services.accounts import record_lockout

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

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        address = get_client_ip_address(request)
        if address_failures(address) >= ADDRESS_FAILURE_LIMIT:
            record_lockout(str(request.POST.get("username", "")), address, new=False,
                           by_address=True)  # fmt: skip
            return render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
        return super().post(request, *args, **kwargs)
