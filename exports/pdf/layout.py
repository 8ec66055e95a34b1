"""A small page engine on the reportlab canvas: headed pages, wrapped paragraphs,
tables whose header repeats on every page, and "page N of M" footers.

Drawn straight onto the canvas row by row rather than through platypus, so a
timeline of a hundred thousand events never becomes a list of a hundred
thousand flowables. The total page count is a form XObject that every footer
refers to and that is defined once the last page is known. ``invariant=1``
fixes the creation date and document id, so the same input gives the same
bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reportlab import rl_config
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import getFont, stringWidth
from reportlab.pdfgen.canvas import Canvas

from exports.pdf.fonts import fonts, printable

#: Page streams are deflated, not also ASCII85-encoded: a quarter smaller, and the
#: pure-Python encoder was a large share of the time for a long timeline.
rl_config.useA85 = 0

_PDF_ESCAPES = {**{i: f"\\{i:03o}" for i in (*range(32), *range(127, 256))},
                ord("\\"): "\\\\", ord("("): "\\(", ord(")"): "\\)"}
MARGIN = 36.0
_TOTAL_FORM = "PageTotal"
_GRID = (0.78, 0.78, 0.78)
_HEADER_FILL = (0.92, 0.92, 0.92)


_WIDTHS: dict[tuple[str, str], float] = {}
_WIDTH_CACHE_LIMIT = 500_000


def _unit_width(font: str, word: str) -> float:
    """Width of ``word`` at size 1000; words repeat, so each is measured once."""
    key = (font, word)
    width = _WIDTHS.get(key)
    if width is None:
        if len(_WIDTHS) >= _WIDTH_CACHE_LIMIT:
            _WIDTHS.clear()
        width = _WIDTHS[key] = stringWidth(word, font, 1000.0)
    return width


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap; a word wider than the line is broken between characters."""
    lines: list[str] = []
    scale = size / 1000.0
    space = _unit_width(font, " ") * scale
    for paragraph in text.split("\n"):
        words: list[str] = []
        used = 0.0
        for word in paragraph.split(" "):
            wide = _unit_width(font, word) * scale
            candidate = used + space + wide if words else wide
            if candidate <= width or (not words and not word):
                words.append(word)
                used = candidate
                continue
            if words:
                lines.append(" ".join(words))
            words, used = [], 0.0
            while wide > width and len(word) > 1:
                cut = _fitting_prefix(word, font, size, width)
                lines.append(word[:cut])
                word = word[cut:]
                wide = _unit_width(font, word) * scale
            words, used = [word], wide
        lines.append(" ".join(words))
    return lines


def _fitting_prefix(word: str, font: str, size: float, width: float) -> int:
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if stringWidth(word[:middle], font, size) <= width:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass(frozen=True)
class Column:
    title: str
    width: float
    mono: bool = False


