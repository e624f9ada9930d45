"""The volume and grams given at the end of an infusion (issue 16 item 4).

Existing data: an infusion ended before this migration has no recorded volume; its fields stay
empty and it counts its full dose (the order's ``dose_g``) toward the 28-day cap, in the records
and in the exports, as before. No row is changed, so nothing is audited.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("records", "0010_replan_needed")]

    operations = [
        migrations.AddField(
            model_name="infusionsession",
            name="volume_given_ml",
            field=models.FloatField(null=True),
        ),
        migrations.AddField(
            model_name="infusionsession",
            name="given_g",
            field=models.FloatField(null=True),
        ),
        migrations.AddField(
            model_name="infusionsession",
            name="short_stop_reason",
            field=models.TextField(blank=True),
        ),
    ]
