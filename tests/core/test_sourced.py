"""One reader for the sourced values of every file of the drug library (``core.sourced``), and
the library read whole from a folder (``core.library``)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import ivig
from ivig.core.library import packaged_library, read_library
from ivig.core.sourced import Reader, Source, read_toml
from ivig.errors import CatalogueError


def _site(tmp_path: Path, file: str = "", old: str = "", new: str = "") -> Path:
    """A copy of the packaged library with ``old`` replaced by ``new`` in ``file``."""
    folder = tmp_path / "library"
    shutil.copytree(Path(ivig.__file__).parent / "data", folder)
    if file:
        text = (folder / file).read_text()
        assert old in text, old
        (folder / file).write_text(text.replace(old, new, 1))
    return folder


def test_a_copy_of_the_packaged_folder_reads_as_the_packaged_library(tmp_path: Path) -> None:
    assert read_library(_site(tmp_path)) == packaged_library()


@pytest.mark.parametrize(
    ("file", "value", "where", "key"),
    [
        ("products.toml", "concentration_mg_per_ml = { value = 100",
         r"products\.toml products\[0\]", "concentration_mg_per_ml"),
        ("protocol.toml", "step_minutes = { value = 30", r"protocol\.toml", "step_minutes"),
        ("indications.toml", "induction_total_g_per_kg = { value = 2.0",
         r"indications\.toml indications\[0\]", "induction_total_g_per_kg"),
        ("risks.toml", "from_bmi = { value = 30", r"risks\.toml risks\[\d+\]", "from_bmi"),
        ("limits.toml", "match_tolerance = { value = 0.03", r"limits\.toml \[rate_entry\]",
         "match_tolerance"),
        ("limits.toml", "confirm_percent = { value = 10", r"limits\.toml \[weight_change\]",
         "confirm_percent"),
        ("monitoring.toml", "ramp_interval_minutes = { value = 15",
         r"monitoring\.toml \[checkpoints\]", "ramp_interval_minutes"),
        ("outcomes.toml", "threshold = { value = 20", r"outcomes\.toml \[measures\.3tug\]",
         "threshold"),
    ],
)  # fmt: skip
def test_every_file_names_the_file_table_and_key_of_a_broken_sourced_value(
    tmp_path: Path, file: str, value: str, where: str, key: str
) -> None:
    """The same mistake (a verified flag that is not true or false) is told alike in every
    file: which file, which table, which key."""
    text = (Path(ivig.__file__).parent / "data" / file).read_text()
    line = next(line for line in text.splitlines() if line.startswith(value))
    broken = re.sub(r"verified = (true|false)", 'verified = "yes"', line)
    with pytest.raises(CatalogueError) as caught:
        read_library(_site(tmp_path, file, line, broken))
    assert re.fullmatch(
        rf"catalogue {where}: '{key}' must say verified = true or false", caught.value.message
    )


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    folder = _site(tmp_path)
    (folder / "outcomes.toml").unlink()
    with pytest.raises(CatalogueError, match=r"^catalogue file outcomes\.toml is missing$"):
        read_library(folder)
    (folder / "outcomes.toml").write_text("[measures\n")
    with pytest.raises(CatalogueError, match=r"^catalogue file outcomes\.toml is not valid TOML"):
        read_toml(folder, "outcomes.toml")


SOURCES = {"label": Source("label", "A label", "https://example.org", "")}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (None, "is missing"),
        (5, "must be a { value, source, verified } table"),
        ({"source": "label", "verified": True}, "has no value"),
        ({"value": 5, "source": "nowhere", "verified": True},
         "names an unknown source 'nowhere' (see sources.toml)"),
        ({"value": 5, "source": "label", "verified": 1}, "must say verified = true or false"),
        ({"value": 5, "source": "label", "verified": True, "note": 3},
         "has a note that is not text"),
        ({"value": 0, "source": "label", "verified": True}, "value must be a positive number"),
        ({"value": float("inf"), "source": "label", "verified": True},
         "value must be a positive number"),
        ({"value": True, "source": "label", "verified": True}, "value must be a positive number"),
    ],
)  # fmt: skip
def test_a_sourced_number_is_checked(entry: object, problem: str) -> None:
    table = {} if entry is None else {"dose": entry}
    with pytest.raises(CatalogueError) as caught:
        Reader(table, "protocol.toml", SOURCES).sourced_number("dose")
    assert caught.value.message == f"catalogue protocol.toml: 'dose' {problem}"
    assert caught.value.field == "dose"


def test_a_sourced_value_keeps_its_source_flag_and_note() -> None:
    table = {"dose": {"value": 2, "source": "label", "verified": False, "note": "per label"}}
    read = Reader(table, "protocol.toml", SOURCES)
    number = read.sourced_number("dose")
    assert number is not None
    assert (number.value, number.source.key, number.verified, number.note) == (
        2.0, "label", False, "per label",
    )  # fmt: skip
    assert read.sourced_positive("dose").value == 2  # as written: a whole number stays one
    assert read.sourced_number("other", optional=True) is None
