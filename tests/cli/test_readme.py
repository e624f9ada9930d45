"""The README's worked example is what the program prints now."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ivig.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> tuple[list[str], str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## A worked example", 1)[1]
    command = re.search(r"```sh\n(.*?)```", section, re.S)
    output = re.search(r"```text\n(.*?)```", section, re.S)
    assert command, "the README lost its worked example's command"
    assert output, "the README lost its worked example's output"
    argv = shlex.split(command.group(1).replace("\\\n", " "))
    assert argv[0] == "scripts/run"
    return argv[1:], output.group(1)


def test_readme_example_output_is_current(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    argv, expected = _example()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    strip = "\n".join(line.rstrip() for line in printed.splitlines())
    assert strip.strip() == "\n".join(line.rstrip() for line in expected.splitlines()).strip()
