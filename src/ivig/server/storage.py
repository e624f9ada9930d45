"""Static files for ``ivig serve``: compressed with gzip only.

Brotli is installed with WeasyPrint (its fonts need it); WhiteNoise would then compress every
static file with brotli at its highest quality on each ``collectstatic``, which makes each
start of the server take tens of seconds on a small machine. gzip is what every browser
accepts.
"""

from __future__ import annotations

from typing import Any

from whitenoise.compress import Compressor
from whitenoise.storage import CompressedStaticFilesStorage

__all__ = ["StaticStorage"]


class StaticStorage(CompressedStaticFilesStorage):
    def create_compressor(self, **kwargs: Any) -> Compressor:
        compressor: Compressor = Compressor(use_brotli=False, **kwargs)  # type: ignore[no-untyped-call]
        return compressor
