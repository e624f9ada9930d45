"""Dispensing takes from stock (issue 18): a dispensed lot names the stock lot it came from."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0019_bookings"),
    ]

    operations = [
        migrations.AddField(
            model_name="lot",
            name="stock_lot",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="dispensed",
                to="records.stocklot",
            ),
        ),
    ]
