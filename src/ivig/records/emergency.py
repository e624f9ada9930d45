"""The service's emergency number as the settings give it (``IVIG_COUNTRY`` or
``IVIG_EMERGENCY_NUMBER``, read by ``server/config.py``), with its flag: one reader for the
patient pages and the handout, so they give the same number, flagged alike."""

from __future__ import annotations

from django.conf import settings

from ivig.core.emergency import EmergencyPhone

__all__ = ["emergency_phone"]


def emergency_phone() -> EmergencyPhone | None:
    """The emergency number patients are told to call, or ``None`` when none is set."""
    number = getattr(settings, "IVIG_EMERGENCY_NUMBER", None)
    if not number:
        return None
    return EmergencyPhone(str(number), bool(getattr(settings, "IVIG_EMERGENCY_VERIFIED", True)))
