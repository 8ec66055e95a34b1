"""Perceptual signatures of a decoded image, for finding re-saved copies and crops later.

``phash`` and ``dhash`` (imagehash, 64 bits each, hex) survive re-compression
and resizing, but two chat screenshots of the same app lie within a few bits of
each other whatever they say. ``thumb`` is the image as displayed (EXIF
orientation applied, alpha over white) in grey, area-averaged to 24 pixels
wide with its height in proportion, row by row, base64: at that size a
re-saved or resized copy differs from its original by a grey level or two while
a screen with one message more or less differs clearly, and a screenshot
trimmed at the top or bottom (width kept) is a band of its original's
thumbnail. evidence_store/near_duplicates.py compares these without opening
any file; the layout is fixed here.
"""

from __future__ import annotations

import base64

import imagehash
from PIL import Image, ImageOps

#: Width of the thumbnail; its height is round(width * h / w).
THUMB_WIDTH = 24
#: Taller thumbnails (very long scrolling screenshots) are not stored.
THUMB_MAX_HEIGHT = 400
#: Hashes are taken from a copy no larger than this on either side.
HASH_BASE = 512


def displayed_grey(image: Image.Image) -> Image.Image:
    """The picture as a viewer shows it: EXIF orientation applied, alpha over white, grey."""
    oriented = ImageOps.exif_transpose(image) or image
    if oriented.mode in ("RGBA", "LA", "PA") or "transparency" in oriented.info:
        rgba = oriented.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        oriented = Image.alpha_composite(white, rgba)
    grey = oriented.convert("L")
    if max(grey.size) > HASH_BASE:
        grey.thumbnail((HASH_BASE, HASH_BASE), Image.Resampling.LANCZOS)
    return grey


def signature(grey: Image.Image, width: int, height: int) -> dict[str, str | int | list[int]]:
    """The fact value: hashes, the displayed size, and the row thumbnail when it fits."""
    value: dict[str, str | int | list[int]] = {
        "phash": str(imagehash.phash(grey)),
        "dhash": str(imagehash.dhash(grey)),
        "width": width,
        "height": height,
    }
    rows = max(1, round(THUMB_WIDTH * height / width))
    if rows <= THUMB_MAX_HEIGHT:
        thumb = grey.resize((THUMB_WIDTH, rows), Image.Resampling.BOX)
        value["thumb"] = base64.b64encode(thumb.tobytes()).decode("ascii")
        value["thumb_size"] = [THUMB_WIDTH, rows]
    return value
