"""The audit chain: every write is audited in its transaction; rows cannot be changed; editing,
deleting or swapping rows is detected (requirements 1, 3, 4, 6)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ivig.records import audit, triggers
from ivig.records.models import AuditEvent
from ivig.records.services.patients import PatientInput, create_patient

TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)


def _tamper(sql: str, *params: object) -> None:
    """Run SQL on the audit table as an attacker with database access would: triggers dropped
    (inside the test's transaction, which is rolled back afterwards)."""
    with connection.cursor() as cursor:
        for statement in triggers.statements(connection.vendor, drop=True):
            cursor.execute(statement)
        cursor.execute(sql, params)


def test_writes_are_audited_with_before_and_after(users: dict[str, Any], patient: Any) -> None:
    events = list(AuditEvent.objects.order_by("seq"))
    created = [e for e in events if e.entity == "patient"]
    assert created[0].action == "create"
    assert created[0].actor == "prescriber"
    assert created[0].roles == ["prescriber"]
    assert created[0].after["mrn"] == "MRN0001"
    assert created[0].patient_id == patient.pk
    # creating the users is audited too (requirement 6)
    assert [e.after["username"] for e in events if e.entity == "user"] == [
        "admin", "prescriber", "pharmacist", "nurse",
    ]  # fmt: skip
    assert audit.verify_chain().ok


def test_audit_needs_the_writes_transaction(live_records: None) -> None:
    # outside a transaction an audit row could outlive (or miss) the write it records
    with pytest.raises(RuntimeError):
        audit.record(None, "create", "thing", 1)


def test_a_failed_write_leaves_no_audit_row(users: dict[str, Any], patient: Any) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(Exception):  # noqa: B017, PT011 - the duplicate MRN, whatever its type
        create_patient(
            users["prescriber"],
            PatientInput(mrn="MRN0001", family_name="A", given_name="B",
                         date_of_birth=dt.date(1970, 1, 1), sex="female", height_cm=160),
            today=TODAY,
        )  # fmt: skip
    assert AuditEvent.objects.count() == before


def test_orm_cannot_change_or_delete_an_event(patient: Any) -> None:
    event = AuditEvent.objects.first()
    assert event is not None
    event.reason = "edited"
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE records_auditevent SET reason = 'edited'",
        "DELETE FROM records_auditevent",
    ],
)
def test_database_refuses_update_and_delete(patient: Any, sql: str) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert audit.verify_chain().ok


def test_edited_row_is_detected(patient: Any) -> None:
    target = AuditEvent.objects.order_by("seq")[2]
    _tamper("UPDATE records_auditevent SET reason = %s WHERE seq = %s", "edited", target.seq)
    report = audit.verify_chain()
    assert not report.ok
    assert report.first_bad_seq == target.seq
    assert "changed" in report.problem


def test_deleted_middle_row_is_detected(patient: Any) -> None:
    target = AuditEvent.objects.order_by("seq")[2]
    _tamper("DELETE FROM records_auditevent WHERE seq = %s", target.seq)
    report = audit.verify_chain()
    assert not report.ok
    assert report.first_bad_seq == target.seq
    assert "missing" in report.problem


def test_deleted_last_row_is_detected(patient: Any) -> None:
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    _tamper("DELETE FROM records_auditevent WHERE seq = %s", last.seq)
    report = audit.verify_chain()
    assert not report.ok
    assert "missing" in report.problem


def test_swapped_rows_are_detected(patient: Any) -> None:
    a, b = AuditEvent.objects.order_by("seq")[1:3]
    _tamper("UPDATE records_auditevent SET seq = 999999 WHERE seq = %s", a.seq)
    _tamper("UPDATE records_auditevent SET seq = %s WHERE seq = %s", a.seq, b.seq)
    _tamper("UPDATE records_auditevent SET seq = %s WHERE seq = 999999", b.seq)
    report = audit.verify_chain()
    assert not report.ok
    assert report.first_bad_seq == a.seq


def test_serialisation_is_canonical() -> None:
    # ("ab", "c") and ("a", "bc") must not hash alike: JSON keeps the boundaries
    assert audit.canonical({"x": "ab", "y": "c"}) != audit.canonical({"x": "a", "y": "bc"})
    assert audit.canonical({"b": 1, "a": 2}) == audit.canonical({"a": 2, "b": 1})


