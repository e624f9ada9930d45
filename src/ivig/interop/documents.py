"""Printed documents: a Django template rendered with its context and turned into a PDF.

A document's template is the web print view's own template with ``pdf`` set in the context:
it then extends ``web/pdf_base.html`` (no navigation, no script, a "printed snapshot"
watermark and a footer on every page) instead of ``web/base.html``, and :data:`PRINT_CSS`
styles it (the PDF fetches no file: the web stylesheet is not used). Every PDF says the record
version, when it was generated and that it is a printed snapshot (requirement 66); the caller
audits the printing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ivig import __version__
from ivig.interop.pdf import html_to_pdf

__all__ = ["PDF_BASE", "PRINT_CSS", "document_context", "render_pdf"]

PDF_BASE = "web/pdf_base.html"

# The print stylesheet every PDF shares: A4 landscape (the run sheet's tables are wide), a
# DejaVu font (installed with Pango by scripts/install), the page number and a footer line on
# each page, a faint diagonal "printed snapshot" watermark.
PRINT_CSS = """
@page {
  size: A4 landscape;
  margin: 12mm 12mm 18mm 12mm;
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 7.5pt; }
}
html { font-family: "DejaVu Sans", sans-serif; font-size: 8.5pt; color: #000; }
body { margin: 0; }
h1 { font-size: 13pt; margin: 0 0 2mm; }
h2 { font-size: 10.5pt; margin: 3mm 0 1.5mm; border-bottom: 0.4pt solid #777; }
h3 { font-size: 9pt; margin: 2mm 0 1mm; }
p { margin: 0 0 1.5mm; }
.card { margin: 0 0 3mm; }
.grid { display: flex; gap: 6mm; }
.grid > div { flex: 1; }
table { border-collapse: collapse; width: 100%; margin: 0 0 2mm; }
caption { text-align: left; font-size: 8pt; padding-bottom: 1mm; }
th, td { border: 0.4pt solid #999; padding: 0.6mm 1.2mm; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num, th.num { text-align: right; }
tr { break-inside: avoid; }
dl.facts { margin: 0; }
dl.facts > div { display: flex; gap: 2mm; margin-bottom: 0.6mm; }
dl.facts dt { font-weight: bold; min-width: 28mm; }
dl.facts dd { margin: 0; }
.calc, .help, .source { color: #444; font-size: 7pt; }
.badge { border: 0.4pt solid #777; border-radius: 1mm; padding: 0 1mm; }
.write-in-row td { height: 6mm; }
.no-print, .visually-hidden, form, button { display: none; }
.signature-line { display: flex; gap: 2mm; align-items: flex-end; margin: 5mm 0 0; }
.signature-line .line { flex: 1; border-bottom: 0.5pt solid #000; min-width: 25mm; }
figure { margin: 0 0 2mm; break-inside: avoid; }
figcaption { font-size: 7.5pt; color: #333; }
.pdf-watermark {
  position: fixed; top: 45%; left: 0; right: 0; text-align: center;
  font-size: 48pt; color: rgba(0, 0, 0, 0.07); transform: rotate(-20deg);
}
.pdf-footer {
  position: fixed; bottom: -12mm; left: 0; right: 30mm; font-size: 7.5pt; color: #333;
}
"""


def document_context(username: str, now: dt.datetime) -> dict[str, Any]:
    """What every PDF's footer says: the software version, when and by whom it was made
    (``username``; empty for the system)."""
    return {
        "pdf": True,
        "base_template": PDF_BASE,
        "ivig_version": __version__,
        "generated_at": now,
        "generated_by": username or "system",
    }


def render_pdf(template: str, context: dict[str, Any], *, stylesheet: str = PRINT_CSS) -> bytes:
    """The PDF of ``template`` rendered with ``context`` (plus :func:`document_context`'s keys
    the caller put in it) and the print stylesheet."""
    from django.template.loader import render_to_string

    html = render_to_string(template, context)
    return html_to_pdf(html, stylesheet=stylesheet)
