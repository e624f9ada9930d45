"""Names instead of codes, and an order in words (issue 16 item 21): ``{% load ivig_words %}``.

- ``{{ order|order_name }}``: ``maintenance, dose 1 of 3`` (``records.services.doses``);
- ``{{ course.product_id|product_name }}``: ``Privigen (US)``, the catalogue's name;
- ``{{ outcome.measure|measure_name }}``: ``triple timed up-and-go (3TUG)``, the library's name;
- ``{{ code|risk_name }}``: ``Diabetes mellitus``, the risk's meaning without its notes.

The names come from the library in service (``current_library()``); a code it no longer lists
is shown as it is.
"""

from __future__ import annotations

from typing import Any

from django import template

from ivig.records.library import current_library
from ivig.records.services.doses import order_name as _order_name

register = template.Library()

__all__ = ["measure_name", "order_name", "product_name", "risk_name"]


@register.filter
def order_name(order: Any) -> str:
    """An order's phase and its dose among its course's: ``maintenance, dose 1 of 3``."""
    return _order_name(order) if order else ""


@register.filter
def product_name(product_id: Any) -> str:
    """The catalogue's name of a product (``Privigen (US)``), else the code."""
    product = current_library().catalogue.products.get(str(product_id))
    return product.display_name if product is not None else str(product_id)


@register.filter
def measure_name(measure_id: Any) -> str:
    """The library's name of an outcome measure, else the code."""
    measure = current_library().outcomes.get(str(measure_id))
    return measure.name if measure is not None else str(measure_id)


@register.filter
def risk_name(code: Any) -> str:
    """A risk code's meaning, without the notes in brackets that follow it (``eGFR below 60
    mL/min/1.73 m2``), else the code."""
    risk = current_library().catalogue.risks.get(str(code))
    return risk.meaning.split(" (", 1)[0] if risk is not None else str(code)
