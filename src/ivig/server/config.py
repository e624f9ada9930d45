"""Settings from the environment, read and checked in one place.

| variable | meaning | default |
|---|---|---|
| ``IVIG_DATA_DIR`` | folder for the SQLite database, the secret key and backups | ``$XDG_DATA_HOME/ivig`` or ``~/.local/share/ivig`` |
| ``IVIG_DATABASE_URL`` | ``postgres://user:password@host:port/name`` selects PostgreSQL | SQLite in the data folder |
| ``IVIG_SECRET_KEY`` | Django's secret key | generated into the data folder on first run |
| ``IVIG_DEBUG`` | ``1`` for development error pages (never in service) | ``0`` |
| ``IVIG_ALLOWED_HOSTS`` | comma-separated host names the server answers to | ``127.0.0.1,localhost`` |
| ``IVIG_TIME_ZONE`` | the service's local time zone (times are stored in UTC) | ``UTC`` |
| ``IVIG_IDLE_MINUTES`` | sign a user out after this many minutes without a request | ``20`` |
| ``IVIG_CATALOGUE_DIR`` | the site's drug library: a folder of the catalogue TOML files (a copy of ``src/ivig/data`` edited by pharmacy, its ``catalogue_version`` bumped) | the library shipped in the package |
| ``IVIG_DOUBLE_CHECK`` | ``1``: the nurse who starts an infusion must not be its verifying pharmacist (independent double check, requirement 16) | ``1`` |
| ``IVIG_CREATININE_MAX_AGE_DAYS`` | a plan warns when the latest serum creatinine is older than this many days at the first dose (1-3650) | ``90`` |
| ``IVIG_SERVICE_PHONE`` | the infusion service's telephone number, on every patient page as a tap-to-call link ("call the infusion service today") | none: the patient pages say "number not set, ask your nurse" and the staff's patients page warns |
| ``IVIG_COUNTRY`` | the service's country (ISO 3166-1 alpha-2, e.g. ``AU``): its emergency number from ``src/ivig/data/emergency_numbers.toml`` (000 AU, 911 US/CA, 999 GB, 111 NZ, 112 EU) | none |
| ``IVIG_EMERGENCY_NUMBER`` | the emergency number the patient pages and the handout give, overriding the country's | the country's number (flagged UNVERIFIED where the table marks it so); with neither, the pages say "your local emergency number" and the staff are warned |
| ``IVIG_EMAIL_HOST`` | the SMTP server that sends invitation links by e-mail (with ``IVIG_EMAIL_PORT``, ``IVIG_EMAIL_USER``, ``IVIG_EMAIL_PASSWORD``, ``IVIG_EMAIL_TLS``) | none: e-mails are written to files (``IVIG_EMAIL_FILE_DIR``) |
| ``IVIG_EMAIL_PORT`` / ``IVIG_EMAIL_TLS`` | the SMTP port (1-65535); ``1``: STARTTLS, ``0``: none | ``587`` / ``1`` |
| ``IVIG_EMAIL_FROM`` | the sender address of the service's e-mails | ``ivig@localhost`` |
| ``IVIG_EMAIL_FILE_DIR`` | without ``IVIG_EMAIL_HOST``: the folder the e-mails are written to, one file each, instead of being sent (issue 18: nothing leaves a test machine) | ``$IVIG_DATA_DIR/outbox`` |
| ``IVIG_BASE_URL`` | the site's address as patients reach it (``https://ivig.example.org``): the links in e-mails sent without a request, the reminders' (``ivig remind``) | ``http://127.0.0.1:8000`` |
| ``IVIG_HTTPS`` | ``1``: the site is reached over HTTPS only: ``Secure`` cookies named ``__Host-sessionid`` and ``__Host-csrftoken``, HSTS for a year (subdomains not included) | ``0`` (plain http on 127.0.0.1) |
| ``IVIG_TRUST_PROXY`` | ``1`` (with ``IVIG_HTTPS=1``): the app sits behind a TLS reverse proxy (nginx, Caddy) that sets ``X-Forwarded-Proto: https`` and strips that header from clients; never set it when clients reach the app directly | ``0`` |
| ``IVIG_HTTPS_REDIRECT`` | ``1`` (with ``IVIG_HTTPS=1``): the app itself redirects plain http to https (``/health/`` excepted); usually the proxy does | ``0`` |
| ``IVIG_AUDIT_KEY`` | the audit trail's key (issue 17 item 1): at least 32 bytes, as hex or base64; never in the database or a backup | read from ``IVIG_AUDIT_KEY_FILE`` |
| ``IVIG_AUDIT_KEY_FILE`` | the file holding the audit key (owner-only permissions; created on first start when missing); put it outside the data folder and back it up apart from the database | ``$IVIG_DATA_DIR/audit.key`` |

``IVIG_CREATININE_MAX_AGE_DAYS``: the SmPC asks to "assess renal parameters prior to infusion &
at appropriate intervals" without a number (clinical-rules.md section 7a). The default of 90
days is a service choice, UNVERIFIED as a guideline value: a US infusion order set (Group
Health, Gammagard Liquid therapy plan orders) asks for a baseline serum creatinine "drawn within
3 months of initial treatment". A service that checks renal function before every infusion
sets a shorter limit (e.g. 30 for a monthly course).

A bad value stops the start with a message naming the variable.

Database connections are kept, on both engines (``server/settings.py``, not a variable): each
gunicorn worker keeps its connection for up to 10 minutes (``CONN_MAX_AGE`` 600) instead of
opening one per request, and checks it before its first use in a request
(``CONN_HEALTH_CHECKS``: one that died with a PostgreSQL restart is replaced). PostgreSQL
therefore holds one connection per worker (``ivig serve --workers``, 2 by default).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ivig.core.emergency import emergency_number, is_phone
from ivig.errors import ConfigError

__all__ = ["AuditKey", "Config", "Email", "load_config"]


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path
    database_url: str | None
    secret_key: str
    debug: bool
    allowed_hosts: tuple[str, ...]
    time_zone: str
    idle_minutes: int
    catalogue_dir: Path | None = None
    double_check: bool = True
    creatinine_max_age_days: int = 90
    service_phone: str | None = None  # issue 16 item 8
    country: str | None = None
    emergency_number: str | None = None  # IVIG_EMERGENCY_NUMBER, else the country's
    email: Email | None = None  # issue 16 item 17: None: the file backend
    https: bool = False  # issue 17 item 9: IVIG_HTTPS, IVIG_TRUST_PROXY, IVIG_HTTPS_REDIRECT
    trust_proxy: bool = False
    https_redirect: bool = False
    audit_key: AuditKey | None = None  # issue 17 item 1: the audit trail's HMAC key
    email_file_dir: Path | None = None  # issue 18: without SMTP, e-mails are written here
    base_url: str = "http://127.0.0.1:8000"  # issue 18: links in e-mails sent by a command
    # False when the emergency number is the country's and the table marks it unverified
    emergency_verified: bool = True


@dataclass(frozen=True, slots=True)
class Email:
    """The SMTP server that sends the service's e-mails (invitation links)."""

    host: str
    port: int
    user: str
    password: str
    tls: bool
    sender: str


