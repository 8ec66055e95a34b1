"""Saved and captured web pages (.html): detection, what a page shows, dated posts, hostile HTML."""

from __future__ import annotations

import hashlib
import io
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from parsers import web_extract, web_page
from parsers.base import ParseOptions, SourceFile
from parsers.errors import DamagedInput
from parsers.records import AttachmentRef, DerivedFact
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of

WEB = FIXTURES / "web"
PROFILE = (WEB / "profile_page.html").read_bytes()
THREATS = (WEB / "threats.html").read_bytes()


def facts(items: list) -> dict[str, DerivedFact]:
    found = {item.kind: item for item in items if isinstance(item, DerivedFact)}
    assert all(fact.about == "file" for fact in found.values())
    return found


def page(html: str | bytes) -> dict[str, DerivedFact]:
    data = html.encode("utf-8") if isinstance(html, str) else html
    return facts(parse_all(web_page.PARSER, data, "page.html"))


def source(data: bytes, name: str, modified: datetime | None,
           siblings: dict[str, str] | None = None) -> SourceFile:
    return SourceFile(name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                      media_type="text/html", open=lambda: io.BytesIO(data),
                      siblings=siblings or {}, modified=modified)


# -- detection ---------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    PROFILE,
    THREATS,
    b"<html><body>x</body></html>",
    b"\xef\xbb\xbf\n  <!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\">\n<html>",
    b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0"
    b" Strict//EN\" \"x\"><html xmlns=\"http://www.w3.org/1999/xhtml\">",
    b"<!-- a comment -->\n<!-- another -->\n<HTML lang=en>",
])
def test_detects_html_documents(data: bytes) -> None:
    assert web_page.PARSER.detect(probe_of(data, "page.html"))


@pytest.mark.parametrize("path", [
    "meta/html_2024/your_facebook_activity/messages/message_requests/samtaylor_100001/"
    "message_1.html",
    "meta/html_2020/messages/inbox/samtaylor_4f7cQx2b1A/message_1.html",
    "email/html_only.eml",
    "web/blink_saved.mhtml",
])
def test_leaves_meta_downloads_e_mail_and_mhtml_to_their_parsers(path: str) -> None:
    data = (FIXTURES / path).read_bytes()
    assert not web_page.PARSER.detect(probe_of(data, path.rsplit("/", 1)[-1]))


@pytest.mark.parametrize("data", [
    b"Notes about <html> tags\n<html><body></body></html>",
    b'{"html": "<html>"}',
    b"<div>a fragment, not a document</div>",
    b"",
])
def test_does_not_claim_text_that_merely_mentions_html(data: bytes) -> None:
    assert not web_page.PARSER.detect(probe_of(data))


# -- what the page shows -----------------------------------------------------------------


def test_profile_page_meta_authors_and_profile_ids() -> None:
    meta = facts(parse_all(web_page.PARSER, PROFILE, "profile_page.html"))["web_meta"].value
    assert meta["title"] == "Sam Taylor (@sam_t) \u2022 Example profile"
    assert meta["canonical_url"] == "https://www.instagram.com/sam_t/"
    assert meta["page_url"] is None
    assert (meta["encoding"], meta["encoding_source"]) == ("utf-8", "declared")
    assert meta["meta"] == [
        ["description", "Posts by Sam Taylor"], ["author", "Sam Taylor"],
        ["og:title", "Sam Taylor (@sam_t)"], ["og:url", "https://www.instagram.com/sam_t/"],
        ["og:type", "profile"], ["twitter:creator", "@sam_t_x"],
    ]
    assert meta["authors"] == [
        {"name": "Sam Taylor", "source": "meta author"},
        {"handle": "@sam_t_x", "source": "meta twitter:creator"},
        {"name": "Sam Taylor", "alternate_name": "@sam_t", "identifier": "17841400000000001",
         "url": "https://www.instagram.com/sam_t/", "source": "json-ld Person"},
    ]
    assert meta["profile_ids"] == [
        {"id": "sam_t", "kind": "handle", "source": "meta og:url", "platform": "instagram",
         "identifier": "instagram:sam_t"},
        {"id": "sam_t_x", "kind": "handle", "source": "meta twitter:creator",
         "platform": "x", "identifier": "x:sam_t_x"},
        {"id": "17841400000000001", "kind": "id", "source": "attribute data-profile-id (line 21)"},
        {"id": "17841400000000001", "kind": "id", "source": "json-ld identifier",
         "platform": "instagram", "identifier": "instagram:17841400000000001"},
    ]


