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
* crops: a sub-rectangle of a picture at the original pixel size (what the crop
  tools of phones do to a screenshot), of two kinds, both recorded as relation
  "crop" with ``box`` (x, y, width, height in the original) and ``crop``:
  "full_width" when only the top and/or bottom were trimmed: candidates share
  their exact width; the crop's thumbnail, slid down each taller thumbnail of
  that width (four vertical bands per row, half-row steps, all thumbnails of
  one size at once), must line up. "sides" when the side handles were dragged
  in too: candidates are strictly wider originals at least as tall, the crop
  keeping at least 40% of their width and four of their thumbnail rows; its
  thumbnail, brought to the originals' thumbnail scale and grid (at each
  quarter cell), is matched in 2-D against all thumbnails of one size at once
  (OpenCV, a coarse pass then the 64 closest in full); thumbnails of text alias
  across the two grids, so this only keeps unrelated screens out.
  Either way the five candidates that agree best are decoded and OpenCV's
  normalised template match must find the crop in the original, at full size
  after a slight blur, within two thumbnail cells of where the thumbnails put
  it (score at least 0.98; an exact crop re-compressed scores above 0.99). Of
  several originals containing it only the best match (and any within 0.005)
  counts. Crops that were also resized are not found by this version. After an
  ingest only crops involving the new images are looked for (``involving``).

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
#: A crop trimmed at the sides keeps at least this share of its original's width
#: (a narrow strip of a chat screen lines up with too much).
MIN_CROP_WIDTH_SHARE = 0.4
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
#: Samples per thumbnail cell when bringing a side-trimmed crop's thumbnail to an
#: original's grid: the grid is tried at each quarter cell across and down.
PHASES = 4
#: Thumbnail agreement (mean grey difference) for a crop trimmed at the sides. Its
#: thumbnail cells fall across the original's at other places in both directions,
#: and lines of text alias: an exact crop of a text-dense chat measures about 13,
#: another chat of the same layout 15, another layout above 30. So this only keeps
#: unrelated screens out; the best MAX_CROP_CHECKS are decided at full size.
MAX_TRIMMED_DIFFERENCE = 20.0
#: Originals of one size whose thumbnails come closest at a first, coarser try are
#: tried in full (bounds the cost of a side-trimmed crop against thousands).
TRIMMED_SHORTLIST = 64
#: The first cut's allowance for reading whole rows rather than interpolating.
COARSE_FACTOR = 1.5
#: Images compared at once with a whole bucket (bounds memory: the hash distances
#: of 1,024 images against a bucket of 10,000 took 160 MB; 256 keep it near 40).
CHUNK = 256

Relation = Literal["near_duplicate", "crop"]
#: A crop keeping the original's width, or one trimmed at the sides as well.
CropKind = Literal["full_width", "sides"]


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
    crop: CropKind | None = None


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
    if link.crop is not None:
        value["crop"] = link.crop
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
    # Row means: their mean difference never exceeds the thumbnails' own (the mean of
    # differences is at least the difference of means), so a pair too far apart here
    # cannot pass, and a chat app's screens, a few pHash bits apart whatever they
    # say, are mostly ruled out at a 24th of the cost.
    profiles = matrix.reshape(len(columns), height, -1).mean(axis=2)
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
            others = others[np.abs(profiles[others] - profiles[i]).mean(axis=1)
                            <= MAX_MEAN_DIFFERENCE]
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
    # Originals of one size (a phone's screen) are slid against a crop all at once.
    by_size: dict[tuple[int, int], list[_Image]] = defaultdict(list)
    for image in images:
        by_size[(image.width, image.height)].append(image)
    stacks = [_Stack(members, involving) for members in by_size.values()]
    tallest: dict[int, int] = defaultdict(int)
    for stack in stacks:
        tallest[stack.width] = max(tallest[stack.width], stack.height)
    pixels = _PixelCache(blobs)
    links: list[Link] = []
    for crop in images:
        full_width = (crop.thumb.shape[0] >= MIN_CROP_ROWS
                      and crop.height <= MAX_CROP_SHARE * tallest[crop.width])
        # Screens strictly wider than the crop may hold it trimmed at the sides; those
        # it covers too little of are skipped (a strip lines up with too much).
        wider = [stack for stack in stacks if stack.holds_trimmed(crop)]
        if not full_width and not wider:
            continue
        same = [stack for stack in stacks if stack.width == crop.width] if full_width else []
        # An old crop needs comparing with new originals only; but should one of
        # them match, the old ones compete again for the best match.
        only_new = involving is not None and crop.ref not in involving
        found = _crop_links(crop, same, wider, pixels, only_new)
        if only_new and found:
            found = _crop_links(crop, same, wider, pixels, only_new=False)
        # Two screenshots of one conversation can both contain the crop; only the
        # best match (and any as good) is its original.
        best = max((link.score or 0.0 for link in found), default=0.0)
        links += [link for link in found if (link.score or 0.0) >= best - BEST_MARGIN]
    return links


