"""The PDF engine: text survives into the PDF, and nothing outside the document is fetched."""

from __future__ import annotations

import io
from typing import Any

import pypdf
import pytest

from ivig.interop.pdf import html_to_pdf


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_the_text_is_in_the_pdf() -> None:
    pdf = html_to_pdf("<h1>Run sheet</h1><p>Privigen 336 mL/h</p>", stylesheet="h1 {color: red}")
    assert pdf.startswith(b"%PDF-")
    assert "Privigen 336 mL/h" in text_of(pdf)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/logo.png",  # the network
        "file:///etc/passwd",  # the file system
    ],
)
def test_nothing_outside_the_document_is_fetched(url: str, monkeypatch: Any) -> None:
    """Only data: URIs load (a closed network; no request forgery through a document)."""
    import urllib.request

    opened: list[Any] = []

    def record(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(request)
        raise OSError("refused by the test")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", record)
    pdf = html_to_pdf(f'<p>before</p><img src="{url}" alt="x"><p>after</p>')
    assert "after" in text_of(pdf)
    assert opened == []
