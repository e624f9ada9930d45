"""An MRN is unique whatever its case (issue 17 item 15): a unique index on ``Lower("mrn")``
(SQLite and PostgreSQL), the stored spelling kept. A database that already holds MRNs differing
only in case is not merged silently: the migration stops and names them, for a person to
decide which record is which (requirement 42)."""

from typing import Any

from django.db import migrations, models
from django.db.models.functions import Lower

INDEX = "patient_mrn_lower_unique"


def refuse_case_twins(apps: Any, schema_editor: Any) -> None:
    """Stop, naming every MRN that another differs from only in case (with the ids)."""
    patient = apps.get_model("records", "Patient")
    groups: dict[str, list[tuple[str, int]]] = {}
    for mrn, pk in patient.objects.order_by("mrn", "pk").values_list("mrn", "pk"):
        groups.setdefault(mrn.lower(), []).append((mrn, pk))
    twins = [g for g in groups.values() if len(g) > 1]
    if twins:
        listed = "; ".join(", ".join(f"{mrn} (id {pk})" for mrn, pk in g) for g in twins)
        raise RuntimeError(
            f"these MRNs differ only in case and would be one patient: {listed}. Nothing was "
            "changed: correct or merge them by hand (e.g. in /admin/), then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [("records", "0016_token_expiry_roles")]

    operations = [
        migrations.RunPython(refuse_case_twins, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.UniqueConstraint(Lower("mrn"), name=INDEX),
        ),
    ]
