"""Victim upload links: one use, expiry, limits, nothing kept in the browser, quarantine."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_store import custody
from evidence_store.models import Exhibit, QuarantinedUpload, UploadLink
from tests.test_ingest_cli import CHAT, PHOTO

_LINK = re.compile(r'value="(http://testserver/u/[^"]+)"')


@pytest.fixture
def officer(make_case, signed_in):
    make_case("OP-1")
    return signed_in("officer", "OP-1", name="jsmith")


def create_link(officer, **fields):
    data = {"label": "for Alex", "hours": "72", "max_mb": "10", "max_files": "5", **fields}
    page = officer.post("/cases/OP-1/upload-links", data)
    assert page.status_code == 200, page.text
    return _LINK.search(page.text).group(1).removeprefix("http://testserver")


def send(client, url, files, note=""):
    return client.post(url, data={"note": note}, files=[("files", f) for f in files])


def test_the_link_is_shown_once_and_only_its_hash_is_stored(store, officer):
    url = create_link(officer)
    token = url.removeprefix("/u/")
    with store.session() as session:
        link = session.execute(select(UploadLink)).scalar_one()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in officer.get("/cases/OP-1/upload-links").text
    with store.session() as session:
        created = [e for e in custody.entries_of(session, custody.case_chain("OP-1"))
                   if e.action == "upload_link_created"]
    assert len(created) == 1 and token not in created[0].details


def test_the_victim_page_keeps_nothing_and_always_offers_a_way_out(app, officer):
    url = create_link(officer)
    with TestClient(app) as victim:
        page = victim.get(url)
    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'class="exit-button" href="https://www.bbc.co.uk/weather" data-exit' in page.text
    assert '<script src="/static/conduct.js" defer></script>' in page.text
    assert 'autocomplete="off"' in page.text
    assert "OP-1" not in page.text and "for Alex" not in page.text


def test_the_escape_key_script_is_served_by_the_app(app):
    with TestClient(app) as client:
        script = client.get("/static/conduct.js")
    assert script.status_code == 200
    assert 'event.key === "Escape"' in script.text and "location.replace" in script.text


def test_an_upload_waits_in_quarantine_and_the_link_then_stops_working(store, app, officer):
    url = create_link(officer)
    with TestClient(app) as victim:
        assert victim.get(url).status_code == 200
        done = send(victim, url, [("chat.txt", CHAT.encode()), ("photo.jpg", PHOTO)],
                    note="the texts from Sam")
        assert done.status_code == 200
        assert "2 files arrived" in done.text
        assert "chat.txt" not in done.text and "the texts from Sam" not in done.text
        assert done.headers["clear-site-data"] == '"cache"'
        assert "set-cookie" not in done.headers
        again = send(victim, url, [("more.txt", b"more")])
        assert again.status_code == 404 and "This link does not work" in again.text
        assert victim.get(url).status_code == 404
    with store.session() as session:
        waiting = list(session.execute(select(QuarantinedUpload)).scalars())
        assert session.execute(select(Exhibit)).scalars().all() == []
        entries = custody.entries_of(session, custody.case_chain("OP-1"))
    assert [(w.original_name, w.status, w.sender_note) for w in waiting] == [
        ("chat.txt", "waiting", "the texts from Sam"), ("photo.jpg", "waiting",
                                                        "the texts from Sam")]
    assert store.blobs.exists(waiting[0].sha256)
    actions = [(e.actor, e.action) for e in entries if e.actor.startswith("victim")]
    assert actions == [("victim upload link 1", "viewed"),
                       ("victim upload link 1", "upload_quarantined"),
                       ("victim upload link 1", "upload_quarantined"),
                       ("victim upload link 1", "upload_link_used")]


def test_expired_and_revoked_links_do_not_work(store, app, officer):
    expired = create_link(officer)
    revoked = create_link(officer)
    with store.session() as session:
        first, second = session.execute(select(UploadLink).order_by(UploadLink.id)).scalars()
        first.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert officer.post(f"/cases/OP-1/upload-links/{second.id}/revoke").status_code == 303
    with TestClient(app) as victim:
        for url in (expired, revoked, "/u/never-issued"):
            assert victim.get(url).status_code == 404
            assert send(victim, url, [("a.txt", b"a")]).status_code == 404
    with store.session() as session:
        assert session.execute(select(QuarantinedUpload)).scalars().all() == []


def test_too_large_or_too_many_files_are_refused_and_the_link_still_works(store, app,
                                                                          officer):
    url = create_link(officer, max_mb="1", max_files="2")
    with TestClient(app) as victim:
        large = send(victim, url, [("big.bin", b"x" * (1024 * 1024 + 1))])
        assert large.status_code == 413 and "larger than allowed" in large.text
        many = send(victim, url, [("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c")])
        assert many.status_code == 400 and "At most 2 files" in many.text
        assert send(victim, url, [("a.txt", b"a")]).status_code == 200
    with store.session() as session:
        names = session.execute(select(QuarantinedUpload.original_name)).scalars().all()
    assert names == ["a.txt"]


def test_accepting_uploads_makes_them_exhibits_with_provenance(store, app, officer):
    url = create_link(officer)
    with TestClient(app) as victim:
        send(victim, url, [("WhatsApp Chat with Sam.txt", CHAT.encode()),
                           ("IMG-20240312-WA0001.jpg", PHOTO)])
    with store.session() as session:
        ids = session.execute(select(QuarantinedUpload.id)).scalars().all()
    page = officer.get("/cases/OP-1/quarantine")
    assert "WhatsApp Chat with Sam.txt" in page.text
    response = officer.post("/cases/OP-1/quarantine/accept", {
        "upload": [str(i) for i in ids], "received_from": "Alex Morgan (victim)",
        "how_obtained": "uploaded through a one-time link", "consent": "given",
        "initials": "JS"})
    assert response.status_code == 200 and "Read as whatsapp: 4 events" in response.text
    with store.session() as session:
        chat, _photo = session.execute(select(Exhibit).order_by(Exhibit.id)).scalars()
        rows = list(session.execute(select(QuarantinedUpload).order_by(QuarantinedUpload.id))
                    .scalars())
        entries = custody.entries_of(session, custody.case_chain("OP-1"))
    assert (chat.ref, chat.status, chat.received_from, chat.received_by) == (
        "JS/1", "parsed", "Alex Morgan (victim)", "jsmith")
    assert [(r.status, r.exhibit_ref, r.decided_by) for r in rows] == [
        ("accepted", "JS/1", "jsmith"), ("accepted", "JS/2", "jsmith")]
    accepted = [json.loads(e.details) for e in entries if e.action == "upload_accepted"]
    assert [a["exhibit"] for a in accepted] == ["JS/1", "JS/2"]
    again = officer.post("/cases/OP-1/quarantine/accept", {
        "upload": str(ids[0]), "received_from": "x", "how_obtained": "y", "consent": "given",
        "initials": "JS"})
    assert again.status_code == 400 and "already decided" in again.text


def test_rejecting_keeps_the_file_but_makes_no_exhibit(store, app, officer):
    url = create_link(officer)
    with TestClient(app) as victim:
        send(victim, url, [("holiday.jpg", PHOTO)])
    with store.session() as session:
        upload_id = session.execute(select(QuarantinedUpload.id)).scalar_one()
    assert officer.post(f"/cases/OP-1/quarantine/{upload_id}/reject",
                        {"reason": ""}).status_code == 400
    assert officer.post(f"/cases/OP-1/quarantine/{upload_id}/reject",
                        {"reason": "holiday photo, not relevant"}).status_code == 303
    with store.session() as session:
        row = session.get(QuarantinedUpload, upload_id)
        assert session.execute(select(Exhibit)).scalars().all() == []
        last = custody.entries_of(session, custody.case_chain("OP-1"))[-1]
    assert (row.status, row.decision_note, row.decided_by) == (
        "rejected", "holiday photo, not relevant", "jsmith")
    assert store.blobs.exists(row.sha256)
    assert (last.action, last.actor) == ("upload_rejected", "jsmith")
    page = officer.get("/cases/OP-1/quarantine").text
    assert "rejected: holiday photo, not relevant" in page


def test_a_waiting_upload_downloads_only_as_an_attachment(store, app, officer):
    url = create_link(officer)
    with TestClient(app) as victim:
        send(victim, url, [("page.html", b"<script>alert(1)</script>")])
    with store.session() as session:
        upload_id = session.execute(select(QuarantinedUpload.id)).scalar_one()
    response = officer.get(f"/cases/OP-1/quarantine/{upload_id}/original")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
