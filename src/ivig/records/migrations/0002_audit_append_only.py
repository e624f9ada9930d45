"""Audit rows are append-only in the database itself (requirement 3): triggers refuse UPDATE,
DELETE and TRUNCATE on the audit table, whatever the client. The role groups are created too."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from ivig.records.triggers import statements

ROLES = ("admin", "prescriber", "pharmacist", "nurse")


def create_triggers(apps: Any, schema_editor: Any) -> None:
    for sql in statements(schema_editor.connection.vendor):
        schema_editor.execute(sql)


def drop_triggers(apps: Any, schema_editor: Any) -> None:
    for sql in statements(schema_editor.connection.vendor, drop=True):
        schema_editor.execute(sql)


def create_roles(apps: Any, schema_editor: Any) -> None:
    group = apps.get_model("auth", "Group")
    for name in ROLES:
        group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("records", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(create_roles, migrations.RunPython.noop),
    ]
