"""``ivig print ORDER_ID``: the run sheet's PDF written where asked (or under its default name),
the place said, the printing audited; an unknown order or a missing folder is one error line."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest

pytestmark = pytest.mark.database


Run = Callable[[list[str]], tuple[int, str, str]]  # the ``run`` fixture (tests/conftest.py)


def text_of(pdf: bytes) -> str:
    return re.sub(
        r"\s+", " ", " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    )


def test_print_writes_the_run_sheet_and_says_where(
    dispensed: Any, tmp_path: Path, run: Run
) -> None:
    from ivig.records.models import AuditEvent

    target = tmp_path / "sheet.pdf"
    code, out, err = run(["print", str(dispensed.pk), "--out", str(target)])
    assert code == 0, err
    assert str(target) in out
    assert "MRN0001" in out
    text = text_of(target.read_bytes())
    assert "MRN0001" in text
    assert "Lambert, Edward" in text
    assert re.search(r"\bP1\b", text)  # the lots
    assert re.search(r"\bP2\b", text)
    event = AuditEvent.objects.get(action="print")
    assert (event.entity, event.entity_id) == ("order", str(dispensed.pk))
    assert event.patient_id == dispensed.patient_id
    assert event.actor == "system"
    assert event.after["via"] == "cli"
    assert event.reason.startswith("ivig print, run by ")


def test_print_names_the_file_after_the_patient_and_date(
    dispensed: Any, tmp_path: Path, run: Run, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["print", str(dispensed.pk)])
    assert code == 0, err
    expected = tmp_path / f"run-sheet-MRN0001-{dispensed.date:%Y-%m-%d}.pdf"
    assert expected.read_bytes().startswith(b"%PDF-")
    assert str(expected) in out


def test_print_refuses_an_unknown_order_and_a_missing_folder(
    dispensed: Any, tmp_path: Path, run: Run
) -> None:
    from ivig.records.models import AuditEvent

    code, _, err = run(["print", "999999", "--out", str(tmp_path / "x.pdf")])
    assert (code, err) == (1, "Error: no order 999999\n")
    code, _, err = run(["print", str(dispensed.pk), "--out", str(tmp_path / "nowhere" / "x.pdf")])
    assert code == 1
    assert err.startswith("Error: --out: the folder ")
    assert not AuditEvent.objects.filter(action="print").exists()


# --- a broken installation: one error line, never a traceback ------------------------------------


def test_print_without_its_template_is_one_error_line(
    dispensed: Any,
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A package built without its templates (issue 13): ``TemplateDoesNotExist`` becomes one
    line naming the template; nothing written, nothing audited."""
    from ivig.records.models import AuditEvent
    from ivig.records.services import documents

    monkeypatch.setattr(documents, "RUNSHEET_TEMPLATE", "web/no_such_runsheet.html")
    target = tmp_path / "sheet.pdf"
    code, out, err = run(["print", str(dispensed.pk), "--out", str(target)])
    assert code == 1
    assert out == ""
    assert err == (
        "Error: the run sheet cannot be printed: its template web/no_such_runsheet.html is "
        "missing from this installation of ivig; reinstall ivig\n"
    )
    assert not target.exists()
    assert not AuditEvent.objects.filter(action="print").exists()


def test_print_failing_inside_weasyprint_is_one_line_and_a_log(
    dispensed: Any,
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any other failure (a font WeasyPrint cannot read, say) is the internal-error line, its
    traceback in errors.log in the data folder; ``--debug`` shows it."""
    from ivig.records.services import documents

    def no_font(*_args: Any, **_kwargs: Any) -> bytes:
        raise OSError("cannot open resource: DejaVuSans.ttf")

    monkeypatch.setattr(documents, "render_pdf", no_font)
    monkeypatch.setenv("IVIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("IVIG_DEBUG", raising=False)
    target = tmp_path / "sheet.pdf"
    code, out, err = run(["print", str(dispensed.pk), "--out", str(target)])
    log = tmp_path / "data" / "errors.log"
    assert code == 2
    assert out == ""
    assert err == (
        "Error: internal error in print: OSError: cannot open resource: DejaVuSans.ttf; "
        f"details in {log}\n"
    )
    assert "Traceback (most recent call last)" in log.read_text(encoding="utf-8")
    assert not target.exists()

    code, _, err = run(["--debug", "print", str(dispensed.pk), "--out", str(target)])
    assert code == 2
    assert err.startswith("Traceback (most recent call last)")
    assert err.endswith(f"; details in {log}\n")
