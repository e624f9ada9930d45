"""The ``ivig`` command's output as a pipe sees it, the same on every machine."""

from __future__ import annotations

import pytest
import typer.rich_utils


@pytest.fixture(autouse=True)
def _plain_80_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich output as a pipe sees it: 80 columns (a test may set another ``COLUMNS``), no
    colour, whatever the CI sets."""
    for name in ("FORCE_COLOR", "PY_COLORS", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "LINES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    # Typer's help console reads TERMINAL_WIDTH / GITHUB_ACTIONS / FORCE_COLOR at import time.
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", None, raising=False)
    monkeypatch.setattr(typer.rich_utils, "FORCE_TERMINAL", None, raising=False)