def test_visible_text_leaves_out_scripts_styles_templates_and_hidden_parts() -> None:
    text = page(PROFILE)["web_text"].value
    assert text == {
        "text": "Sam Taylor\nI know where you live now.\n"
                "Saw you at the station again & you looked scared\nsam_t\n20 Nov\n"
                "Nice new car \U0001f697\n22 Nov\nReply from someone else\ndana.w\n1h\n"
                "Joined March 2019\nElsewhere\nTagged",
        "length": 190, "kept": 190, "cut": False,
    }


def test_links_are_made_absolute_against_the_page_address_and_marked_outbound() -> None:
    links = page(PROFILE)["web_links"].value
    assert (links["base_url"], links["base_source"], links["total"]) == (
        "https://www.instagram.com/sam_t/", "canonical", 4)
    assert [(link["url"], link["text"], link["outbound"]) for link in links["links"]] == [
        ("https://www.instagram.com/sam_t/", "sam_t", False),
        ("https://www.instagram.com/dana.w/", "dana.w", False),
        ("https://example.org/elsewhere", "Elsewhere", True),
        ("https://www.instagram.com/sam_t/tagged/", "Tagged", False),
    ]


def test_dated_posts_become_messages_naming_only_the_authors_they_state() -> None:
    first, second, reply = events(parse_all(web_page.PARSER, PROFILE, "profile_page.html"))
    assert (first.kind, first.time_basis, first.channel) == ("message", "sent", "web")
    assert first.time.instant == datetime(2026, 11, 20, 21, 14, 5, tzinfo=UTC)
    assert (first.sender, first.sender_id) == ("sam_t", "instagram:sam_t")
    assert first.text == "Saw you at the station again & you looked scared\nsam_t\n20 Nov"
    assert first.flags == ("shown_on_web_page",)
    assert first.locator.line == 25
    assert first.extra == {"time_element": "2026-11-20T21:14:05Z", "time_shown": "20 Nov",
                           "author_url": "https://www.instagram.com/sam_t/"}
    # No offset on the page: local time, the zone assumed by the store and flagged.
    assert second.time.local == datetime(2026, 11, 22, 8, 30)
    assert (second.time.precision, second.time.flags) == ("minute",
                                                          ("page_time_zone_unstated",))
    assert (second.sender, second.sender_id) == (None, None)
    assert second.text == "Nice new car \U0001f697\n22 Nov"  # the nested reply is its own post
    assert reply.time.instant == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert (reply.sender, reply.sender_id) == ("dana.w", "instagram:dana.w")


def test_times_that_date_no_post_are_kept_as_facts_not_events() -> None:
    items = parse_all(web_page.PARSER, PROFILE, "profile_page.html")
    times = facts(items)["web_times"].value
    assert times["total"] == 4
    assert times["times"][3] == {"datetime": "2019-03", "text": "March 2019", "line": 34,
                                 "itemprop": None, "understood": False, "in_post": False}
    assert len(events(items)) == 3


@pytest.mark.parametrize(("raw", "instant", "local", "precision"), [
    ("2026-11-20T21:14:05Z", datetime(2026, 11, 20, 21, 14, 5, tzinfo=UTC), None, "second"),
    ("2026-11-20T21:14:05.123+01:00",
     datetime(2026, 11, 20, 21, 14, 5, 123000, tzinfo=timezone(timedelta(hours=1))), None,
     "subsecond"),
    ("2026-11-20 21:14-0500", datetime(2026, 11, 20, 21, 14,
                                       tzinfo=timezone(timedelta(hours=-5))), None, "minute"),
    ("2026-11-20T21:14", None, datetime(2026, 11, 20, 21, 14), "minute"),
    ("2026-11-20", None, datetime(2026, 11, 20), "day"),
])
def test_html_time_values(raw: str, instant: datetime | None, local: datetime | None,
                          precision: str) -> None:
    clock = web_extract.html_time(raw)
    assert clock is not None
    assert (clock.instant, clock.local, clock.precision, clock.text) == (
        instant, local, precision, raw)


