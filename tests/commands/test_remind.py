"""``ivig remind``: tomorrow's reminders written by the file backend and read back, a re-run
sends nothing, ``--dry-run`` sends nothing, a bad date is one error line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

Run = Callable[[list[str]], tuple[int, str, str]]  # the ``run`` fixture (tests/conftest.py)

pytestmark = pytest.mark.database


@pytest.fixture
def booked(users: dict[str, Any], patient: Any, me: Any, today: dt.date) -> Any:
    """Edward (with an e-mail address) booked tomorrow 13:30 on the day unit's chair 3."""
    from ivig.records.services import bookings, courses, units

    tomorrow = today + dt.timedelta(days=1)
    me.email = "edward@example.org"
    me.save()
    admin = users["admin"]
    unit = units.create_unit(admin, "Day unit", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, unit.pk, weekday, dt.time(8), dt.time(20))
    nurse = units.add_chair(admin, unit.pk, "Chair 3")
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=tomorrow, days=2,
        ),
    )  # fmt: skip
    start = dt.datetime.combine(tomorrow, dt.time(13, 30), tzinfo=timezone.get_current_timezone())
    return bookings.book(users["nurse"], course.orders.get(sequence=1).pk, nurse.pk, start)


@pytest.fixture
def outbox(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "outbox"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(folder)
    settings.IVIG_BASE_URL = "https://ivig.example.org"
    return folder


def _messages(folder: Path) -> list[Any]:
    if not folder.exists():
        return []
    return [message_from_bytes(f.read_bytes()) for f in sorted(folder.iterdir())]


def test_sends_to_the_file_backend_once(booked: Any, outbox: Path, run: Run) -> None:
    from ivig.records.models import AuditEvent, Reminder

    code, out, err = run(["remind"])
    assert code == 0, err
    assert "e***@example.org" in out
    assert "edward@example.org" not in out
    assert "13:30" in out
    assert "1 reminder(s): 1 sent." in out
    (message,) = _messages(outbox)
    assert message["To"] == "edward@example.org"
    body = message.get_payload(decode=True).decode()
    assert "Hello Edward," in body
    assert "13:30" in body
    assert "13:30, at the Day unit, Chair 3." in body
    assert "https://ivig.example.org/me/check/" in body
    row = Reminder.objects.get()
    assert row.by.startswith("ivig remind, run by ")
    assert AuditEvent.objects.get(entity="reminder").actor == "system"
    code, out, _ = run(["remind"])
    assert code == 0
    assert "1 already" in out
    assert len(_messages(outbox)) == 1


def test_dry_run_sends_nothing(booked: Any, outbox: Path, run: Run, today: dt.date) -> None:
    from ivig.records.models import Reminder

    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    code, out, err = run(["remind", "--date", tomorrow, "--dry-run"])
    assert code == 0, err
    assert "would send" in out
    assert "1 would send (a dry run: nothing was sent)." in out
    assert _messages(outbox) == []
    assert not Reminder.objects.exists()


def test_nothing_due(users: dict[str, Any], outbox: Path, run: Run) -> None:
    code, out, _ = run(["remind"])
    assert code == 0
    assert "no reminder is due" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["remind", "--date", "31/12/2026"], "--date: '31/12/2026' is not a date"),
        (["remind", "--date", "2000-01-01"], "2000-01-01 has passed"),
    ],
)
def test_errors_in_one_line(
    users: dict[str, Any], outbox: Path, run: Run, argv: list[str], words: str
) -> None:
    code, out, err = run(argv)
    assert code == 1
    assert out == ""
    assert err.startswith("Error: ")
    assert words in err
    assert "Traceback" not in err
