"""People and identifier links, charts of the pattern of contact, and the CPS export."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from collector.intake import IngestOptions, Ingestor
from evidence_store import cases, custody, persons
from evidence_store.models import Event, Identifier, IdentifierLink

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CHAT = FIXTURES / "whatsapp" / "android_en_gb_24h.txt"
SMS = FIXTURES / "sms_backup" / "messages.xml"


@pytest.fixture
def case(store, make_case):
    make_case("OP-1")
    Ingestor(store, "OP-1", IngestOptions(received_by="Jane Smith", received_from="Alex")
             ).ingest_paths([CHAT, SMS])
    with store.session() as session:
        case = cases.get_case(session, "OP-1")
        persons.add_person(session, case, "Alex Morgan", "victim", ["name:alex"], "Jane Smith")
        suspect = persons.add_person(session, case, "Sam Taylor", "suspect", ["+447700900123"],
                                     "Jane Smith")
        suggestion = IdentifierLink(
            case_id=case.id, value="+447700900456", person_id=suspect.id, status="suggested",
            reason="sent 'I'm watching you' within minutes of Sam's messages",
            reason_codes='["timing"]', confidence=0.7, event_ids="[]",
            suggested_at=datetime.now(UTC))
        session.add(suggestion)
        session.flush()
        return {"suspect": suspect.id, "link": suggestion.id}


def test_the_people_page_lists_people_and_waiting_suggestions(case, signed_in):
    page = signed_in("investigator", "OP-1").get("/cases/OP-1/people").text
    assert "Sam Taylor (suspect)" in page and "+447700900123" in page.replace("&#43;", "+")
    assert "within minutes of Sam" in page.replace("&#39;", "'") and "70%" in page


def test_confirming_a_suggestion_gives_the_person_the_identifier(store, case, signed_in):
    user = signed_in("investigator", "OP-1", name="dc_jones")
    response = user.post(f"/cases/OP-1/identifier-links/{case['link']}",
                         {"decision": "confirm", "note": "same handset per phone company"})
    assert response.status_code == 303
    with store.session() as session:
        link = session.get(IdentifierLink, case["link"])
        owner = session.execute(select(Identifier.person_id).where(
            Identifier.value == "+447700900456")).scalar_one()
        last = custody.entries_of(session, custody.case_chain("OP-1"))[-1]
    assert (link.status, link.decided_by, link.note) == (
        "confirmed", "dc_jones", "same handset per phone company")
    assert owner == case["suspect"]
    assert (last.action, last.actor) == ("link_confirmed", "dc_jones")
    timeline = user.get(f"/cases/OP-1/timeline?person={case['suspect']}").text
    assert "watching you" in timeline
    twice = user.post(f"/cases/OP-1/identifier-links/{case['link']}", {"decision": "reject"})
    assert twice.status_code == 400 and "was already confirmed by dc_jones" in twice.text


def test_rejecting_a_suggestion_is_kept_and_logged(store, case, signed_in):
    user = signed_in("officer", "OP-1", name="pc_brown")
    assert user.post(f"/cases/OP-1/identifier-links/{case['link']}",
                     {"decision": "reject"}).status_code == 303
    with store.session() as session:
        assert session.get(IdentifierLink, case["link"]).status == "rejected"
        assert session.execute(select(Identifier).where(
            Identifier.value == "+447700900456")).scalar_one_or_none() is None
        last = custody.entries_of(session, custody.case_chain("OP-1"))[-1]
    assert (last.action, last.actor) == ("link_rejected", "pc_brown")
    assert "rejected by pc_brown" in user.get("/cases/OP-1/people").text


def test_looking_for_suggestions_finds_a_number_the_suspect_gives_as_theirs(
        store, make_case, signed_in):
    make_case("OP-3")
    chat = ("14/03/2024, 10:00 - Sam Taylor: blocking me won't work, my new number is "
            "07700 900999\n14/03/2024, 10:05 - Alex: leave me alone\n")
    Ingestor(store, "OP-3", IngestOptions(received_by="Jane Smith")).ingest_stream(
        io.BytesIO(chat.encode()), "WhatsApp Chat with Sam Taylor.txt")
    with store.session() as session:
        case = cases.get_case(session, "OP-3")
        persons.add_person(session, case, "Sam Taylor", "suspect", ["name:sam taylor"], "JS")
    user = signed_in("investigator", "OP-3", name="dc_jones")
    assert user.post("/cases/OP-3/identifier-links/suggest").status_code == 303
    page = user.get("/cases/OP-3/people").text.replace("&#43;", "+")
    assert "+447700900999" in page and "gives +447700900999 as their own" in page
    assert "90%" in page
    with store.session() as session:
        last = custody.entries_of(session, custody.case_chain("OP-3"))[-2]
    assert (last.action, last.actor) == ("links_suggested", "dc_jones")
    assert signed_in("cps", "OP-3").post("/cases/OP-3/identifier-links/suggest"
                                         ).status_code == 403


def test_recording_a_person_through_the_form(store, case, signed_in):
    user = signed_in("officer", "OP-1")
    response = user.post("/cases/OP-1/people", {"name": "Jo Bloggs", "role": "witness",
                                                "identifiers": "+1 555 555 0123"})
    assert response.status_code == 303
    with store.session() as session:
        people = {p.name: ids for p, ids in
                  persons.persons_of(session, cases.get_case(session, "OP-1"))}
    assert people["Jo Bloggs"] == ["+15555550123"]
    taken = user.post("/cases/OP-1/people", {"name": "Other", "role": "other",
                                             "identifiers": "+447700900123"})
    assert taken.status_code == 400 and "already belongs to Sam Taylor" in taken.text


def test_charts_are_drawn_with_their_numbers_alongside(case, signed_in):
    user = signed_in("investigator", "OP-1")
    page = user.get("/cases/OP-1/charts")
    assert page.status_code == 200
    images = re.findall(r'src="(/cases/OP-1/charts/[0-9a-f]{64}/\w+\.png)"', page.text)
    assert len(images) == 5
    for url in images:
        picture = user.get(url)
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    assert "By hour and weekday" in page.text and "contacts from Sam Taylor" in page.text
    assert user.get("/cases/OP-1/charts/" + "a" * 64 + "/contacts_per_day.png"
                    ).status_code == 404


def test_charts_explain_when_there_is_no_suspect(store, make_case, signed_in):
    make_case("OP-2")
    page = signed_in("investigator", "OP-2").get("/cases/OP-2/charts")
    assert page.status_code == 200 and "has no suspect" in page.text


def test_the_export_button_downloads_the_bundle_and_logs_who_exported(store, case, signed_in):
    investigator = signed_in("investigator", "OP-1", name="dc_jones")
    with store.session() as session:
        event_id = session.execute(select(Event.id).order_by(Event.id)).scalars().first()
    investigator.post(f"/cases/OP-1/events/{event_id}/annotations",
                      {"kind": "note", "text": "first contact after the warning"})
    user = signed_in("cps", "OP-1", name="cps_patel")
    assert "Build and download the bundle" in user.get("/cases/OP-1/export").text
    response = user.post("/cases/OP-1/export")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-bundle-sha256"] == hashlib.sha256(response.content).hexdigest()
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    originals = {bundle.read(n) for n in bundle.namelist() if n.startswith("exhibits/")}
    assert CHAT.read_bytes() in originals and SMS.read_bytes() in originals
    # Notes go out with the case, in its continuity record.
    continuity = bundle.read(next(n for n in bundle.namelist() if n.endswith("custody.csv")))
    assert b"first contact after the warning" in continuity and b"event_noted" in continuity
    with store.session() as session:
        last = custody.entries_of(session, custody.case_chain("OP-1"))[-1]
    assert (last.action, last.actor) == ("exported", "cps_patel")
    assert not any((store.root / "web-exports").iterdir())
