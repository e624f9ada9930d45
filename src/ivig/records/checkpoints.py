"""Checkpoints of the audit trail (issue 17 item 1): the last sequence number and its MAC, at
a time, signed with the audit key, as one line of text meant to leave the machine (copied off it,
or sent to syslog), so that what the database alone cannot show is seen: a tail deleted with its
head moved back, a whole trail rewritten or replaced by an older copy, a database gone.

    ivig-audit-checkpoint v1 at=2026-12-07T13:00:00Z seq=931 mac=<64 hex> sig=<64 hex>

``sig`` = HMAC-SHA256(key, "ivig audit checkpoint" || LF || the line up to `` sig=``): a line
edited or forged without the key does not verify. A checkpoint is signed only for a trail that
verifies (requirement 4: the technology detects whether the audit log was altered).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass

from django.utils import timezone

from ivig.errors import Conflict
from ivig.records import audit
from ivig.records.models import AuditEvent, AuditHead

__all__ = ["Checkpoint", "check", "parse", "take"]

PREFIX = "ivig-audit-checkpoint"
_LINE = re.compile(
    rf"{PREFIX} v1 at=(?P<at>\S+) seq=(?P<seq>\d+) mac=(?P<mac>[0-9a-f]{{64}}) "
    r"sig=(?P<sig>[0-9a-f]{64})\s*$"
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint: when, the last event's sequence number and MAC, and the signature."""

    at: str
    seq: int
    mac: str
    sig: str

    @property
    def body(self) -> str:
        return f"{PREFIX} v1 at={self.at} seq={self.seq} mac={self.mac}"

    def line(self) -> str:
        return f"{self.body} sig={self.sig}"

    def signed(self) -> bool:
        return hmac.compare_digest(self.sig, _signature(self.body))


def _signature(body: str) -> str:
    return audit.keyed_mac(b"ivig audit checkpoint\n" + body.encode())


def take() -> Checkpoint:
    """A signed checkpoint of the trail as it is now; refused when the trail does not verify."""
    head = AuditHead.objects.filter(pk=1).first()
    report = audit.verify_chain()
    if head is None or not report.ok:
        raise Conflict(
            f"the audit chain is broken ({report.problem}): no checkpoint is signed for it"
        )
    # The head read before the walk: the event it names was verified (later ones may follow).
    at = timezone.now().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = f"{PREFIX} v1 at={at} seq={head.seq} mac={head.hash}"
    return Checkpoint(at, head.seq, head.hash, _signature(body))


def parse(text: str) -> list[tuple[int, Checkpoint]]:
    """The checkpoints in ``text`` with their line numbers (a syslog line's prefix and other
    lines are skipped); a line naming a checkpoint that does not parse is an error."""
    found: list[tuple[int, Checkpoint]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = line.find(PREFIX)
        if where < 0:
            continue
        match = _LINE.match(line[where:])
        if match is None:
            raise Conflict(f"line {number} is not a whole checkpoint (edited or cut short)")
        found.append(
            (number, Checkpoint(match["at"], int(match["seq"]), match["mac"], match["sig"]))
        )
    return found


def check(checkpoints: list[tuple[int, Checkpoint]]) -> None:
    """Each checkpoint against the trail (which must verify first): its signature, then the
    event it saw, still there with the same MAC. Raises :class:`Conflict` naming the first
    line that fails and why."""
    if not checkpoints:
        raise Conflict("no checkpoint found")
    for number, point in checkpoints:
        if not point.signed():
            raise Conflict(
                f"line {number}: the checkpoint's signature does not match the audit key in "
                f"{audit.key_source()}: the line was forged or edited (or signed with another key)"
            )
    report = audit.verify_chain()
    if not report.ok:
        raise Conflict(f"the audit chain is broken: {report.problem}")
    last = report.checked
    for number, point in checkpoints:
        if point.seq > last:
            raise Conflict(
                f"line {number}: the checkpoint of {point.at} saw event {point.seq}, but the "
                f"trail ends at event {last}: events were deleted (the tail cut off, or the "
                "database replaced by an older or an empty one)"
            )
        mac = (
            audit.genesis()
            if point.seq == 0
            else AuditEvent.objects.filter(seq=point.seq).values_list("hash", flat=True).first()
        )
        if mac != point.mac:
            raise Conflict(
                f"line {number}: event {point.seq} is not the one the checkpoint of {point.at} "
                "saw: the trail was rewritten"
            )
