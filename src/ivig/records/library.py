"""The drug library in service: the site's own copy (``IVIG_CATALOGUE_DIR``) or the one
shipped in the package (requirement 46).

Every edge (the prescribe form, the API, the run sheet, the pharmacy pages, the services) reads
the library through :func:`current_library`, so a product or a limit a site adds is offered,
planned, checked and shown alike. Every plan and order stores the ``catalogue_version`` it was
made with. When pharmacy changes the library (and bumps the version), existing orders keep their
numbers: verification refuses an order made with another version until a prescriber re-plans it
(an audited action), and the pharmacist's verification recomputes the plan from the stored
inputs (requirement 56).
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from ivig.core.catalogue import Catalogue
from ivig.core.library import Library, packaged_library, read_library

__all__ = ["current_catalogue", "current_library"]

_FILES = (
    "products.toml",
    "indications.toml",
    "risks.toml",
    "protocol.toml",
    "sources.toml",
    "limits.toml",
    "monitoring.toml",
    "outcomes.toml",
)


@functools.lru_cache(maxsize=8)
def _read(folder: str, stamp: tuple[tuple[int, int], ...]) -> Library:
    return read_library(Path(folder))


def _stamp(folder: Path) -> tuple[tuple[int, int], ...]:
    """Each file's modification time (ns) and size: a change to either is a new library."""
    out = []
    for name in _FILES:
        try:
            info = (folder / name).stat()
        except FileNotFoundError:
            out.append((-1, -1))  # read_library reports the missing file
        else:
            out.append((info.st_mtime_ns, info.st_size))
    return tuple(out)


def current_library() -> Library:
    """The library in service now (re-read when any of the site's files changes)."""
    folder: Path | None = getattr(settings, "IVIG_CATALOGUE_DIR", None)
    if folder is None:
        return packaged_library()
    return _read(str(folder), _stamp(Path(folder)))


def current_catalogue() -> Catalogue:
    """The catalogue of :func:`current_library`."""
    return current_library().catalogue
