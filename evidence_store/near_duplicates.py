"""Images of a case that show the same picture: re-saved or resized copies, and crops.

Victims hand over the same screenshot several times: as taken, as sent on
through WhatsApp (smaller, re-compressed, renamed), trimmed to the messages
that matter. Listing them together stops one message being counted twice and
shows which copy is the fullest. Exact copies are already caught by SHA-256;
this finds the rest from the image parser's "perceptual_hash" facts.

Two tests over the stored signatures (parsers/image_signature.py); only a crop
candidate's two originals are ever opened:

* near-duplicates: the same aspect ratio (within 2%) and 24-pixel-wide grey
  thumbnails that agree: at most 0.5% of thumbnail pixels more than 16 grey
  levels apart and a mean difference of at most 4. Re-compression and resizing
  stay far below that; a chat screen with one message more or less does not.
  Candidates are pairs in one aspect-ratio bucket whose 64-bit pHashes are
  within 10 bits (all pairs of a bucket at once, XOR and bit count in numpy);
  the hash alone does not decide, as two chat screenshots of one app lie within
  a few bits whatever they say.
  Differences of a word or a clock digit are below what a thumbnail can see:
  a near-duplicate is "the same screen as far as its layout shows", and its
  text (OCR facts) says the rest.
* crops: a picture trimmed at the top and/or bottom with its width kept (what
  the crop tools of phones do to a screenshot, at the original pixel size).
  Candidates share their exact width; the crop's thumbnail, slid down each
  taller thumbnail of that width (four vertical bands per row, half-row steps,
  all thumbnails of one size at once), must line up; the five that agree best
  are decoded and OpenCV's normalised template match must find the crop in the
  original, at full size after a slight blur, where the thumbnails put it
  (score at least 0.98; an exact crop re-compressed scores above 0.99). Of
  several originals containing it only the best match (and any within 0.005)
  counts. Crops that were also resized, or trimmed at the sides, are not found
  by this version. After an ingest only crops involving the new images are
  looked for (``involving``).

``near_duplicate_groups`` computes the groups; ``record_near_duplicates`` writes
one fact of kind "near_duplicate" per exhibit and related exhibit (source
"near_duplicates/1"), skipping those already recorded, so running it after
every ingest adds only what is new.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from evidence_store import canonical_json, custody
from evidence_store.blobs import BlobStore
from evidence_store.models import Case, Exhibit, Fact

SOURCE = "near_duplicates/1"
FACT_KIND = "near_duplicate"
SIGNATURE_KIND = "perceptual_hash"

#: Aspect ratios (height / width) this far apart are never the same picture.
ASPECT_TOLERANCE = 0.02
#: Thumbnail agreement for a near-duplicate.
PIXEL_DIFFERENCE = 16
MAX_DIFFERING = 0.005
MAX_MEAN_DIFFERENCE = 4.0
#: Perceptual-hash distance (of 64 bits) within which thumbnails are compared at all:
#: re-saved and resized copies measure 0 to 6.
MAX_PHASH_DISTANCE = 10
#: A crop is at most this share of its original's height, and at least this many
#: thumbnail rows (less is too little picture to tell one screen from another).
MAX_CROP_SHARE = 0.95
MIN_CROP_ROWS = 4
#: Band-profile and thumbnail agreement (mean grey difference) for a crop candidate;
#: an exact crop measures about 2.4, its thumbnail rows being cut at other places.
MAX_PROFILE_DIFFERENCE = 3.5
#: Crops whose thumbnails disagree more than this (share of pixels) are not tried.
MAX_CROP_DIFFERING = 0.04
#: Only the originals whose thumbnails agree best are decoded and matched.
MAX_CROP_CHECKS = 5
#: Normalised correlation needed, at the original pixel size after a slight blur,
#: to call it a crop (a re-compressed exact crop scores above 0.99; the same chat
#: with other times in its bubbles about 0.97); matches this close to the best
#: one count as well.
MIN_MATCH_SCORE = 0.98
BEST_MARGIN = 0.005
MATCH_BLUR = 0.7
#: Originals larger than this are not decoded to confirm a crop.
MAX_MATCH_PIXELS = 50_000_000
#: Interpolation steps per thumbnail row when sliding a crop's profile, and the
#: vertical bands (of the 24 thumbnail columns) the profile keeps apart.
SUBROWS = 2
BANDS = 4
#: The first cut's allowance for reading whole rows rather than interpolating.
COARSE_FACTOR = 1.5
#: Images compared at once with a whole bucket (bounds memory: the hash distances
#: of 1,024 images against a bucket of 10,000 took 160 MB; 256 keep it near 40).
CHUNK = 256

Relation = Literal["near_duplicate", "crop"]


@dataclass(frozen=True, slots=True)
class Link:
    """Two exhibits showing the same picture. For a crop, ``second`` is the crop and
    ``box`` (x, y, width, height in ``first``'s pixels) where it sits in ``first``."""

    first: str
    second: str
    relation: Relation
    phash_distance: int
    dhash_distance: int
    #: Share of thumbnail pixels more than PIXEL_DIFFERENCE apart, and the mean difference.
    differing: float
    mean_difference: float
    box: tuple[int, int, int, int] | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class NearDuplicateGroup:
    exhibits: tuple[str, ...]
    links: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class _Image:
    exhibit_id: int
    ref: str
    sha256: str
    phash: int
    dhash: int
    width: int
    height: int
    thumb: np.ndarray  # float32, rows x 24


def near_duplicate_groups(session: Session, case: Case, blobs: BlobStore | None = None,
                          involving: Collection[str] | None = None
                          ) -> list[NearDuplicateGroup]:
    """Groups of the case's images that show the same picture, largest group first.

    Crops are looked for only when ``blobs`` is given: confirming one needs the
    pixels of both originals. With ``involving`` (exhibit references, say those of
    the latest ingest), crops are looked for only where one side is among them;
    near-duplicates are always looked for among all images, which is cheap.
    """
    images = _load(session, case)
    links = _near_duplicates(images)
    if blobs is not None:
        links += _crops(images, blobs, None if involving is None else set(involving))
    return _groups(links)


def record_near_duplicates(session: Session, case: Case, blobs: BlobStore | None,
                           actor: str, involving: Collection[str] | None = None) -> int:
    """Write the links as facts on both exhibits, skipping those already recorded;
    returns how many facts were new."""
    groups = near_duplicate_groups(session, case, blobs, involving)
    if not groups:
        return 0
    by_ref = {ref: (exhibit_id, sha) for exhibit_id, ref, sha in session.execute(
        select(Exhibit.id, Exhibit.ref, Exhibit.sha256).where(Exhibit.case_id == case.id))}
    known = set()
    for exhibit_id, value in session.execute(
            select(Fact.exhibit_id, Fact.value).where(
                Fact.case_id == case.id, Fact.kind == FACT_KIND, Fact.source == SOURCE)):
        recorded = json.loads(value)
        known.add((exhibit_id, recorded.get("relation"), recorded.get("with_sha256")))
    rows: list[dict[str, Any]] = []
    for group in groups:
        for link in group.links:
            for ref, other, relation in _sides(link):
                exhibit_id, _ = by_ref[ref]
                other_sha = by_ref[other][1]
                if (exhibit_id, relation, other_sha) in known:
                    continue
                known.add((exhibit_id, relation, other_sha))
                rows.append({
                    "case_id": case.id, "exhibit_id": exhibit_id, "event_seq": None,
                    "kind": FACT_KIND, "source": SOURCE,
                    "value": canonical_json.dumps(_fact_value(link, other, other_sha, relation)),
                    "locator": canonical_json.dumps({"json_path": SIGNATURE_KIND}),
                })
    if rows:
        session.execute(insert(Fact), rows)
        custody.append(session, custody.case_chain(case.ref), actor, "near_duplicates_found",
                       case.ref, {"source": SOURCE, "facts": len(rows),
                                  "groups": [list(g.exhibits) for g in groups]})
    return len(rows)


def _sides(link: Link) -> list[tuple[str, str, str]]:
    """(exhibit, the other exhibit, relation as seen from the first) for both ends."""
    if link.relation == "crop":
        return [(link.first, link.second, "has_crop"), (link.second, link.first, "crop_of")]
    return [(link.first, link.second, "near_duplicate"),
            (link.second, link.first, "near_duplicate")]


def _fact_value(link: Link, other: str, other_sha: str, relation: str) -> dict[str, Any]:
    value: dict[str, Any] = {
        "relation": relation, "with": other, "with_sha256": other_sha,
        "phash_distance": link.phash_distance, "dhash_distance": link.dhash_distance,
        "thumbnail_differing": round(link.differing, 4),
        "thumbnail_mean_difference": round(link.mean_difference, 2),
    }
    if link.box is not None:
        value["box_in_original"] = list(link.box)
    if link.score is not None:
        value["match_score"] = round(link.score, 4)
    return value


# -- loading ------------------------------------------------------------------


def _load(session: Session, case: Case) -> list[_Image]:
    images: list[_Image] = []
    seen: set[int] = set()
    query = (select(Fact.exhibit_id, Fact.value, Exhibit.ref, Exhibit.sha256)
             .join(Exhibit, Exhibit.id == Fact.exhibit_id)
             .where(Fact.case_id == case.id, Fact.kind == SIGNATURE_KIND,
                    Fact.event_seq.is_(None))
             .order_by(Exhibit.id, Fact.id))
    for exhibit_id, text, ref, sha in session.execute(query):
        if exhibit_id in seen:
            continue
        image = _image(exhibit_id, ref, sha, json.loads(text))
        if image is not None:
            seen.add(exhibit_id)
            images.append(image)
    return images


def _image(exhibit_id: int, ref: str, sha: str, value: dict[str, Any]) -> _Image | None:
    """The stored signature, or None when it lacks a usable thumbnail."""
    try:
        width, height = int(value["width"]), int(value["height"])
        columns, rows = (int(n) for n in value["thumb_size"])
        pixels = np.frombuffer(base64.b64decode(value["thumb"], validate=True), dtype=np.uint8)
        phash, dhash = int(value["phash"], 16), int(value["dhash"], 16)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None
    if width <= 0 or height <= 0 or pixels.size != columns * rows or columns <= 0:
        return None
    return _Image(exhibit_id, ref, sha, phash, dhash, width, height,
                  pixels.reshape(rows, columns).astype(np.float32))


# -- near-duplicates ----------------------------------------------------------


def _near_duplicates(images: list[_Image]) -> list[Link]:
    """Pairs of the same aspect whose thumbnails agree; buckets of about 2% in aspect."""
    buckets: dict[int, list[_Image]] = defaultdict(list)
    step = math.log1p(ASPECT_TOLERANCE)
    for image in images:
        buckets[math.floor(math.log(image.height / image.width) / step)].append(image)
    links: list[Link] = []
    for key in sorted(buckets):
        own = buckets[key]
        # Neighbouring bucket too: two copies can straddle a boundary. Each pair is
        # looked at once: within a bucket, and from a bucket to the next one up.
        links += _compare(own, own + buckets.get(key + 1, []), same=len(own))
    return links


def _compare(rows: list[_Image], columns: list[_Image], same: int) -> list[Link]:
    height = max(1, round(float(np.median([i.thumb.shape[0] for i in rows]))))
    matrix = np.stack([_resized(i.thumb, height).ravel() for i in columns])
    phashes = np.array([i.phash for i in columns], dtype=np.uint64)
    links: list[Link] = []
    for start in range(0, same, CHUNK):
        stop = min(start + CHUNK, same)
        distances = np.bitwise_count(phashes[start:stop, None] ^ phashes[None, :])
        for offset, candidates in enumerate(distances <= MAX_PHASH_DISTANCE):
            i = start + offset
            others = np.nonzero(candidates)[0]
            # Each pair once: within the bucket only the later one, all of the next bucket.
            others = others[(others > i) | (others >= same)]
            if not len(others):
                continue
            difference = np.abs(matrix[others] - matrix[i])
            differing = (difference > PIXEL_DIFFERENCE).mean(axis=1)
            means = difference.mean(axis=1)
            for which in np.nonzero((differing <= MAX_DIFFERING)
                                    & (means <= MAX_MEAN_DIFFERENCE))[0]:
                link = _near_link(columns[i], columns[int(others[which])],
                                  float(differing[which]), float(means[which]))
                if link is not None:
                    links.append(link)
    return links


def _near_link(a: _Image, b: _Image, differing: float, mean: float) -> Link | None:
    if abs(a.height / a.width - b.height / b.width) > ASPECT_TOLERANCE * a.height / a.width:
        return None
    first, second = sorted((a, b), key=lambda i: (-i.width * i.height, i.ref))
    return Link(first.ref, second.ref, "near_duplicate", _bits(a.phash ^ b.phash),
                _bits(a.dhash ^ b.dhash), differing, mean)


def _resized(thumb: np.ndarray, rows: int) -> np.ndarray:
    if thumb.shape[0] == rows:
        return thumb
    positions = np.linspace(0, thumb.shape[0] - 1, rows)
    return _rows_at(thumb, positions)


def _rows_at(thumb: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Rows at fractional positions, linearly interpolated."""
    below = np.floor(positions).astype(int)
    above = np.minimum(below + 1, thumb.shape[0] - 1)
    weight = (positions - below)[:, None].astype(np.float32)
    result: np.ndarray = thumb[below] * (1 - weight) + thumb[above] * weight
    return result


def _bits(value: int) -> int:
    return bin(value).count("1")


# -- crops --------------------------------------------------------------------


def _crops(images: list[_Image], blobs: BlobStore, involving: set[str] | None) -> list[Link]:
    by_width: dict[int, list[_Image]] = defaultdict(list)
    for image in images:
        by_width[image.width].append(image)
    pixels = _PixelCache(blobs)
    links: list[Link] = []
    for group in by_width.values():
        tallest = max(image.height for image in group)
        # Originals of one size are slid against a crop all at once.
        by_height: dict[int, list[_Image]] = defaultdict(list)
        for image in group:
            by_height[image.height].append(image)
        stacks = [_Stack(members, involving) for members in by_height.values()]
        for crop in group:
            if crop.thumb.shape[0] < MIN_CROP_ROWS or crop.height > MAX_CROP_SHARE * tallest:
                continue
            # An old crop needs comparing with new originals only; but should one of
            # them match, the old ones compete again for the best match.
            only_new = involving is not None and crop.ref not in involving
            found = _crop_links(crop, stacks, pixels, only_new)
            if only_new and found:
                found = _crop_links(crop, stacks, pixels, only_new=False)
            # Two screenshots of one conversation can both contain the crop; only the
            # best match (and any as good) is its original.
            best = max((link.score or 0.0 for link in found), default=0.0)
            links += [link for link in found if (link.score or 0.0) >= best - BEST_MARGIN]
    return links


def _crop_links(crop: _Image, stacks: list[_Stack], pixels: _PixelCache, only_new: bool
                ) -> list[Link]:
    candidates = sorted(
        (candidate for stack in stacks if crop.height <= MAX_CROP_SHARE * stack.height
         and not (only_new and not stack.new.any())
         for candidate in stack.candidates(crop, only_new)),
        key=lambda c: (c[2], c[0].ref))
    return [link for original, offset, _ in candidates[:MAX_CROP_CHECKS]
            if (link := _confirm_crop(original, crop, offset, pixels)) is not None]


class _Stack:
    """Images of one size (a phone's screen), as arrays for sliding crops along."""

    def __init__(self, members: list[_Image], involving: set[str] | None) -> None:
        self.members = members
        self.new = np.array([involving is None or m.ref in involving for m in members])
        self.height = members[0].height
        self.rows = min(m.thumb.shape[0] for m in members)
        self.thumbs = np.stack([m.thumb[:self.rows] for m in members])  # n x rows x 24
        self.ids = np.array([m.exhibit_id for m in members])
        # Four vertical bands (left to right) per row: where the bubbles are.
        self.bands = self.thumbs.reshape(len(members), self.rows, BANDS, -1).mean(axis=3)
        self.profiles = self.thumbs.mean(axis=2)

    def candidates(self, crop: _Image, only_new: bool = False
                   ) -> Iterable[tuple[_Image, float, float]]:
        """Members whose band profile lines up with the crop's: each with the best
        offset in its thumbnail rows and the mean thumbnail difference there."""
        rows = crop.thumb.shape[0]
        # One crop row spans this many of the members' thumbnail rows.
        ratio = (crop.height / rows) / (self.height / self.rows)
        room = self.rows - 1 - (rows - 1) * ratio
        if room < 0:
            return
        starts = np.arange(0, math.floor(room * SUBROWS) + 1) / SUBROWS
        # A cheap first cut: row means, nearest rows, whole-row offsets, with a looser
        # limit (a row mean differs no more than the row's bands do on average).
        nearest = np.rint(np.arange(0, math.floor(room) + 1)[:, None]
                          + np.arange(rows)[None, :] * ratio).astype(np.intp)
        coarse = np.abs(np.take(self.profiles, np.minimum(nearest, self.rows - 1), axis=1)
                        - crop.thumb.mean(axis=1)).mean(axis=2)
        kept = np.nonzero((coarse.min(axis=1) <= COARSE_FACTOR * MAX_PROFILE_DIFFERENCE)
                          & (self.ids != crop.exhibit_id) & (self.new | (not only_new)))[0]
        if not len(kept):
            return
        crop_bands = crop.thumb.reshape(rows, BANDS, -1).mean(axis=2)
        errors = _slide(self.bands[kept], starts, rows, ratio, crop_bands)
        best = errors.argmin(axis=1)
        close = np.nonzero(errors[np.arange(len(kept)), best] <= MAX_PROFILE_DIFFERENCE)[0]
        if not len(close):
            return
        # Each close member's thumbnail rows where its best offset puts the crop.
        windows = _gather(self.thumbs[kept[close]], best[close], starts, rows, ratio)
        difference = np.abs(windows - crop.thumb)
        means = difference.mean(axis=(1, 2))
        shares = (difference > PIXEL_DIFFERENCE).mean(axis=(1, 2))
        for which in np.nonzero((shares <= MAX_CROP_DIFFERING)
                                & (means <= MAX_PROFILE_DIFFERENCE))[0]:
            member = self.members[int(kept[close[which]])]
            yield member, float(starts[best[close[which]]]), float(means[which])


def _gather(thumbs: np.ndarray, best: np.ndarray, starts: np.ndarray, rows: int,
            ratio: float) -> np.ndarray:
    """For each thumbnail (n x length x 24), its rows from its own best start, one every
    ``ratio`` rows, interpolated: n x rows x 24."""
    positions = np.minimum(starts[best][:, None] + np.arange(rows)[None, :] * ratio,
                           thumbs.shape[1] - 1)
    below = np.floor(positions).astype(np.intp)
    above = np.minimum(below + 1, thumbs.shape[1] - 1)
    weight = (positions - below).astype(np.float32)[:, :, None]
    which = np.arange(len(thumbs))[:, None]
    gathered: np.ndarray = thumbs[which, below] * (1 - weight) + thumbs[which, above] * weight
    return gathered


def _slide(series: np.ndarray, starts: np.ndarray, rows: int, ratio: float,
           crop: np.ndarray) -> np.ndarray:
    """Mean absolute difference between ``crop`` (rows x bands) and each of ``series``
    (n x length x bands) read from each start, one crop row every ``ratio`` rows:
    n x starts."""
    positions = np.minimum(starts[:, None] + np.arange(rows)[None, :] * ratio,
                           series.shape[1] - 1)
    below = np.floor(positions).astype(np.intp)
    above = np.minimum(below + 1, series.shape[1] - 1)
    weight = (positions - below).astype(np.float32)[None, :, :, None]
    errors = np.empty((series.shape[0], len(starts)), dtype=np.float32)
    for start in range(0, series.shape[0], CHUNK):
        part = series[start:start + CHUNK]
        lined_up = np.take(part, below, axis=1) * (1 - weight) + np.take(
            part, above, axis=1) * weight
        errors[start:start + CHUNK] = np.abs(lined_up - crop).mean(axis=(2, 3))
    return errors


def _confirm_crop(original: _Image, crop: _Image, offset_rows: float,
                  pixels: _PixelCache) -> Link | None:
    """Find the crop, pixel for pixel, in the original near where the thumbnails put it."""
    import cv2  # a heavy import, needed only here

    big, small = pixels.get(original), pixels.get(crop)
    if big is None or small is None or big.shape[1] != small.shape[1]:
        return None
    row = original.height / original.thumb.shape[0]
    expected = offset_rows * row
    top = max(0, math.floor(expected - 2 * row))
    bottom = min(big.shape[0], math.ceil(expected + small.shape[0] + 2 * row))
    if bottom - top < small.shape[0]:
        return None
    scores = cv2.matchTemplate(big[top:bottom], small, cv2.TM_CCOEFF_NORMED)
    _, score, _, (_, y) = cv2.minMaxLoc(scores)
    if not math.isfinite(score) or score < MIN_MATCH_SCORE:
        return None
    box = (0, top + y, crop.width, crop.height)
    window = _rows_at(original.thumb, (top + y) / row
                      + np.arange(crop.thumb.shape[0]) * (crop.height / crop.thumb.shape[0]) / row)
    difference = np.abs(window - crop.thumb)
    return Link(original.ref, crop.ref, "crop", _bits(original.phash ^ crop.phash),
                _bits(original.dhash ^ crop.dhash), float((difference > PIXEL_DIFFERENCE).mean()),
                float(difference.mean()), box, float(score))


class _PixelCache:
    """Decoded originals (grey, full size, lightly blurred) kept for a few comparisons."""

    def __init__(self, blobs: BlobStore, size: int = 8) -> None:
        self.blobs = blobs
        self.size = size
        self._cache: OrderedDict[str, np.ndarray | None] = OrderedDict()

    def get(self, image: _Image) -> np.ndarray | None:
        if image.sha256 in self._cache:
            self._cache.move_to_end(image.sha256)
            return self._cache[image.sha256]
        decoded = _decode(self.blobs, image)
        self._cache[image.sha256] = decoded
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return decoded


def _decode(blobs: BlobStore, image: _Image) -> np.ndarray | None:
    """The stored original as displayed, grey, at its own size. A small blur makes
    JPEG re-compression count for little against a difference of content."""
    import cv2
    from PIL import Image, ImageOps  # the parsers' reader; only needed for crops

    if image.width * image.height > MAX_MATCH_PIXELS:
        return None
    try:
        with blobs.open(image.sha256) as stream, Image.open(stream) as opened:
            shown = ImageOps.exif_transpose(opened) or opened
            if shown.mode in ("RGBA", "LA", "PA") or "transparency" in shown.info:
                rgba = shown.convert("RGBA")
                shown = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            grey = np.asarray(shown.convert("L"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    if grey.shape != (image.height, image.width):
        return None
    blurred: np.ndarray = cv2.GaussianBlur(grey, (0, 0), MATCH_BLUR)
    return blurred


# -- groups -------------------------------------------------------------------


def _groups(links: list[Link]) -> list[NearDuplicateGroup]:
    parent: dict[str, str] = {}

    def root(ref: str) -> str:
        parent.setdefault(ref, ref)
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    for link in links:
        parent[root(link.first)] = root(link.second)
    members: dict[str, list[str]] = defaultdict(list)
    for ref in list(parent):
        members[root(ref)].append(ref)
    grouped: dict[str, list[Link]] = defaultdict(list)
    for link in links:
        grouped[root(link.first)].append(link)
    groups = [NearDuplicateGroup(tuple(sorted(refs, key=_ref_order)),
                                 tuple(sorted(grouped[key], key=lambda k: (
                                     _ref_order(k.first), _ref_order(k.second)))))
              for key, refs in members.items()]
    return sorted(groups, key=lambda g: (-len(g.exhibits), _ref_order(g.exhibits[0])))


def _ref_order(ref: str) -> tuple[str, tuple[int, ...]]:
    """JS/2 before JS/10: references sort by their numbers."""
    prefix, _, rest = ref.partition("/")
    numbers = tuple(int(part) if part.isdigit() else 0 for part in rest.split("/"))
    return prefix, numbers
