"""The alerts' words in templates (issue 16, item 9): ``{{ check.action|alert_action }}``."""

from __future__ import annotations

from django import template

from ivig.records.services.alerts import ACTIONS

register = template.Library()


@register.filter
def alert_action(code: str) -> str:
    """The action taken on an alert, in words ("reviewed" for one closed before the codes)."""
    return ACTIONS.get(code, code) if code else "reviewed"
