"""Users and roles, for administrators, in the app's own pages (issue 16, item 19): the staff
with their roles, the override and their state; a new user (an initial password or a
set-password link); roles, the override, deactivation, passwords and API tokens of one user;
the patients' own accounts, apart; and the audit trail, newest first, with filters.

Every change goes through ``ivig.records.services.accounts`` (audited). A raw API token and a
set-password link are shown once, on the page that answers the form, and never stored. The
audit trail names patients: each patient shown on a page of it is a read of their record,
audited like any other (``ivig.records.services.reads``, requirement 2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ivig.errors import Conflict
from ivig.records.models import ApiToken, AuditEvent, Patient, PatientAccount, Role
from ivig.records.services import accounts, reads
from ivig.records.services.common import get
from ivig.records.tokens import DEFAULT_DAYS, MAX_DAYS
from ivig.web.forms import DateInput
from ivig.web.views.common import act_on_post, posted, roles_required, saved

__all__ = ["urlpatterns"]

AUDIT_PAGE_SIZE = 50
AUDIT_CATEGORY = "audit trail"  # the category of a read of a patient's audit events
ROLE_CHOICES = list(Role.choices)
ROLE_WORDS = dict(Role.choices)


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(label="Roles", choices=ROLE_CHOICES, **kwargs)


class NewUserForm(forms.Form):
    username = forms.CharField(label="User name (to sign in)", max_length=150)
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    roles = RolesField()
    how = forms.ChoiceField(
        label="How they get a password",
        choices=[
            ("link", "A set-password link, which they open to choose their own"),
            ("password", "An initial password that I set now and tell them"),
        ],
        widget=forms.RadioSelect,
        initial="link",
    )
    password = forms.CharField(
        label="Initial password",
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Only with an initial password: at least 12 characters, not a common one.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("how") == "password" and not data.get("password"):
            self.add_error("password", "Give the initial password, or choose a link.")
        return data


class RolesForm(forms.Form):
    roles = RolesField()


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="New password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters, not a common one. Tell it to them in person.",
    )


class TokenForm(forms.Form):
    name = forms.CharField(
        label="What machine client uses it", max_length=100, help_text="For example: pump gateway"
    )
    days = forms.IntegerField(
        label="Days until it expires",
        min_value=1,
        max_value=MAX_DAYS,
        initial=DEFAULT_DAYS,
        required=False,
        help_text=f"1 to {MAX_DAYS} (empty: {DEFAULT_DAYS}); then a new token is needed.",
    )
    roles = forms.MultipleChoiceField(
        label="Roles it carries",
        choices=ROLE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: all of the user's roles. It acts with those the user still holds.",
    )


class SetPasswordForm(forms.Form):
    password = forms.CharField(
        label="Your new password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters, not a common one.",
    )
    again = forms.CharField(
        label="The same password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("again") and data["password"] != data["again"]:
            self.add_error("again", "The two passwords are not the same.")
        return data


class AuditFilterForm(forms.Form):
    patient = forms.CharField(label="Patient (MRN or family name)", required=False, max_length=100)
    user = forms.CharField(label="User name", required=False, max_length=150)
    action = forms.ChoiceField(label="Action", required=False)
    start = forms.DateField(label="From (date)", required=False, widget=DateInput)
    end = forms.DateField(label="To (date, included)", required=False, widget=DateInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = AuditEvent.objects.order_by("action").values_list("action", flat=True)
        field = self.fields["action"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Any action")] + [(a, a) for a in actions.distinct()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        return data


# --- the staff -----------------------------------------------------------------------------------


def _patient_users() -> QuerySet[User]:
    return User.objects.filter(patient_account__isnull=False)


def _describe(user: User) -> dict[str, Any]:
    roles = sorted(user.groups.values_list("name", flat=True))
    by_role = accounts.override_by_role(user)
    granted = accounts.override_granted(user)
    return {
        "user": user,
        "name": user.get_full_name() or user.username,
        "roles": [ROLE_WORDS.get(r, r) for r in roles],
        "override_granted": granted,
        "override_by_role": [ROLE_WORDS.get(r, r) for r in by_role],
    }


@roles_required(Role.admin)
def staff_list(request: HttpRequest) -> HttpResponse:
    """Every member of staff with their roles, the override and their state."""
    staff = (
        User.objects.exclude(pk__in=_patient_users())
        .prefetch_related("groups")
        .order_by("-is_active", "username")
    )
    return render(
        request,
        "web/staff_list.html",
        {
            "staff": [_describe(u) for u in staff],
            "patient_accounts": PatientAccount.objects.count(),
            "section": "staff",
            "title": "Users and roles",
        },
    )


@roles_required(Role.admin)
def staff_new(request: HttpRequest) -> HttpResponse:
    form = NewUserForm(posted(request))

    def create(data: dict[str, Any]) -> tuple[User, str | None]:
        names = {"first_name": data["first_name"], "last_name": data["last_name"]}
        if data["how"] == "link":
            return accounts.invite_user(request.user, data["username"], data["roles"], **names)
        user = accounts.create_user(
            request.user, data["username"], data["password"], data["roles"], **names
        )
        return user, None

    def created(made: tuple[User, str | None]) -> HttpResponse:
        user, token = made
        if token is not None:
            return _show_link(request, user, token, new=True)
        message = f"{user.username} can now sign in with the password set."
        return saved(request, message, "web:staff-user", user_id=user.pk)

    done = act_on_post(request, create, created, form=form)
    if done is not None:
        return done
    return render(
        request,
        "web/staff_new.html",
        {"form": form, "section": "staff", "title": "New user"},
    )


def _staff_user(user_id: int) -> User:
    user = get(User, user_id, "user")
    if PatientAccount.objects.filter(user=user).exists():
        raise Conflict(f"{user.username} is a patient's own account, not staff")
    return user


def _user_page(
    request: HttpRequest,
    user: User,
    *,
    roles_form: RolesForm | None = None,
    password_form: PasswordForm | None = None,
    token_form: TokenForm | None = None,
    new_token: tuple[ApiToken, str] | None = None,
    link: str | None = None,
    status: int = 200,
) -> HttpResponse:
    roles = sorted(user.groups.values_list("name", flat=True))
    return render(
        request,
        "web/staff_user.html",
        {
            "who": _describe(user),
            "roles_form": roles_form or RolesForm(initial={"roles": roles}),
            "password_form": password_form or PasswordForm(),
            "token_form": token_form or TokenForm(),
            "tokens": user.api_tokens.order_by("-created_at", "-id"),
            "new_token": new_token,
            "link": link,
            "link_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
            "self": user.pk == request.user.pk,
            "now": timezone.now(),
            "section": "staff",
            "title": f"User {user.username}",
        },
        status=status,
    )


@roles_required(Role.admin)
def staff_user(request: HttpRequest, user_id: int) -> HttpResponse:
    return _user_page(request, _staff_user(user_id))


@require_POST
@roles_required(Role.admin)
def staff_roles(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _staff_user(user_id)
    form = RolesForm(request.POST)
    return act_on_post(
        request,
        lambda d: accounts.set_roles(request.user, user.pk, d["roles"]),
        lambda _: saved(
            request, f"The roles of {user.username} are saved.", "web:staff-user", user_id=user.pk
        ),
        form=form,
    ) or _user_page(request, user, roles_form=form, status=422)


@require_POST
@roles_required(Role.admin)
def staff_override(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _staff_user(user_id)
    if request.POST.get("allowed") not in ("yes", "no"):
        return redirect("web:staff-user", user_id=user.pk)
    allowed = request.POST["allowed"] == "yes"
    message = (
        f"{user.username} may now override a soft limit."
        if allowed
        else f"The override granted to {user.username} is taken back."
    )
    return act_on_post(
        request,
        lambda _: accounts.set_override(request.user, user.pk, allowed),
        lambda _: saved(request, message, "web:staff-user", user_id=user.pk),
    ) or redirect("web:staff-user", user_id=user.pk)


@require_POST
@roles_required(Role.admin)
def staff_active(request: HttpRequest, user_id: int) -> HttpResponse:
    """Deactivate or reactivate a member of staff or a patient's own account."""
    user = get(User, user_id, "user")
    patient = PatientAccount.objects.filter(user=user).exists()
    if request.POST.get("active") not in ("yes", "no"):
        return redirect("web:staff-patients" if patient else "web:staff")
    active = request.POST["active"] == "yes"
    back: dict[str, Any] = {} if patient else {"user_id": user.pk}
    to = "web:staff-patients" if patient else "web:staff-user"
    message = f"{user.username} is {'active again' if active else 'deactivated'}."
    return act_on_post(
        request,
        lambda _: accounts.set_active(request.user, user.pk, active),
        lambda _: saved(request, message, to, **back),
    ) or redirect(to, **back)


