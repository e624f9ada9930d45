"""Template filters that write what the core writes: ``{% load ivig_units %}``.

``{{ order.vials|vials }}`` prints an order's vials as every page and export does,
``2 x 40 g + 1 x 5 g`` with the multiplication sign (``core.dosing.vial_label``), largest first.
"""

from __future__ import annotations

from typing import Any

from django import template

from ivig.core.dosing import vial_label

register = template.Library()


@register.filter
def vials(value: Any) -> str:
    """The vials of an order (its JSON rows) or of a lot list, with the multiplication sign."""
    return vial_label(value, sign="\u00d7")
