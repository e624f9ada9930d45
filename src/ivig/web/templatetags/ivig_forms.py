"""Template tags for forms: ``{% load ivig_forms %}``.

``{% idempotency_field %}`` puts a hidden nonce in a form, so that submitting the form twice
(a double click, a resent request) records once (requirement 29; see
``ivig.server.middleware.Idempotent``, which reads the field). Put it in every form that
records something::

    <form method="post" ...>{% csrf_token %}{% idempotency_field %} ... </form>
"""

from __future__ import annotations

import secrets

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

IDEMPOTENCY_FIELD = "idempotency_key"  # the hidden input's name


def new_key() -> str:
    """A fresh nonce (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(16)


@register.simple_tag
def idempotency_field() -> SafeString:
    """A hidden ``idempotency_key`` input holding a new nonce each time the form is drawn."""
    return format_html('<input type="hidden" name="{}" value="{}">', IDEMPOTENCY_FIELD, new_key())
