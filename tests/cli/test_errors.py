"""No raw traceback from ``ivig``: an exception that is not an ``IvigError`` (a bug, a broken
installation) is one line, ``Error: internal error in <command>: <type>: <message>; details in
<log>``, exit code 2, the traceback appended to ``errors.log`` in the data folder; ``--debug``
(or ``IVIG_DEBUG=1``) prints it too; Ctrl-C is one line, exit code 130.

The failures are injected: in-process by replacing a function the command calls, in the real
console script (a subprocess) by a ``sitecustomize`` module on ``PYTHONPATH`` that breaks the
planner before ``ivig`` is imported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest

import ivig.cli
from ivig.cli import main

PLAN = [
    "plan",
    "--sex",
    "male",
    "--height-cm",
    "180",
    "--weight-kg",
    "100",
    "--age",
    "60",
    "--product",
    "privigen-us",
    "--indication",
    "lems",
    "--start",
    "2026-12-01",
]

LINE = re.compile(
    r"Error: internal error in (?P<command>[a-z ]+): (?P<what>[A-Za-z]+: .*); "
    r"details in (?P<log>\S+)"
)


def _broken(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise RuntimeError("injected failure\nwith a second line")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of this test's own (not yet made), and no debugging from the caller."""
    folder = tmp_path / "data"
    monkeypatch.setenv("IVIG_DATA_DIR", str(folder))
    monkeypatch.delenv("IVIG_DEBUG", raising=False)
    return folder


@pytest.fixture
def broken_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ivig.cli, "plan_course", _broken)


def one_error_line(err: str) -> re.Match[str]:
    """``err`` is one line, the internal-error line; its parts."""
    assert "Traceback" not in err
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    found = LINE.fullmatch(err.rstrip("\n"))
    assert found, err
    return found


# --- in-process --------------------------------------------------------------------------------


