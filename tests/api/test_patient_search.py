"""``GET /api/patients?q=``: the same search as the search box (issue 8: an index serves it at
100 thousand patients; ``ivig.records.services.patients.search_patients``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client


def test_the_api_searches_as_the_search_box(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    nurse = client_for("nurse")

    def found(q: str, **extra: Any) -> list[str]:
        response = nurse.get("/api/patients", {"q": q, **extra})
        assert response.status_code == 200, response.content
        return [p["mrn"] for p in response.json()]

    assert found("lamb") == ["MRN0001"]  # family name, its beginning, any case
    assert found("EDW") == ["MRN0001"]  # given name
    assert found("mrn0001") == ["MRN0001"]  # the MRN whole, any case
    assert found("Lambert, Ed") == ["MRN0001"]  # "family, given"
    assert found("ambert") == []  # not the middle of a name
    assert found("MRN000") == []  # nor part of an MRN
    assert found("Lambert, Zoe") == []
    assert found("", limit=1) == ["MRN0001"]
