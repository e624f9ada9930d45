"""``IVIG_HTTPS`` (issue 17 item 9): served over TLS, the cookies are ``Secure`` with the
``__Host-`` prefix and the answers carry HSTS (requirement 23; ASVS v4.0.3-3.4.1, 3.4.4 and
9.1.1); ``IVIG_TRUST_PROXY`` trusts a TLS reverse proxy's ``X-Forwarded-Proto``. Off by default:
``scripts/run`` serves plain http on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from ivig.errors import ConfigError
from ivig.server.config import load_config
from ivig.server.settings import https_settings

KEY = "k" * 40
PASSWORD = "infusion-chair-42-Xq"  # tests/conftest.py


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"IVIG_DATA_DIR": str(tmp_path), "IVIG_SECRET_KEY": KEY, **more}


def test_off_by_default(tmp_path: Path) -> None:
    config = load_config(_env(tmp_path))
    assert (config.https, config.trust_proxy, config.https_redirect) == (False, False, False)
    assert https_settings(config) == {}
    assert settings.SESSION_COOKIE_NAME == "sessionid"
    assert not settings.SESSION_COOKIE_SECURE


def test_the_settings_it_turns_on(tmp_path: Path) -> None:
    on = https_settings(load_config(_env(tmp_path, IVIG_HTTPS="1")))
    assert on["SESSION_COOKIE_SECURE"]
    assert on["CSRF_COOKIE_SECURE"]
    assert on["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert on["CSRF_COOKIE_NAME"].startswith("__Host-")
    assert on["SECURE_HSTS_SECONDS"] == 31536000
    assert not on["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert on["SECURE_PROXY_SSL_HEADER"] is None  # not behind a proxy: its header is not trusted
    assert not on["SECURE_SSL_REDIRECT"]
    proxied = load_config(_env(tmp_path, IVIG_HTTPS="1", IVIG_TRUST_PROXY="1",
                               IVIG_HTTPS_REDIRECT="1"))  # fmt: skip
    behind = https_settings(proxied)
    assert behind["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert behind["SECURE_SSL_REDIRECT"]
    assert behind["SECURE_REDIRECT_EXEMPT"] == [r"^health/$"]  # a load balancer's plain check


@pytest.mark.parametrize("name", ["IVIG_HTTPS", "IVIG_TRUST_PROXY", "IVIG_HTTPS_REDIRECT"])
def test_a_bad_value_names_the_variable(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config(_env(tmp_path, **{name: "yes"}))


def test_a_proxy_or_a_redirect_needs_https(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IVIG_TRUST_PROXY"):
        load_config(_env(tmp_path, IVIG_TRUST_PROXY="1"))
    with pytest.raises(ConfigError, match="IVIG_HTTPS_REDIRECT"):
        load_config(_env(tmp_path, IVIG_HTTPS_REDIRECT="1"))


def test_behind_a_tls_proxy_the_answers_carry_the_flags_and_headers(
    tmp_path: Path, users: dict[str, Any]
) -> None:
    config = load_config(_env(tmp_path, IVIG_HTTPS="1", IVIG_TRUST_PROXY="1"))
    tls = {"HTTP_X_FORWARDED_PROTO": "https"}
    with override_settings(**https_settings(config)):
        client = Client()
        page = client.get("/signin/", **tls)  # type: ignore[arg-type]
        assert page["Strict-Transport-Security"] == "max-age=31536000"
        csrf = page.cookies["__Host-csrftoken"]
        assert csrf["secure"]
        assert csrf["path"] == "/"
        assert not csrf["domain"]
        response = client.post("/signin/", {"username": "nurse", "password": PASSWORD}, **tls)  # type: ignore[arg-type]
        assert response.status_code == 302
        session = response.cookies["__Host-sessionid"]
        assert (session["secure"], session["httponly"], session["samesite"]) == (True, True, "Lax")
        assert (session["path"], session["domain"]) == ("/", "")
        assert "sessionid" not in response.cookies
        assert client.get("/patients/", **tls).status_code == 200  # type: ignore[arg-type]
        plain = Client().get("/signin/")  # the proxy's header missing: no HSTS over plain http
        assert "Strict-Transport-Security" not in plain
