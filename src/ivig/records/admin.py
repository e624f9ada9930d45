"""The Django admin, for the admin role: users and their roles (audited like every other
write), the drug library (read-only, with sources and verified flags), and read-only views of
the record. Clinical records change only through the services, never here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path

from ivig.records import audit, models
from ivig.records.library import current_catalogue


class IvigAdminSite(admin.AdminSite):
    site_header = "ivig administration"
    site_title = "ivig admin"
    index_title = "Users, roles and the drug library"

    def get_urls(self) -> list[URLResolver | URLPattern]:
        extra = [path("catalogue/", self.admin_view(self.catalogue), name="ivig-catalogue")]
        return extra + super().get_urls()

    def catalogue(self, request: HttpRequest) -> HttpResponse:
        """Every product with each value's source and verified flag (read-only)."""
        catalogue = current_catalogue()
        products = [
            {
                "product": p,
                "values": [
                    {
                        "name": name,
                        "value": _value_text(name, v.value),
                        "verified": v.verified,
                        "source": v.source.cite(),
                        "note": v.note,
                    }
                    for name, v in p.sourced_values().items()
                ],
                "schedules": [
                    {"schedule": s, "rates": f"{s.initial:g} to {s.maximum:g}\u00a0{s.unit}"}
                    for s in p.schedules
                ],
            }
            for p in catalogue.products.values()
        ]
        context = {
            **self.each_context(request),
            "title": "Drug library",
            "version": catalogue.version,
            "products": products,
        }
        return TemplateResponse(request, "admin/ivig/catalogue.html", context)


# The unit a sourced value's name ends with, as the catalogue page writes it (issue 16 item 22:
# a number and its unit on one line).
_UNITS = (
    ("_mg_per_kg_min", "mg/kg/min"),
    ("_mg_per_ml", "mg/mL"),
    ("_ug_per_ml", "µg/mL"),
    ("_g", "g"),
)


def _value_text(name: str, value: Any) -> str:
    """A catalogue value in words: numbers without trailing zeros, lists joined, with the unit
    its name gives ('5, 10, 20, 40 g')."""
    items = value if isinstance(value, tuple | list) else (value,)
    text = ", ".join(f"{item:g}" if isinstance(item, float) else str(item) for item in items)
    unit = next((unit for suffix, unit in _UNITS if name.endswith(suffix)), "")
    return f"{text}\u00a0{unit}" if unit else text


def _user_snapshot(user: User) -> dict[str, Any]:
    data = audit.snapshot(
        user,
        ("username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser"),
    )
    data["roles"] = sorted(user.groups.values_list("name", flat=True))
    return data


class AuditedUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Users and their roles; every change is audited (requirement 6); no deletion (disable)."""

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        request._ivig_user_before = (  # type: ignore[attr-defined]
            _user_snapshot(User.objects.get(pk=obj.pk)) if change and obj.pk else None
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            user = form.instance
            before = getattr(request, "_ivig_user_before", None)
            audit.record(
                request.user,
                "update" if change else "create",
                "user",
                user.pk,
                before=before,
                after=_user_snapshot(user),
                reason="admin site",
            )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    """The record, to look at: it changes only through the services (audited)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


site = IvigAdminSite(name="admin")
site.register(User, AuditedUserAdmin)
site.register(Group, ReadOnly)
for model, fields in (
    (models.Patient, ("mrn", "family_name", "given_name", "date_of_birth", "sex")),
    (models.Course, ("id", "patient", "indication", "phase", "product_id", "start")),
    (models.Order, ("id", "patient", "date", "dose_g", "status")),
    (models.Lot, ("lot_number", "product_id", "expiry", "order")),
    (models.AuditEvent, ("seq", "at", "actor", "action", "entity", "entity_id")),
    (models.ApiToken, ("name", "user", "prefix", "created_at", "revoked_at")),
):
    site.register(model, type(f"{model.__name__}Admin", (ReadOnly,), {"list_display": fields}))
