"""The case file's tabular documents: exhibit list (MG12), continuity, disclosure aid."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from exports.pdf.layout import Column, PdfDocument

_FOOTER = "Conduct case file. Times in UTC."


def exhibit_list(path: Path, case_ref: str, rows: Iterable[Sequence[str]], note: str) -> int:
    """``rows``: (ref, description, where and when received, from whom, by whom, sha256)."""
    doc = PdfDocument(path, "Exhibit list (MG12)", case_ref, wide=True, footer_note=_FOOTER)
    doc.paragraph(note, size=8.5, after=8)
    table = doc.table([
        Column("Exhibit ref", 48), Column("Description", 150),
        Column("Where and when found or received", 170), Column("From whom", 80),
        Column("By whom", 70), Column("SHA-256", 132, mono=True)])
    for row in rows:
        table.row(row)
    doc.end_table()
    return doc.close()


def continuity(path: Path, case_ref: str, chain_note: str, rows: Iterable[Sequence[str]]
               ) -> int:
    """``rows``: (seq, at, actor, action, subject, details, prev_hash + entry_hash)."""
    doc = PdfDocument(path, "Continuity: custody log", case_ref, wide=True,
                      footer_note=_FOOTER + " Full entries in custody.csv.")
    doc.paragraph(chain_note, size=8.5, after=8)
    table = doc.table([
        Column("#", 18), Column("Time (UTC)", 70), Column("By", 62), Column("Action", 62),
        Column("Subject", 70), Column("Details", 230),
        Column("Previous hash / entry hash", 170, mono=True)], size=7, max_lines=14,
        overflow="… (continues in custody.csv)")
    for row in rows:
        table.row(row)
    doc.end_table()
    return doc.close()


def disclosure_aid(path: Path, case_ref: str, note: str, rows: Iterable[Sequence[str]]) -> int:
    """``rows``: (exhibit, file name, material, reason, detail)."""
    doc = PdfDocument(path, "Disclosure aid: material held but not used", case_ref, wide=True,
                      footer_note=_FOOTER)
    doc.paragraph(note, size=8.5, after=8)
    table = doc.table([
        Column("Exhibit", 50), Column("File", 120), Column("Material", 90),
        Column("Reason not used", 170), Column("Detail", 290)])
    count = 0
    for row in rows:
        table.row(row)
        count += 1
    if not count:
        table.row(["", "", "", "Nothing: every exhibit's content is in the timeline.", ""])
    doc.end_table()
    return doc.close()
