"""The nurse run sheet of one order: the header (patient, product, dose, lots), the pre-infusion
check and its findings (a prescriber's override over a blocking finding), the start with the
visual inspection and the nurse giving it, the rate steps on the clock with the basis of every
number, rate changes under the drug library's limits, the infusion's state (running, paused,
stopped, ended, closed) with the restart rules after a reaction, vital signs with their
checkpoints, reactions with the protocol's recommended action, the prescriber's tasks, the end
of the infusion and the post-infusion observation; and a print view of the whole sheet with
signature lines, and its PDF (``pdf``).

Every signed-in role may read the sheet. The actions are the nurse's (the overrides, the
restart order and the tasks the prescriber's): the forms show only to those roles, and the
services check the roles again.

Modules: ``forms`` (the forms), ``sheet`` (the forms shown over what the sheet shows, which is
``ivig.records.services.runsheet``, with ``basis``: how each number is computed, requirement
55), ``actions`` (the POST views), ``pdf`` (the PDF of the print view).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from ivig.records.models import InfusionSession
from ivig.records.services.runsheet.sheet import print_sheet
from ivig.web.views.runsheet.actions import ACTIONS, acknowledge, action, htmx, order_or_404
from ivig.web.views.runsheet.pdf import runsheet_pdf_view
from ivig.web.views.runsheet.sheet import context, reaction_advice


@login_required
@require_GET
def runsheet(request: HttpRequest, order_id: int) -> HttpResponse:
    """The run sheet; ``?print=1`` is the print view. htmx: the sheet (or its live part)."""
    if request.GET.get("print"):
        return runsheet_print(request, order_id)
    order = order_or_404(order_id)
    ctx = context(request, order, timezone.now())
    hx = htmx(request)
    if hx and hx.target == "now-bar":  # the now bar's own refresh (issue 16 item 13)
        return render(request, "web/partials/runsheet_now.html", ctx)
    if hx:
        part = "live" if hx.target == "live" else "sheet"
        return render(request, f"web/runsheet.html#{part}", ctx)
    return render(request, "web/runsheet.html", ctx)


@login_required
@require_GET
def runsheet_print(request: HttpRequest, order_id: int) -> HttpResponse:
    order = order_or_404(order_id)
    ctx = {**print_sheet(order, timezone.now()), "section": "chairs"}
    return render(request, "web/runsheet_print.html", ctx)


@login_required
@require_GET
def runsheet_advice(request: HttpRequest, order_id: int) -> HttpResponse:
    """The recommended action for the ticked symptoms, before saving (htmx preview)."""
    order = order_or_404(order_id)
    session = InfusionSession.objects.filter(order=order).first()
    advice = reaction_advice(
        session, request.GET.getlist("symptoms"), request.GET.get("severity", "")
    )
    return render(request, "web/partials/runsheet_advice.html", {"advice": advice})


urlpatterns: list[URLPattern] = [
    path("orders/<int:order_id>/runsheet/", runsheet, name="runsheet"),
    path("orders/<int:order_id>/runsheet/print/", runsheet_print, name="runsheet-print"),
    path("orders/<int:order_id>/runsheet.pdf", runsheet_pdf_view, name="runsheet-pdf"),
    path(
        "orders/<int:order_id>/runsheet/reaction-advice/",
        runsheet_advice,
        name="runsheet-advice",
    ),
    path(
        "orders/<int:order_id>/runsheet/acknowledge/",
        acknowledge,
        name="runsheet-acknowledge",
    ),
    *(
        path(
            f"orders/<int:order_id>/runsheet/{key}/",
            action(key, anchor, act, role),
            name=f"runsheet-{key}",
        )
        for key, (anchor, act, role) in ACTIONS.items()
    ),
]