@pytest.mark.parametrize("raw", ["P2D", "2019-03", "14:03", "2026-13-40", "yesterday",
                                 "2026-11-20T25:00Z"])
def test_html_time_refuses_what_is_not_a_point_in_time(raw: str) -> None:
    assert web_extract.html_time(raw) is None


def test_declared_legacy_encoding_is_honoured() -> None:
    found = page(THREATS)
    assert found["web_meta"].value["title"] == "Caf\u00e9 thread"
    assert (found["web_meta"].value["encoding"],
            found["web_meta"].value["encoding_source"]) == ("cp1252", "declared")
    assert found["web_text"].value["text"] == (
        "\u201cYou can\u2019t hide\u201d \u2014 posted in the caf\u00e9 thread\nsam")


def test_one_bad_byte_is_replaced_and_said_without_changing_the_page_encoding() -> None:
    items = parse_all(web_page.PARSER, b"<html><meta charset=utf-8><p>bad \xff\xfe byte</p>"
                      b"</html>", "page.html")
    assert [n.code for n in notes(items)] == ["page_encoding_replaced", "saved_time_unknown"]
    assert facts(items)["web_text"].value["text"] == "bad \ufffd\ufffd byte"
    assert facts(items)["web_meta"].value["encoding"] == "utf-8"


@pytest.mark.parametrize(("data", "text", "encoding", "source"), [
    ("<p>caf\u00e9".encode(), "caf\u00e9", "utf-8", "guessed"),
    (b"<p>caf\xe9", "caf\u00e9", "cp1252", "guessed"),
    (b"\xef\xbb\xbf<p>caf\xc3\xa9", "caf\u00e9", "utf-8", "bom"),
    # A page written in ASCII bytes cannot be UTF-16, whatever it says.
    (b'<meta charset="utf-16"><p>caf\xc3\xa9', "caf\u00e9", "utf-8", "declared"),
    (b"<meta charset=no-such-thing><p>caf\xe9", "caf\u00e9", "cp1252", "guessed"),
])
def test_encoding_is_chosen_as_a_browser_would(data: bytes, text: str, encoding: str,
                                               source: str) -> None:
    found = page(data)
    assert found["web_text"].value["text"] == text
    assert (found["web_meta"].value["encoding"],
            found["web_meta"].value["encoding_source"]) == (encoding, source)


# -- saved pages -------------------------------------------------------------------------


def test_a_saved_page_without_a_time_has_no_capture_event_and_says_why() -> None:
    items = parse_all(web_page.PARSER, THREATS, "threats.html")
    assert events(items) == []
    assert [(n.code, n.message) for n in notes(items)] == [
        ("saved_time_unknown", web_page.UNKNOWN_SAVE_TIME)]
    meta = facts(items)["web_meta"].value
    assert (meta["page_url"], meta["page_url_source"]) == (
        "https://forum.example.org/t/threats-1234", "saved from url comment")


def test_a_saved_page_with_its_file_time_and_folder_links_what_was_saved_with_it() -> None:
    saved = datetime(2026, 11, 24, 22, 15, 3, tzinfo=UTC)
    avatar, css = "a" * 64, "b" * 64
    siblings = {"threats_files/avatar.png": avatar, "threats_files/site.css": css}
    items = list(web_page.PARSER.parse(source(THREATS, "threats.html", saved, siblings),
                                       ParseOptions()))
    [capture] = events(items)
    assert (capture.kind, capture.time_basis, capture.time.instant) == (
        "capture", "captured", saved)
    assert capture.time.flags == ("saved_page_time_from_file_modified",)
    assert capture.flags == ("saved_page",)
    assert capture.text == ("Saved copy of https://forum.example.org/t/threats-1234\n"
                            "Caf\u00e9 thread")
    assert capture.subject == "Caf\u00e9 thread"
    assert capture.attachments == (AttachmentRef("threats_files/avatar.png", avatar),
                                   AttachmentRef("threats_files/site.css", css))
    assert notes(items) == []


# -- hostile HTML ------------------------------------------------------------------------


