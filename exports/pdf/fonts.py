"""Fonts for the case-file PDFs, and text made safe to draw with them.

DejaVu Sans covers Latin, Greek, Cyrillic, Arabic, Hebrew and many symbols. It
is taken from matplotlib's package data, which is installed with Conduct's own
dependencies, so no system font package is needed. Characters the font cannot
draw (CJK, most emoji) are replaced by a visible ``[U+XXXX]`` so a reader sees
that something was there: text is never dropped silently.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "ConductSans"
BOLD = "ConductSans-Bold"
MONO = "ConductMono"


@dataclass(frozen=True)
class FontSet:
    regular: str
    bold: str
    mono: str
    #: Code points the regular font can draw; None for the built-in Latin-1 fallback.
    covered: frozenset[int] | None
    #: Said in the documents when the embedded font could not be used.
    note: str | None


def _font_dir() -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    folder = Path(os.path.dirname(matplotlib.__file__)) / "mpl-data" / "fonts" / "ttf"
    return folder if (folder / "DejaVuSans.ttf").is_file() else None


@lru_cache(maxsize=1)
def fonts() -> FontSet:
    folder = _font_dir()
    if folder is not None:
        try:
            regular = TTFont(REGULAR, str(folder / "DejaVuSans.ttf"))
            for name, file in ((REGULAR, None), (BOLD, "DejaVuSans-Bold.ttf"),
                               (MONO, "DejaVuSansMono.ttf")):
                font = regular if file is None else TTFont(name, str(folder / file))
                pdfmetrics.registerFont(font)
            covered = frozenset(regular.face.charToGlyph)
            return FontSet(REGULAR, BOLD, MONO, covered, None)
        except (OSError, ValueError, KeyError):
            pass
    return FontSet("Helvetica", "Helvetica-Bold", "Courier", None,
                   "DejaVu Sans (from matplotlib) was not found: text outside Latin-1 is "
                   "shown as [U+XXXX] code points.")


def _drawable(char: str, covered: frozenset[int] | None) -> bool:
    code = ord(char)
    if covered is None:
        return 0x20 <= code < 0x7F or 0xA0 <= code <= 0xFF
    return code in covered


_SHOWN: dict[str, str] = {"\n": "\n", "\t": " ", "\r": " "}


def _shown(char: str) -> str:
    if char not in _SHOWN:
        if unicodedata.category(char) in ("Cc", "Cf"):
            _SHOWN[char] = ""
        elif _drawable(char, fonts().covered):
            _SHOWN[char] = char
        else:
            _SHOWN[char] = f"[U+{ord(char):04X}]"
    return _SHOWN[char]


def printable(text: str) -> str:
    """``text`` with every character the font cannot draw shown as its code point.

    Control and format characters (bidi marks, zero-width joiners) are invisible
    in the original too and are dropped; tabs become spaces; line breaks stay."""
    if text.isascii() and text.replace("\n", "").isprintable():
        return text
    return "".join(_shown(char) for char in text)
