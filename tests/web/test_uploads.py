"""Officers add evidence through the web: provenance, results, originals, streaming."""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import httpx
from sqlalchemy import select

from evidence_store import custody
from evidence_store.models import Event, Exhibit
from tests.test_ingest_cli import CHAT, PHOTO
from tests.web.conftest import csrf_of
from tests.web.server import serving

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROVENANCE = {"received_from": "Alex Morgan (victim)",
              "how_obtained": "exported by the victim in my presence",
              "source": "Alex's iPhone 13, WhatsApp +44 7700 900123",
              "consent": "given", "consent_note": "MG11 page 2", "initials": "JS"}


def upload(user, files, **fields):
    data = {"csrf_token": user.csrf, **PROVENANCE, **fields}
    return user.client.post("/cases/OP-1/upload", data=data,
                            files=[("files", f) for f in files], follow_redirects=False)


def exhibits(store):
    with store.session() as session:
        return list(session.execute(select(Exhibit).order_by(Exhibit.id)).scalars())


def test_a_chat_uploaded_with_its_photo_is_stored_read_and_linked(store, signed_in, make_case):
    make_case()
    officer = signed_in("officer", "OP-1", name="jsmith")
    response = upload(officer, [("WhatsApp Chat with Sam.txt", CHAT.encode()),
                                ("IMG-20240312-WA0001.jpg", PHOTO)])
    assert response.status_code == 200
    assert "Read as whatsapp: 4 events" in response.text
    chat, photo = exhibits(store)
    with store.session() as session:
        attached = session.execute(select(Event.attachments).where(
            Event.exhibit_id == chat.id, Event.attachments != "[]")).scalar_one()
    assert json.loads(attached)[0]["sha256"] == photo.sha256
    assert (chat.ref, chat.status, chat.event_count) == ("JS/1", "parsed", 4)
    assert chat.sha256 == hashlib.sha256(CHAT.encode()).hexdigest()
    assert chat.received_from == "Alex Morgan (victim)"
    assert chat.how_obtained == (
        "exported by the victim in my presence; from device or account: Alex's iPhone 13, "
        "WhatsApp +44 7700 900123; consent given by the person handing it over (MG11 page 2)")
    assert chat.received_by == "jsmith" and photo.ref == "JS/2"
    with store.session() as session:
        received = [e for e in custody.entries_of(session, custody.case_chain("OP-1"))
                    if e.action == "exhibit_received"]
    assert [(e.actor, e.subject) for e in received] == [("jsmith", "JS/1"), ("jsmith", "JS/2")]
    assert json.loads(received[0].details)["how_obtained"] == chat.how_obtained


def test_the_exhibit_list_shows_hash_format_and_a_clear_message_for_what_was_not_read(
        store, signed_in, make_case):
    make_case()
    officer = signed_in("officer", "OP-1")
    broken = zipfile.ZipFile(io.BytesIO(b""), "w")
    broken.close()
    damaged = (FIXTURES / "diary" / "truncated.xlsx").read_bytes()
    upload(officer, [("chat.txt", CHAT.encode()), ("notes.bin", b"\x00\x01\x02 opaque"),
                     ("diary.xlsx", damaged)])
    page = officer.get("/cases/OP-1").text
    chat, opaque, diary = exhibits(store)
    assert chat.sha256 in page and opaque.sha256 in page and diary.sha256 in page
    assert "whatsapp" in page and "Read: 4 events" in page
    assert "Stored, not read: no parser for this file" in page
    assert diary.status == "failed" and diary.error
    assert f"Could not be read completely: {diary.error}" in page.replace("&#39;", "'")


def test_provenance_is_required_before_anything_is_stored(store, signed_in, make_case):
    make_case()
    officer = signed_in("officer", "OP-1")
    for missing, message in (("received_from", "who handed the material over"),
                             ("how_obtained", "how the material was obtained"),
                             ("consent", "whether consent was given")):
        response = upload(officer, [("chat.txt", CHAT.encode())], **{missing: ""})
        assert response.status_code == 400 and message in response.text
    assert exhibits(store) == []
    assert not any(p.is_file() for p in (store.root / "blobs").rglob("*")
                   if p.parent.name != "tmp")


