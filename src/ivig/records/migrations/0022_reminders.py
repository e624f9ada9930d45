"""The reminders e-mailed the day before a booked infusion (issue 18)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0021_planned_by"),
    ]

    operations = [
        migrations.CreateModel(
            name="Reminder",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("booking_start", models.DateTimeField()),
                ("to", models.CharField(max_length=254)),
                (
                    "status",
                    models.CharField(
                        choices=[("sent", "Sent"), ("failed", "Failed")], max_length=10
                    ),
                ),
                ("error", models.TextField(blank=True)),
                ("attempts", models.PositiveIntegerField(default=1)),
                ("sent_at", models.DateTimeField()),
                ("by", models.CharField(max_length=200)),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reminders",
                        to="records.order",
                    ),
                ),
            ],
            options={
                "ordering": ("booking_start", "id"),
                "constraints": [
                    models.UniqueConstraint(
                        fields=("order", "booking_start"), name="one_reminder_per_booking_start"
                    )
                ],
            },
        ),
    ]
