"""``ivig export csv`` and ``ivig import patients``, run in-process on the test database."""

from __future__ import annotations

import csv
import io
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from ivig.interop import csv_io

Run = Callable[[list[str]], tuple[int, str, str]]  # the ``run`` fixture (tests/conftest.py)


# --- ivig export csv -----------------------------------------------------------------------------


def test_export_infusions_to_a_new_file(demo: None, run: Run, tmp_path: Path) -> None:
    from ivig.records.models import AuditEvent, InfusionSession

    target = tmp_path / "infusions.csv"
    code, out, err = run(["export", "csv", "infusions", "--out", str(target)])
    assert code == 0, err
    assert out == ""
    assert err.strip() == f"exported 6 infusion rows (3 patients) to {target}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with target.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames or ()) == csv_io.INFUSION_COLUMNS
        rows = list(reader)
    ids = sorted(int(r["order_id"]) for r in rows)
    assert ids == sorted(InfusionSession.objects.values_list("order_id", flat=True))
    summary = AuditEvent.objects.get(action="export", entity="infusions csv", patient_id=None)
    assert summary.actor == "system"
    assert summary.reason.startswith("ivig export csv infusions, run by ")
    assert summary.reason.endswith(f" on the server to {target}")
    assert AuditEvent.objects.filter(action="export", patient_id__isnull=False).count() == 3

    code, _, err = run(["export", "csv", "infusions", "--out", str(target)])
    assert code == 1
    assert err == f"Error: --out: {target} exists already; an export never overwrites a file\n"


def test_export_outcomes_to_stdout_for_a_period_as_a_user(demo: None, run: Run) -> None:
    from ivig.records.models import AuditEvent, Outcome

    first = Outcome.objects.order_by("measured_on").first()
    assert first is not None
    day = first.measured_on.isoformat()
    argv = ["export", "csv", "outcomes", "--from", day, "--to", day, "--as", "demo-pharmacist"]
    code, out, err = run(argv)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == Outcome.objects.filter(measured_on=first.measured_on).count() > 0
    assert {r["measured_on"] for r in rows} == {day}
    event = AuditEvent.objects.get(action="export", entity="outcomes csv", patient_id=None)
    assert (event.actor, event.after["from"], event.after["rows"]) == (
        "demo-pharmacist",
        day,
        len(rows),
    )


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--from", "2026-02-30"], "Error: --from: '2026-02-30' is not a date (YYYY-MM-DD)"),
        (
            ["--from", "2026-02-02", "--to", "2026-02-01"],
            "Error: --to: the end of the period is before its start",
        ),
        (["--as", "demo-nurse"], "Error: exporting infusions needs the role admin or pharmacist"),
        (["--as", "nobody"], "Error: no user nobody; the user given with --as must exist"),
    ],
)
def test_export_refusals(demo: None, run: Run, argv: list[str], error: str) -> None:
    from ivig.records.models import AuditEvent

    code, out, err = run(["export", "csv", "infusions", *argv])
    assert code == 1
    assert out == ""
    assert err.strip() == error
    assert not AuditEvent.objects.filter(action="export").exists()


# --- ivig import patients ------------------------------------------------------------------------

GOOD_AND_BAD = """\
mrn,family_name,given_name,date_of_birth,sex,height_cm,weight_kg,risk_codes,notes
CSV-1,Smith,Anna,1970-02-03,female,165,70,,from the referral letter
CSV-2,Jones,Bob,1960-13-01,male,180,,,
CSV-3,Lee,Cara,1955-05-05,female,160,,no-such-risk,
DEMO-0001,Hartley,Margaret,1957-03-14,female,163,,,
CSV-4,Tiny,Tim,1980-01-01,male,20,,,
CSV-5,Ok,Olga,1980-01-01,female,170,,diabetes,
"""


