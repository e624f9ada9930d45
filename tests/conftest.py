"""Shared test set-up: Hypothesis profiles and the shipped catalogue."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from ivig.core.catalogue import Catalogue, load_catalogue

# CI runs on a 2-core machine: no per-example deadline, a fixed number of examples.
settings.register_profile(
    "ci", deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()