#: A crop candidate: the original, where the thumbnails put the crop (left and top,
#: in the original's thumbnail columns and rows), their mean difference and the
#: share of pixels differing there.
_Candidate = tuple[_Image, float, float, float, float]


def _crop_links(crop: _Image, same: list[_Stack], wider: list[_Stack], pixels: _PixelCache,
                only_new: bool) -> list[Link]:
    """``same``: stacks of the crop's width; ``wider``: stacks that may hold it trimmed
    at the sides too (_Stack.holds_trimmed)."""
    def worth(stack: _Stack) -> bool:
        return not (only_new and not stack.new.any())

    found = [*(candidate for stack in same
               if worth(stack) and crop.height <= MAX_CROP_SHARE * stack.height
               for candidate in stack.candidates(crop, only_new)),
             *(candidate for stack in wider if worth(stack)
               for candidate in stack.trimmed_candidates(crop, only_new))]
    candidates = sorted(found, key=lambda c: (c[3], c[0].ref))
    return [link for candidate in candidates[:MAX_CROP_CHECKS]
            if (link := _confirm_crop(candidate, crop, pixels)) is not None]


class _Stack:
    """Images of one size (a phone's screen), as arrays for sliding crops along."""

    def __init__(self, members: list[_Image], involving: set[str] | None) -> None:
        self.members = members
        self.new = np.array([involving is None or m.ref in involving for m in members])
        self.width = members[0].width
        self.height = members[0].height
        self.rows = min(m.thumb.shape[0] for m in members)
        self.thumbs = np.stack([m.thumb[:self.rows] for m in members])  # n x rows x 24
        self.ids = np.array([m.exhibit_id for m in members])
        # Four vertical bands (left to right) per row: where the bubbles are.
        self.bands = self.thumbs.reshape(len(members), self.rows, BANDS, -1).mean(axis=3)
        self.profiles = self.thumbs.mean(axis=2)

    def candidates(self, crop: _Image, only_new: bool = False) -> Iterable[_Candidate]:
        """Members whose band profile lines up with the crop's (of their width): each
        with the best offset in its thumbnail rows and the thumbnail difference there."""
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
                          & self._eligible(crop, only_new))[0]
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
            yield (member, 0.0, float(starts[best[close[which]]]), float(means[which]),
                   float(shares[which]))

    def holds_trimmed(self, crop: _Image) -> bool:
        """Whether a crop trimmed at the sides as well could come from these screens
        and is large enough to judge."""
        return (self.width > crop.width >= MIN_CROP_WIDTH_SHARE * self.width
                and crop.height <= self.height
                and crop.height * self.rows / self.height >= MIN_CROP_ROWS)

    def trimmed_candidates(self, crop: _Image, only_new: bool = False
                           ) -> Iterable[_Candidate]:
        """Members in which the crop lines up somewhere, its thumbnail brought to their
        thumbnails' scale and grid (2-D, in half-row and half-column steps): each with
        the best place and the thumbnail difference there."""
        import cv2  # a heavy import, needed only for crops

        columns = self.thumbs.shape[2]
        across, down = columns * crop.width / self.width, self.rows * crop.height / self.height
        kept = np.nonzero(self._eligible(crop, only_new))[0]
        if not len(kept):
            return
        # The crop's thumbnail finely resampled, then averaged over the members' cells
        # for each way their grid can fall on it (its edge at a whole or half cell).
        fine = cv2.resize(crop.thumb, (max(1, round(across * PHASES)),
                                       max(1, round(down * PHASES))),
                          interpolation=cv2.INTER_LINEAR) - 128
        templates = []
        for shift_y in range(PHASES):
            for shift_x in range(PHASES):
                part = fine[shift_y:, shift_x:]
                high, wide = part.shape[0] // PHASES, part.shape[1] // PHASES
                if high < 1 or wide < 1:
                    continue
                template = part[:high * PHASES, :wide * PHASES].reshape(
                    high, PHASES, wide, PHASES).mean(axis=(1, 3))
                templates.append((template, shift_x / PHASES, shift_y / PHASES))
        templates = [entry for entry in templates
                     if entry[0].shape[0] <= self.rows and entry[0].shape[1] <= columns]
        if not templates:
            return
        thumbs = self.thumbs - 128
        # A first cut with the grid at one place per cell; the closest few are then
        # tried at every quarter cell.
        coarse = _best_places(thumbs, kept, templates[len(templates) // 2:][:1])[0]
        shortlist = kept[np.argsort(coarse, kind="stable")[:TRIMMED_SHORTLIST]]
        places = _best_places(thumbs, shortlist, templates)
        for index, _, row, column, number in zip(shortlist, *places, strict=True):
            template, left_shift, top_shift = templates[int(number)]
            high, wide = template.shape
            difference = np.abs(thumbs[index, row:row + high, column:column + wide] - template)
            mean = float(difference.mean())
            if mean <= MAX_TRIMMED_DIFFERENCE:
                yield (self.members[int(index)], float(column - left_shift),
                       float(row - top_shift), mean,
                       float((difference > PIXEL_DIFFERENCE).mean()))

    def _eligible(self, crop: _Image, only_new: bool) -> np.ndarray:
        return (self.ids != crop.exhibit_id) & (self.new | (not only_new))


def _best_places(thumbs: np.ndarray, indices: np.ndarray,
                 templates: list[tuple[np.ndarray, float, float]]) -> tuple[np.ndarray, ...]:
    """For each of ``thumbs[indices]`` (rows x columns each), where one of the templates
    fits best: the mean squared difference, row, column and which template."""
    rows, columns = thumbs.shape[1:]
    found: list[tuple[np.ndarray, ...]] = []
    for start in range(0, len(indices), CHUNK):
        part = indices[start:start + CHUNK]
        # The thumbnails one under another: one template match for them all; the
        # places straddling two thumbnails are dropped.
        stacked = np.ascontiguousarray(thumbs[part].reshape(-1, columns))
        best: tuple[np.ndarray, ...] | None = None
        for number, (template, _, _) in enumerate(templates):
            high, wide = template.shape
            places = columns - wide + 1
            scores = _match(stacked, template) / template.size
            scores = np.concatenate(
                [scores, np.full((high - 1, places), np.inf, np.float32)]
            ).reshape(len(part), -1)[:, :(rows - high + 1) * places]
            flat = scores.argmin(axis=1)
            row, column = np.divmod(flat, places)
            candidate = (scores[np.arange(len(part)), flat], row, column,
                         np.full(len(part), number))
            best = candidate if best is None else tuple(
                np.where(candidate[0] < best[0], new, old)
                for new, old in zip(candidate, best, strict=True))
        assert best is not None
        found.append(best)
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))