@require_POST
@roles_required(Role.admin)
def staff_password(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _staff_user(user_id)
    form = PasswordForm(request.POST)
    message = f"The new password of {user.username} is set."
    return act_on_post(
        request,
        lambda d: accounts.set_password(request.user, user.pk, d["password"]),
        lambda _: saved(request, message, "web:staff-user", user_id=user.pk),
        form=form,
    ) or _user_page(request, user, password_form=form, status=422)


def _show_link(request: HttpRequest, user: User, token: str, *, new: bool) -> HttpResponse:
    url = request.build_absolute_uri(
        reverse("web:staff-welcome", kwargs={"user_id": user.pk, "token": token})
    )
    if new:
        messages.success(request, f"{user.username} is created: give them the link below.")
    return _user_page(request, user, link=url)


@require_POST
@roles_required(Role.admin)
def staff_link(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _staff_user(user_id)
    return act_on_post(
        request,
        lambda _: accounts.password_link(request.user, user.pk),
        lambda token: _show_link(request, user, token, new=False),
    ) or redirect("web:staff-user", user_id=user.pk)


@require_POST
@roles_required(Role.admin)
def staff_token_new(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _staff_user(user_id)
    form = TokenForm(request.POST)
    return act_on_post(
        request,
        lambda d: accounts.create_token(
            request.user,
            user.pk,
            d["name"],
            days=d["days"] or DEFAULT_DAYS,
            roles=d["roles"] or None,
        ),
        lambda created: _user_page(request, user, new_token=created),
        form=form,
    ) or _user_page(request, user, token_form=form, status=422)


@require_POST
@roles_required(Role.admin)
def staff_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get(ApiToken, token_id, "API token")
    message = f"The token {token.name} ({token.prefix}…) is revoked."
    return act_on_post(
        request,
        lambda _: accounts.revoke_token(request.user, token.pk),
        lambda _: saved(request, message, "web:staff-user", user_id=token.user_id),
    ) or redirect("web:staff-user", user_id=token.user_id)


@roles_required(Role.admin)
def staff_patients(request: HttpRequest) -> HttpResponse:
    """The patients' own accounts, apart from the staff: read-only but for deactivation."""
    rows = PatientAccount.objects.select_related("user", "patient").order_by(
        "patient__family_name", "patient__given_name", "pk"
    )
    return render(
        request,
        "web/staff_patients.html",
        {"accounts": rows, "section": "staff", "title": "Patients' own accounts"},
    )


def staff_welcome(request: HttpRequest, user_id: int, token: str) -> HttpResponse:
    """A member of staff sets their own password through the link an administrator gave them
    (no sign-in needed: the link is the proof)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    form = SetPasswordForm(posted(request))
    done = act_on_post(
        request,
        lambda d: accounts.set_password_from_link(user_id, token, d["password"]),
        lambda _: saved(request, "Your password is set: sign in with it.", "web:signin"),
        form=form,
    )
    if done is not None:
        return done
    valid = user is not None and default_token_generator.check_token(user, token)
    return render(
        request,
        "web/staff_welcome.html",
        {"form": form, "valid": valid, "who": user, "title": "Set your password"},
        status=200 if valid else 404,  # as a patient's invitation that does not work
    )


# --- the audit trail -----------------------------------------------------------------------------


def _audit_events(data: dict[str, Any]) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.order_by("-seq")
    if data.get("patient"):
        term = data["patient"].strip()
        found = Patient.objects.filter(Q(mrn__iexact=term) | Q(family_name__iexact=term))
        events = events.filter(patient_id__in=list(found.values_list("pk", flat=True)))
    if data.get("user"):
        events = events.filter(actor__iexact=data["user"].strip())
    if data.get("action"):
        events = events.filter(action=data["action"])
    tz = timezone.get_current_timezone()
    if data.get("start"):
        events = events.filter(at__gte=dt.datetime.combine(data["start"], dt.time(0), tz))
    if data.get("end"):
        after = data["end"] + dt.timedelta(days=1)
        events = events.filter(at__lt=dt.datetime.combine(after, dt.time(0), tz))
    return events


@roles_required(Role.admin)
def audit_list(request: HttpRequest) -> HttpResponse:
    """The audit trail, newest first, 50 to a page, filtered by patient, user, action and
    date. Each patient named on the page is a read of their record, audited."""
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    page = Paginator(_audit_events(data) if not form.errors else AuditEvent.objects.none(),
                     AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))  # fmt: skip
    events = list(page.object_list)
    ids = sorted({e.patient_id for e in events if e.patient_id is not None})
    patients = Patient.objects.in_bulk(ids)
    reads.record_reads(
        request.user,
        request.get_full_path(),
        [(AUDIT_CATEGORY, pid, pid) for pid in ids if pid in patients],
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/staff_audit.html",
        {
            "form": form,
            "page": page,
            "events": [{"event": e, "patient": patients.get(e.patient_id or 0)} for e in events],
            "query": query.urlencode(),
            "section": "audit",
            "title": "Audit trail",
        },
    )


urlpatterns: list[URLPattern] = [
    path("staff/", staff_list, name="staff"),
    path("staff/new/", staff_new, name="staff-new"),
    path("staff/patients/", staff_patients, name="staff-patients"),
    path("staff/<int:user_id>/", staff_user, name="staff-user"),
    path("staff/<int:user_id>/roles/", staff_roles, name="staff-roles"),
    path("staff/<int:user_id>/override/", staff_override, name="staff-override"),
    path("staff/<int:user_id>/active/", staff_active, name="staff-active"),
    path("staff/<int:user_id>/password/", staff_password, name="staff-password"),
    path("staff/<int:user_id>/link/", staff_link, name="staff-link"),
    path("staff/<int:user_id>/tokens/", staff_token_new, name="staff-token-new"),
    path("staff/tokens/<int:token_id>/revoke/", staff_token_revoke, name="staff-token-revoke"),
    path("welcome/<int:user_id>/<str:token>/", staff_welcome, name="staff-welcome"),
    path("audit/", audit_list, name="audit"),
]
