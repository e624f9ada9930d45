"""The drug library in service, read-only: products, indications, risk codes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from ivig.api.auth import EVERYONE, rule
from ivig.records.library import current_catalogue

router = Router(tags=["catalogue"])


@router.get("/products", **rule(*EVERYONE))
def products(request: HttpRequest) -> list[dict[str, Any]]:
    catalogue = current_catalogue()
    return [
        {
            "id": p.id,
            "name": p.display_name,
            "region": p.region,
            "concentration_mg_per_ml": p.concentration,
            "vial_sizes_g": list(p.vial_sizes_g.value),
            "verified": p.verified,
            "schedules": [s.group for s in p.schedules],
            "catalogue_version": catalogue.version,
        }
        for p in catalogue.products.values()
    ]


@router.get("/risks", **rule(*EVERYONE))
def risks(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {"code": r.code, "meaning": r.meaning, "groups": list(r.groups)}
        for r in current_catalogue().risks.values()
    ]
