"""The last reaction and the premedication on a run sheet (issue 16 item 6):
``{% load ivig_premedication %}{% previous_dose order %}`` draws
``partials/runsheet_previous.html``: the last reaction at an earlier infusion (date, grade,
symptoms, the rate when it began, the rate tolerated), the prescriber's decision and the cap it
puts on this infusion's steps, the premedication ordered for it and given, with the nurse's
"given" form."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from ivig.records.services import premedication
from ivig.records.services.access import has_role

register = template.Library()


@register.inclusion_tag("web/partials/runsheet_previous.html", takes_context=True)
def previous_dose(context: template.Context, order: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    cap = premedication.rate_cap(order)
    given = list(premedication.given_for(order))
    done = {g.premedication_id for g in given}
    ordered = list(premedication.premedications_for(order))
    steps = [float(s["rate_ml_per_h"]) for s in order.steps]
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "order": order,
        "previous": premedication.last_reaction(order),
        "cap": cap,
        "capped_steps": [(r, min(r, cap.max_ml_per_h)) for r in steps] if cap else [],
        "ordered": [(p, p.pk in done) for p in ordered],
        "given": given,
        "may_give": has_role(user, "nurse") and order.status in premedication.OPEN,
        "is_prescriber": has_role(user, "prescriber"),
        "now": timezone.localtime().strftime("%H:%M"),
    }
