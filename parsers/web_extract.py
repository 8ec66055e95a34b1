"""What a web page shows, read from its HTML: shared by saved pages (.html, .mhtml) and captures.

Nothing here fetches or runs anything: scripts are text to skip (JSON-LD is read
with ``json``), links and images are recorded, never followed. The page is
parsed with BeautifulSoup's ``html.parser`` and walked once, iteratively (a page
of 100,000 nested tags must not exhaust the stack), collecting:

* the title, the visible text (no script, style, noscript, template, head or
  ``hidden`` subtrees), meta tags (OpenGraph, Twitter, description, author ...);
* who the page says wrote it or whose it is: ``meta name=author``,
  ``article:author``, ``twitter:creator``, ``rel=author``, ``itemprop=author``
  and JSON-LD persons (name, alternateName, identifier, url);
* profile identifiers where the page shows one: JSON-LD identifiers,
  ``data-profile-id``-style attributes, and the page's own URLs (og:url,
  canonical, app links) on Facebook, Instagram, X and TikTok;
* ``<time>`` elements with the post (``<article>`` or a schema.org posting) they
  date, and the links out of the page.

Everything kept is bounded (see the MAX_ constants); what was cut is said.
"""

from __future__ import annotations

import codecs
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

from bs4 import (
    BeautifulSoup,
    MarkupResemblesLocatorWarning,
    NavigableString,
    Tag,
    XMLParsedAsHTMLWarning,
)
from bs4.dammit import EncodingDetector
from bs4.element import RubyParenthesisString, RubyTextString

from parsers.errors import DamagedInput
from parsers.identifiers import handle_id
from parsers.records import (
    AttachmentRef,
    DerivedFact,
    EventRecord,
    FileNote,
    JSONValue,
    Locator,
    ParsedItem,
    Precision,
    WallClock,
)

CHANNEL = "web"

#: Decoded characters handed to the HTML parser; the rest of a larger page is not read.
MAX_PARSE_CHARS = 16_000_000
#: Tags ("<" counted) handed to the parser: a BeautifulSoup tree costs about 1 KB a tag.
MAX_TAGS = 150_000
#: Visible text kept in the web_text fact (its full length is recorded beside it).
MAX_TEXT_CHARS = 100_000
#: Raw text gathered before normalising; a page of more text is cut here.
_MAX_RAW_TEXT = 2_000_000
MAX_LINKS = 2_000
MAX_TIMES = 2_000
MAX_META = 300
MAX_POST_EVENTS = 2_000
MAX_POST_TEXT = 20_000
_MAX_VALUE = 2_000
_MAX_JSON_LD_SCRIPTS = 20
_MAX_JSON_LD_CHARS = 1_000_000
_MAX_JSON_LD_NODES = 5_000
_MAX_IDS = 50
#: Nodes looked at under one element for its own text or parts.
_MAX_SCAN = 100
#: All nodes looked at that way on one page.
_SCAN_BUDGET = 1_000_000
_READ_PIECE = 1024 * 1024

_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "iframe", "object"})
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
    "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
_SRC_TAGS = frozenset({"img", "script", "source", "video", "audio", "iframe", "embed", "track",
                       "input"})
_RESOURCE_RELS = frozenset({"stylesheet", "icon", "shortcut", "preload", "apple-touch-icon"})
_VISIBLE_STRINGS = (NavigableString, RubyTextString, RubyParenthesisString)
_POSTING_TYPES = re.compile(
    r"schema\.org/(?:SocialMediaPosting|BlogPosting|DiscussionForumPosting|Comment|Article|"
    r"NewsArticle|Review|Message)\b", re.IGNORECASE)
_PUBLISHED = frozenset({"datepublished", "datecreated", "uploaddate", "datesent"})
_PROFILE_ATTRS = frozenset({
    "data-profile-id", "data-profileid", "data-user-id", "data-userid", "data-owner-id",
    "data-author-id", "data-uid", "data-account-id",
})
_ID_META = {"twitter:creator:id": "x", "fb:profile_id": "facebook",
            "instapp:owner_user_id": "instagram"}
_SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)(\S+?)\s*-->", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_HTML_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<frac>\d{1,9}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?)?")

