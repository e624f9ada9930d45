"""API tokens expire and may be limited to some of their user's roles (issue 17 item 17).

A token made before this migration gets ``expires_at`` = the moment of the migration + 90 days
(the default of a new token: its client keeps working for a while, then needs a new token);
its ``roles`` stay empty: not limited, it acts with its user's roles as before."""

import datetime as dt
from typing import Any

from django.db import migrations, models
from django.utils import timezone

DEFAULT_DAYS = 90  # ivig.records.tokens.DEFAULT_DAYS when this migration was written


def expire(apps: Any, schema_editor: Any) -> None:
    """Each token changed is audited (requirement 5: a migration that changes data)."""
    from ivig.records import audit

    token_model = apps.get_model("records", "ApiToken")
    expires = timezone.now() + dt.timedelta(days=DEFAULT_DAYS)
    for token in token_model.objects.all():
        token_model.objects.filter(pk=token.pk).update(expires_at=expires)
        audit.record(
            None,
            "migrate",
            "api-token",
            token.pk,
            before={"user_id": token.user_id, "name": token.name},
            after={"user_id": token.user_id, "name": token.name, "expires_at": expires},
            reason="migration 0016: API tokens expire (issue 17)",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0015_signin"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="roles",
            field=models.JSONField(default=list),
        ),
        migrations.RunPython(expire, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
    ]