class PdfDocument:
    """One PDF being drawn. Call :meth:`close` to finish it."""

    def __init__(self, target: Path | BinaryIO, title: str, case_ref: str, *,
                 wide: bool = False, footer_note: str = "", subject: str = "") -> None:
        self.fonts = fonts()
        self.pagesize = landscape(A4) if wide else A4
        self.canvas = Canvas(str(target) if isinstance(target, Path) else target,
                             pagesize=self.pagesize, invariant=1, pageCompression=1)
        self.canvas.setTitle(f"{case_ref}: {title}")
        self.canvas.setAuthor("Conduct")
        self.canvas.setCreator("Conduct")
        self.canvas.setProducer("Conduct (ReportLab)")
        self.canvas.setSubject(subject or title)
        self.title = title
        self.case_ref = case_ref
        self.footer_note = footer_note
        self.page = 0
        self.width = self.pagesize[0] - 2 * MARGIN
        self.top = self.pagesize[1] - MARGIN - 22
        self.bottom = MARGIN + 24
        self.y = self.top
        self._table: _Table | None = None
        self._open_page()

    # -- pages ----------------------------------------------------------------

    def _open_page(self) -> None:
        self.page += 1
        c = self.canvas
        f = self.fonts
        height = self.pagesize[1]
        c.setFont(f.bold, 10)
        c.drawString(MARGIN, height - MARGIN, printable(self.title))
        c.setFont(f.regular, 9)
        c.drawRightString(self.pagesize[0] - MARGIN, height - MARGIN,
                          printable(f"Case {self.case_ref}"))
        c.setStrokeColorRGB(*_GRID)
        c.line(MARGIN, height - MARGIN - 6, self.pagesize[0] - MARGIN, height - MARGIN - 6)
        c.setFont(f.regular, 7.5)
        if self.footer_note:
            c.drawString(MARGIN, MARGIN, printable(self.footer_note))
        if f.note:
            c.drawString(MARGIN, MARGIN - 10, f.note)
        label = f"page {self.page} of "
        right = self.pagesize[0] - MARGIN - 18
        c.drawRightString(right, MARGIN, label)
        c.saveState()
        c.translate(right + 1, MARGIN)
        c.doForm(_TOTAL_FORM)
        c.restoreState()
        self.y = self.top
        if self._table is not None:
            self._table.draw_header()

    def new_page(self) -> None:
        self.canvas.showPage()
        self._open_page()

    def room(self, height: float) -> None:
        """Start a new page unless ``height`` points still fit on this one."""
        if self.y - height < self.bottom:
            self.new_page()

    def close(self) -> int:
        """Finish the document; returns its page count."""
        self._table = None
        self.canvas.showPage()
        self.canvas.beginForm(_TOTAL_FORM)
        self.canvas.setFont(self.fonts.regular, 7.5)
        self.canvas.drawString(0, 0, str(self.page))
        self.canvas.endForm()
        self.canvas.save()
        return self.page

    # -- flowing text ---------------------------------------------------------

    def space(self, points: float) -> None:
        self.y -= points

    def heading(self, text: str, size: float = 13) -> None:
        self.room(size * 3)
        self.y -= size * 0.6
        self.canvas.setFont(self.fonts.bold, size)
        for line in wrap(printable(text), self.fonts.bold, size, self.width):
            self.room(size * 1.3)
            self.y -= size * 1.2
            self.canvas.drawString(MARGIN, self.y, line)
        self.y -= size * 0.4

    def paragraph(self, text: str, size: float = 9, *, bold: bool = False, mono: bool = False,
                  indent: float = 0, after: float = 4) -> None:
        font = self.fonts.bold if bold else self.fonts.mono if mono else self.fonts.regular
        leading = size * 1.3
        for line in wrap(printable(text), font, size, self.width - indent):
            self.room(leading)
            self.y -= leading
            self.canvas.setFont(font, size)
            self.canvas.drawString(MARGIN + indent, self.y + size * 0.25, line)
        self.y -= after

    def rule(self) -> None:
        self.room(6)
        self.y -= 3
        self.canvas.setStrokeColorRGB(*_GRID)
        self.canvas.line(MARGIN, self.y, MARGIN + self.width, self.y)
        self.y -= 3

    def images(self, paths: Sequence[Path], per_row: int = 2, aspect: float = 5 / 11,
               gap: float = 10) -> None:
        """Pictures in a grid, ``per_row`` across, each ``aspect`` (height/width) high."""
        width = (self.width - gap * (per_row - 1)) / per_row
        height = width * aspect
        for start in range(0, len(paths), per_row):
            self.room(height + gap)
            self.y -= height
            for column, path in enumerate(paths[start:start + per_row]):
                # An ImageReader is named in the PDF by its pixels; a path would be named
                # by the (temporary) file name and change the bytes on every export.
                self.canvas.drawImage(ImageReader(str(path)), MARGIN + column * (width + gap),
                                      self.y,
                                      width=width, height=height, preserveAspectRatio=True,
                                      anchor="sw")
            self.y -= gap

    # -- tables ---------------------------------------------------------------

    def table(self, columns: Sequence[Column], size: float = 7.5, max_lines: int = 12,
              overflow: str = "…", fill: bool = True) -> _Table:
        """Start a table; add rows with ``row()``; ``end_table()`` when done. Column
        widths are relative: scaled to the page width (``fill``), or only down to it."""
        self._table = _Table(self, list(columns), size, max_lines, overflow, fill)
        self.room(self._table.header_height + self._table.leading * 2)
        self._table.draw_header()
        return self._table

    def end_table(self) -> None:
        self._table = None
        self.y -= 6


