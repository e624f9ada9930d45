"""Vial stock by store and lot (issue 18): stores, lots with a count on hand that never goes
negative (a CHECK constraint), and the movements of each lot."""

import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0017_mrn_case"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="StockLot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("product_id", models.CharField(max_length=40)),
                ("vial_size_g", models.FloatField()),
                ("lot_number", models.CharField(db_index=True, max_length=60)),
                ("expiry", models.DateField()),
                ("quarantined", models.BooleanField(default=False)),
                ("quarantine_reason", models.TextField(blank=True)),
                ("on_hand", models.IntegerField(default=0)),
            ],
            options={
                "ordering": ["expiry", "product_id", "-vial_size_g", "lot_number"],
            },
        ),
        migrations.CreateModel(
            name="Store",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="StockMovement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("receive", "Receive"),
                            ("dispense", "Dispense"),
                            ("return", "Give Back"),
                            ("adjust", "Adjust"),
                            ("quarantine", "Quarantine"),
                            ("release", "Release"),
                        ],
                        max_length=20,
                    ),
                ),
                ("count", models.IntegerField()),
                ("at", models.DateTimeField()),
                ("note", models.TextField(blank=True)),
                (
                    "by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "lot",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="movements",
                        to="records.stocklot",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="stock_movements",
                        to="records.order",
                    ),
                ),
            ],
            options={
                "ordering": ["at", "id"],
            },
        ),
        migrations.AddField(
            model_name="stocklot",
            name="store",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="lots", to="records.store"
            ),
        ),
        migrations.AddConstraint(
            model_name="stocklot",
            constraint=models.CheckConstraint(
                condition=models.Q(("on_hand__gte", 0)), name="stock_on_hand_not_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="stocklot",
            constraint=models.UniqueConstraint(
                models.F("store"),
                models.F("product_id"),
                models.F("vial_size_g"),
                django.db.models.functions.text.Upper("lot_number"),
                name="one_stock_lot_per_store_product_size",
            ),
        ),
    ]
