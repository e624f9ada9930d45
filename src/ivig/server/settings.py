"""Django settings for ivig, built from :func:`ivig.server.config.load_config`."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url

from ivig.server.config import Config, load_config

CONFIG = load_config()

BASE_DIR = CONFIG.data_dir
SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)
# The site's drug library (None: the one shipped in the package); see ivig.records.library.
IVIG_CATALOGUE_DIR = CONFIG.catalogue_dir
# The nurse who starts an infusion must not be its verifying pharmacist (requirement 16).
IVIG_DOUBLE_CHECK = CONFIG.double_check
IVIG_CREATININE_MAX_AGE_DAYS = CONFIG.creatinine_max_age_days  # server/config.py: why 90
# The patient pages' numbers (issue 16 item 8): the service's phone and the emergency number.
IVIG_SERVICE_PHONE = CONFIG.service_phone
IVIG_EMERGENCY_NUMBER = CONFIG.emergency_number
# E-mail (issue 16 item 17: invitation links): SMTP from IVIG_EMAIL_*, else the console.
if CONFIG.email is not None:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = CONFIG.email.host
    EMAIL_PORT = CONFIG.email.port
    EMAIL_HOST_USER = CONFIG.email.user
    EMAIL_HOST_PASSWORD = CONFIG.email.password
    EMAIL_USE_TLS = CONFIG.email.tls
    EMAIL_TIMEOUT = 20  # seconds: a page never hangs on a dead mail server
    DEFAULT_FROM_EMAIL = CONFIG.email.sender
else:  # issue 18: written to files (IVIG_EMAIL_FILE_DIR, else the data folder's outbox/)
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(CONFIG.email_file_dir)
    DEFAULT_FROM_EMAIL = "ivig@localhost"
# The site's address for links in e-mails sent without a request (issue 18: ivig remind).
IVIG_BASE_URL = CONFIG.base_url

INSTALLED_APPS = [
    "ivig.records",  # first: its templates override the admin's
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs' scripts itself, never from a CDN
    "django_htmx",  # serves htmx itself ({% htmx_script %}), never from a CDN
    "template_partials",
    "axes",
    "csp",
    "ivig.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "ivig.server.middleware_db.DatabaseDown",  # database unreachable: 503, not 500 (issue 8)
    "ivig.server.middleware.NoHardDelete",  # HTTP DELETE: 405 everywhere (requirement 13)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ivig.server.middleware.NoStore",  # Cache-Control: no-store but static files (issue 17)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "ivig.server.middleware.IdleSignOut",
    "ivig.server.middleware.ActionPages",  # GET of a POST-only action: its page (issue 16)
    "ivig.server.middleware.PatientPortal",
    "ivig.server.middleware.BodyLimits",  # too big: 413; JSON too deep: 400 (issue 17)
    "ivig.server.middleware.NoNulCharacters",  # U+0000 in any input: 400 (issue 8)
    "ivig.server.middleware.Idempotent",  # after CSRF and sign-in (requirement 29)
    "ivig.server.middleware.ErrorPages",
    "ivig.server.middleware_audit.ReadAudit",  # reads of a patient's record (requirement 2)
    "ivig.server.middleware_audit.Refusals",  # 401 and 403 audited (issue 17 item 13)
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out sign-in before the password
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/signin/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/signin/"
IDLE_MINUTES = CONFIG.idle_minutes  # sign out after this long without a request

# Lockout after repeated failures (django-axes): 5 failures for one user name, 15 minutes.
# One computer (address) is slowed down beyond 25 failures, never locked (several nurses share
# a ward computer; issue 17 item 5): ivig.web.views.signin, from axes' records.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"

# Content-Security-Policy without inline script (django-csp).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

ROOT_URLCONF = "ivig.server.urls"
WSGI_APPLICATION = "ivig.server.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ivig.web.context.roles",
            ]
        },
    }
]

# Persistent connections (issue 15): a worker keeps its connection for CONN_MAX_AGE seconds
# instead of opening one per request (SQLite: the file, the PRAGMAs below and Django's own,
# and a WAL checkpoint at every close; PostgreSQL: a new backend). Django closes it at the end
# of a request once older than this, or when the request left it unusable; CONN_HEALTH_CHECKS
# tests a kept connection before its first use in a request and replaces one that died (a
# PostgreSQL restart: issue 8). Connections are per thread: gunicorn's sync workers (`ivig
# serve`) answer one request at a time on one thread; Django's threaded test and development
# servers close each request thread's connections when it ends.
_CONN_MAX_AGE = 600  # seconds
DATABASES: dict[str, dict[str, Any]]
if CONFIG.database_url:
    DATABASES = {
        "default": dict(
            dj_database_url.parse(
                CONFIG.database_url, conn_max_age=_CONN_MAX_AGE, conn_health_checks=True
            )
        )
    }
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}
else:
    # SQLite: WAL, a busy timeout, IMMEDIATE transactions (a writer takes the write lock at
    # BEGIN, so read-then-write cannot lose an update); Django turns foreign keys on. The
    # PRAGMAs run once per new connection (init_command), so once per worker, not per request.
    # synchronous=FULL: a commit is on disk before the nurse sees "saved", so a power cut cannot
    # take back an acknowledged entry (NORMAL survives a crash of the app, not of the machine).
    # It costs about 0.14 ms a commit here (7,182 against 62,328 commits/s, bench/RESULTS.md)
    # against some 3-7 ms of server CPU per request (bench/RESULTS.md, issue 15).
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "ivig.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=20000;"
                ),
            },
            "CONN_MAX_AGE": _CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": True,
            # Tests use a file (threads need one) in the temporary folder, never the data folder.
            "TEST": {"NAME": str(Path(tempfile.gettempdir()) / f"ivig-test-{os.getpid()}.sqlite3")},
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = CONFIG.time_zone
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "static"  # filled by collectstatic at `ivig serve`
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "ivig.server.storage.StaticStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 60 * 60  # absolute limit: 12 hours after signing in (issue 17 item 4)
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No link token in the app's log either (issue 17 item 17): Django logs a 404's path.
    "filters": {"redact_links": {"()": "ivig.server.accesslog.RedactLinks"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_links"]}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# The pages' forms say what is missing in the app's words (issue 16 item 21).
FORM_RENDERER = "ivig.web.renderer.PlainWordsRenderer"


# HTTPS (issue 17 item 9; requirement 23, ASVS v4.0.3-3.4.1 and 3.4.4): IVIG_HTTPS=1 makes the
# cookies Secure with the __Host- prefix (which also needs Path=/ and no Domain: Django's
# defaults) and sends HSTS; IVIG_TRUST_PROXY=1 trusts a TLS reverse proxy's X-Forwarded-Proto
# (README: "Serving over HTTPS"). Off: plain http on 127.0.0.1, as scripts/run serves.


def https_settings(config: Config) -> dict[str, Any]:
    """The settings that ``config``'s HTTPS choices turn on (none when ``IVIG_HTTPS`` is off)."""
    if not config.https:
        return {}
    return {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_NAME": "__Host-sessionid",
        "CSRF_COOKIE_NAME": "__Host-csrftoken",
        "SECURE_HSTS_SECONDS": 365 * 24 * 60 * 60,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,  # other hosts of the domain are not ours
        "SECURE_PROXY_SSL_HEADER": (
            ("HTTP_X_FORWARDED_PROTO", "https") if config.trust_proxy else None
        ),
        "SECURE_SSL_REDIRECT": config.https_redirect,
        "SECURE_REDIRECT_EXEMPT": [r"^health/$"],  # a load balancer's check over plain http
    }


globals().update(https_settings(CONFIG))

# The audit trail's HMAC key (issue 17 item 1): from IVIG_AUDIT_KEY or its own file, never the
# database; ivig.records.audit reads it.
IVIG_AUDIT_KEY = CONFIG.audit_key

# The emergency number's flag (brief smallfix item 1): False when it is the country's number
# and emergency_numbers.toml marks it unverified; the patient pages and the handout say so.
IVIG_EMERGENCY_VERIFIED = CONFIG.emergency_verified
