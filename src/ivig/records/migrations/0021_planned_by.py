"""Who planned an order's current numbers, stored on the order (issue 18): ``planned_by`` is
set by prescribing and re-planning. Existing orders get it once from the audit trail, as
``orders.planned_by`` computed it before: the actor of the order's newest ``replan`` event,
else the course's prescriber. Backwards, the column goes (the audit trail still holds it)."""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def from_audit(apps: Any, schema_editor: Any) -> None:
    order = apps.get_model("records", "Order")
    event = apps.get_model("records", "AuditEvent")
    user = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    users = set(user.objects.values_list("pk", flat=True))
    replanned: dict[str, int] = {}
    events = event.objects.filter(entity="order", action="replan", actor_id__isnull=False)
    for entity_id, actor_id in events.order_by("seq").values_list("entity_id", "actor_id"):
        replanned[entity_id] = actor_id  # the newest wins
    rows = order.objects.select_related("course").only("pk", "course__prescribed_by_id")
    for row in rows.iterator():
        actor = replanned.get(str(row.pk))
        planner = actor if actor in users else row.course.prescribed_by_id
        order.objects.filter(pk=row.pk).update(planned_by_id=planner)  # no version bump
    if schema_editor.connection.vendor == "postgresql":  # the deferred FK checks now
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0020_dispense_stock"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="planned_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(from_audit, migrations.RunPython.noop, elidable=False),
    ]
