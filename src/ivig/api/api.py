"""The API object: every router, the authentication, and the error handlers."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(
    title="ivig API",
    version="1",
    description="Records, orders and infusions for IVIG treatment. Every error is JSON with "
    "the field at fault.",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
