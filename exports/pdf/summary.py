"""The course-of-conduct summary as a PDF: numbers, cited events, flags, charts."""

from __future__ import annotations

from pathlib import Path

from exports.course_summary import Heading, Para, Summary, Table
from exports.pdf.layout import PdfDocument


def summary_pdf(path: Path, case_ref: str, summary: Summary, charts: list[Path]) -> int:
    doc = PdfDocument(path, "Course of conduct: summary", case_ref, wide=True,
                      footer_note="Conduct case file. Each cited event: exhibit reference and "
                                  "locator in the original; full text in timeline.csv.")
    doc.heading(f"Course of conduct: case {case_ref}")
    for block in summary.blocks:
        if isinstance(block, Heading):
            doc.heading(block.text, size=11)
        elif isinstance(block, Para):
            doc.paragraph(block.text, size=9)
        elif isinstance(block, Table):
            table = doc.table(block.columns, max_lines=10, fill=False)
            for row in block.rows:
                table.row(row)
            doc.end_table()
    if charts:
        doc.new_page()
        doc.heading("Charts", size=11)
        doc.images(charts)
    return doc.close()
