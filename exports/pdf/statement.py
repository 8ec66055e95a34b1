"""The draft s.9 witness statement as a PDF in the usual layout."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from exports.pdf.layout import PdfDocument
from exports.statement import AUTHORITY, DECLARATION, HEADING, Statement

_SIGN_LINE = ("Signature: ...................................      "
              "Signature witnessed by: ...................................")


def _draw(target: Path | BinaryIO, statement: Statement, pages: str) -> int:
    doc = PdfDocument(target, "Witness statement (draft)", statement.case_ref,
                      footer_note=_SIGN_LINE, subject="Draft s.9 CJA 1967 witness statement")
    doc.heading(HEADING, size=14)
    doc.paragraph(AUTHORITY, size=9, after=8)
    for name, value in statement.header_fields():
        doc.paragraph(f"{name}: {value}", size=10, after=2)
    doc.space(6)
    doc.paragraph(DECLARATION.format(pages=pages), size=9.5, after=10)
    doc.paragraph("Signature: ...................................      "
                  "Date: ......................", size=10, after=6)
    doc.rule()
    for paragraph in statement.body():
        doc.paragraph(paragraph, size=10, after=7)
    return doc.close()


def statement_pdf(path: Path, statement: Statement) -> int:
    """Drawn twice: the declaration states the page count, known only after a first layout."""
    pages = _draw(io.BytesIO(), statement, "000")
    drawn = _draw(path, statement, str(pages))
    if drawn != pages:  # a shorter or longer number moved a line across a page break
        drawn = _draw(path, statement, str(drawn))
    return drawn
