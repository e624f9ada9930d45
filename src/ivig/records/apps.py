from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def grant_admin_permissions(sender: AppConfig, **kwargs: Any) -> None:
    """Role permissions, after every migrate (and flush), once Django has made them: the admin
    role manages users (add, change, view) and may view the record and groups."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name="admin")
    wanted = Permission.objects.filter(
        content_type__app_label="auth",
        codename__in=("add_user", "change_user", "view_user", "view_group"),
    ) | Permission.objects.filter(content_type__app_label="records", codename__startswith="view_")
    group.permissions.add(*wanted)
    # Prescribers may override a drug-library soft limit (requirement 47); an admin can grant
    # the permission to other users (e.g. a senior nurse) in the admin.
    prescriber, _ = Group.objects.get_or_create(name="prescriber")
    prescriber.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="records", codename="override_soft_limit"
        )
    )


def audit_lockout(sender: Any, request: Any, username: str | None, ip_address: str | None,
                  **kwargs: Any) -> None:  # fmt: skip
    """django-axes refused a sign-in: audit the lockout (requirement 21), once: the failure
    that reaches the limit locks the name; a later one is a refusal while locked (axes counts
    those too, and each restarts the 15 minutes)."""
    from django.conf import settings

    from ivig.records.services.accounts import record_lockout

    failures = getattr(request, "axes_failures_since_start", None)
    if failures == settings.AXES_FAILURE_LIMIT:
        record_lockout(username or "", ip_address, new=True)
    # A refusal while locked is counted in the address's window, not an event each (issue 17
    # item 13): records.services.signin.sign_in_failed.


class RecordsConfig(AppConfig):
    name = "ivig.records"
    label = "records"
    verbose_name = "IVIG records"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every app's post_migrate: the permissions of auth appear only after records' own.
        post_migrate.connect(grant_admin_permissions, dispatch_uid="ivig-admin-permissions")
        from axes.signals import user_locked_out

        user_locked_out.connect(audit_lockout, dispatch_uid="ivig-audit-lockout")
        # Every credential and privilege change audited, wherever made (issue 17 item 3).
        from ivig.records.services import credentials

        credentials.connect()
        # Sessions (issue 17 items 4 and 17): the sign-in time and the absolute 12 hours kept
        # at every sign-in; a user disabled by any save loses their sessions.
        from django.contrib.auth.models import User
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.db.models.signals import pre_save

        from ivig.records.services import signin

        user_logged_in.connect(signin.session_started, dispatch_uid="ivig-session-started")
        # Signing in and out, and failed sign-ins, audited (issue 17 item 13).
        user_logged_in.connect(signin.signed_in, dispatch_uid="ivig-audit-sign-in")
        user_logged_out.connect(signin.signed_out, dispatch_uid="ivig-audit-sign-out")
        user_login_failed.connect(signin.sign_in_failed, dispatch_uid="ivig-sign-in-failed")
        pre_save.connect(
            signin.end_sessions_when_disabled, sender=User, dispatch_uid="ivig-end-sessions"
        )
