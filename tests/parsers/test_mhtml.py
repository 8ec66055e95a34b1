"""Pages saved as one file (.mhtml, .mht): detection, parts, the save time, damage."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from parsers import eml, mhtml
from parsers.errors import DamagedInput
from parsers.records import AttachmentRef, DerivedFact
from tests.parsers.support import FIXTURES, embedded, events, notes, parse_all, probe_of

WEB = FIXTURES / "web"
BLINK = (WEB / "blink_saved.mhtml").read_bytes()
IE = (WEB / "ie_saved.mht").read_bytes()
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f00050001ff56c72f0d0000000049454e44ae426082"
)
CSS = b"body { font-family: sans-serif; }\n"


def mhtml_file(*parts: str, date: str | None = "Tue, 24 Nov 2026 22:15:03 -0000",
               boundary: str = "B") -> bytes:
    head = ["From: <Saved by Blink>", "Snapshot-Content-Location: https://example.org/p"]
    if date is not None:
        head.append(f"Date: {date}")
    head += ["MIME-Version: 1.0",
             f'Content-Type: multipart/related; type="text/html"; boundary="{boundary}"', ""]
    body = [f"--{boundary}\r\n{part}" for part in parts]
    return ("\r\n".join(head) + "\r\n" + "\r\n".join(body) + f"\r\n--{boundary}--\r\n").encode(
        "latin-1")


HTML_PART = ("Content-Type: text/html\r\nContent-Location: https://example.org/p\r\n\r\n"
             "<html><title>T</title><p>hello</p></html>")


# -- detection ---------------------------------------------------------------------


@pytest.mark.parametrize("data", [BLINK, IE, b"\xef\xbb\xbf" + BLINK])
def test_detects_browser_saved_pages(data: bytes) -> None:
    assert mhtml.PARSER.detect(probe_of(data, "page.mhtml"))


def test_e_mail_leaves_saved_pages_alone_though_they_carry_mail_headers() -> None:
    assert not eml.PARSER.detect(probe_of(BLINK, "page.mhtml"))
    assert not eml.PARSER.detect(probe_of(IE, "page.mht"))


@pytest.mark.parametrize("path", sorted(p.name for p in (FIXTURES / "email").glob("*.eml")))
def test_e_mail_is_not_a_saved_page(path: str) -> None:
    assert not mhtml.PARSER.detect(probe_of((FIXTURES / "email" / path).read_bytes(), path))


def test_a_message_with_inline_images_is_not_a_saved_page() -> None:
    message = (b"From: Sam <sam@example.com>\r\nTo: a@example.org\r\nSubject: hi\r\n"
               b"Date: Tue, 24 Nov 2026 22:15:03 +0000\r\nMIME-Version: 1.0\r\n"
               b'Content-Type: multipart/related; type="text/html"; boundary="B"\r\n\r\n'
               b"--B\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--B--\r\n")
    assert not mhtml.PARSER.detect(probe_of(message))
    assert eml.PARSER.detect(probe_of(message))


# -- a Chrome save ------------------------------------------------------------------------


def test_blink_page_parts_become_children_that_the_capture_event_refers_to() -> None:
    items = parse_all(mhtml.PARSER, BLINK, "blink_saved.mhtml")
    css, png = embedded(items)
    assert (css.name, css.data, css.media_type) == ("site.css", CSS, "text/css")
    assert (png.name, png.data, png.media_type) == ("avatar.png", PNG, "image/png")
    assert png.sha256 == hashlib.sha256(PNG).hexdigest()
    assert (png.locator.json_path, png.locator.member) == (
        "part 3", "https://forum.example.org/img/avatar.png")
    capture, post = events(items)
    assert (capture.kind, capture.time_basis, capture.channel) == ("capture", "captured", "web")
    assert capture.time.instant == datetime(2026, 11, 24, 22, 15, 3, tzinfo=UTC)
    assert capture.time.text == "Tue, 24 Nov 2026 22:15:03 -0000"
    assert capture.time.flags == ("saved_page_time_from_header",)
    assert capture.text == ("Saved copy of https://forum.example.org/t/threats-1234\n"
                            "Threats thread \u2014 forum")
    assert capture.extra == {"page_url": "https://forum.example.org/t/threats-1234",
                             "page_url_source": "MHTML Snapshot-Content-Location"}
    # Matched by the URL the page loaded them from, in the order the page uses them.
    assert capture.attachments == (
        AttachmentRef("site.css", css.sha256, "text/css"),
        AttachmentRef("avatar.png", png.sha256, "image/png"),
    )
    assert items.index(png) < items.index(capture)
    assert (post.kind, post.sender, post.sender_id) == ("message", "Sam T", "x:sam_t_x")
    assert post.time.instant == datetime(2026, 11, 24, 21, 59, tzinfo=UTC)
    assert (post.locator.json_path, post.locator.line) == ("part 1", 7)
    assert notes(items) == []


def test_blink_page_facts_use_the_snapshot_address() -> None:
    items = parse_all(mhtml.PARSER, BLINK, "blink_saved.mhtml")
    found = {i.kind: i.value for i in items if isinstance(i, DerivedFact)}
    assert found["web_meta"]["title"] == "Threats thread \u2014 forum"
    assert found["web_links"]["links"] == [
        {"href": "https://x.com/sam_t_x", "url": "https://x.com/sam_t_x", "text": "Sam T",
         "outbound": True, "line": 5}]
    assert found["web_text"]["text"] == ("Threats thread\nSam T\n"
                                         "You can\u2019t hide from me forever.\nyesterday")


def test_internet_explorer_page_without_a_date_says_why_it_has_no_capture_event() -> None:
    items = parse_all(mhtml.PARSER, IE, "ie_saved.mht")
    assert events(items) == []
    assert [n.code for n in notes(items)] == ["saved_time_unknown"]
    meta = next(i for i in items if isinstance(i, DerivedFact) and i.kind == "web_meta").value
    assert (meta["title"], meta["page_url"], meta["page_url_source"]) == (
        "Old page", "http://old.example.org/page.htm", "MHTML Content-Location")


def test_a_date_that_cannot_be_read_is_noted_not_guessed() -> None:
    items = parse_all(mhtml.PARSER, mhtml_file(HTML_PART, date="someday"))
    assert events(items) == []
    assert [(n.code, n.message) for n in notes(items)] == [
        ("saved_time_unreadable", "The MHTML Date header 'someday' cannot be read; "
                                  "no capture event.")]


def test_a_stated_offset_is_kept() -> None:
    [capture] = events(parse_all(mhtml.PARSER, mhtml_file(
        HTML_PART, date="Tue, 24 Nov 2026 23:15:03 +0100")))
    assert capture.time.instant == datetime(2026, 11, 24, 22, 15, 3, tzinfo=UTC)
    assert capture.time.instant.utcoffset().total_seconds() == 3600


def test_the_part_charset_decodes_the_page() -> None:
    part = ("Content-Type: text/html; charset=windows-1252\r\n"
            "Content-Transfer-Encoding: base64\r\nContent-Location: https://example.org/p\r\n\r\n"
            "PGh0bWw+PHA+Y2Fm6TwvcD48L2h0bWw+")  # <html><p>caf\xe9</p></html>
    items = parse_all(mhtml.PARSER, mhtml_file(part))
    found = {i.kind: i.value for i in items if isinstance(i, DerivedFact)}
    assert found["web_text"]["text"] == "caf\u00e9"
    assert (found["web_meta"]["encoding"], found["web_meta"]["encoding_source"]) == (
        "cp1252", "declared")


@pytest.mark.parametrize(("location", "name"), [
    ("https://example.org/../../etc/passwd", "passwd"),
    ("https://example.org/img/a%2Fb%5C..%5Cc.png", "b_.._c.png"),
    ("cid:css-1@mhtml.blink", "part-2.css"),
    ("https://example.org/", "part-2.css"),
])
def test_part_names_are_a_last_segment_never_a_path(location: str, name: str) -> None:
    part = f"Content-Type: text/css\r\nContent-Location: {location}\r\n\r\nbody {{}}"
    [child] = embedded(parse_all(mhtml.PARSER, mhtml_file(HTML_PART, part)))
    assert child.name == name


# -- damage ------------------------------------------------------------------------------


def test_no_html_part_is_damaged_input() -> None:
    with pytest.raises(DamagedInput, match="no text/html part"):
        parse_all(mhtml.PARSER, mhtml_file("Content-Type: text/css\r\n\r\nbody {}"))


def test_too_large_a_file_is_refused_not_read_into_memory(monkeypatch) -> None:
    monkeypatch.setattr(mhtml, "MAX_MHTML_BYTES", 1000)
    with pytest.raises(DamagedInput, match="larger than 1000 bytes"):
        parse_all(mhtml.PARSER, BLINK + b" " * 1000)


def test_deeply_nested_multiparts_are_bounded_and_noted() -> None:
    nested = HTML_PART
    for level in range(12):
        boundary = f"N{level}"
        nested = (f'Content-Type: multipart/related; boundary="{boundary}"\r\n\r\n'
                  f"--{boundary}\r\n{nested}\r\n--{boundary}--")
    items = parse_all(mhtml.PARSER, mhtml_file(HTML_PART, nested))
    assert [n.code for n in notes(items)] == ["mhtml_parts_left_out"]
    assert len(events(items)) == 1
