"""Eligibility by indication on the records (issue 15): the answers to the indication's own
criteria are checked by the core and kept as one object, audited; the migration moved the
LEMS-only columns into it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ivig.errors import InvalidInput, UnknownIndication
from ivig.records.models import AuditEvent, Eligibility
from ivig.records.services import patients

# Valid answers for each indication of the packaged library.
ANSWERS: dict[str, dict[str, Any]] = {
    "lems": {"vgcc_antibodies": "positive", "electrophysiology": "consistent",
             "severity_measure": "qms"},
    "cidp": {"nerve_conduction": "consistent", "other_causes_excluded": True,
             "severity_measure": "mrc"},
    "mg": {"antibodies": "achr", "severity_measure": "mg-adl"},
    "mmn": {"conduction_block": "block", "gm1_antibodies": "negative", "severity_measure": "mrc"},
}  # fmt: skip


def entry(indication: str, today: dt.date, **changes: Any) -> patients.EligibilityInput:
    values: dict[str, Any] = {
        "indication": indication,
        "diagnosed_by_neurologist": True,
        "alternative_therapy_failed": True,
        "review_date": today + dt.timedelta(days=180),
        "answers": ANSWERS[indication],
        "neurologist": "Dr Nerve",
    }
    return patients.EligibilityInput(**{**values, **changes})


@pytest.mark.parametrize("indication", sorted(ANSWERS))
def test_each_indication_is_recorded_with_its_own_answers(
    users: dict[str, Any], patient: Any, today: dt.date, indication: str
) -> None:
    row = patients.record_eligibility(users["prescriber"], patient.pk, entry(indication, today))
    row.refresh_from_db()
    assert row.indication == indication
    assert row.answers == ANSWERS[indication]
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert (event.action, event.entity, event.entity_id) == ("create", "eligibility", str(row.pk))
    assert event.after["answers"] == ANSWERS[indication]


def test_a_new_entry_replaces_the_answers_audited_as_an_update(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    first = patients.record_eligibility(users["prescriber"], patient.pk, entry("lems", today))
    changed = {**ANSWERS["lems"], "vgcc_antibodies": "negative"}
    second = patients.record_eligibility(
        users["prescriber"], patient.pk, entry("lems", today, answers=changed)
    )
    assert second.pk == first.pk
    assert second.version == first.version + 1
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert event.action == "update"
    assert event.before["answers"]["vgcc_antibodies"] == "positive"
    assert event.after["answers"]["vgcc_antibodies"] == "negative"


@pytest.mark.parametrize(
    ("indication", "answers", "error", "field"),
    [
        ("lems", ANSWERS["cidp"], InvalidInput, "answers.nerve_conduction"),
        ("cidp", {**ANSWERS["cidp"], "other_causes_excluded": None}, InvalidInput,
         "answers.other_causes_excluded"),
        ("gbs", {}, UnknownIndication, "indication"),
    ],
)  # fmt: skip
def test_wrong_answers_are_refused_and_write_nothing(
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
    indication: str,
    answers: dict[str, Any],
    error: type[Exception],
    field: str,
) -> None:
    events = AuditEvent.objects.count()
    data = patients.EligibilityInput(
        indication=indication,
        diagnosed_by_neurologist=True,
        alternative_therapy_failed=False,
        review_date=today,
        answers=answers,
    )
    with pytest.raises(error) as caught:
        patients.record_eligibility(users["prescriber"], patient.pk, data)
    assert getattr(caught.value, "field", None) == field
    assert Eligibility.objects.count() == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_lems_columns_into_the_answers(live_records: None) -> None:
    """0008: each row's VGCC, electrophysiology and severity answers move into ``answers``
    under the same keys (any indication: nothing recorded is lost), and back again."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("records", "0007_creatinine_results")]
    after = [("records", "0008_eligibility_answers")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("records")
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user = old.get_model("auth", "User").objects.create(username="migrator")
    patient = old.get_model("records", "Patient").objects.create(
        mrn="MIG-1",
        family_name="Moved",
        given_name="Mo",
        date_of_birth=dt.date(1960, 1, 1),
        sex="male",
        height_cm=180,
    )
    rows = old.get_model("records", "Eligibility").objects
    common = {
        "patient": patient,
        "diagnosed_by_neurologist": True,
        "alternative_therapy_failed": True,
        "review_date": dt.date(2027, 1, 1),
        "recorded_by": user,
    }
    lems = rows.create(
        indication="lems",
        vgcc_antibodies="positive",
        electrophysiology="not-done",
        severity_measure="mrc",
        **common,
    )
    cidp = rows.create(
        indication="cidp",
        vgcc_antibodies="not-tested",
        electrophysiology="consistent",
        severity_measure="adl",
        **common,
    )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("records", "Eligibility")
        assert new.objects.get(pk=lems.pk).answers == {
            "vgcc_antibodies": "positive",
            "electrophysiology": "not-done",
            "severity_measure": "mrc",
        }
        assert new.objects.get(pk=cidp.pk).answers["electrophysiology"] == "consistent"
        assert new.objects.get(pk=lems.pk).version == 1  # a move, not a clinical change

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        back = executor.loader.project_state(before).apps.get_model("records", "Eligibility")
        assert back.objects.get(pk=lems.pk).severity_measure == "mrc"
        assert back.objects.get(pk=cidp.pk).vgcc_antibodies == "not-tested"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
