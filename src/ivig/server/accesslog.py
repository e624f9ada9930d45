"""gunicorn's access log without link tokens (issue 17 item 17; requirement 10, OWASP ASVS
4.0.3 V7.1.1: no secret in a log).

A patient's invitation link (``/invite/<token>/``) and a member of staff's set-password link
(``/welcome/<user id>/<token>/``) let whoever holds them set a password: the log keeps the
path with ``[token]`` in place of the token, in every field that can carry it (the request
line, the path, the referring page, the raw environment). ``ivig serve`` runs gunicorn with
``--logger-class ivig.server.accesslog.AccessLogger``; the app's own log (Django's "Not
Found: /invite/<token>/" for a link that has expired) goes through :class:`RedactLinks`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from gunicorn.glogging import Logger

__all__ = ["AccessLogger", "RedactLinks", "redact"]

_LINK_TOKEN = re.compile(r"(/(?:invite|welcome/\d+)/)[^/?#\s\"]+")


def redact(text: str) -> str:
    """``text`` with the token of every link path replaced by ``[token]``."""
    return _LINK_TOKEN.sub(r"\1[token]", text)


class AccessLogger(Logger):
    """gunicorn's logger, its access-log fields redacted (:func:`redact`)."""

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: dt.timedelta
    ) -> dict[str, Any]:
        found = super().atoms(resp, req, environ, request_time)  # type: ignore[no-untyped-call]
        atoms: dict[str, Any] = found
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}


class RedactLinks(logging.Filter):
    """A logging filter that takes link tokens out of a record's message (settings.LOGGING puts
    it on the app's console handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
