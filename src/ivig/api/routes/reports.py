"""The safety report (requirements 57, 61), for the admin and the pharmacist."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router

from ivig.api.auth import rule
from ivig.records.models import Role
from ivig.records.services import reports

router = Router(tags=["reports"])


@router.get("/reports/safety", **rule(Role.admin, Role.pharmacist))
def safety(request: HttpRequest, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Infusions started from ``start`` to ``end`` (dates, both included): the share within the
    drug library, overrides per 100 infusions (by user, by unit), hard-stop attempts by rule,
    late checkpoints. Every figure gives its numerator and denominator."""
    return reports.safety_report(request.user, start=start, end=end, now=timezone.now())
