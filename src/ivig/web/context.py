"""What every page knows: the user's roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ivig.records.services.access import roles_of


def roles(request: HttpRequest) -> dict[str, Any]:
    return {"roles": roles_of(getattr(request, "user", None))}
