"""The coded reasons for deferring or cancelling a dose, cancelling a course or re-planning it
(issue 16 item 1): a short list a ward uses every day, each with the prescriber's or nurse's own
words. Stored as text ("Infection or fever: 38.4 °C this morning") with the order's or course's
status, shown in the course's history and kept in the audit event."""

from __future__ import annotations

from ivig.errors import InvalidInput

__all__ = ["REASONS", "reason_text"]

# code -> words; "other" needs the note.
REASONS: dict[str, str] = {
    "fever": "Infection or fever",
    "unwell": "Patient unwell",
    "patient-request": "Patient request",
    "no-response": "No response",
    "adverse-reaction": "Adverse reaction",
    "supply": "Supply",
    "prescriber": "Prescriber decision",
    "record-changed": "Weight, height, risks or renal function changed",
    "other": "Other",
}


def reason_text(code: str, note: str) -> str:
    """The reason as stored: the coded reason's words and the note; refused when the code is
    unknown, or when it is "other" without a note."""
    if code not in REASONS:
        raise InvalidInput("choose a reason from the list", field="reason_code")
    words, text = REASONS[code], " ".join(note.split())
    if code == "other" and not text:
        raise InvalidInput("say what the reason is", field="note")
    return f"{words}: {text}" if text else words
