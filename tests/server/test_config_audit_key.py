"""The audit key from the environment or its own file (issue 17 item 1; requirements 3, 4): a
secret outside the database, its file owner-only, a bad one naming its variable."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from ivig.errors import ConfigError
from ivig.server.config import load_config

SECRET = "k" * 40


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"IVIG_DATA_DIR": str(tmp_path), "IVIG_SECRET_KEY": SECRET, **more}


def test_a_key_file_is_made_owner_only_on_first_start_then_kept(tmp_path: Path) -> None:
    first = load_config(_env(tmp_path)).audit_key
    assert first is not None
    path = tmp_path / "audit.key"
    assert first.source == str(path)
    assert len(first.secret) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_config(_env(tmp_path)).audit_key
    assert again is not None
    assert again.secret == first.secret
    assert first.secret.hex() not in repr(first)  # never printed


def test_the_key_from_the_environment_as_hex_or_base64(tmp_path: Path) -> None:
    raw = bytes(range(32))
    for text in (raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        key = load_config(_env(tmp_path, IVIG_AUDIT_KEY=text)).audit_key
        assert key is not None
        assert (key.secret, key.source) == (raw, "IVIG_AUDIT_KEY")
    assert not (tmp_path / "audit.key").exists()  # no file when the environment gives it


@pytest.mark.parametrize(
    "text", ["ab" * 31, "not a key at all!", base64.b64encode(b"x" * 31).decode()]
)
def test_a_short_or_unreadable_key_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes") as caught:
        load_config(_env(tmp_path, IVIG_AUDIT_KEY=text))
    assert caught.value.message.startswith("IVIG_AUDIT_KEY: ")


def test_a_key_file_elsewhere(tmp_path: Path) -> None:
    """IVIG_AUDIT_KEY_FILE: e.g. outside the data folder (a copy of the folder lacks the key)."""
    data, keys = tmp_path / "data", tmp_path / "keys"
    keys.mkdir(mode=0o700)
    key = load_config(_env(data, IVIG_AUDIT_KEY_FILE=str(keys / "ivig.key"))).audit_key
    assert key is not None
    assert key.source == str(keys / "ivig.key")
    assert (keys / "ivig.key").is_file()
    assert not (data / "audit.key").exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_a_key_file_others_may_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "audit.key"
    path.write_text(os.urandom(32).hex())
    path.chmod(mode)
    with pytest.raises(ConfigError, match=f"chmod 600 {path}") as caught:
        load_config(_env(tmp_path))
    assert caught.value.message.startswith("IVIG_AUDIT_KEY_FILE: ")
    assert "may be read or written by others" in caught.value.message


def test_a_key_file_without_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="does not hold a key of at least 32 bytes"):
        load_config(_env(tmp_path))