def test_a_hundred_thousand_nested_tags_are_read_without_exhausting_the_stack() -> None:
    depth = 100_000
    html = ("<html><body>" + "<div><article>" * (depth // 2) + "deep "
            + "<time datetime='2026-01-01T00:00Z'>t</time>" + "<template><b>" * 1000
            + "</article></div>" * (depth // 2) + "</body></html>")
    items = parse_all(web_page.PARSER, html.encode(), "deep.html")
    assert facts(items)["web_text"].value["text"] == "deep t"
    [post] = events(items)
    assert post.time.instant == datetime(2026, 1, 1, tzinfo=UTC)


def test_nested_links_do_not_make_reading_quadratic() -> None:
    html = "<html><body>" + "<a href='https://example.org/x'>x" * 20_000 + "</body></html>"
    started = time.monotonic()
    items = parse_all(web_page.PARSER, html.encode(), "links.html")
    assert time.monotonic() - started < 60
    links = facts(items)["web_links"].value
    assert (links["total"], links["kept"]) == (20_000, web_extract.MAX_LINKS)
    assert links["links"][0]["text"] == "x" * 50  # its first 100 nodes: 50 texts, 50 links
    assert "element_text_cut" in [n.code for n in notes(items)]


def test_a_page_with_too_many_tags_is_parsed_from_its_start_and_said(monkeypatch) -> None:
    monkeypatch.setattr(web_extract, "MAX_TAGS", 1000)
    html = "<html><body>" + "<p>line</p>" * 5000 + "<p>END</p></body></html>"
    items = parse_all(web_page.PARSER, html.encode(), "big.html")
    [note] = [n for n in notes(items) if n.code == "page_cut_for_parsing"]
    assert note.message == ("The page is too large to parse whole; only the first 1000 tags "
                            "were read.")
    text = facts(items)["web_text"].value["text"]
    assert "END" not in text
    assert text.count("line") == 499  # 1000 "<": the opening <html> and <body> and 499 <p>s


def test_extracted_text_is_bounded_and_its_full_length_recorded() -> None:
    html = "<html><body>" + "<p>" + "word " * 50_000 + "</p></body></html>"
    text = page(html)["web_text"].value
    assert (text["length"], text["kept"], text["cut"]) == (249_999, web_extract.MAX_TEXT_CHARS,
                                                          True)


def test_json_ld_that_is_not_json_is_noted_and_nothing_runs() -> None:
    items = parse_all(web_page.PARSER, b"<html><script type='application/ld+json'>{not json"
                      b"</script><script>throw 1</script><p>ok</p></html>", "page.html")
    assert [n.code for n in notes(items)] == ["json_ld_unreadable", "saved_time_unknown"]
    assert facts(items)["web_text"].value["text"] == "ok"


def test_html_the_parser_cannot_read_is_damaged_input(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise AssertionError("html.parser gave up")

    monkeypatch.setattr(web_extract, "BeautifulSoup", broken)
    with pytest.raises(DamagedInput, match="the HTML cannot be read: AssertionError"):
        parse_all(web_page.PARSER, b"<html></html>", "page.html")


# -- profile URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("https://www.facebook.com/profile.php?id=100001", ("facebook", "100001", "id")),
    ("https://m.facebook.com/people/Sam-Taylor/100001/", ("facebook", "100001", "id")),
    ("https://www.facebook.com/sam.taylor.77", ("facebook", "sam.taylor.77", "handle")),
    ("https://www.instagram.com/sam_t/", ("instagram", "sam_t", "handle")),
    ("https://instagram.com/stories/sam_t/123/", ("instagram", "sam_t", "handle")),
    ("https://x.com/sam_t_x/status/1", ("x", "sam_t_x", "handle")),
    ("https://twitter.com/sam_t_x", ("x", "sam_t_x", "handle")),
    ("https://www.tiktok.com/@sam.t/video/1", ("tiktok", "sam.t", "handle")),
    ("https://www.instagram.com/p/Cxyz/", None),
    ("https://www.facebook.com/groups/123", None),
    ("https://x.com/i/web/status/1", None),
    ("https://notfacebook.com/sam", None),
    ("https://example.org/sam", None),
])
def test_profile_of_url(url: str, expected: tuple[str, str, str] | None) -> None:
    assert web_extract.profile_of_url(url) == expected
