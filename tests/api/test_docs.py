"""The API documents itself, with scripts served by the app (a closed hospital network)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client


@pytest.mark.django_db
def test_docs_and_openapi_are_served_without_a_cdn(
    client_for: Callable[[str | None], Client],
) -> None:
    client = client_for(None)
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "ivig API"
