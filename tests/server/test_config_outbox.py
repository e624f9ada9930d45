"""Without a mail server, e-mails are written to files (issue 18: the outbox in the data folder,
or ``IVIG_EMAIL_FILE_DIR``); ``IVIG_BASE_URL`` is the address of the links e-mails carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivig.errors import ConfigError
from ivig.server.config import load_config

KEY = "k" * 40


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"IVIG_DATA_DIR": str(tmp_path), "IVIG_SECRET_KEY": KEY, **more}


def test_the_outbox_and_the_base_url_by_default(tmp_path: Path) -> None:
    config = load_config(_env(tmp_path))
    assert config.email_file_dir == tmp_path / "outbox"
    assert config.base_url == "http://127.0.0.1:8000"


def test_both_set(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        IVIG_EMAIL_FILE_DIR=str(tmp_path / "mail"),
        IVIG_BASE_URL=" https://ivig.example.org/ ",
    )
    config = load_config(env)
    assert config.email_file_dir == tmp_path / "mail"
    assert config.base_url == "https://ivig.example.org"


@pytest.mark.parametrize(
    "url", ["ivig.example.org", "ftp://ivig.example.org", "https://", "https://a.org/?x=1"]
)
def test_a_bad_base_url_names_the_variable(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match=r"^IVIG_BASE_URL: must look like https://"):
        load_config(_env(tmp_path, IVIG_BASE_URL=url))


def test_the_settings_use_the_file_backend_without_a_mail_server() -> None:
    from django.conf import settings

    from ivig.server import settings as module

    config = module.CONFIG
    assert config.email is None  # the test run sets no IVIG_EMAIL_HOST
    assert module.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend"
    assert str(config.email_file_dir) == module.EMAIL_FILE_PATH
    assert config.base_url == settings.IVIG_BASE_URL
