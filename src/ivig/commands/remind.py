"""``ivig remind [--date YYYY-MM-DD] [--dry-run]``: e-mail tomorrow's patients (or a given
day's) their reminder, once each (``ivig.records.services.reminders``); run daily from cron or
a systemd timer (README, "Reminders"). Prints one line per reminder, the address masked; a
message the mail server refused is listed as failed and sent again by the next run (exit 0).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from ivig.commands.common import open_database, operator, require_records
from ivig.errors import InvalidInput

__all__ = ["add_commands", "remind"]

EXAMPLE = "Example: ivig remind --dry-run   (cron: 0 17 * * * ivig remind)"


def _day(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"'{text}' is not a date (YYYY-MM-DD)", field="date") from None


def remind(
    date: Annotated[
        str | None,
        typer.Option(
            "--date", metavar="YYYY-MM-DD", help="The infusions' day (default: tomorrow)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List who would get a reminder; send nothing.")
    ] = False,
) -> None:
    """E-mail the day-before reminders: time, place and the link to the day-before check, to
    each patient with an account and an e-mail address whose infusion is booked on the day.
    A reminder is sent once; a re-run sends only the new and the failed ones."""
    day = _day(date)
    with open_database():
        require_records()
        from django.utils import timezone

        from ivig.records.services import reminders

        now = timezone.now()
        day = reminders.default_day(now) if day is None else day
        outcomes = reminders.send_due(
            None, day, now=now, by=f"ivig remind, run by {operator()}", dry_run=dry_run
        )
        _print(day, outcomes, dry_run=dry_run)


def _print(day: dt.date, outcomes: list[Any], *, dry_run: bool) -> None:
    what = " (a dry run: nothing was sent)" if dry_run else ""
    if not outcomes:
        typer.echo(f"{day.isoformat()}: no reminder is due (no booked patient with an e-mail).")
        return
    rows = [("order", "MRN", "time", "to", "result", "place")]
    for o in outcomes:
        result = f"failed: {o.error}" if o.result == "failed" else o.result
        rows.append(
            (str(o.due.order_id), o.due.mrn, f"{o.due.start:%H:%M}", o.masked_to, result,
             o.due.place)
        )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        cells = [v.ljust(w) for v, w in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[5]]))
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    typer.echo(f"{day.isoformat()}: {len(outcomes)} reminder(s): {summary}{what}.")
    if counts.get("failed"):
        typer.echo("The failed ones are sent again by the next run.")


def add_commands(app: typer.Typer, export: typer.Typer, load: typer.Typer) -> None:
    app.command("remind", epilog=EXAMPLE)(remind)
