"""HTML to PDF with WeasyPrint, offline and sealed: a document may embed ``data:`` URIs (inline
SVG charts, images) and nothing else, so rendering never reaches the network or the file
system (a closed hospital network; no server-side request forgery from a patient's name).

The HTML comes from the same Django templates as the web print views; the caller renders it.
"""

from __future__ import annotations

from typing import Any

from ivig.errors import PdfUnavailable

__all__ = ["html_to_pdf"]


def _weasyprint() -> Any:
    try:
        import weasyprint
    except OSError as exc:  # Pango or a font library missing
        raise PdfUnavailable(
            "PDFs need the Pango libraries (Debian: apt-get install libpango-1.0-0 "
            f"libpangoft2-1.0-0 fonts-dejavu-core): {exc}"
        ) from None
    return weasyprint


def html_to_pdf(html: str, *, stylesheet: str = "") -> bytes:
    """The PDF of ``html`` (with ``stylesheet``, CSS text, added): only ``data:`` URIs are
    fetched."""
    weasyprint = _weasyprint()
    fetcher = weasyprint.urls.URLFetcher(allowed_protocols=("data",))
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    sheets = [weasyprint.CSS(string=stylesheet, url_fetcher=fetcher)] if stylesheet else []
    pdf: bytes = document.write_pdf(stylesheets=sheets)
    return pdf
