"""Deferring or cancelling a dose and cancelling a course, from the patient page and the run
sheet (issue 16 item 1): a confirmation page with what it affects, a coded reason and a note;
the records services check the role and the status, write it and its audit event. Deferring is
for the prescriber and the nurse; cancelling for the prescriber (as the API allows:
api/routes/orders.py, api/routes/patients.py). Re-planning is the re-plan page
(``prescribe.replan_page``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse

from ivig.records.models import Course, Order, OrderStatus
from ivig.records.services import courses, orders
from ivig.records.services.change_reasons import reason_text
from ivig.web.forms import ChangeReasonForm
from ivig.web.views.common import act_on_post, posted, roles_required, saved

__all__ = ["course_cancel", "order_cancel", "order_defer", "urlpatterns"]

NOT_STARTED = (OrderStatus.planned, OrderStatus.verified, OrderStatus.dispensed)


def _back(request: HttpRequest, order: Order | None, patient_id: int) -> str:
    """Where the page returns: the run sheet when it was opened from it, else the patient."""
    if order is not None and request.GET.get("from") == "runsheet":
        return reverse("web:runsheet", args=[order.pk])
    return reverse("web:patient", args=[patient_id]) + "#timeline"


def _confirm(
    request: HttpRequest,
    *,
    title: str,
    button: str,
    course: Course,
    affected: list[Order],
    order: Order | None,
    version: int,
    act: Callable[[int, str], Any],
    done: str,
) -> HttpResponse:
    """The confirmation page and its post: the reason in words, the service, the message."""
    back = _back(request, order, course.patient_id)
    form = ChangeReasonForm(posted(request), initial={"version": version})

    def page(status: int) -> HttpResponse:
        context = {
            "course": course,
            "patient": course.patient,
            "affected": affected,
            "order": order,
            "form": form,
            "heading": title,
            "button": button,
            "back": back,
            "section": "patients",
            "title": f"{title}: {course.patient}",
        }
        return render(request, "web/plan_action.html", context, status=status)

    return act_on_post(
        request,
        lambda d: act(d["version"], reason_text(d["reason_code"], d["note"])),
        lambda _: saved(request, done, back),
        form=form,
        aliases={"version": "", "reason": "note"},
        refused=lambda exc: page(exc.http_status),
    ) or page(200)


def _order(order_id: int) -> Order:
    return get_object_or_404(Order.objects.select_related("course__patient"), pk=order_id)


def _dose_action(
    request: HttpRequest,
    order_id: int,
    verb: str,
    done: str,
    service: Callable[[Any, int, int, str], Any],
) -> HttpResponse:
    """Defer or cancel one dose: the confirmation page naming it, then ``service``."""
    order = _order(order_id)
    dose = f"dose {order.sequence} of {order.date.isoformat()}"
    return _confirm(
        request,
        title=f"{verb} {dose}",
        button=f"{verb} this dose",
        course=order.course,
        affected=[order],
        order=order,
        version=order.version,
        act=lambda version, why: service(request.user, order.pk, version, why),
        done=f"{dose.capitalize()} {done}.",
    )


@roles_required("prescriber", "nurse")
def order_defer(request: HttpRequest, order_id: int) -> HttpResponse:
    """Defer one dose not yet started (a fever, the patient unwell), with the reason."""
    return _dose_action(request, order_id, "Defer", "deferred", orders.defer)


@roles_required("prescriber")
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    """Cancel one dose not yet started, with the reason."""
    return _dose_action(request, order_id, "Cancel", "cancelled", orders.cancel)


@roles_required("prescriber")
def course_cancel(request: HttpRequest, course_id: int) -> HttpResponse:
    """Cancel a course: every dose of it not yet started is cancelled with the reason."""
    course = get_object_or_404(Course.objects.select_related("patient"), pk=course_id)
    affected = list(course.orders.filter(status__in=NOT_STARTED).order_by("sequence"))
    return _confirm(
        request,
        title="Cancel the course",
        button="Cancel the course",
        course=course,
        affected=affected,
        order=None,
        version=course.version,
        act=lambda version, why: courses.cancel_course(request.user, course.pk, version, why),
        done=f"Course cancelled: {len(affected)} dose{'s' if len(affected) != 1 else ''} "
        "not yet started cancelled.",
    )


urlpatterns = [
    path("orders/<int:order_id>/defer/", order_defer, name="order-defer"),
    path("orders/<int:order_id>/cancel/", order_cancel, name="order-cancel"),
    path("courses/<int:course_id>/cancel/", course_cancel, name="course-cancel"),
]