class _Table:
    def __init__(self, doc: PdfDocument, columns: list[Column], size: float, max_lines: int,
                 overflow: str, fill: bool) -> None:
        self.doc = doc
        scale = doc.width / sum(c.width for c in columns)
        if not fill:
            scale = min(scale, 1.0)
        self.full_width = sum(c.width for c in columns) * scale
        self.columns = [Column(c.title, c.width * scale, c.mono) for c in columns]
        self.size = size
        self.leading = size * 1.25
        self.max_lines = max_lines
        self.overflow = overflow
        self.pad = 2.5
        # Only embedded TrueType fonts have subsets; the built-in fallback goes the slow way.
        self._fast = all(getattr(getFont(f), "_dynamicFont", False)
                         for f in (doc.fonts.regular, doc.fonts.mono))
        self.header_lines = [wrap(c.title, doc.fonts.bold, size, c.width - 2 * self.pad)
                             for c in self.columns]
        self.header_height = max(map(len, self.header_lines)) * self.leading + 2 * self.pad

    def draw_header(self) -> None:
        doc, c = self.doc, self.doc.canvas
        top = doc.y
        c.setFillColorRGB(*_HEADER_FILL)
        c.rect(_left(), top - self.header_height, self.full_width, self.header_height, stroke=0,
               fill=1)
        c.setFillColorRGB(0, 0, 0)
        c.setFont(doc.fonts.bold, self.size)
        x = _left()
        for column, lines in zip(self.columns, self.header_lines, strict=True):
            self._lines(x, top, lines)
            x += column.width
        doc.y = top - self.header_height

    def _lines(self, x: float, top: float, lines: list[str]) -> None:
        y = top - self.pad - self.size
        for line in lines:
            self.doc.canvas.drawString(x + self.pad, y, line)
            y -= self.leading

    def _cells(self, top: float, wrapped: list[list[str]]) -> None:
        """Every cell of a row in one PDF text object: far fewer operators (and far less
        time) than a drawString per line."""
        if self._fast:
            self._cells_fast(top, wrapped)
            return
        c = self.doc.canvas
        text = c.beginText()
        text.setLeading(self.leading)
        x = _left()
        for column, lines in zip(self.columns, wrapped, strict=True):
            if lines and any(lines):
                text.setFont(self.doc.fonts.mono if column.mono else self.doc.fonts.regular,
                             self.size, self.leading)
                text.setTextOrigin(x + self.pad, top - self.pad - self.size)
                for line in lines:
                    text.textLine(line)
            x += column.width
        c.drawText(text)

    def _cells_fast(self, top: float, wrapped: list[list[str]]) -> None:
        """The same text object, written as PDF operators directly.

        reportlab's text object formats every number and escapes every string in pure
        Python (its C accelerator is a separate package), which made a 100,000-event
        timeline take minutes. The operators are the ones it would write: glyphs
        of the embedded font's subsets (``splitString``), ``Tf`` on a subset change,
        ``Tm`` per cell and ``T*`` per line."""
        doc = self.doc
        document = doc.canvas._doc
        parts = ["BT", f"{self.leading:.2f} TL"]
        current = None
        x = _left()
        for column, lines in zip(self.columns, wrapped, strict=True):
            if lines and any(lines):
                name = doc.fonts.mono if column.mono else doc.fonts.regular
                font = getFont(name)
                parts.append(f"1 0 0 1 {x + self.pad:.2f} {top - self.pad - self.size:.2f} Tm")
                for line in lines:
                    for subset, data in font.splitString(line, document):
                        if current != (name, subset):
                            current = (name, subset)
                            parts.append(f"{font.getSubsetInternalName(subset, document)} "
                                         f"{self.size:.2f} Tf")
                        parts.append(f"({data.decode('latin-1').translate(_PDF_ESCAPES)}) Tj")
                    parts.append("T*")
            x += column.width
        parts.append("ET")
        doc.canvas._code.append(" ".join(parts))

    def row(self, cells: Sequence[str]) -> None:
        doc = self.doc
        fonts = doc.fonts
        wrapped: list[list[str]] = []
        for column, cell in zip(self.columns, cells, strict=True):
            font = fonts.mono if column.mono else fonts.regular
            lines = wrap(printable(cell), font, self.size, column.width - 2 * self.pad)
            if len(lines) > self.max_lines:
                lines = [*lines[: self.max_lines - 1], self.overflow]
            wrapped.append(lines)
        height = max(map(len, wrapped)) * self.leading + 2 * self.pad
        doc.room(height)
        top = doc.y
        c = doc.canvas
        self._cells(top, wrapped)
        doc.y = top - height
        c.setStrokeColorRGB(*_GRID)
        c.setLineWidth(0.4)
        c.line(_left(), doc.y, _left() + self.full_width, doc.y)


def _left() -> float:
    return MARGIN
