"""``IVIG_CREATININE_MAX_AGE_DAYS``: the service's limit on the age of a creatinine result
(issue 14 item 5), 90 days unless set; a bad value stops the start naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivig.errors import ConfigError
from ivig.server.config import load_config

KEY = "k" * 40


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"IVIG_DATA_DIR": str(tmp_path), "IVIG_SECRET_KEY": KEY, **more}


def test_the_default_is_90_days(tmp_path: Path) -> None:
    assert load_config(_env(tmp_path)).creatinine_max_age_days == 90


def test_a_service_sets_its_own_limit(tmp_path: Path) -> None:
    config = load_config(_env(tmp_path, IVIG_CREATININE_MAX_AGE_DAYS="30"))
    assert config.creatinine_max_age_days == 30


@pytest.mark.parametrize("value", ["0", "-5", "thirty", "3651", "1.5"])
def test_a_bad_limit_stops_the_start(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_env(tmp_path, IVIG_CREATININE_MAX_AGE_DAYS=value))
    assert caught.value.variable == "IVIG_CREATININE_MAX_AGE_DAYS"
