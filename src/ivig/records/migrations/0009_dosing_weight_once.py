"""The dosing weight stored once, in the course's plan (issue 15).

``Course.dosing_weight_kg`` and ``Course.weight_basis`` repeated ``plan["dosing_weight"]``
(``kg`` and ``basis``): the plan is what the core made, and every dose and rate of the course
was computed on its weight, so it is the one kept; the model reads it there. A plan without
them takes the columns' values; where a column disagreed with its plan, the plan's stands.
Either is audited (requirement 5: a migration that changes data). Backwards, the columns are
filled from the plans.
"""

from typing import Any

from django.db import migrations, models

KEYS = (("kg", "dosing_weight_kg"), ("basis", "weight_basis"))


def _checks_now(schema_editor: Any) -> None:
    """PostgreSQL: run the deferred foreign-key checks of the rows just updated now, so that the
    ALTER TABLE that follows in this migration's transaction is allowed (otherwise "cannot
    ALTER TABLE ... because it has pending trigger events")."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def weight_into_plan(apps: Any, schema_editor: Any) -> None:
    """Each course's plan holds its dosing weight and basis; what changes is audited."""
    from ivig.records import audit

    course_model = apps.get_model("records", "Course")
    for course in course_model.objects.order_by("pk"):
        plan = dict(course.plan or {})
        weight = dict(plan.get("dosing_weight") or {})
        original = {key: weight.get(key) for key, _ in KEYS}
        filled: dict[str, Any] = {}
        dropped: dict[str, Any] = {}
        for key, column in KEYS:
            stored = getattr(course, column)
            if weight.get(key) in (None, ""):
                filled[key] = weight[key] = stored
            elif weight[key] != stored:
                dropped[column] = stored
        if filled:
            plan["dosing_weight"] = weight
            course_model.objects.filter(pk=course.pk).update(plan=plan)
        if filled or dropped:
            audit.record(
                None,
                "migrate",
                "course",
                course.pk,
                patient_id=course.patient_id,
                before={"dosing_weight": original} | ({"columns": dropped} if dropped else {}),
                after={"dosing_weight": {key: weight[key] for key, _ in KEYS}},
                reason="migration 0009: the dosing weight stored once, in the plan"
                + (" (the plan's stands over the column's)" if dropped else ""),
            )
    _checks_now(schema_editor)


def weight_into_columns(apps: Any, schema_editor: Any) -> None:
    """Backwards: the columns again, from the plans."""
    course_model = apps.get_model("records", "Course")
    for course in course_model.objects.order_by("pk"):
        weight = (course.plan or {}).get("dosing_weight") or {}
        course_model.objects.filter(pk=course.pk).update(
            dosing_weight_kg=float(weight["kg"]), weight_basis=str(weight["basis"])
        )
    _checks_now(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0008_eligibility_answers"),
    ]

    operations = [
        # nullable first, so that backwards the columns come back empty and are filled
        migrations.AlterField(
            model_name="course", name="dosing_weight_kg", field=models.FloatField(null=True)
        ),
        migrations.AlterField(
            model_name="course",
            name="weight_basis",
            field=models.CharField(max_length=20, default=""),
        ),
        migrations.RunPython(weight_into_plan, weight_into_columns),
        migrations.RemoveField(model_name="course", name="dosing_weight_kg"),
        migrations.RemoveField(model_name="course", name="weight_basis"),
    ]