# --- no unaudited path (requirement 5) -----------------------------------------------------------


def test_a_bulk_update_or_delete_of_events_is_refused(patient: Any) -> None:
    """Requirements 3, 5: a queryset ``update()`` or ``delete()`` skips the model's guard; the
    database triggers refuse them."""
    for change in (
        lambda: AuditEvent.objects.update(reason="edited"),
        lambda: AuditEvent.objects.filter(seq=1).delete(),
        lambda: AuditEvent.objects.bulk_update(
            [AuditEvent(pk=AuditEvent.objects.first().pk, reason="x")],  # type: ignore[union-attr]
            ["reason"],
        ),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            change()
    assert audit.verify_chain().ok


def _migrate(executor: Any, target: list[tuple[str, str]]) -> Any:
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def test_the_0003_data_step_audits_what_it_changes(live_records: None) -> None:
    """Requirement 5 (and 42, a data migration's before-and-after test): orders made before
    0003 take their course's catalogue version, sessions their state from their times, and
    each change is an audit event by ``system`` with before, after and the reason."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    old = _migrate(executor, [("records", "0002_audit_append_only")])
    try:
        user = old.get_model("auth", "User").objects.create(username="before-0003")
        patient = old.get_model("records", "Patient").objects.create(
            mrn="OLD1", family_name="Old", given_name="Ann", date_of_birth=dt.date(1960, 1, 1),
            sex="female", height_cm=160,
        )  # fmt: skip
        course = old.get_model("records", "Course").objects.create(
            patient=patient, indication="lems", phase="maintenance", product_id="privigen-us",
            place="hospital", start=TODAY, regimen={}, catalogue_version="2026.10.0",
            dosing_weight_kg=60, weight_basis="actual", plan={}, prescribed_by=user,
        )  # fmt: skip
        orders = [
            old.get_model("records", "Order").objects.create(
                course=course,
                patient=patient,
                sequence=n,
                date=TODAY,
                prescribed_g=30,
                dose_g=30,
                vials=[],
                volume_ml=300,
                steps=[],
                status="in-progress",
            )
            for n in (1, 2)
        ]
        start = timezone.now() - dt.timedelta(hours=3)  # the ended one ended an hour ago
        session = old.get_model("records", "InfusionSession")
        running = session.objects.create(order=orders[0], started_at=start)
        ended = session.objects.create(
            order=orders[1], started_at=start, ended_at=start + dt.timedelta(hours=2)
        )
        last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        new = _migrate(executor, [("records", "0003_safety_layer")])
        order_model, session_model = (
            new.get_model("records", "Order"),
            new.get_model("records", "InfusionSession"),
        )
        assert set(order_model.objects.values_list("catalogue_version", flat=True)) == {"2026.10.0"}
        assert session_model.objects.get(pk=running.pk).state == "running"
        assert session_model.objects.get(pk=ended.pk).state == "ended"
        events = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq"))
        assert [(e.action, e.entity, e.entity_id, e.actor) for e in events] == [
            ("migrate", "order", str(orders[0].pk), "system"),
            ("migrate", "order", str(orders[1].pk), "system"),
            ("migrate", "infusion", str(running.pk), "system"),
            ("migrate", "infusion", str(ended.pk), "system"),
        ]
        assert events[0].before == {"catalogue_version": ""}
        assert events[0].after == {"catalogue_version": "2026.10.0"}
        assert events[3].after == {"state": "ended"}
        assert all(e.patient_id == patient.pk and e.reason.startswith("migration 0003")
                   for e in events)  # fmt: skip
        assert audit.verify_chain().ok
    finally:
        _migrate(executor, latest)


def test_the_0009_step_keeps_the_dosing_weight_once_in_the_plan(live_records: None) -> None:
    """Issue 15 (and requirements 5, 42): the dosing weight is stored once, in the plan. A plan
    without it takes the column's; where the column disagreed, the plan's (what every dose and
    rate was computed on) stands; each is an audit event by ``system``. Backwards, the columns
    are filled from the plans."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before_0009 = [("records", "0007_creatinine_results")]
    old = _migrate(executor, before_0009)
    try:
        user = old.get_model("auth", "User").objects.create(username="before-0009")
        patient = old.get_model("records", "Patient").objects.create(
            mrn="OLD9", family_name="Old", given_name="Ann", date_of_birth=dt.date(1960, 1, 1),
            sex="female", height_cm=160,
        )  # fmt: skip

        def course(kg: float, basis: str, plan: dict[str, Any]) -> Any:
            return old.get_model("records", "Course").objects.create(
                patient=patient, indication="lems", phase="maintenance", place="hospital",
                product_id="privigen-us", start=TODAY, regimen={}, catalogue_version="2026.11.0",
                dosing_weight_kg=kg, weight_basis=basis, plan=plan, prescribed_by=user,
            )  # fmt: skip

        agreed = course(85, "adjusted", {"dosing_weight": {"kg": 85.0, "basis": "adjusted"}})
        bare = course(60, "actual", {})
        differs = course(70, "actual", {"dosing_weight": {"kg": 72.5, "basis": "actual"}})
        last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        new = _migrate(executor, [("records", "0009_dosing_weight_once")])
        model = new.get_model("records", "Course")
        assert [
            model.objects.get(pk=c.pk).plan["dosing_weight"] for c in (agreed, bare, differs)
        ] == [
            {"kg": 85.0, "basis": "adjusted"},
            {"kg": 60.0, "basis": "actual"},
            {"kg": 72.5, "basis": "actual"},
        ]
        assert not {"dosing_weight_kg", "weight_basis"} & {f.name for f in model._meta.fields}
        events = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq"))
        assert [(e.action, e.entity, e.entity_id, e.actor) for e in events] == [
            ("migrate", "course", str(bare.pk), "system"),
            ("migrate", "course", str(differs.pk), "system"),
        ]
        assert (events[0].before, events[0].after) == (
            {"dosing_weight": {"kg": None, "basis": None}},
            {"dosing_weight": {"kg": 60.0, "basis": "actual"}},
        )
        assert (events[1].before, events[1].after) == (
            {
                "dosing_weight": {"kg": 72.5, "basis": "actual"},
                "columns": {"dosing_weight_kg": 70.0},
            },
            {"dosing_weight": {"kg": 72.5, "basis": "actual"}},
        )
        assert "the plan's stands" in events[1].reason
        assert audit.verify_chain().ok
        back = _migrate(executor, before_0009).get_model("records", "Course")
        assert [(c.dosing_weight_kg, c.weight_basis) for c in back.objects.order_by("pk")] == [
            (85.0, "adjusted"), (60.0, "actual"), (72.5, "actual"),
        ]  # fmt: skip
    finally:
        _migrate(executor, latest)


def test_record_all_chains_each_event_with_one_head_update(
    users: dict[str, Any], patient: Any
) -> None:
    """Issue 19 item 5: a bulk append is still one chain link per event (its own seq and MAC
    over the previous one), written with one INSERT and one head update."""
    from django.test.utils import CaptureQueriesContext

    from ivig.records.models import AuditHead

    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    entries = [
        audit.Entry("read", "demographics", pk, patient_id=pk, after={"url": "/api/patients"})
        for pk in (patient.pk, 901, 902)
    ]
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        events = audit.record_all(users["nurse"], entries)
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT")]
    assert len([w for w in writes if w.startswith("INSERT")]) == 1
    assert len([w for w in writes if w.startswith("UPDATE")]) == 1
    stored = list(AuditEvent.objects.filter(seq__gt=last.seq).order_by("seq"))
    assert [e.seq for e in stored] == [last.seq + 1, last.seq + 2, last.seq + 3]
    assert [e.entity_id for e in stored] == [str(patient.pk), "901", "902"]
    assert stored[0].prev_hash == last.hash
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    assert {e.actor for e in stored} == {"nurse"}
    assert {e.action for e in events} == {"read"}
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (stored[-1].seq, stored[-1].hash)
    assert audit.verify_chain().ok
    _tamper("UPDATE records_auditevent SET entity_id = '903' WHERE seq = %s", stored[1].seq)
    assert audit.verify_chain().first_bad_seq == stored[1].seq


def test_record_all_of_nothing_writes_nothing(users: dict[str, Any], patient: Any) -> None:
    before = AuditEvent.objects.count()
    with transaction.atomic():
        assert audit.record_all(users["nurse"], []) == []
    assert AuditEvent.objects.count() == before
