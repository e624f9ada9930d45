"""Patient-reported alerts closed with the action taken (issue 16, item 9): the coded action
(and, for a diary entry, its note) on the two kinds of alert, and partial indexes on the open
ones, so that the menu's count stays cheap."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0012_premedication"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="daybeforecheck",
            name="action",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AddField(
            model_name="diaryentry",
            name="action",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AddField(
            model_name="diaryentry",
            name="action_note",
            field=models.TextField(blank=True),
        ),
        migrations.AddIndex(
            model_name="daybeforecheck",
            index=models.Index(
                condition=models.Q(("needs_review", True), ("reviewed_at", None)),
                fields=["submitted_at"],
                name="day_check_open_alert",
            ),
        ),
        migrations.AddIndex(
            model_name="diaryentry",
            index=models.Index(
                condition=models.Q(("acknowledged_at", None), ("serious", True)),
                fields=["submitted_at"],
                name="diary_open_alert",
            ),
        ),
    ]
