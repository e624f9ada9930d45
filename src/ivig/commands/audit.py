"""``ivig audit verify`` and ``ivig audit checkpoint`` (issue 17 item 1).

A checkpoint is a signed line (``ivig.records.checkpoints``) printed and appended to a file
meant to be copied off the machine or sent to syslog; ``verify --checkpoint FILE`` checks every
checkpoint of the file against the database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ivig.commands.common import open_database, require_records
from ivig.errors import Conflict, DatabaseProblem, InvalidInput

__all__ = ["audit_checkpoint", "audit_verify", "read_checkpoints"]

CHECKPOINT_FILE = "audit-checkpoints.log"


def read_checkpoints(file: Path, option: str = "--checkpoint") -> str:
    """The text of a checkpoint file; one that cannot be read is the option's error."""
    try:
        return file.expanduser().read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InvalidInput(
            f"{option}: cannot read {file}: {exc.strerror}", field=option.lstrip("-")
        ) from None


def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Also check every checkpoint in FILE (made by `ivig audit checkpoint`).",
        ),
    ] = None,
) -> None:
    """Walk the whole audit chain under the audit key; exit 1 at the first broken link (edited,
    missing, swapped, a missing or wrong head, another key), or at a checkpoint the database no
    longer holds (a cut tail, a rewritten chain, a missing database)."""
    text = read_checkpoints(checkpoint) if checkpoint is not None else None
    with open_database():
        from ivig.records import checkpoints
        from ivig.records.audit import verify_chain

        try:
            points = checkpoints.parse(text) if text is not None else []
        except Conflict as exc:
            raise Conflict(f"{checkpoint}: {exc.message}") from None
        if text is not None and not points:
            raise Conflict(f"--checkpoint: no checkpoint found in {checkpoint}")
        try:
            require_records()
        except DatabaseProblem as exc:
            if not points:
                raise
            number, last = points[-1]
            raise DatabaseProblem(
                f"{exc.message}, but the checkpoint of {last.at} (line {number} of "
                f"{checkpoint}) saw {last.seq} event{'' if last.seq == 1 else 's'}: "
                "the database is missing"
            ) from None
        report = verify_chain()
        if report.ok and points:
            try:
                checkpoints.check(points)
            except Conflict as exc:
                raise Conflict(f"{checkpoint}: {exc.message}") from None
    if not report.ok:
        at = f" at event {report.first_bad_seq}" if report.first_bad_seq is not None else ""
        typer.echo(f"audit chain BROKEN{at}: {report.problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit chain ok: {report.checked} events")
    if points:
        number, last = points[-1]
        typer.echo(
            f"{len(points)} checkpoint{'' if len(points) == 1 else 's'} of {checkpoint} ok "
            f"(the last, line {number}: event {last.seq} at {last.at})"
        )


def audit_checkpoint(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help=f"Append to PATH (default: {CHECKPOINT_FILE} in the data folder).",
        ),
    ] = None,
) -> None:
    """Print a signed checkpoint of the audit trail (its last event's number and MAC) and append
    it to a file; copy that file off the machine (or send the line to syslog) for `ivig audit
    verify --checkpoint`."""
    with open_database():
        from django.conf import settings

        from ivig.records import checkpoints

        require_records()
        point = checkpoints.take()
        target = (file or Path(settings.BASE_DIR) / CHECKPOINT_FILE).expanduser()
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(point.line() + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise InvalidInput(f"--file: cannot write {target}: {exc.strerror}", field="file") from None
    typer.echo(point.line())
