"""The patient search and the cap check read through indexes, not whole tables (issue 8,
scale): on SQLite, ``EXPLAIN QUERY PLAN`` of each of their queries must not say
``SCAN <table>``; and the search finds what the search box promises (the MRN ignoring case, a
family or given name by its beginning ignoring case, "family, given")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ivig.records.services import courses
from ivig.records.services.patients import PatientInput, create_patient, search_patients


def _plan(sql: str, params: Any = ()) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return [str(row[-1]) for row in cursor.fetchall()]


def _scans(plan: list[str]) -> list[str]:
    """The steps reading a whole table (``SCAN t`` or ``SCAN t USING INDEX ...`` without a
    bound both read every row)."""
    return [step for step in plan if step.startswith("SCAN ")]


@pytest.fixture
def sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans tiny tables by seq scan")


@pytest.fixture
def people(users: dict[str, Any], patient: Any, today: dt.date) -> list[Any]:
    def add(mrn: str, family: str, given: str) -> Any:
        data = PatientInput(mrn, family, given, dt.date(1970, 1, 1), "female", 165)
        return create_patient(users["prescriber"], data, today=today)

    return [
        patient,  # Lambert, Edward (MRN0001)
        add("mrn-77", "Lamb", "Alice"),
        add("X100", "Oliver", "Lambda"),
        add("X101", "Clamber", "Zoe"),
        add("X102", "Perc%nt", "Under_score"),
    ]


def names(term: str) -> list[str]:
    return [f"{p.family_name}, {p.given_name}" for p in search_patients(term)]


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("lamb", ["Lamb, Alice", "Lambert, Edward", "Oliver, Lambda"]),  # family or given
        ("LAMBE", ["Lambert, Edward"]),
        ("mrn-77", ["Lamb, Alice"]),  # the MRN, ignoring case
        ("MRN0001", ["Lambert, Edward"]),
        ("mrn0001", ["Lambert, Edward"]),
        ("mrn", []),  # the MRN matches whole, not by its beginning
        ("lamb, a", ["Lamb, Alice"]),  # family, given
        ("lamb, e", ["Lambert, Edward"]),
        ("amber", []),  # a name matches by its beginning, not in the middle
        ("perc%", ["Perc%nt, Under_score"]),  # % and _ are letters, not wildcards
        ("per%", []),
        ("under_", ["Perc%nt, Under_score"]),
        ("unde_s", []),
        ("", ["Clamber, Zoe", "Lamb, Alice", "Lambert, Edward", "Oliver, Lambda",
              "Perc%nt, Under_score"]),
    ],
)  # fmt: skip
def test_the_search_finds_by_mrn_and_by_the_beginning_of_a_name(
    people: list[Any], term: str, found: list[str]
) -> None:
    assert names(term) == found


@pytest.mark.parametrize("term", ["lamb", "MRN0001", "lamb, e"])
def test_the_search_reads_through_indexes(sqlite_only: None, people: list[Any], term: str) -> None:
    sql, params = search_patients(term)[:100].query.sql_with_params()
    plan = _plan(sql, params)
    assert not _scans(plan), plan
    assert any("USING INDEX patient_" in step for step in plan), plan  # the 0005 indexes


def test_the_old_contains_search_scanned_the_table(sqlite_only: None, people: list[Any]) -> None:
    """The check can fail: ``icontains`` on the names reads every patient."""
    from django.db.models import Q

    from ivig.records.models import Patient

    query = Patient.objects.filter(Q(family_name__icontains="amb") | Q(mrn__iexact="amb"))
    assert _scans(_plan(*query.query.sql_with_params()))


def test_the_cap_check_reads_through_indexes(
    sqlite_only: None, dispensed: Any, patient: Any, today: dt.date
) -> None:
    """A maintenance course after the induction dispensed today (day 2 is tomorrow)."""
    data = courses.CourseInput(
        indication="lems",
        phase="maintenance",
        product="privigen-us",
        place="hospital",
        start=today + dt.timedelta(days=28),
        dose_g_per_kg=1.0,
        every_weeks=4,
        count=3,
    )
    with CaptureQueriesContext(connection) as captured:
        plan, _ = courses.plan_with_limits(patient, data)
    assert plan.doses  # the check ran through to a plan
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert any("records_order" in sql for sql in selects)  # it read the patient's orders
    for sql in selects:
        assert not _scans(_plan(sql)), (sql, _plan(sql))