def _default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ivig"


def _secret_key(data_dir: Path) -> str:
    """The key in ``data_dir/secret_key``, created (readable by the owner only) if missing."""
    path = data_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError("IVIG_SECRET_KEY", f"the key in {path} is too short; delete the file")
    return key


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Read and check every setting; raise :class:`ivig.errors.ConfigError` naming the first
    bad one."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("IVIG_DATA_DIR") or _default_data_dir(env)).expanduser()
    try:
        # Owner only: the database, its backups and the secret key live here.
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("IVIG_DATA_DIR", f"cannot create {data_dir}: {exc.strerror}") from None
    url = env.get("IVIG_DATABASE_URL") or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql") or not parts.path.strip("/"):
            raise ConfigError(
                "IVIG_DATABASE_URL", "must look like postgres://user:password@host:5432/name"
            )
    secret = env.get("IVIG_SECRET_KEY") or _secret_key(data_dir)
    if len(secret) < 32:
        raise ConfigError("IVIG_SECRET_KEY", "must be at least 32 characters")
    debug = env.get("IVIG_DEBUG", "0")
    if debug not in ("0", "1"):
        raise ConfigError("IVIG_DEBUG", "must be 0 or 1")
    hosts = tuple(
        h.strip() for h in env.get("IVIG_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    )
    if not all(hosts):
        raise ConfigError("IVIG_ALLOWED_HOSTS", "has an empty host name")
    time_zone = env.get("IVIG_TIME_ZONE", "UTC")
    if time_zone not in zoneinfo.available_timezones():
        raise ConfigError("IVIG_TIME_ZONE", f"unknown time zone '{time_zone}'")
    idle = env.get("IVIG_IDLE_MINUTES", "20")
    if not idle.isdigit() or not 1 <= int(idle) <= 720:
        raise ConfigError("IVIG_IDLE_MINUTES", "must be a whole number of minutes from 1 to 720")
    catalogue = env.get("IVIG_CATALOGUE_DIR") or None
    catalogue_dir = Path(catalogue).expanduser() if catalogue else None
    if catalogue_dir is not None and not (catalogue_dir / "products.toml").is_file():
        raise ConfigError("IVIG_CATALOGUE_DIR", f"{catalogue_dir} has no products.toml")
    double = env.get("IVIG_DOUBLE_CHECK", "1")
    if double not in ("0", "1"):
        raise ConfigError("IVIG_DOUBLE_CHECK", "must be 0 or 1")
    creatinine_days = env.get("IVIG_CREATININE_MAX_AGE_DAYS", "90")
    if not creatinine_days.isdigit() or not 1 <= int(creatinine_days) <= 3650:
        raise ConfigError(
            "IVIG_CREATININE_MAX_AGE_DAYS", "must be a whole number of days from 1 to 3650"
        )
    phone, country, emergency = _phones(env)
    https, trust_proxy, redirect = _https(env)
    return Config(
        data_dir,
        url,
        secret,
        debug == "1",
        hosts,
        time_zone,
        int(idle),
        catalogue_dir,
        double == "1",
        int(creatinine_days),
        phone,
        country,
        emergency,
        _email(env),
        https,
        trust_proxy,
        redirect,
        _audit_key(env, data_dir),
        Path(env.get("IVIG_EMAIL_FILE_DIR") or data_dir / "outbox").expanduser(),
        _base_url(env),
        emergency_verified=_emergency_verified(env, emergency),
    )


def _base_url(env: Mapping[str, str]) -> str:
    """``IVIG_BASE_URL``: an http(s) address without a path, query or fragment (issue 18)."""
    url = env.get("IVIG_BASE_URL", "").strip().rstrip("/") or "http://127.0.0.1:8000"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError("IVIG_BASE_URL", "must look like https://ivig.example.org")
    return url


def _https(env: Mapping[str, str]) -> tuple[bool, bool, bool]:
    """``IVIG_HTTPS``, ``IVIG_TRUST_PROXY`` and ``IVIG_HTTPS_REDIRECT`` (issue 17 item 9); the
    last two only with the first (a proxy's header or a redirect to https on a plain-http site
    would lock everyone out)."""
    values = []
    for name in ("IVIG_HTTPS", "IVIG_TRUST_PROXY", "IVIG_HTTPS_REDIRECT"):
        value = env.get(name, "0").strip() or "0"
        if value not in ("0", "1"):
            raise ConfigError(name, "must be 0 or 1")
        values.append(value == "1")
    https, proxy, redirect = values
    for name, on in (("IVIG_TRUST_PROXY", proxy), ("IVIG_HTTPS_REDIRECT", redirect)):
        if on and not https:
            raise ConfigError(name, "needs IVIG_HTTPS=1 (the site reached over HTTPS)")
    return https, proxy, redirect


def _phones(env: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """The service's phone number, its country, and the emergency number (issue 16 item 8)."""
    phone = env.get("IVIG_SERVICE_PHONE", "").strip() or None
    if phone is not None and not is_phone(phone):
        raise ConfigError("IVIG_SERVICE_PHONE", "must be a telephone number, e.g. +61 2 9999 0000")
    country = env.get("IVIG_COUNTRY", "").strip().upper() or None
    found = emergency_number(country) if country else None
    override = env.get("IVIG_EMERGENCY_NUMBER", "").strip() or None
    if override is not None and not is_phone(override):
        raise ConfigError("IVIG_EMERGENCY_NUMBER", "must be a telephone number, e.g. 000")
    if country is not None and found is None and override is None:
        raise ConfigError(
            "IVIG_COUNTRY",
            f"no emergency number is known for '{country}' (src/ivig/data/"
            "emergency_numbers.toml); set IVIG_EMERGENCY_NUMBER",
        )
    return phone, country, override or (found.value if found else None)


def _emergency_verified(env: Mapping[str, str], emergency: str | None) -> bool:
    """Whether the emergency number is verified: the country's number as the table marks it
    (an unverified one stays flagged in every output); a site's own IVIG_EMERGENCY_NUMBER, or
    none, is not flagged."""
    if emergency is None or env.get("IVIG_EMERGENCY_NUMBER", "").strip():
        return True
    found = emergency_number(env.get("IVIG_COUNTRY", "").strip())
    return found is None or found.verified


def _email(env: Mapping[str, str]) -> Email | None:
    """The SMTP server of ``IVIG_EMAIL_*``, or ``None`` (e-mails are written to files)."""
    host = env.get("IVIG_EMAIL_HOST", "").strip()
    if not host:
        return None
    port = env.get("IVIG_EMAIL_PORT", "587")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError("IVIG_EMAIL_PORT", "must be a port number from 1 to 65535")
    tls = env.get("IVIG_EMAIL_TLS", "1")
    if tls not in ("0", "1"):
        raise ConfigError("IVIG_EMAIL_TLS", "must be 0 or 1")
    sender = env.get("IVIG_EMAIL_FROM", "ivig@localhost").strip()
    if "@" not in sender:
        raise ConfigError("IVIG_EMAIL_FROM", "must be an e-mail address")
    return Email(
        host,
        int(port),
        env.get("IVIG_EMAIL_USER", ""),
        env.get("IVIG_EMAIL_PASSWORD", ""),
        tls == "1",
        sender,
    )


# --- the audit key (issue 17 item 1) -------------------------------------------------------------

AUDIT_KEY_BYTES = 32  # HMAC-SHA256: a key of the hash's size (RFC 2104 section 3)


@dataclass(frozen=True, slots=True)
class AuditKey:
    """The secret that keys the audit trail (HMAC-SHA256), and where it came from (``source``:
    ``IVIG_AUDIT_KEY`` or the key file's path, for messages; never the key itself)."""

    secret: bytes
    source: str

    def __repr__(self) -> str:  # never print the secret
        return f"AuditKey(source={self.source!r})"


def _decode_key(text: str) -> bytes | None:
    """Hex or base64 (standard or URL-safe) text as bytes; ``None`` if it is neither."""
    text = text.strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None


def _audit_key(env: Mapping[str, str], data_dir: Path) -> AuditKey:
    """``IVIG_AUDIT_KEY``, else the key file (``IVIG_AUDIT_KEY_FILE``, by default
    ``data_dir/audit.key``), created with owner-only permissions when missing. A key file that
    its group or others may read or write is refused: anyone who reads the key can rewrite
    the audit trail undetected."""
    given = env.get("IVIG_AUDIT_KEY", "").strip()
    if given:
        key = _decode_key(given)
        if key is None or len(key) < AUDIT_KEY_BYTES:
            raise ConfigError(
                "IVIG_AUDIT_KEY",
                f"must be at least {AUDIT_KEY_BYTES} bytes as hex or base64 "
                "(e.g. the output of: openssl rand -hex 32)",
            )
        return AuditKey(key, "IVIG_AUDIT_KEY")
    named = env.get("IVIG_AUDIT_KEY_FILE", "").strip()
    path = Path(named).expanduser() if named else data_dir / "audit.key"
    variable = "IVIG_AUDIT_KEY_FILE"
    try:
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(AUDIT_KEY_BYTES) + "\n")
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                variable,
                f"the audit key file {path} may be read or written by others than its owner "
                f"(mode {stat.filemode(mode)}): chmod 600 {path}",
            )
        key = _decode_key(path.read_text())
    except OSError as exc:
        raise ConfigError(
            variable, f"cannot use the audit key file {path}: {exc.strerror}"
        ) from None
    if key is None or len(key) < AUDIT_KEY_BYTES:
        raise ConfigError(
            variable,
            f"the audit key file {path} does not hold a key of at least {AUDIT_KEY_BYTES} bytes "
            "(hex or base64)",
        )
    return AuditKey(key, str(path))
