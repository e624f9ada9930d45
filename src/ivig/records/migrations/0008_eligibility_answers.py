"""Eligibility criteria by indication (issue 15): the LEMS-only columns ``vgcc_antibodies``,
``electrophysiology`` and ``severity_measure`` become answers in ``Eligibility.answers``, under
the same keys and values (the LEMS criteria of ``indications.toml``).

Every row's answers are moved, whatever its indication: the model asked every indication the
LEMS questions, and what was recorded is kept (an answer the indication no longer asks is shown
as recorded; a new write is checked against the indication's criteria). Backwards, the answers
go back into the columns (an answer not given: empty text; the columns' choices are the
model's concern, not the database's).
"""

from typing import Any

from django.db import migrations, models

MOVED = ("vgcc_antibodies", "electrophysiology", "severity_measure")


def _checks_now(schema_editor: Any) -> None:
    """PostgreSQL: run the deferred foreign-key checks of the rows just updated now, so that the
    ALTER TABLE that follows in this migration's transaction is allowed (otherwise "cannot
    ALTER TABLE ... because it has pending trigger events")."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def to_answers(apps: Any, schema_editor: Any) -> None:
    eligibility = apps.get_model("records", "Eligibility")
    for row in eligibility.objects.all().only("pk", *MOVED).iterator():
        answers = {key: getattr(row, key) for key in MOVED if getattr(row, key)}
        eligibility.objects.filter(pk=row.pk).update(answers=answers)  # no version bump
    _checks_now(schema_editor)


def to_columns(apps: Any, schema_editor: Any) -> None:
    eligibility = apps.get_model("records", "Eligibility")
    for row in eligibility.objects.all().only("pk", "answers").iterator():
        answers = row.answers if isinstance(row.answers, dict) else {}
        values = {key: str(answers.get(key) or "") for key in MOVED}
        eligibility.objects.filter(pk=row.pk).update(**values)
    _checks_now(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0007_creatinine_results"),
    ]

    operations = [
        migrations.AddField(
            model_name="eligibility",
            name="answers",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(to_answers, to_columns, elidable=False),
        # an empty default first, so that going back can add the columns to existing rows
        *(
            migrations.AlterField(
                model_name="eligibility",
                name=name,
                field=models.CharField(max_length=20, default=""),
            )
            for name in MOVED
        ),
        migrations.RemoveField(model_name="eligibility", name="vgcc_antibodies"),
        migrations.RemoveField(model_name="eligibility", name="electrophysiology"),
        migrations.RemoveField(model_name="eligibility", name="severity_measure"),
    ]
