"""The OpenAPI document names each request and response schema by its class name: two
``Schema`` classes with one name make django-ninja keep one silently, and the document then
describes a route's body wrong (found in session 16: ``POST /api/orders/{id}/override`` was
documented with the soft-limit override's fields, not its ``reason``)."""

from __future__ import annotations

import collections
import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import ninja

import ivig.api.routes
from ivig.api.api import api


def _schemas(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _schemas(sub)


def test_no_two_api_schemas_share_a_name() -> None:
    for module in pkgutil.iter_modules(ivig.api.routes.__path__):
        importlib.import_module(f"ivig.api.routes.{module.name}")
    named: dict[str, set[str]] = collections.defaultdict(set)
    for cls in set(_schemas(ninja.Schema)):
        if cls.__module__.startswith("ivig."):
            named[cls.__name__].add(f"{cls.__module__}.{cls.__qualname__}")
    assert {name: where for name, where in named.items() if len(where) > 1} == {}


def test_the_check_override_is_documented_with_its_own_body() -> None:
    document = api.get_openapi_schema()
    body = document["paths"]["/api/orders/{order_id}/override"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(document["components"]["schemas"][ref]["properties"]) == {"reason"}
