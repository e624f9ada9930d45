"""What every page knows: the user's roles; for nurses and prescribers, how many patient
alerts are open (the menu's count, issue 16), counted only when a page shows it; and the
service's phone and emergency numbers (issue 16 item 8: the patient pages' tap-to-call links,
the staff's warning when one is not set)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from ivig.core.emergency import tel_uri
from ivig.records.emergency import emergency_phone
from ivig.records.services import alerts
from ivig.records.services.access import roles_of


class _OpenAlerts:
    """The open alerts' count, asked once per request and only if a template reads it (an htmx
    fragment without the menu costs no query)."""

    def __init__(self) -> None:
        self._count: int | None = None

    def __call__(self) -> int:
        if self._count is None:
            self._count = alerts.open_count()
        return self._count


def roles(request: HttpRequest) -> dict[str, Any]:
    found = roles_of(getattr(request, "user", None))
    acts = bool(found & {str(r) for r in alerts.ALERT_ROLES})
    phone = getattr(settings, "IVIG_SERVICE_PHONE", None)
    return {
        "roles": found,
        "alerts_open": _OpenAlerts() if acts else None,
        "service_phone": {"number": phone, "tel": tel_uri(phone)} if phone else None,
        "emergency_phone": emergency_phone(),
    }