@pytest.mark.usefixtures("broken_plan")
def test_an_internal_error_is_one_line_with_the_traceback_in_the_data_folder(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(PLAN)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    found = one_error_line(err)
    assert found["command"] == "plan"
    assert found["what"] == "RuntimeError: injected failure"  # the first line of the message
    log = data_dir / "errors.log"
    assert found["log"] == str(log)
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: injected failure\nwith a second line" in text
    assert "internal error in plan" in text
    assert "command: ivig plan --sex male" in text
    assert log.stat().st_mode & 0o077 == 0  # a traceback may name a patient: owner only

    assert main(PLAN) == 2  # appended, not replaced
    capsys.readouterr()
    assert log.read_text(encoding="utf-8").count("Traceback (most recent call last)") == 2


@pytest.mark.usefixtures("broken_plan")
@pytest.mark.parametrize("how", ["--debug", "IVIG_DEBUG=1"])
def test_debug_prints_the_traceback_too(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    if how == "--debug":
        argv = ["--debug", *PLAN]
    else:
        monkeypatch.setenv("IVIG_DEBUG", "1")
        argv = PLAN
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("Traceback (most recent call last)")
    assert "RuntimeError: injected failure" in err
    last = err.rstrip("\n").splitlines()[-1]
    assert LINE.fullmatch(last), last
    assert (data_dir / "errors.log").exists()


@pytest.mark.usefixtures("broken_plan", "data_dir")
def test_an_internal_error_with_json_is_a_json_error_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main([*PLAN, "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    found = one_error_line(err)
    error = json.loads(out)["error"]
    assert error["code"] == "internal_error"
    assert error["field"] is None
    assert error["message"] == err.removeprefix("Error: ").rstrip("\n")
    assert error["log"] == found["log"]


@pytest.mark.usefixtures("broken_plan")
def test_the_log_goes_to_the_default_data_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IVIG_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert main(PLAN) == 2
    found = one_error_line(capsys.readouterr().err)
    assert found["log"] == str(tmp_path / "xdg" / "ivig" / "errors.log")
    assert "injected failure" in Path(found["log"]).read_text(encoding="utf-8")


@pytest.mark.usefixtures("broken_plan")
def test_an_unwritable_data_folder_falls_back_to_a_temporary_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("IVIG_DATA_DIR", str(not_a_folder))
    assert main(PLAN) == 2
    found = one_error_line(capsys.readouterr().err)
    log = Path(found["log"])
    try:
        assert log.parent != not_a_folder
        assert "RuntimeError: injected failure" in log.read_text(encoding="utf-8")
    finally:
        log.unlink()


def test_the_command_named_is_the_subcommand_typed(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ivig.commands.fhir_export

    monkeypatch.setattr(ivig.commands.fhir_export, "open_database", _broken)
    code = main(["--debug", "export", "fhir", "MRN0001", "--out", str(data_dir / "x.json")])
    _, err = capsys.readouterr()
    assert code == 2
    found = LINE.fullmatch(err.rstrip("\n").splitlines()[-1])
    assert found
    assert found["command"] == "export fhir"


def test_ctrl_c_is_one_line_and_exit_code_130(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise KeyboardInterrupt

    monkeypatch.setattr(ivig.cli, "plan_course", interrupted)
    assert main(PLAN) == 130
    out, err = capsys.readouterr()
    assert (out, err) == ("", "Error: interrupted\n")
    assert not data_dir.exists()  # not a bug: nothing logged


def test_an_ivig_error_is_still_exit_1_and_not_logged(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*PLAN[:6], "0", *PLAN[7:]]) == 1  # --weight-kg 0
    assert capsys.readouterr().err.startswith("Error: --weight-kg")
    assert not data_dir.exists()


# --- the installed console script ---------------------------------------------------------------


def _console_script() -> list[str]:
    script = shutil.which("ivig", path=str(Path(sys.executable).parent)) or shutil.which("ivig")
    return [script] if script else [sys.executable, "-m", "ivig.cli"]


@pytest.fixture
def injected_env(tmp_path: Path) -> dict[str, str]:
    """The environment of an ``ivig`` whose planner raises RuntimeError, with its own data
    folder."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        "import ivig.core.plan\n\n\n"
        "def _broken(*args, **kwargs):\n"
        "    raise RuntimeError('injected failure')\n\n\n"
        "ivig.core.plan.plan_course = _broken\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVIG_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONPATH"] = str(inject)
    env["IVIG_DATA_DIR"] = str(tmp_path / "data")
    return env


def _ivig(
    env: dict[str, str], *argv: str, command: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(command or _console_script()), *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_console_script_prints_one_line_and_logs_the_traceback(
    injected_env: dict[str, str],
) -> None:
    done = _ivig(injected_env, *PLAN)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    found = one_error_line(done.stderr)
    assert found["command"] == "plan"
    assert found["what"] == "RuntimeError: injected failure"
    log = Path(injected_env["IVIG_DATA_DIR"]) / "errors.log"
    assert found["log"] == str(log)
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "sitecustomize.py" in text  # where it was raised

    debug = _ivig(injected_env, "--debug", *PLAN)
    assert debug.returncode == 2
    assert debug.stderr.startswith("Traceback (most recent call last)")
    assert LINE.fullmatch(debug.stderr.rstrip("\n").splitlines()[-1])

    debug = _ivig({**injected_env, "IVIG_DEBUG": "1"}, *PLAN)
    assert debug.returncode == 2
    assert debug.stderr.startswith("Traceback (most recent call last)")


def test_python_m_ivig_prints_one_line_too(injected_env: dict[str, str]) -> None:
    done = _ivig(injected_env, *PLAN, command=[sys.executable, "-m", "ivig"])
    assert done.returncode == 2, done.stderr
    found = one_error_line(done.stderr)
    assert found["command"] == "plan"
    assert Path(found["log"]) == Path(injected_env["IVIG_DATA_DIR"]) / "errors.log"