# Paths on each platform that are not a person's profile.
_NOT_HANDLES = {
    "facebook": frozenset({
        "groups", "pages", "events", "watch", "share", "sharer", "sharer.php", "story.php",
        "photo", "photo.php", "photos", "permalink.php", "login", "login.php", "marketplace",
        "gaming", "hashtag", "help", "policies", "privacy", "settings", "reel", "reels",
        "stories", "friends", "messages", "notifications", "search", "home.php", "l.php",
        "dialog", "plugins", "tr", "video.php", "people", "profile.php"}),
    "instagram": frozenset({
        "p", "reel", "reels", "explore", "stories", "accounts", "direct", "tv", "about",
        "legal", "developer", "web", "emails", "challenge", "graphql"}),
    "x": frozenset({
        "i", "home", "search", "intent", "share", "hashtag", "settings", "explore", "messages",
        "notifications", "login", "signup", "tos", "privacy", "compose", "account"}),
    "tiktok": frozenset(),
}
_PLATFORM_HOSTS = (
    ("facebook", ("facebook.com", "fb.com")),
    ("instagram", ("instagram.com",)),
    ("x", ("x.com", "twitter.com")),
    ("tiktok", ("tiktok.com",)),
)
_HANDLE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


# -- reading ----------------------------------------------------------------------


