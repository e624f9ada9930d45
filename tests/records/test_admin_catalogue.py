"""The drug library page of the admin (issue 16 item 22): no inline style (the CSP refuses
it), its own stylesheet, each number with its unit on one line and sources that may wrap."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.test import Client

from ivig.records.admin import _value_text


def test_the_catalogue_has_no_inline_style_and_keeps_numbers_with_their_units(
    client_for: Callable[[str | None], Client], users: dict[str, Any]
) -> None:
    page = client_for("admin").get("/admin/catalogue/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "style=" not in html
    assert "<style" not in html
    assert re.search(r'<link rel="stylesheet" href="/static/records/catalogue[^"]*\.css">', html)
    assert '<td class="num">5, 10, 20, 40\u00a0g</td>' in html  # Privigen's vials
    assert '<td class="num">100\u00a0mg/mL</td>' in html
    assert '<td class="num">0.5 to 8\u00a0mg/kg/min</td>' in html
    assert html.count('<td colspan="3" class="source">Source: ') >= 18  # under each value


def test_catalogue_values_read_as_words() -> None:
    assert _value_text("vial_sizes_g", (5.0, 10.0, 20.0, 40.0)) == "5, 10, 20, 40\u00a0g"
    assert _value_text("iga_max_ug_per_ml", 25.0) == "25\u00a0µg/mL"
    assert _value_text("at_risk_max_mg_per_kg_min", 3.3) == "3.3\u00a0mg/kg/min"
    assert _value_text("excipients", ("l-proline",)) == "l-proline"
