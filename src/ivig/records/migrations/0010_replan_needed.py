"""A course marked "re-plan needed" when a change of the patient's record changes a planned
dose (issue 16 item 3)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("records", "0009_dosing_weight_once")]

    operations = [
        migrations.AddField(
            model_name="course",
            name="replan_needed",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
