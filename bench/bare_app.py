"""The ceiling of ivig's own stack: a bare django-ninja app (its settings and one endpoint, no
database, no middleware), served by the same gunicorn with the same workers as ``ivig serve``
(bench/_server.py ``BareApp``). bench/api.py compares each ivig endpoint with it.

``POST /bare`` with ``{"name": "...", "value": 1.5}`` answers the same JSON (200), validated by
a schema as the real API's bodies are.

Run by hand: ``PYTHONPATH=bench .venv/bin/gunicorn bare_app:application --workers 2``; then
``curl -d '{"name": "a", "value": 1}' -H 'Content-Type: application/json' localhost:8000/bare``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import path

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-bare-app-not-a-secret-0123456789abcdef",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        USE_TZ=True,
    )

from ninja import NinjaAPI, Schema  # after configure(): django-ninja reads the settings


class Echo(Schema):
    name: str
    value: float


api = NinjaAPI(title="bare", docs_url=None, openapi_url=None)


@api.post("/bare", response=Echo)
def bare(request: object, data: Echo) -> Echo:
    return data


urlpatterns = [path("", api.urls)]
application = get_wsgi_application()
