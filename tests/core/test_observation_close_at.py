"""When the observation may close, to the minute (issue 16 item 18; the observation time:
SmPC, clinical-rules.md 7d): rounded up, never earlier than allowed."""

from __future__ import annotations

import datetime as dt

import pytest

from ivig.core.monitoring import observation_close_at
from ivig.errors import InvalidInput

UTC = dt.UTC


def at(day: int, hour: int, minute: int, second: int = 0, micro: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ended", "minutes", "close"),
    [
        # ended 02:53:40, 20 minutes: due 03:13:40, shown and accepted from 03:14
        (at(7, 2, 53, 40), 20, at(7, 3, 14)),
        # a whole minute stays as it is: ended 02:53:00 + 60 minutes = 03:53
        (at(7, 2, 53), 60, at(7, 3, 53)),
        # a microsecond past the minute is the next minute
        (at(7, 23, 59, 0, 1), 20, at(8, 0, 20)),
    ],
)
def test_the_close_time_is_rounded_up_to_the_minute(
    ended: dt.datetime, minutes: int, close: dt.datetime
) -> None:
    assert observation_close_at(ended, minutes) == close
    assert observation_close_at(ended, minutes) >= ended + dt.timedelta(minutes=minutes)


def test_a_non_number_is_refused() -> None:
    with pytest.raises(InvalidInput):
        observation_close_at(dt.datetime(2026, 12, 7, tzinfo=UTC), float("nan"))
