"""The access log keeps no link token (issue 17 item 17; requirement 10, ASVS 4.0.3 V7.1.1):
a patient's invitation (``/invite/<token>/``) and a member of staff's set-password link
(``/welcome/<id>/<token>/``) are written without their token, in the request line, the path
and the referring page alike; ``ivig serve`` runs gunicorn with this logger."""

from __future__ import annotations

import datetime as dt
import io
import logging
from typing import Any

import pytest
from gunicorn.config import Config

from ivig.server.accesslog import AccessLogger, redact

TOKEN = "cq3x7e-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"


class _Response:
    status = "200 OK"
    sent = 512
    headers: list[tuple[str, str]] = [("Content-Type", "text/html")]  # noqa: RUF012


class _Request:
    headers: list[tuple[str, str]] = []  # noqa: RUF012


def _line(path: str, referer: str = "-") -> str:
    config = Config()
    config.set("accesslog", "-")
    logger = AccessLogger(config)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger.access_log.handlers = [handler]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path.split("?")[0],
        "QUERY_STRING": path.partition("?")[2],
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_REFERER": referer,
    }
    logger.access(_Response(), _Request(), environ, dt.timedelta(milliseconds=12))
    return out.getvalue()


@pytest.mark.parametrize(
    "path", [f"/invite/{TOKEN}/", f"/invite/{TOKEN}/?next=/me/", f"/welcome/12/{TOKEN}/"]
)
def test_a_link_token_never_reaches_the_access_log(path: str) -> None:
    line = _line(path, referer=f"https://ivig.example{path}")
    assert TOKEN not in line
    assert "GET /invite/" in line or "GET /welcome/12/" in line
    assert "10.0.0.7" in line  # the rest of the line as before
    assert " 200 " in line


def test_other_paths_are_logged_whole() -> None:
    assert "GET /patients/7/?q=lam HTTP/1.1" in _line("/patients/7/?q=lam")
    assert redact("/api/patients/7") == "/api/patients/7"
    assert redact(f"/invite/{TOKEN}/") == "/invite/[token]/"


def test_serve_runs_gunicorn_with_the_logger() -> None:
    import importlib

    serve = importlib.import_module("ivig.commands.serve")
    assert "--logger-class" in serve.GUNICORN_LOG
    assert "ivig.server.accesslog.AccessLogger" in serve.GUNICORN_LOG


@pytest.mark.django_db
def test_the_apps_own_log_keeps_no_link_token(client: Any) -> None:
    """An expired or unknown link is a 404 that Django logs with its path ("Not Found:
    /invite/<token>/"): the app's console handler (settings.LOGGING) writes ``[token]``."""
    console = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert console, "settings.LOGGING's console handler"
    written = io.StringIO()
    streams = [h.setStream(written) for h in console]
    try:
        secret = "zq8Y-secret-link-token"
        assert client.get(f"/invite/{secret}/").status_code == 404
        assert client.get(f"/welcome/7/{secret}/").status_code == 404
    finally:
        for handler, stream in zip(console, streams, strict=True):
            handler.setStream(stream)  # type: ignore[arg-type]
    logged = written.getvalue()
    assert "Not Found: /invite/[token]/" in logged
    assert "Not Found: /welcome/7/[token]/" in logged
    assert secret not in logged
