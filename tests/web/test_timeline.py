"""The timeline page (keyset pages, filters, search) and the event page."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.intake import IngestOptions, Ingestor
from evidence_store import annotations as event_notes
from evidence_store import cases, custody, persons
from evidence_store.models import Event
from evidence_store.timeline import iter_events
from tests.web.conftest import Browser
from web.app import create_app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CHAT = FIXTURES / "whatsapp" / "android_en_gb_24h.txt"
SMS = FIXTURES / "sms_backup" / "messages.xml"
_ROW_LINK = re.compile(r'href="/cases/OP-1/events/(\d+)"')


@pytest.fixture
def case(store, make_case):
    make_case("OP-1")
    Ingestor(store, "OP-1", IngestOptions(received_by="Jane Smith", received_from="Alex")
             ).ingest_paths([CHAT, SMS])
    with store.session() as session:
        case = cases.get_case(session, "OP-1")
        suspect = persons.add_person(session, case, "Sam Taylor", "suspect", ["+447700900123"],
                                     "Jane Smith")
        return {"suspect": suspect.id,
                "all": [e["id"] for e in iter_events(session, case)]}


def shown(page) -> list[int]:
    return [int(i) for i in _ROW_LINK.findall(page.text)]


def test_the_timeline_lists_every_event_in_time_order_and_logs_the_view(store, case,
                                                                        signed_in):
    user = signed_in("investigator", "OP-1", name="dc_jones")
    page = user.get("/cases/OP-1/timeline")
    assert page.status_code == 200
    assert shown(page) == case["all"]
    assert "Please stop messaging me" in page.text
    with store.session() as session:
        last = custody.entries_of(session, custody.case_chain("OP-1"))[-1]
    assert (last.actor, last.action) == ("dc_jones", "timeline_viewed")
    assert json.loads(last.details)["events"] == len(case["all"])


def test_keyset_pages_cover_the_timeline_once_without_gaps(store, case, make_user,
                                                           web_settings):
    make_user("dc_jones", "investigator", "OP-1")
    app = create_app(store, replace(web_settings, page_size=4))
    with TestClient(app) as client:
        user = Browser(client)
        user.login("dc_jones")
        seen: list[int] = []
        url = "/cases/OP-1/timeline"
        pages = 0
        while url:
            page = user.get(url)
            assert page.status_code == 200
            seen += shown(page)
            pages += 1
            found = re.search(r'href="([^"]+)" rel="next"', page.text)
            url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == case["all"]
    assert pages == -(-len(case["all"]) // 4)


def test_filters_by_channel_kind_person_flag_and_date(store, case, signed_in):
    user = signed_in("investigator", "OP-1")
    with store.session() as session:
        rows = list(session.execute(select(Event).order_by(Event.occurred_at, Event.id))
                    .scalars())
    by_channel = shown(user.get("/cases/OP-1/timeline?channel=sms"))
    assert by_channel == [e.id for e in rows if e.channel == "sms"]
    by_kind = shown(user.get("/cases/OP-1/timeline?kind=system"))
    assert by_kind == [e.id for e in rows if e.kind == "system"] and by_kind
    by_person = shown(user.get(f"/cases/OP-1/timeline?person={case['suspect']}"))
    assert by_person == [e.id for e in rows if e.sender_id == "+447700900123"]
    by_flag = shown(user.get("/cases/OP-1/timeline?flag=not_in_contacts"))
    assert by_flag == [e.id for e in rows if "not_in_contacts" in json.loads(e.flags)]
    # Dates are days in the case's zone (London, GMT in March before the 31st).
    by_day = shown(user.get("/cases/OP-1/timeline?from=2024-03-13&to=2024-03-13"))
    assert by_day == [e.id for e in rows if e.occurred_at.date().isoformat() == "2024-03-13"]
    both = shown(user.get("/cases/OP-1/timeline?channel=whatsapp&from=2024-03-14"))
    assert both == [e.id for e in rows if e.channel == "whatsapp"
                    and e.occurred_at.date().isoformat() >= "2024-03-14"]


def test_full_text_search_alone_and_with_filters(store, case, signed_in):
    user = signed_in("investigator", "OP-1")
    with store.session() as session:
        rows = list(session.execute(select(Event).order_by(Event.occurred_at, Event.id))
                    .scalars())
    leave = [e.id for e in rows if e.text and "leave me alone" in e.text.lower()]
    assert len(leave) == 2
    assert shown(user.get("/cases/OP-1/timeline?q=leave+alone")) == leave
    assert shown(user.get("/cases/OP-1/timeline?q=leave+alone&channel=sms")) == [
        e.id for e in rows if e.id in leave and e.channel == "sms"]
    assert shown(user.get('/cases/OP-1/timeline?q="alone+leave"')) == []


def test_a_bad_date_or_cursor_is_explained(case, signed_in):
    user = signed_in("investigator", "OP-1")
    bad_date = user.get("/cases/OP-1/timeline?from=13/03/2024")
    assert bad_date.status_code == 400 and "must be a date" in bad_date.text
    bad_cursor = user.get("/cases/OP-1/timeline?after=zzz")
    assert bad_cursor.status_code == 400 and "not a cursor" in bad_cursor.text


def test_an_event_shows_its_provenance_the_original_bytes_and_its_context(store, case,
                                                                          signed_in):
    user = signed_in("investigator", "OP-1")
    with store.session() as session:
        event = session.execute(select(Event).where(Event.text == "Please stop messaging me")
                                ).scalar_one()
    page = user.get(f"/cases/OP-1/events/{event.id}")
    assert page.status_code == 200
    text = page.text.replace("&#43;", "+")
    assert hashlib.sha256(CHAT.read_bytes()).hexdigest() in text
    assert "JS/1" in text and event.parser in text
    assert "byte_offset=418" in text and "line=8" in text
    original_line = CHAT.read_bytes().splitlines(keepends=True)[7].decode()
    assert f"<pre aria-label=\"Original text\">{original_line}</pre>" in text.replace(
        "&#39;", "'")
    neighbours = [int(i) for i in re.findall(r'<li[^>]*>\s*<a href="/cases/OP-1/events/(\d+)"',
                                             page.text)]
    with store.session() as session:
        same_file = session.execute(select(Event.id).where(
            Event.exhibit_id == event.exhibit_id, Event.seq.between(event.seq - 5, event.seq + 5))
            .order_by(Event.seq)).scalars().all()
    assert neighbours == same_file and len(same_file) == 8  # the chat ends 2 events later
    assert 'class="current" aria-current="true"' in page.text


def test_tags_and_notes_are_saved_shown_logged_and_kept_for_export(store, case, signed_in):
    user = signed_in("investigator", "OP-1", name="dc_jones")
    event_id = case["all"][3]
    assert user.post(f"/cases/OP-1/events/{event_id}/annotations",
                     {"kind": "tag", "text": "  Threat  "}).status_code == 303
    assert user.post(f"/cases/OP-1/events/{event_id}/annotations",
                     {"kind": "note", "text": "Victim says this is the first contact."}
                     ).status_code == 303
    page = user.get(f"/cases/OP-1/events/{event_id}").text
    assert '<span class="flag">threat</span>' in page
    assert "Victim says this is the first contact." in page and "dc_jones" in page
    with store.session() as session:
        kept = list(event_notes.iter_case_annotations(session, cases.get_case(session,
                                                                            "OP-1").id))
        entries = custody.entries_of(session, custody.case_chain("OP-1"))
    assert [(a["kind"], a["text"], a["by"], a["event_id"]) for a in kept] == [
        ("tag", "threat", "dc_jones", event_id),
        ("note", "Victim says this is the first contact.", "dc_jones", event_id)]
    logged = [(e.action, e.actor, json.loads(e.details)["text"]) for e in entries
              if e.action in ("event_tagged", "event_noted")]
    assert logged == [("event_tagged", "dc_jones", "threat"),
                      ("event_noted", "dc_jones", "Victim says this is the first contact.")]


def test_an_empty_note_is_refused(case, signed_in):
    user = signed_in("investigator", "OP-1")
    response = user.post(f"/cases/OP-1/events/{case['all'][0]}/annotations",
                         {"kind": "note", "text": "   "})
    assert response.status_code == 400 and "empty" in response.text


def test_an_unknown_event_is_404(case, signed_in):
    assert signed_in("investigator", "OP-1").get("/cases/OP-1/events/999999").status_code == 404
