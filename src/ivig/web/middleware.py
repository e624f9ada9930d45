"""The web's middleware.

Sign a user out after ``IDLE_MINUTES`` without a request (requirement 24): the next page
goes to the sign-in page; the next htmx request gets 401 with ``HX-Redirect`` so that no partial
page is swapped in."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from ivig.errors import NotFound

LAST_SEEN = "ivig_last_seen"


class IdleSignOut:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A page's own polling (X-Ivig-Poll) is not the user's activity: it neither resets the
        # idle clock nor keeps an unattended screen signed in.
        polling = bool(request.headers.get("X-Ivig-Poll"))
        if request.user.is_authenticated and not request.path.startswith("/api/"):
            now = time.time()
            last = request.session.get(LAST_SEEN)
            if last is not None and now - float(last) > settings.IDLE_MINUTES * 60:
                logout(request)
                target = f"{settings.LOGIN_URL}?next={quote(request.get_full_path())}&idle=1"
                if request.headers.get("HX-Request"):
                    response = HttpResponse(status=401)
                    response["HX-Redirect"] = target
                    return response
                return HttpResponseRedirect(target)
            if not polling:
                request.session[LAST_SEEN] = now
        return self.get_response(request)


class NotFoundPages:
    """A record the services cannot find (``ivig.errors.NotFound``) is a 404 page, not a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            raise Http404(exception.message)
        return None
