"""Vial stock pages (issue 18) under /pharmacy/stock/: the stock per product and size against
the next days' orders with the shortfall, the delivery form, a lot with its movements, the
quarantine (recall) and release of a lot number with the patients who received it, the lots
expiring soon, and the stores (the administrator adds them).

The service decides (``records.services.stock``); the pages show its errors next to the field
at fault and keep what was typed. Dispensing takes from stock (``web.views.pharmacy``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET

from ivig.errors import IvigError
from ivig.records.library import current_catalogue
from ivig.records.models import StockLot, Store
from ivig.records.services import stock as service
from ivig.records.services.access import has_role
from ivig.web.forms import DateInput, today
from ivig.web.views.common import posted, roles_required

PHARMACIST, ADMIN = "pharmacist", "admin"

# --- forms ---------------------------------------------------------------------------------------


class DaysForm(forms.Form):
    days = forms.IntegerField(label="Days ahead", min_value=0, max_value=366, required=False)


class ReceiveForm(forms.Form):
    """A delivery: store, product, vial size, lot, expiry, vials (checked again by the service
    against the catalogue)."""

    store = forms.TypedChoiceField(label="Store", coerce=int, choices=())
    product_id = forms.ChoiceField(label="Product", choices=())
    vial_size_g = forms.FloatField(label="Vial size (g)", min_value=0.1)
    lot_number = forms.CharField(label="Lot number", max_length=60)
    expiry = forms.DateField(label="Expiry date", widget=DateInput)
    count = forms.IntegerField(label="Vials", min_value=1, max_value=100000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [(s.pk, s.name) for s in Store.objects.all()]  # type: ignore[attr-defined]
        products = current_catalogue().products.values()
        self.fields["product_id"].choices = [("", "Choose…")] + [  # type: ignore[attr-defined]
            (p.id, f"{p.display_name}: {', '.join(f'{s:g}' for s in p.vial_sizes_g.value)} g")
            for p in products
        ]


class FlagForm(forms.Form):
    """Quarantine or release a lot number, with the reason."""

    lot_number = forms.CharField(label="Lot number", max_length=60)
    reason = forms.CharField(
        label="Reason", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    action = forms.ChoiceField(
        label="Action", choices=[("quarantine", "Quarantine"), ("release", "Release")]
    )


class StoreForm(forms.Form):
    name = forms.CharField(label="Store name", max_length=100)


def _days(request: HttpRequest, default: int) -> tuple[DaysForm, int]:
    form = DaysForm(request.GET or None)
    days = default
    if form.is_valid() and form.cleaned_data["days"] is not None:
        days = form.cleaned_data["days"]
    return form, days


def _names() -> dict[str, str]:
    return {p.id: p.display_name for p in current_catalogue().products.values()}


def _fail(form: forms.Form, exc: IvigError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


# --- pages ---------------------------------------------------------------------------------------


@require_GET
@roles_required(PHARMACIST)
def levels(request: HttpRequest) -> HttpResponse:
    """Usable vials per product and size against the next days' orders, and the lots."""
    form, days = _days(request, service.SHORTFALL_DAYS)
    lines = service.stock_against_orders(days)
    return render(
        request,
        "web/stock.html",
        {
            "section": "stock",
            "title": "Vial stock",
            "form": form,
            "days": days,
            "until": today() + dt.timedelta(days=max(1, days) - 1),
            "lines": [(x, _names().get(x.product_id, x.product_id)) for x in lines],
            "short": sum(1 for x in lines if x.shortfall),
            "lots": StockLot.objects.filter(on_hand__gt=0).select_related("store"),
            "quarantined": StockLot.objects.filter(quarantined=True).select_related("store"),
            "today": today(),
        },
    )


@roles_required(PHARMACIST)
def receive(request: HttpRequest) -> HttpResponse:
    """The delivery form; a lot already in the store adds up."""
    form = ReceiveForm(posted(request))
    status = 200
    if not Store.objects.exists():
        messages.info(request, "No store yet: the administrator adds the stores first.")
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            given = service.Received(data["product_id"], data["vial_size_g"],
                                     data["lot_number"], data["expiry"], data["count"])  # fmt: skip
            try:
                lot = service.receive(request.user, data["store"], given)
            except IvigError as exc:
                status = exc.http_status
                _fail(form, exc)
            else:
                messages.success(
                    request,
                    f"Received {data['count']} vials of lot {lot.lot_number}: "
                    f"{lot.on_hand} on hand in {lot.store.name}.",
                )
                return redirect("web:stock-lot", lot_id=lot.pk)
        else:
            status = 422
    return render(
        request,
        "web/stock_receive.html",
        {"section": "stock", "title": "Receive vials", "form": form},
        status=status,
    )