def test_an_upload_without_files_is_refused(store, signed_in, make_case):
    make_case()
    officer = signed_in("officer", "OP-1")
    response = officer.client.post("/cases/OP-1/upload",
                                   data={"csrf_token": officer.csrf, **PROVENANCE},
                                   files=[("files", ("", b""))])
    assert response.status_code == 400 and "Choose at least one file" in response.text
    assert exhibits(store) == []


def test_an_original_downloads_byte_for_byte_as_an_attachment_and_is_logged(
        store, signed_in, make_case):
    make_case()
    officer = signed_in("investigator", "OP-1", name="dc_jones")
    upload(officer, [("chat.txt", CHAT.encode())])
    (chat,) = exhibits(store)
    response = officer.get(f"/cases/OP-1/exhibits/{chat.id}/original?inline=1")
    assert response.status_code == 200 and response.content == CHAT.encode()
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    with store.session() as session:
        last = custody.entries_of(session, custody.case_chain("OP-1"))[-1]
    assert (last.actor, last.action) == ("dc_jones", "downloaded")
    assert json.loads(last.details) == {"exhibit": "JS/1", "sha256": chat.sha256,
                                        "inline": False}


def test_an_image_is_shown_inline_with_its_own_type(store, signed_in, make_case):
    from PIL import Image

    make_case()
    officer = signed_in("officer", "OP-1")
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "PNG")
    upload(officer, [("screen.png", buffer.getvalue())])
    (image,) = exhibits(store)
    page = officer.get(f"/cases/OP-1/exhibits/{image.id}")
    assert f'src="/cases/OP-1/exhibits/{image.id}/original?inline=1"' in page.text
    shown = officer.get(f"/cases/OP-1/exhibits/{image.id}/original?inline=1")
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"].startswith("inline;")
    assert shown.content == buffer.getvalue()


def test_a_large_upload_streams_to_the_blob_store_with_flat_memory(store, app, make_user,
                                                                   make_case):
    """50 MB through a real HTTP server: Python's peak allocation stays a few MB."""
    make_case()
    make_user("jsmith", "officer", "OP-1")
    size_mb = 50
    block = bytes(range(256)) * 4096  # 1 MiB
    expected = hashlib.sha256()
    for i in range(size_mb):
        expected.update(i.to_bytes(4, "big") + block[4:])
    with serving(app) as base, httpx.Client(base_url=base, timeout=120) as client:
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"username": "jsmith", "password": "correct horse battery "
                                    "staple", "csrf_token": token})
        csrf = csrf_of(client.get("/cases/OP-1/upload").text)
        boundary = "conduct-test-boundary"

        def body():
            for name, value in {"csrf_token": csrf, **PROVENANCE}.items():
                yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                       f"{value}\r\n").encode()
            yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                   "filename=\"phone-image.bin\"\r\nContent-Type: application/octet-stream"
                   "\r\n\r\n").encode()
            for i in range(size_mb):
                yield i.to_bytes(4, "big") + block[4:]
            yield f"\r\n--{boundary}--\r\n".encode()

        tracemalloc.start()
        try:
            response = client.post(
                "/cases/OP-1/upload", content=body(),
                headers={"content-type": f"multipart/form-data; boundary={boundary}"})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 200, response.text[:500]
    (stored,) = exhibits(store)
    assert stored.size == size_mb * 1024 * 1024
    assert stored.sha256 == expected.hexdigest()
    assert peak < 12 * 1024 * 1024, f"peak Python allocation {peak / 2**20:.1f} MB"


def test_an_upload_over_the_limit_is_refused_and_nothing_is_kept(store, signed_in, make_case,
                                                                 web_settings):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from web.app import create_app

    make_case()
    signed_in("officer", "OP-1", name="jsmith")
    small = create_app(store, replace(web_settings, max_upload_bytes=1000))
    with TestClient(small) as client:
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"username": "jsmith", "password": "correct horse battery "
                                    "staple", "csrf_token": token})
        csrf = csrf_of(client.get("/cases/OP-1/upload").text)
        response = client.post("/cases/OP-1/upload", data={"csrf_token": csrf, **PROVENANCE},
                               files=[("files", ("big.bin", b"x" * 5000))])
    assert response.status_code == 413
    assert exhibits(store) == []
