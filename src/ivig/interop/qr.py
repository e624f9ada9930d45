"""A QR code as inline SVG (issue 16, item 17: the patient's invitation link, to scan with a
phone instead of typing it), drawn on the server with segno (no script, no image request).

Error correction level M (ISO/IEC 18004: about 15% of the code may be damaged or covered),
a 4-module quiet zone as the standard asks, black on white."""

from __future__ import annotations

from html import escape

import segno

__all__ = ["qr_svg"]


def qr_svg(text: str, *, title: str, scale: int = 4) -> str:
    """The QR code of ``text`` as an ``<svg>`` element to put in a page: ``role="img"`` named by
    ``title``; no inline style (the pages' CSP allows none)."""
    code = segno.make(text, error="m", micro=False)
    svg: str = code.svg_inline(scale=scale, border=4, title=title, dark="#000", light="#fff")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1)
