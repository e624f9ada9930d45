"""The safety report (requirements 57, 61) and the usage report (issue 18), for the admin and
the pharmacist."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router

from ivig.api.auth import rule
from ivig.api.schemas import In
from ivig.records.models import Role
from ivig.records.services import reports, usage

router = Router(tags=["reports"])


@router.get("/reports/safety", **rule(Role.admin, Role.pharmacist))
def safety(request: HttpRequest, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Infusions started from ``start`` to ``end`` (dates, both included): the share within the
    drug library, overrides per 100 infusions (by user, by unit), hard-stop attempts by rule,
    late checkpoints. Every figure gives its numerator and denominator."""
    return reports.safety_report(request.user, start=start, end=end, now=timezone.now())


class UsageQuery(In):
    """The months of the usage report, ``YYYY-MM``, both included."""

    start: str | None = Field(None, alias="from", description="the first month, YYYY-MM")
    end: str | None = Field(None, alias="to", description="the last month, YYYY-MM")


@router.get("/reports/usage", **rule(Role.admin, Role.pharmacist))
def usage_report(request: HttpRequest, period: Query[UsageQuery]) -> dict[str, Any]:
    """Grams of IVIG by product, indication and month, the infusions and reactions per 100
    infusions, for the months ``from`` to ``to`` (``YYYY-MM``, both included; default the
    last 12 months ending with this one). Every figure gives its numerator and denominator;
    ``grams_rule`` says how grams are counted."""
    report = usage.usage_report(
        request.user,
        first=usage.parse_month(period.start, "from") if period.start else None,
        last=usage.parse_month(period.end, "to") if period.end else None,
        now=timezone.now(),
    )
    return report.as_dict()