def _match(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    import cv2

    scores: np.ndarray = cv2.matchTemplate(image, template, cv2.TM_SQDIFF)
    return scores


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


def _confirm_crop(candidate: _Candidate, crop: _Image, pixels: _PixelCache) -> Link | None:
    """Find the crop, pixel for pixel, in the original near where the thumbnails put it
    (two thumbnail cells either way)."""
    import cv2  # a heavy import, needed only here

    original, left_cells, top_rows, mean, share = candidate
    big, small = pixels.get(original), pixels.get(crop)
    if big is None or small is None or small.shape[1] > big.shape[1]:
        return None
    row = original.height / original.thumb.shape[0]
    column = original.width / original.thumb.shape[1]
    expected_y, expected_x = top_rows * row, left_cells * column
    top = max(0, math.floor(expected_y - 2 * row))
    bottom = min(big.shape[0], math.ceil(expected_y + small.shape[0] + 2 * row))
    left = max(0, math.floor(expected_x - 2 * column))
    right = min(big.shape[1], math.ceil(expected_x + small.shape[1] + 2 * column))
    if bottom - top < small.shape[0] or right - left < small.shape[1]:
        return None
    scores = cv2.matchTemplate(big[top:bottom, left:right], small, cv2.TM_CCOEFF_NORMED)
    _, score, _, (x, y) = cv2.minMaxLoc(scores)
    if not math.isfinite(score) or score < MIN_MATCH_SCORE:
        return None
    box = (left + x, top + y, crop.width, crop.height)
    if crop.width < original.width:
        # Trimmed at the sides: the thumbnails' agreement where they lined it up.
        return Link(original.ref, crop.ref, "crop", _bits(original.phash ^ crop.phash),
                    _bits(original.dhash ^ crop.dhash), share, mean, box, float(score),
                    "sides")
    window = _rows_at(original.thumb, (top + y) / row
                      + np.arange(crop.thumb.shape[0]) * (crop.height / crop.thumb.shape[0]) / row)
    difference = np.abs(window - crop.thumb)
    return Link(original.ref, crop.ref, "crop", _bits(original.phash ^ crop.phash),
                _bits(original.dhash ^ crop.dhash), float((difference > PIXEL_DIFFERENCE).mean()),
                float(difference.mean()), box, float(score), "full_width")


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
