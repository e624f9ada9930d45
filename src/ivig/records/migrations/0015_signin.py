"""Refusals by nobody signed in, counted per address and window (issue 17 items 5 and 13)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0014_audit_keyed"),
    ]

    operations = [
        migrations.CreateModel(
            name="RefusalWindow",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("address", models.CharField(max_length=64)),
                ("started_at", models.DateTimeField()),
                ("refused", models.JSONField(default=dict)),
                ("names", models.JSONField(default=list)),
                ("reported", models.BooleanField(default=False)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["address", "started_at"], name="refusal_address"),
                    models.Index(fields=["reported", "started_at"], name="refusal_reported"),
                ],
            },
        ),
    ]
