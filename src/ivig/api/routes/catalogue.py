"""The drug library in service, read-only: products, indications, risk codes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import IndicationOut
from ivig.records.library import current_catalogue, current_library

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


@router.get("/indications", response=list[IndicationOut], **rule(*EVERYONE))
def indications(request: HttpRequest) -> list[dict[str, Any]]:
    """The indications of the drug library in service: what a course and an eligibility are
    for (there is no default), each with its outcome measures and its eligibility criteria."""
    catalogue = current_library().catalogue
    return [
        {
            "id": i.id,
            "name": i.name,
            "short_name": i.short_name,
            "outcome_measures": list(i.outcome_measures),
            "criteria": [
                {
                    "key": c.key,
                    "question": c.question,
                    "kind": c.kind.value,
                    "options": [{"value": o.value, "label": o.label} for o in c.options],
                    "required": c.required,
                    "source": c.source.title,
                    "verified": c.verified,
                }
                for c in i.criteria
            ],
            "catalogue_version": catalogue.version,
        }
        for i in catalogue.indications.values()
    ]
