"""The Django admin, for the admin role: users and their roles (audited like every other
write), the drug library (read-only, with sources and verified flags), and read-only views of
the record. Clinical records change only through the services, never here.

Credentials and privileges (issue 17 item 3; requirement 6): every change saved here is audited
as the signed-in administrator's by the receivers of ``ivig.records.services.credentials``
(roles, permissions, active; the staff flag, which opens this site, follows the admin role); the
forms have no superuser or staff field (superuser status is given only from the server's command
line); and no one's password is set here: the user's staff page makes a set-password link (they
choose their own) or sets one, audited. An administrator's own password change is audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse

from ivig.records import audit, models
from ivig.records.library import current_catalogue
from ivig.records.models import Role
from ivig.records.services import credentials


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

    def password_change(self, request: HttpRequest, extra_context: Any = None) -> TemplateResponse:
        """The administrator's own password: audited as theirs."""
        with credentials.acting(request.user, "admin site: their own password"):
            return super().password_change(request, extra_context)


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


PROFILE = ("username", "first_name", "last_name", "email")


def _profile(user: User) -> dict[str, Any]:
    return audit.snapshot(user, PROFILE)


class _StaffChangeForm(UserChangeForm):  # type: ignore[type-arg]
    """The change form; its password line points to the staff page, where passwords are
    set (a set-password link, or an audited password)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        password = self.fields.get("password")
        if password is not None and self.instance.pk is not None:
            staff = reverse("web:staff-user", kwargs={"user_id": self.instance.pk})
            password.help_text = (
                f'Passwords are not set here: <a href="{staff}">the user\'s staff page</a> '
                "makes a set-password link (they choose their own), audited."
            )


class AuditedUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Users and their roles; every change is audited (requirement 6), as the signed-in
    administrator's; no deletion (disable), no superuser or staff flag, no password."""

    form = _StaffChangeForm
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Permissions", {"fields": ("is_active", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("last_login", "date_joined")

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: Any = None) -> HttpResponse:  # fmt: skip
        with credentials.acting(request.user, "admin site"):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def user_change_password(self, request: HttpRequest, id: str,
                             form_url: str = "") -> HttpResponse:  # fmt: skip
        """No one's password is set on the admin site (issue 17 item 3): the user's staff page
        makes a set-password link (they choose their own) or sets one, audited."""
        messages.info(
            request,
            "Passwords are not set on the admin site: make a set-password link here (the user "
            "chooses their own), or set one, audited.",
        )
        return HttpResponseRedirect(reverse("web:staff-user", kwargs={"user_id": int(id)}))

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        request._ivig_user_before = (  # type: ignore[attr-defined]
            _profile(User.objects.get(pk=obj.pk)) if change and obj.pk else None
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            user = form.instance
            admin_role = user.groups.filter(name=Role.admin).exists()
            if user.is_staff != admin_role:  # the staff flag follows the admin role
                user.is_staff = admin_role
                user.save(update_fields=["is_staff"])
            before = getattr(request, "_ivig_user_before", None)
            if change and before is not None and before != _profile(user):
                audit.record(request.user, "update", "user", user.pk, before=before,
                             after=_profile(user), reason="admin site")  # fmt: skip

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