def read_up_to(stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` bytes, read in pieces: ``read(limit)`` would allocate the
    whole limit at once however small the file."""
    pieces: list[bytes] = []
    size = 0
    while size < limit:
        piece = stream.read(min(_READ_PIECE, limit - size))
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    return b"".join(pieces)


# -- decoding ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    #: bom, declared (by the page or its container) or guessed.
    encoding_source: str
    replaced: bool


def decode_html(raw: bytes, declared: str | None = None) -> Decoded:
    """The page as text, the way a browser picks the encoding: a byte order mark, then
    a charset stated outside the page (an MHTML part's), then the page's own
    ``<meta charset>``, then UTF-8 if the bytes are valid UTF-8, else Windows-1252.

    Bytes invalid in the chosen encoding become U+FFFD and ``replaced`` says so;
    one bad byte never switches the whole page to another encoding.
    """
    data, bom = EncodingDetector.strip_byte_order_mark(raw)
    if bom:
        return _decoded(data, bom, "bom")
    try:
        stated = declared or EncodingDetector.find_declared_encoding(data, is_html=True)
    except Exception:  # noqa: BLE001 - a hostile declaration must not stop the page
        stated = None
    name = _usable_encoding(stated)
    if name is not None:
        return _decoded(data, name, "declared")
    try:
        return Decoded(data.decode("utf-8"), "utf-8", "guessed", False)
    except UnicodeDecodeError:
        return _decoded(data, "cp1252", "guessed")


def _decoded(data: bytes, encoding: str, source: str) -> Decoded:
    try:
        return Decoded(data.decode(encoding), encoding, source, False)
    except UnicodeDecodeError:
        return Decoded(data.decode(encoding, "replace"), encoding, source, True)


def _usable_encoding(name: str | None) -> str | None:
    if not name:
        return None
    try:
        found = codecs.lookup(name.strip()).name
    except (LookupError, ValueError):
        return None
    # A page cannot declare itself UTF-16 in ASCII bytes; browsers read it as UTF-8.
    return "utf-8" if found.startswith(("utf-16", "utf-32")) else found


# -- times -------------------------------------------------------------------------


def html_time(raw: str) -> WallClock | None:
    """A ``<time datetime>`` value (HTML's date and global/local date-time forms).

    With Z or an offset the instant is known; without one the time is local to
    a zone the page does not name (the store assumes the case's) and flagged.
    Durations, month-only and time-only values are not points in time: None.
    """
    text = raw.strip()
    match = _HTML_TIME.fullmatch(text)
    if match is None:
        return None
    precision: Precision = "day"
    iso = match["date"]
    if match["h"] is not None:
        precision = "minute"
        iso += f"T{match['h']}:{match['mi']}"
        if match["s"] is not None:
            precision = "second"
            iso += f":{match['s']}"
            if match["frac"]:
                precision = "subsecond"
                iso += "." + match["frac"][:6].ljust(6, "0")
        zone = match["zone"]
        if zone:
            iso += "+00:00" if zone == "Z" else zone
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        return WallClock(text=text, instant=moment, precision=precision)
    return WallClock(text=text, local=moment, precision=precision,
                     flags=("page_time_zone_unstated",))


# -- the page ----------------------------------------------------------------------


@dataclass(slots=True)
class PageTime:
    raw: str
    text: str
    line: int | None
    clock: WallClock | None
    itemprop: str | None
    post: int | None


@dataclass(slots=True)
class Post:
    """An ``<article>`` or schema.org posting: what a ``<time>`` inside it dates."""

    line: int | None
    pieces: list[str] = field(default_factory=list)
    chars: int = 0
    authors: list[dict[str, str]] = field(default_factory=list)
    times: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Page:
    title: str | None = None
    page_url: str | None = None
    page_url_source: str | None = None
    base_href: str | None = None
    canonical: str | None = None
    meta: list[list[str]] = field(default_factory=list)
    meta_total: int = 0
    authors: list[dict[str, str]] = field(default_factory=list)
    profile_ids: list[dict[str, str]] = field(default_factory=list)
    links: list[dict[str, str | None]] = field(default_factory=list)
    links_total: int = 0
    #: src/href of images, stylesheets, scripts and media the page loads (not followed).
    resources: list[str] = field(default_factory=list)
    times: list[PageTime] = field(default_factory=list)
    times_total: int = 0
    posts: list[Post] = field(default_factory=list)
    text: str = ""
    text_length: int = 0
    text_cut: bool = False
    encoding: str | None = None
    encoding_source: str | None = None
    replaced_characters: bool = False
    parse_cut: str | None = None
    json_ld_problems: list[str] = field(default_factory=list)
    #: Too many links, times or titles to read each one's own text in full.
    element_text_cut: bool = False

    def meta_value(self, key: str) -> str | None:
        for name, value in self.meta:
            if name == key:
                return value
        return None

    @property
    def base_url(self) -> tuple[str | None, str | None]:
        """(URL relative links are resolved against, where it came from)."""
        document, source = self.page_url, self.page_url_source
        if document is None:
            for candidate, name in ((self.canonical, "canonical"),
                                    (self.meta_value("og:url"), "og:url")):
                if candidate and _absolute(candidate):
                    document, source = candidate, name
                    break
        if self.base_href:
            if _absolute(self.base_href):
                return self.base_href, "base element"
            if document:
                return urljoin(document, self.base_href), "base element"
        return document, source


def _absolute(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _bounded(text: str, limit: int = _MAX_VALUE) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _squash(text: str) -> str:
    return " ".join(text.split())


def _attr(tag: Tag, name: str) -> str | None:
    value = tag.get(name)
    if isinstance(value, list):
        return " ".join(value)
    return value if isinstance(value, str) else None


def _rel(tag: Tag) -> list[str]:
    value = tag.get("rel")
    if isinstance(value, str):
        return value.lower().split()
    return [v.lower() for v in value] if value else []


def read_page(raw: bytes, declared_charset: str | None = None,
              page_url: str | None = None, page_url_source: str | None = None) -> Page:
    """Parse and walk one HTML document; DamagedInput when it cannot be read at all."""
    decoded = decode_html(raw, declared_charset)
    text, cut = _cut_for_parsing(decoded.text)
    page = Page(encoding=decoded.encoding, encoding_source=decoded.encoding_source,
                replaced_characters=decoded.replaced, parse_cut=cut)
    if page_url is None and (saved := _SAVED_FROM.search(text[:4096])):
        page_url, page_url_source = saved.group(1), "saved from url comment"
    page.page_url, page.page_url_source = page_url, page_url_source
    try:
        with warnings.catch_warnings():
            # Hostile input may look like XML or a file name; the HTML parser is deliberate.
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            soup = BeautifulSoup(text, "html.parser")
        _Walker(page).walk(soup)
    except RecursionError as exc:
        raise DamagedInput("the HTML is nested too deeply to read") from exc
    except DamagedInput:
        raise
    except Exception as exc:  # html.parser and bs4 fail on hostile markup in varied ways
        raise DamagedInput(f"the HTML cannot be read: {type(exc).__name__}") from exc
    return page


def _cut_for_parsing(text: str) -> tuple[str, str | None]:
    reason = None
    if len(text) > MAX_PARSE_CHARS:
        text, reason = text[:MAX_PARSE_CHARS], f"only the first {MAX_PARSE_CHARS} characters"
    at = -1
    for _ in range(MAX_TAGS):
        at = text.find("<", at + 1)
        if at < 0:
            break
    else:
        if text.find("<", at + 1) >= 0:
            text, reason = text[:at], f"only the first {MAX_TAGS} tags"
    return text, reason


class _Walker:
    """One iterative pass over the tree, filling a Page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.raw_text: list[str] = []
        self.raw_chars = 0
        self.json_ld: list[str] = []
        self.attr_ids = 0
        self.itemprop_authors = 0
        self.budget = _Budget(_SCAN_BUDGET)

    def walk(self, soup: BeautifulSoup) -> None:
        # (node, post index or None, skipped subtree); a None node closes a block.
        stack: list[tuple[Any, int | None, bool]] = [(soup, None, False)]
        while stack:
            node, post, skipped = stack.pop()
            if node is None:
                if not skipped:
                    self._text("\n", post)
                continue
            if isinstance(node, Tag):
                name = (node.name or "").lower()
                post = self._tag(node, name, post, skipped)
                hidden = skipped or name in _SKIPPED or node.has_attr("hidden")
                if name in _BLOCKS and not hidden:
                    self._text("\n", post)
                    stack.append((None, post, hidden))
                stack.extend((child, post, hidden) for child in reversed(node.contents))
            elif not skipped and type(node) in _VISIBLE_STRINGS:
                self._text(str(node), post)
        self._finish()

    # -- per tag -----------------------------------------------------------------------

    def _tag(self, tag: Tag, name: str, post: int | None, skipped: bool) -> int | None:
        page = self.page
        if name == "title" and page.title is None:
            page.title = self.budget.text(tag, _MAX_VALUE) or None
        elif name == "meta":
            self._meta(tag)
        elif name == "base" and page.base_href is None:
            page.base_href = _attr(tag, "href")
        elif name == "link":
            self._link_element(tag)
        elif name == "script":
            kind = (_attr(tag, "type") or "").lower()
            if kind == "application/ld+json" and len(self.json_ld) < _MAX_JSON_LD_SCRIPTS:
                self.json_ld.append(self.budget.text(tag, _MAX_JSON_LD_CHARS + 1, squash=False))
        self._profile_attrs(tag)
        self._resource(tag, name)
        if skipped:
            return post
        posting = name == "article" or _POSTING_TYPES.search(_attr(tag, "itemtype") or "")
        if posting and len(page.posts) < MAX_POST_EVENTS:
            page.posts.append(Post(line=tag.sourceline))
            post = len(page.posts) - 1
        if name == "a":
            self._anchor(tag, post)
        elif name == "time":
            self._time(tag, post)
        itemprop = (_attr(tag, "itemprop") or "").lower().split()
        if "author" in itemprop or "creator" in itemprop:
            self._itemprop_author(tag, post)
        return post

    def _resource(self, tag: Tag, name: str) -> None:
        if name in _SRC_TAGS:
            src = _attr(tag, "src")
        elif name == "link" and not _RESOURCE_RELS.isdisjoint(_rel(tag)):
            src = _attr(tag, "href")
        else:
            return
        if src and src.strip() and len(self.page.resources) < MAX_LINKS:
            self.page.resources.append(src.strip())

    def _meta(self, tag: Tag) -> None:
        key = _attr(tag, "property") or _attr(tag, "name") or _attr(tag, "itemprop")
        content = _attr(tag, "content")
        if not key or content is None:
            return
        key = key.strip().lower()
        page = self.page
        page.meta_total += 1
        if len(page.meta) < MAX_META:
            page.meta.append([_bounded(key, 200), _bounded(content.strip())])
        value = content.strip()
        if not value:
            return
        if key in ("author", "article:author", "og:article:author", "book:author"):
            self._author({"url" if _absolute(value) else "name": value,
                          "source": f"meta {key}"})
        elif key in ("twitter:creator", "twitter:site"):
            self._author({"handle": value, "source": f"meta {key}"})
            handle = value.lstrip("@")
            if _HANDLE.fullmatch(handle) and key == "twitter:creator":
                self._profile("x", handle, "handle", f"meta {key}")
        elif key in _ID_META:
            platform = _ID_META[key]
            self._profile(platform, value, "id", f"meta {key}")
        elif key in ("og:url", "twitter:url") or (key.startswith("al:") and key.endswith(":url")):
            self._profile_url(value, f"meta {key}")

    def _link_element(self, tag: Tag) -> None:
        rel = _rel(tag)
        href = _attr(tag, "href")
        if not href:
            return
        if "canonical" in rel and self.page.canonical is None:
            self.page.canonical = href.strip()
            self._profile_url(href.strip(), "link canonical")
        if "author" in rel:
            self._author({"url": href.strip(), "source": "link rel=author"})

    def _anchor(self, tag: Tag, post: int | None) -> None:
        href = _attr(tag, "href")
        if href is None:
            return
        page = self.page
        page.links_total += 1
        text = self.budget.text(tag, 500)
        if len(page.links) < MAX_LINKS:
            page.links.append({"href": _bounded(href.strip()), "text": text,
                               "line": str(tag.sourceline) if tag.sourceline else None})
        if "author" in _rel(tag):
            found = {"url": href.strip(), "source": "a rel=author"}
            if text:
                found["name"] = text
            self._author(found, post)

    def _time(self, tag: Tag, post: int | None) -> None:
        page = self.page
        page.times_total += 1
        if len(page.times) >= MAX_TIMES:
            return
        raw = _attr(tag, "datetime")
        shown = self.budget.text(tag, 500)
        value = raw if raw is not None else shown
        itemprop = (_attr(tag, "itemprop") or "").lower() or None
        page.times.append(PageTime(raw=_bounded(value, 200), text=shown, line=tag.sourceline,
                                   clock=html_time(value), itemprop=itemprop, post=post))
        if post is not None:
            page.posts[post].times.append(len(page.times) - 1)

    def _itemprop_author(self, tag: Tag, post: int | None) -> None:
        if self.itemprop_authors >= _MAX_IDS:
            return
        self.itemprop_authors += 1
        named = self.budget.first_with(tag, "itemprop", "name")
        name = self.budget.text(named or tag, 500)
        found = {"source": "itemprop=author"}
        if name:
            found["name"] = _bounded(name, 500)
        url = _attr(tag, "href")
        if url is None and (link := self.budget.first_with(tag, "itemprop", "url")) is not None:
            url = _attr(link, "href") or _attr(link, "content")
        if url:
            found["url"] = url.strip()
        if len(found) > 1:
            self._author(found, post)

    def _profile_attrs(self, tag: Tag) -> None:
        if self.attr_ids >= _MAX_IDS:
            return
        for name, value in tag.attrs.items():
            if name.lower() in _PROFILE_ATTRS and isinstance(value, str) and value.strip():
                self.attr_ids += 1
                self._profile(None, value.strip(), "id", f"attribute {name.lower()}"
                              + (f" (line {tag.sourceline})" if tag.sourceline else ""))

    # -- people ------------------------------------------------------------------------

    def _author(self, found: dict[str, str], post: int | None = None) -> None:
        found = {k: _bounded(v) for k, v in found.items()}
        target = self.page.posts[post].authors if post is not None else self.page.authors
        if found not in target and len(target) < _MAX_IDS:
            target.append(found)
        if "url" in found and post is None:
            # A post's author is not whose page it is (a comment on a profile).
            self._profile_url(found["url"], found["source"])

    def _profile(self, platform: str | None, value: str, kind: str, source: str) -> None:
        entry = {"id": _bounded(value, 200), "kind": kind, "source": source}
        if platform:
            entry["platform"] = platform
            entry["identifier"] = handle_id(platform, value)
        ids = self.page.profile_ids
        if len(ids) < _MAX_IDS and not any(e.get("identifier", e["id"]) ==
                                           entry.get("identifier", entry["id"]) for e in ids):
            ids.append(entry)

    def _profile_url(self, url: str, source: str) -> None:
        found = profile_of_url(url)
        if found is not None:
            self._profile(found[0], found[1], found[2], source)

    # -- after the walk ----------------------------------------------------------------

    def _text(self, piece: str, post: int | None) -> None:
        if self.raw_chars < _MAX_RAW_TEXT:
            self.raw_text.append(piece)
            self.raw_chars += len(piece)
        else:
            self.page.text_cut = True
        if post is not None:
            target = self.page.posts[post]
            if target.chars < MAX_POST_TEXT * 2:
                target.pieces.append(piece)
                target.chars += len(piece)

    def _finish(self) -> None:
        page = self.page
        page.element_text_cut = self.budget.left <= 0
        text = normalise_text("".join(self.raw_text))
        page.text_length = len(text)
        page.text = text[:MAX_TEXT_CHARS]
        for source in self.json_ld:
            self._json_ld(source)

    def _json_ld(self, source: str) -> None:
        if len(source) > _MAX_JSON_LD_CHARS:
            self.page.json_ld_problems.append(f"a JSON-LD block over {_MAX_JSON_LD_CHARS} "
                                              "characters was not read")
            return
        try:
            data = json.loads(source)
        except (ValueError, RecursionError) as exc:
            self.page.json_ld_problems.append(f"a JSON-LD block is not valid JSON "
                                              f"({type(exc).__name__})")
            return
        for node in _json_nodes(data):
            kind = node.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if "Person" in kinds or "Organization" in kinds:
                self._json_ld_person(node)
            for key in ("author", "creator"):
                value = node.get(key)
                for person in value if isinstance(value, list) else [value]:
                    if isinstance(person, str) and person.strip():
                        self._author({"name": person.strip(), "source": f"json-ld {key}"})

    def _json_ld_person(self, node: Mapping[str, Any]) -> None:
        found = {"source": "json-ld " + str(node.get("@type"))}
        for key, label in (("name", "name"), ("alternateName", "alternate_name"),
                           ("url", "url")):
            value = node.get(key)
            if isinstance(value, str) and value.strip():
                found[label] = value.strip()
        identifier = node.get("identifier")
        if isinstance(identifier, Mapping):
            identifier = identifier.get("value")
        if isinstance(identifier, int | str) and not isinstance(identifier, bool) and (
                str(identifier).strip()):
            found["identifier"] = str(identifier).strip()
        if len(found) > 1:
            self._author(found)
        platform = None
        if "url" in found and (of_url := profile_of_url(found["url"])):
            platform = of_url[0]
        if "identifier" in found:
            self._profile(platform, found["identifier"], "id", "json-ld identifier")
        alternate = found.get("alternate_name", "").lstrip("@")
        if platform and _HANDLE.fullmatch(alternate):
            self._profile(platform, alternate, "handle", "json-ld alternateName")
        same_as = node.get("sameAs")
        for url in same_as if isinstance(same_as, list) else [same_as]:
            if isinstance(url, str):
                self._profile_url(url, "json-ld sameAs")


class _Budget:
    """Nodes the walker may look at, beyond its one pass, for elements' own text."""

    def __init__(self, nodes: int) -> None:
        self.left = nodes

    def under(self, tag: Tag) -> Iterator[Any]:
        """Nodes under ``tag`` in document order, at most _MAX_SCAN of them and no more
        than the page's budget.

        Not ``Tag.descendants``: it first walks to the subtree's last node, so even a
        bounded look at each of thousands of nested elements would be quadratic.
        """
        stack: list[Any] = list(reversed(tag.contents))
        for _ in range(_MAX_SCAN):
            if not stack or self.left <= 0:
                return
            self.left -= 1
            node = stack.pop()
            yield node
            if isinstance(node, Tag):
                stack.extend(reversed(node.contents))

    def text(self, tag: Tag, limit: int, squash: bool = True) -> str:
        """The text under ``tag``, reading no more than needed."""
        pieces: list[str] = []
        size = 0
        for node in self.under(tag):
            if size > limit:
                break
            if isinstance(node, NavigableString):
                pieces.append(str(node))
                size += len(pieces[-1])
        text = "".join(pieces)
        return _bounded(_squash(text) if squash else text, limit)

    def first_with(self, tag: Tag, attribute: str, value: str) -> Tag | None:
        for node in self.under(tag):
            if isinstance(node, Tag) and (_attr(node, attribute) or "").lower() == value:
                return node
        return None


def _json_nodes(data: Any) -> Iterator[Mapping[str, Any]]:
    """Every JSON object in ``data``, breadth first, bounded."""
    queue = [data]
    seen = 0
    while queue and seen < _MAX_JSON_LD_NODES:
        item = queue.pop(0)
        seen += 1
        if isinstance(item, dict):
            yield item
            queue.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            queue.extend(v for v in item if isinstance(v, dict | list))


def normalise_text(raw: str) -> str:
    """Whitespace as a browser collapses it: runs become one space, blocks become lines."""
    lines = (_SPACES.sub(" ", line).strip() for line in raw.split("\n"))
    return "\n".join(line for line in lines if line)


def profile_of_url(url: str) -> tuple[str, str, str] | None:
    """(platform, id or handle, "id"|"handle") for a profile URL on a known platform."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    platform = next((name for name, hosts in _PLATFORM_HOSTS
                     if any(host == h or host.endswith("." + h) for h in hosts)), None)
    if platform is None:
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if platform == "facebook":
        if segments[:1] == ["profile.php"]:
            ids = parse_qs(parts.query).get("id", [])
            return ("facebook", ids[0], "id") if ids and ids[0].isdigit() else None
        if segments[:1] == ["people"] and len(segments) >= 3 and segments[2].isdigit():
            return "facebook", segments[2], "id"
    if platform == "tiktok":
        if segments and segments[0].startswith("@") and _HANDLE.fullmatch(segments[0][1:]):
            return "tiktok", segments[0][1:], "handle"
        return None
    if platform == "instagram" and segments[:1] == ["stories"] and len(segments) >= 2:
        segments = segments[1:]
    if not segments or segments[0].lower() in _NOT_HANDLES[platform]:
        return None
    handle = segments[0].lstrip("@")
    if not _HANDLE.fullmatch(handle):
        return None
    if platform == "facebook" and handle.isdigit():
        return "facebook", handle, "id"
    return platform, handle, "handle"


# -- records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedAt:
    """When a saved page was saved, as far as anything says, and on whose word."""

    clock: WallClock
    basis_flag: str


def page_items(page: Page, *, saved_at: SavedAt | None, locator: Locator,
               siblings: Mapping[str, str], parts: Mapping[str, AttachmentRef] | None = None,
               saved_time_unknown: str | None = None) -> Iterator[ParsedItem]:
    """Records of one page: its own capture event when the save time is known, the
    page facts (about the file), and one message event per dated post.

    ``parts`` maps the resources carried with the page (MHTML parts) by their
    URL; ``siblings`` are files delivered beside a saved page (its _files folder).
    """
    if page.parse_cut:
        yield FileNote("page_cut_for_parsing",
                       f"The page is too large to parse whole; {page.parse_cut} were read.")
    if page.replaced_characters:
        yield FileNote("page_encoding_replaced",
                       f"Some bytes are not valid {page.encoding or 'text'}; they are shown as "
                       "U+FFFD in the extracted text (the original is unchanged).")
    if page.element_text_cut:
        yield FileNote("element_text_cut",
                       "The page has so many links, times or nested elements that the text of "
                       "the later ones was not read; the visible text is complete.")
    for problem in page.json_ld_problems:
        yield FileNote("json_ld_unreadable", problem)
    identifiers = tuple(dict.fromkeys(e["identifier"] for e in page.profile_ids
                                      if "identifier" in e))
    if saved_at is not None:
        yield _capture_event(page, saved_at, locator, identifiers,
                             _resources(page, siblings, parts or {}))
    elif saved_time_unknown:
        yield FileNote("saved_time_unknown", saved_time_unknown)
    yield from _facts(page, locator)
    yield from _post_events(page, locator, identifiers)


def _resources(page: Page, siblings: Mapping[str, str],
               parts: Mapping[str, AttachmentRef]) -> tuple[AttachmentRef, ...]:
    """Images of the page that were delivered with it, matched by their src."""
    found: dict[str, AttachmentRef] = {}
    base, _ = page.base_url
    for src in page.resources:
        ref = parts.get(src) or (parts.get(urljoin(base, src)) if base else None)
        if ref is None and not urlsplit(src).scheme and not src.startswith("//"):
            name = unquote(src.split("#", 1)[0].split("?", 1)[0])
            sha = siblings.get(name)
            if sha is not None:
                ref = AttachmentRef(name=name, sha256=sha)
        if ref is not None and ref.sha256 and ref.sha256 not in found:
            found[ref.sha256] = ref
    for ref in parts.values():
        if ref.sha256 and ref.sha256 not in found:
            found[ref.sha256] = ref
    return tuple(found.values())


def _capture_event(page: Page, saved_at: SavedAt, locator: Locator,
                   identifiers: tuple[str, ...],
                   attachments: tuple[AttachmentRef, ...]) -> EventRecord:
    url = page.page_url or page.canonical or page.meta_value("og:url")
    described = url or "a web page"
    text = f"Saved copy of {described}"
    if page.title:
        text += f"\n{page.title}"
    extra = {"page_url": url} if url else {}
    if page.page_url_source:
        extra["page_url_source"] = page.page_url_source
    clock = saved_at.clock
    # Where the time came from is part of the time: it goes with the time's own flags.
    clock = WallClock(text=clock.text, local=clock.local, instant=clock.instant,
                      precision=clock.precision, flags=(*clock.flags, saved_at.basis_flag))
    return EventRecord(
        kind="capture", time=clock, time_basis="captured", channel=CHANNEL,
        locator=locator, text=text, subject=page.title, attachments=attachments,
        flags=("saved_page",), extra=extra, participants=identifiers,
    )


def _facts(page: Page, locator: Locator) -> Iterator[DerivedFact]:
    base, base_source = page.base_url
    meta: dict[str, JSONValue] = {
        "title": page.title, "page_url": page.page_url, "page_url_source": page.page_url_source,
        "canonical_url": page.canonical,
        "meta": [list(pair) for pair in page.meta], "meta_total": page.meta_total,
        "authors": [dict(a) for a in page.authors],
        "profile_ids": [dict(p) for p in page.profile_ids],
        "encoding": page.encoding, "encoding_source": page.encoding_source,
    }
    yield DerivedFact("web_meta", meta, locator, about="file")
    links: list[JSONValue] = []
    for link in page.links:
        href = link["href"] or ""
        url = urljoin(base, href) if base and not _absolute(href) else href
        absolute = _absolute(url)
        outbound = absolute and bool(base) and (
            urlsplit(url).hostname != urlsplit(base or "").hostname)
        links.append({"href": href, "url": url if absolute else None, "text": link["text"],
                      "outbound": outbound, "line": int(link["line"]) if link["line"] else None})
    yield DerivedFact("web_links", {"base_url": base, "base_source": base_source,
                                    "links": links, "total": page.links_total,
                                    "kept": len(links)}, locator, about="file")
    yield DerivedFact("web_text", {"text": page.text, "length": page.text_length,
                                   "kept": len(page.text),
                                   "cut": page.text_cut or len(page.text) < page.text_length},
                      locator, about="file")
    if page.times_total:
        times: list[JSONValue] = [
            {"datetime": t.raw, "text": t.text, "line": t.line, "itemprop": t.itemprop,
             "understood": t.clock is not None, "in_post": t.post is not None}
            for t in page.times]
        yield DerivedFact("web_times", {"times": times, "total": page.times_total},
                          locator, about="file")


def _post_events(page: Page, locator: Locator,
                 identifiers: tuple[str, ...]) -> Iterator[ParsedItem]:
    """One message per post that a ``<time>`` dates.

    A time inside an ``<article>`` or a schema.org posting is the time that post
    was published, as the page states it: kind "message", basis "sent". Other
    times on a page (a join date, an event date, "last seen") date nothing the
    page says was sent, so they stay in the web_times fact and make no event.
    The sender is named only when the post itself states its author.
    """
    for post in page.posts:
        if not post.times:
            continue
        chosen = next((page.times[i] for i in post.times
                       if page.times[i].itemprop in _PUBLISHED and page.times[i].clock), None)
        chosen = chosen or next((page.times[i] for i in post.times if page.times[i].clock),
                                None)
        if chosen is None or chosen.clock is None:
            continue
        text = normalise_text("".join(post.pieces))
        defects: tuple[str, ...] = ()
        if len(text) > MAX_POST_TEXT:
            text, defects = text[:MAX_POST_TEXT], ("post_text_cut",)
        author = post.authors[0] if post.authors else {}
        sender_id = None
        if author.get("url") and (of_url := profile_of_url(author["url"])):
            sender_id = handle_id(of_url[0], of_url[1])
        extra = {"time_element": chosen.raw}
        if chosen.text and chosen.text != chosen.raw:
            extra["time_shown"] = chosen.text
        if author.get("url"):
            extra["author_url"] = author["url"]
        yield EventRecord(
            kind="message", time=chosen.clock, time_basis="sent", channel=CHANNEL,
            locator=Locator(line=chosen.line, line_end=None, member=locator.member,
                            json_path=locator.json_path),
            sender=author.get("name") or author.get("handle"), sender_id=sender_id,
            text=text or None, flags=("shown_on_web_page",), defects=defects, extra=extra,
            participants=tuple(dict.fromkeys((*identifiers, *((sender_id,) if sender_id
                                                                else ())))),
        )