def test_import_reports_each_bad_row_and_keeps_the_good(
    demo: None, run: Run, tmp_path: Path
) -> None:
    from ivig.records.models import AuditEvent, Patient

    file = tmp_path / "patients.csv"
    file.write_text(GOOD_AND_BAD, encoding="utf-8")
    code, out, err = run(["import", "patients", str(file), "--as", "demo-prescriber"])
    assert code == 1
    assert out.splitlines() == [
        "row 3, date_of_birth: '1960-13-01' is not a date (YYYY-MM-DD)",
        "row 4, risk_codes: unknown risk code 'no-such-risk'; `ivig risks` lists the codes",
        "row 5, mrn: a patient with MRN DEMO-0001 exists already",
        "row 6, height_cm: height 20 cm is outside the accepted range 40-250 cm",
        "imported 2 of 6 rows; 4 with errors (nothing imported from them)",
    ]
    # The bar (not a terminal here: shown once, finished), then the one error line.
    assert "Importing patients" in err
    assert "6/6" in err
    assert err.splitlines()[-1] == (
        "Error: FILE: 4 of 6 rows were not imported (see the report above)"
    )
    new = Patient.objects.filter(mrn__startswith="CSV-").order_by("mrn")
    assert [p.mrn for p in new] == ["CSV-1", "CSV-5"]
    assert Patient.objects.get(mrn="DEMO-0001").version == 1
    anna = new[0]
    assert anna.notes == "from the referral letter"
    assert anna.weights.get().weight_kg == 70
    for patient in new:
        event = AuditEvent.objects.get(action="create", entity="patient", patient_id=patient.pk)
        assert event.actor == "demo-prescriber"


def test_import_all_good_exits_0(demo: None, run: Run, tmp_path: Path) -> None:
    from ivig.records.models import Patient

    file = tmp_path / "patients.csv"
    file.write_text(
        "mrn,family_name,given_name,date_of_birth,sex,height_cm\n"
        "CSV-9,Good,Gina,1971-07-07,female,168\n",
        encoding="utf-8",
    )
    code, out, err = run(["import", "patients", str(file), "--as", "demo-admin"])
    assert code == 0, err
    assert out == "imported 1 of 1 row\n"
    assert Patient.objects.filter(mrn="CSV-9").exists()


def test_a_dry_run_saves_nothing(demo: None, run: Run, tmp_path: Path) -> None:
    from ivig.records.models import AuditEvent, Patient

    file = tmp_path / "patients.csv"
    file.write_text(GOOD_AND_BAD, encoding="utf-8")
    events = AuditEvent.objects.count()
    argv = ["import", "patients", str(file), "--as", "demo-prescriber", "--dry-run"]
    code, out, err = run(argv)
    assert code == 1
    assert "Checking patients" in err
    assert out.splitlines()[-1] == (
        "would import 2 of 6 rows; 4 with errors (nothing imported from them); "
        "dry run: nothing was saved"
    )
    assert err.splitlines()[-1] == "Error: FILE: 4 of 6 rows were not valid (see the report above)"
    assert not Patient.objects.filter(mrn__startswith="CSV-").exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("text", "user", "error"),
    [
        (
            "mrn,family_name,given_name,date_of_birth,sex,height,weight_kg\n"
            "CSV-1,Smith,Anna,1970-02-03,female,165,70\n",
            "demo-prescriber",
            "Error: FILE: the header is wrong (nothing was imported): unknown column height; "
            "missing required column height_cm.",
        ),
        (
            GOOD_AND_BAD,
            "demo-nurse",
            "Error: importing patients needs the role prescriber or admin",
        ),
        (GOOD_AND_BAD, "nobody", "Error: no user nobody; the user given with --as must exist"),
        (b"mrn\xff".decode("latin-1"), "demo-prescriber", "Error: FILE: "),
    ],
    ids=["header", "nurse", "no user", "not utf-8"],
)
def test_import_refused_before_any_row(
    demo: None,
    run: Run,
    tmp_path: Path,
    text: str,
    user: str,
    error: str,
) -> None:
    from ivig.records.models import Patient

    file = tmp_path / "patients.csv"
    file.write_text(text, encoding="latin-1" if "\xff" in text else "utf-8")
    before = Patient.objects.count()
    code, out, err = run(["import", "patients", str(file), "--as", user])
    assert code == 1
    assert out == ""
    assert err.startswith(error)
    assert "Importing patients" not in err
    assert Patient.objects.count() == before


def test_import_of_a_missing_file(db: None, run: Run, tmp_path: Path) -> None:
    code, _, err = run(["import", "patients", str(tmp_path / "no.csv"), "--as", "x"])
    assert code == 1
    assert err == f"Error: FILE: there is no file {tmp_path / 'no.csv'}\n"
