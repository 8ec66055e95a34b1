"""Every case route against every kind of outsider: anonymous, another case's user,
the wrong role, and a form without its CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from collector.intake import IngestOptions, Ingestor
from evidence_store import cases
from evidence_store.models import (
    Event,
    Exhibit,
    IdentifierLink,
    Person,
    QuarantinedUpload,
    UploadLink,
)
from web.routes.victim_upload import token_hash

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "whatsapp"
CHAT = FIXTURES / "android_en_gb_24h.txt"


@pytest.fixture
def ids(store, make_case):
    """OP-1 with a chat ingested, a suspect, a suggested identifier link, an open upload
    link and a waiting upload; OP-2 empty. Returns the ids the routes need."""
    make_case("OP-1")
    make_case("OP-2")
    Ingestor(store, "OP-1", IngestOptions(received_by="Jane Smith", received_from="victim")
             ).ingest_paths([CHAT])
    now = datetime.now(UTC)
    with store.session() as session:
        case = cases.get_case(session, "OP-1")
        exhibit = session.execute(select(Exhibit).where(Exhibit.case_id == case.id)).scalar_one()
        event = session.execute(select(Event.id).where(Event.case_id == case.id)
                                .limit(1)).scalar_one()
        person = Person(case_id=case.id, name="Sam Taylor", role="suspect")
        session.add(person)
        session.flush()
        link = IdentifierLink(case_id=case.id, value="+447700900999", person_id=person.id,
                              status="suggested", reason="same number but one digit",
                              reason_codes="[]", confidence=0.8, event_ids="[]",
                              suggested_at=now)
        upload_link = UploadLink(case_id=case.id, token_hash=token_hash("t" * 43), label="x",
                                 created_by="Jane Smith", created_at=now,
                                 expires_at=now + timedelta(hours=1), max_bytes=10**6,
                                 max_files=5)
        session.add_all([link, upload_link])
        session.flush()
        waiting = QuarantinedUpload(case_id=case.id, link_id=upload_link.id,
                                    sha256=exhibit.sha256, original_name="a.txt", size=1,
                                    media_type="text/plain", received_at=now, status="waiting")
        session.add(waiting)
        session.flush()
        return {"exhibit": exhibit.id, "event": event, "link": link.id,
                "upload_link": upload_link.id, "upload": waiting.id}


def get_routes(ids):
    return [
        "/cases/{ref}", "/cases/{ref}/custody", "/cases/{ref}/upload",
        f"/cases/{{ref}}/exhibits/{ids['exhibit']}",
        f"/cases/{{ref}}/exhibits/{ids['exhibit']}/original", "/cases/{ref}/upload-links",
        "/cases/{ref}/quarantine", f"/cases/{{ref}}/quarantine/{ids['upload']}/original",
        "/cases/{ref}/timeline", f"/cases/{{ref}}/events/{ids['event']}", "/cases/{ref}/people",
        "/cases/{ref}/charts", "/cases/{ref}/charts/" + "0" * 64 + "/contacts_per_day.png",
        "/cases/{ref}/export",
    ]


def post_routes(ids):
    return [
        ("/cases/{ref}/upload", {}),
        ("/cases/{ref}/upload-links", {"label": "for Alex"}),
        (f"/cases/{{ref}}/upload-links/{ids['upload_link']}/revoke", {}),
        ("/cases/{ref}/quarantine/accept", {"upload": str(ids["upload"])}),
        (f"/cases/{{ref}}/quarantine/{ids['upload']}/reject", {"reason": "not relevant"}),
        (f"/cases/{{ref}}/events/{ids['event']}/annotations", {"kind": "tag", "text": "threat"}),
        ("/cases/{ref}/people", {"name": "Jo", "role": "witness"}),
        (f"/cases/{{ref}}/identifier-links/{ids['link']}", {"decision": "confirm"}),
        ("/cases/{ref}/identifier-links/suggest", {}),
        ("/cases/{ref}/export", {}),
    ]


def test_the_lists_here_cover_every_case_route(app, ids):
    """A route added later without a test of its permissions fails this."""
    listed = {p.split("?")[0] for p in get_routes(ids)} | {p for p, _ in post_routes(ids)}
    shapes = {_shape(p) for p in listed}
    paths = [p for p in _paths(app.routes) if p.startswith("/cases/{ref}")]
    assert len(paths) > 20
    for path in paths:
        assert _shape(path) in shapes, f"{path} has no access test"


def _paths(routes):
    for route in routes:
        if hasattr(route, "path"):
            yield route.path
        # Routers are included lazily by recent FastAPI; walk into them.
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _paths(inner.routes)


def _shape(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}|\b\d+\b|contacts_per_day", "*", path.replace(".png", ""))


def test_another_cases_user_gets_404_on_every_route_as_if_the_case_did_not_exist(
        ids, signed_in):
    outsider = signed_in("supervisor", "OP-2")
    for template in get_routes(ids):
        for ref in ("OP-1", "NO-SUCH-CASE"):
            response = outsider.get(template.format(ref=ref))
            assert response.status_code == 404, template
            assert "OP-1" not in response.text
    for template, data in post_routes(ids):
        response = outsider.post(template.format(ref="OP-1"), data)
        assert response.status_code == 404, template


def test_an_admin_not_assigned_to_the_case_gets_404_too(ids, signed_in):
    admin = signed_in("admin")
    assert admin.get("/cases/OP-1").status_code == 404
    assert admin.get("/cases/OP-1/timeline").status_code == 404


def test_anonymous_requests_are_sent_to_sign_in(ids, browser):
    anonymous = browser()
    for template in get_routes(ids):
        response = anonymous.get(template.format(ref="OP-1"))
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/login?next="), template
    for template, data in post_routes(ids):
        response = anonymous.post(template.format(ref="OP-1"), data, csrf=False)
        assert response.status_code == 303, template


def test_every_form_without_its_csrf_token_is_refused(ids, signed_in, store):
    supervisor = signed_in("supervisor", "OP-1")
    for template, data in post_routes(ids):
        response = supervisor.post(template.format(ref="OP-1"), data, csrf=False)
        assert response.status_code == 403, template
        wrong = supervisor.post(template.format(ref="OP-1"), {**data, "csrf_token": "x" * 43})
        assert wrong.status_code == 403, template
    with store.session() as session:
        assert session.execute(select(QuarantinedUpload.status)).scalar_one() == "waiting"
        assert session.execute(select(IdentifierLink.status)).scalar_one() == "suggested"


def test_a_multipart_upload_without_its_csrf_token_stores_nothing(ids, signed_in, store):
    officer = signed_in("officer", "OP-1")
    before = _blob_count(store)
    response = officer.client.post("/cases/OP-1/upload", data={
        "received_from": "Alex", "how_obtained": "USB", "consent": "given", "initials": "JS"},
        files={"files": ("new.txt", b"fresh bytes never seen before")})
    assert response.status_code == 403
    assert _blob_count(store) == before


def _blob_count(store):
    return sum(1 for p in (store.root / "blobs").rglob("*") if p.is_file() and
               p.parent.name != "tmp")


CPS_REFUSED = ["/cases/{ref}/upload", "/cases/{ref}/upload-links", "/cases/{ref}/quarantine"]


def test_a_cps_reviewer_reads_and_exports_but_cannot_upload_or_change_anything(ids, signed_in):
    cps = signed_in("cps", "OP-1")
    for template in CPS_REFUSED:
        assert cps.get(template.format(ref="OP-1")).status_code == 403, template
    upload = cps.client.post("/cases/OP-1/upload", data={"csrf_token": cps.csrf},
                             files={"files": ("chat.txt", CHAT.read_bytes())},
                             follow_redirects=False)
    assert upload.status_code == 403
    for template, data in post_routes(ids):
        if template.endswith("/export"):
            continue
        assert cps.post(template.format(ref="OP-1"), data).status_code == 403, template
    for template in ("/cases/{ref}", "/cases/{ref}/timeline", "/cases/{ref}/custody",
                     f"/cases/{{ref}}/events/{ids['event']}", "/cases/{ref}/export"):
        assert cps.get(template.format(ref="OP-1")).status_code == 200, template


@pytest.mark.parametrize("role,allowed", [
    ("officer", {"upload", "upload_link", "quarantine", "annotate", "people", "export"}),
    ("investigator", {"upload", "annotate", "people", "export"}),
    ("supervisor", {"upload", "upload_link", "quarantine", "annotate", "people", "export"}),
    ("cps", {"export"}),
])
def test_roles_grant_what_the_permission_table_says(ids, signed_in, role, allowed):
    user = signed_in(role, "OP-1")
    pages = {"upload": "/cases/OP-1/upload", "upload_link": "/cases/OP-1/upload-links",
             "quarantine": "/cases/OP-1/quarantine", "export": "/cases/OP-1/export"}
    for name, url in pages.items():
        assert user.get(url).status_code == (200 if name in allowed else 403), (role, name)
    note = user.post(f"/cases/OP-1/events/{ids['event']}/annotations",
                     {"kind": "note", "text": "seen"})
    assert note.status_code == (303 if "annotate" in allowed else 403)
    person = user.post("/cases/OP-1/people", {"name": "Jo Bloggs", "role": "witness"})
    assert person.status_code == (303 if "people" in allowed else 403)


def test_only_admins_manage_accounts(signed_in):
    for role in ("officer", "investigator", "supervisor", "cps"):
        user = signed_in(role)
        assert user.get("/admin/users").status_code == 403
        assert user.post("/admin/users", {"name": "x", "role": "admin",
                                          "password": "y" * 12}).status_code == 403
    assert signed_in("admin").get("/admin/users").status_code == 200


def test_an_event_or_exhibit_of_another_case_is_404_even_to_a_user_of_both(
        ids, signed_in, store):
    both = signed_in("supervisor", "OP-1", "OP-2")
    assert both.get(f"/cases/OP-2/events/{ids['event']}").status_code == 404
    assert both.get(f"/cases/OP-2/exhibits/{ids['exhibit']}/original").status_code == 404
    assert both.post(f"/cases/OP-2/events/{ids['event']}/annotations",
                     {"kind": "tag", "text": "x"}).status_code == 404
    assert both.get("/cases/OP-1/events/not-a-number").status_code == 404
