"""Units, chairs (or visiting nurses), opening hours and bookings (issue 18)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0018_stock"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Unit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("infusion-centre", "Infusion centre"),
                            ("day-ward", "Day ward"),
                            ("home-team", "Home-infusion team"),
                        ],
                        max_length=20,
                    ),
                ),
                ("setup_minutes", models.PositiveIntegerField(default=15)),
            ],
            options={
                "ordering": ("name",),
            },
        ),
        migrations.CreateModel(
            name="Chair",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                (
                    "kind",
                    models.CharField(
                        choices=[("chair", "Chair"), ("nurse", "Visiting nurse")],
                        default="chair",
                        max_length=10,
                    ),
                ),
                (
                    "unit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="chairs",
                        to="records.unit",
                    ),
                ),
            ],
            options={
                "ordering": ("unit", "name"),
            },
        ),
        migrations.CreateModel(
            name="Booking",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.PositiveIntegerField(default=1)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("start", models.DateTimeField()),
                ("length_minutes", models.PositiveIntegerField()),
                ("setup_minutes", models.PositiveIntegerField()),
                ("pump_minutes", models.PositiveIntegerField()),
                ("observation_minutes", models.PositiveIntegerField()),
                ("observation_reason", models.CharField(blank=True, max_length=200)),
                (
                    "status",
                    models.CharField(
                        choices=[("booked", "Booked"), ("cancelled", "Cancelled")],
                        default="booked",
                        max_length=10,
                    ),
                ),
                ("no_longer_fits", models.BooleanField(default=False)),
                (
                    "booked_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "order",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="booking",
                        to="records.order",
                    ),
                ),
                (
                    "chair",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="bookings",
                        to="records.chair",
                    ),
                ),
            ],
            options={
                "ordering": ("start",),
                "indexes": [models.Index(fields=["chair", "start"], name="booking_chair_start")],
            },
        ),
        migrations.CreateModel(
            name="OpeningHours",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("weekday", models.PositiveSmallIntegerField()),
                ("opens", models.TimeField()),
                ("closes", models.TimeField()),
                ("closed", models.BooleanField(default=False)),
                (
                    "unit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="hours",
                        to="records.unit",
                    ),
                ),
            ],
            options={
                "ordering": ("unit", "weekday"),
                "constraints": [
                    models.UniqueConstraint(
                        fields=("unit", "weekday"), name="one_hours_per_weekday"
                    )
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="chair",
            constraint=models.UniqueConstraint(
                fields=("unit", "name"), name="one_chair_name_per_unit"
            ),
        ),
    ]