@require_GET
@roles_required(PHARMACIST)
def lot_page(request: HttpRequest, lot_id: int) -> HttpResponse:
    """A lot: its counts, its movements, and who received the lot number when quarantined."""
    lot = get_object_or_404(StockLot.objects.select_related("store"), pk=lot_id)
    moves = lot.movements.select_related("by", "order__patient").order_by("-at", "-id")
    form = FlagForm(
        initial={
            "lot_number": lot.lot_number,
            "action": "release" if lot.quarantined else "quarantine",
        }
    )
    return render(
        request,
        "web/stock_lot.html",
        {
            "section": "stock",
            "title": f"Lot {lot.lot_number}",
            "lot": lot,
            "product": _names().get(lot.product_id, lot.product_id),
            "moves": moves,
            "expired": lot.expiry < today(),
            "recipients": service.recipients(lot.lot_number) if lot.quarantined else [],
            "form": form,
        },
    )


@roles_required(PHARMACIST)
def quarantine(request: HttpRequest) -> HttpResponse:
    """Quarantine (a recall) or release a lot number in every store, with the reason; the lots
    of the number and the patients who received it."""
    form = FlagForm(posted(request), initial={"lot_number": request.GET.get("lot", "")})
    status = 200
    number = request.GET.get("lot", "").strip()
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            act = service.quarantine if data["action"] == "quarantine" else service.release
            try:
                changed = act(request.user, data["lot_number"], data["reason"])
            except IvigError as exc:
                status = exc.http_status
                _fail(form, exc)
            else:
                done = "quarantined" if data["action"] == "quarantine" else "released"
                messages.success(
                    request, f"Lot {changed[0].lot_number} {done} in {len(changed)} store(s)."
                )
                url = reverse("web:stock-quarantine") + "?lot=" + data["lot_number"].strip()
                return redirect(url)
            number = data["lot_number"].strip()
        else:
            status = 422
    return render(
        request,
        "web/stock_quarantine.html",
        {
            "section": "stock",
            "title": "Quarantine a lot",
            "form": form,
            "number": number,
            "lots": service.lots_numbered(number),
            "recipients": service.recipients(number),
            "today": today(),
        },
        status=status,
    )


@require_GET
@roles_required(PHARMACIST)
def expiring(request: HttpRequest) -> HttpResponse:
    """Lots with vials on hand expiring within the days asked (default 30), or expired."""
    form, days = _days(request, service.EXPIRING_DAYS)
    return render(
        request,
        "web/stock_expiring.html",
        {
            "section": "stock",
            "title": "Expiring lots",
            "form": form,
            "days": days,
            "lots": service.expiring(days),
            "today": today(),
        },
    )


@roles_required(ADMIN, PHARMACIST)
def stores(request: HttpRequest) -> HttpResponse:
    """The stores; the administrator adds one."""
    if request.method == "POST" and not has_role(request.user, ADMIN):
        raise PermissionDenied
    form = StoreForm(posted(request))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                row = service.create_store(request.user, form.cleaned_data["name"])
            except IvigError as exc:
                status = exc.http_status
                _fail(form, exc)
            else:
                messages.success(request, f"Store {row.name} added.")
                return redirect("web:stock-stores")
        else:
            status = 422
    return render(
        request,
        "web/stock_stores.html",
        {"section": "stock", "title": "Stores", "form": form, "stores": Store.objects.all()},
        status=status,
    )


urlpatterns: list[URLPattern] = [
    path("pharmacy/stock/", levels, name="stock"),
    path("pharmacy/stock/receive/", receive, name="stock-receive"),
    path("pharmacy/stock/lots/<int:lot_id>/", lot_page, name="stock-lot"),
    path("pharmacy/stock/quarantine/", quarantine, name="stock-quarantine"),
    path("pharmacy/stock/expiring/", expiring, name="stock-expiring"),
    path("pharmacy/stock/stores/", stores, name="stock-stores"),
]
