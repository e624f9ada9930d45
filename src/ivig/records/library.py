"""The drug library in service: the site's own copy (``IVIG_CATALOGUE_DIR``) or the one
shipped in the package (requirement 46).

Every plan and order stores the ``catalogue_version`` it was made with. When pharmacy changes
the library (and bumps the version), existing orders keep their numbers: verification refuses
an order made with another version until a prescriber re-plans it (an audited action), and the
pharmacist's verification recomputes the plan from the stored inputs (requirement 56).
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from ivig.core.catalogue import Catalogue, load_catalogue, read_catalogue

__all__ = ["current_catalogue"]


@functools.cache
def _read(folder: str, stamp: float) -> Catalogue:
    return read_catalogue(Path(folder))


def current_catalogue() -> Catalogue:
    """The library in service now (re-read when the site's products.toml changes)."""
    folder: Path | None = getattr(settings, "IVIG_CATALOGUE_DIR", None)
    if folder is None:
        return load_catalogue()
    return _read(str(folder), (Path(folder) / "products.toml").stat().st_mtime)
