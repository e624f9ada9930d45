"""The idle sign-out's warning on every page: ``{% load ivig_session %}`` and
``<body {% idle_attributes %}>`` give static/web/idle.js the idle limit (a setting), when the
countdown shows, and where to ask for more time (issue 16 item 2; ``ivig.web.idle``)."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ivig.web.idle import idle_minutes, idle_seconds, warn_seconds

register = template.Library()

__all__ = ["idle_attributes"]


@register.simple_tag(takes_context=True)
def idle_attributes(context: template.Context) -> SafeString:
    """The ``data-idle-*`` attributes of a signed-in user's page (nothing when signed out)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return SafeString("")
    return format_html(
        'data-idle-seconds="{}" data-idle-warn-seconds="{}" data-idle-minutes="{}" '
        'data-stay-url="{}" data-signin-url="{}" data-signout-url="{}"',
        f"{idle_seconds():g}",
        warn_seconds(),
        idle_minutes(),
        reverse("web:stay-signed-in"),
        settings.LOGIN_URL,
        reverse("web:signout"),
    )
