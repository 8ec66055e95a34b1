"""Opening cases, the case list, assignments and the custody log, through the web."""

from sqlalchemy import select

from evidence_store import cases, custody, persons
from evidence_store.models import CaseAssignment


def _open(officer, **fields):
    data = {"ref": "OP-7", "title": "Harassment of Alex", "officer": "PC Jane Smith",
            "initials": "JS", "timezone": "Europe/London", "region": "GB",
            "victim_name": "Alex Morgan", "victim_ids": "alex@example.org\n07700 900123",
            "suspect_name": "Sam Taylor", "suspect_ids": "+44 7700 900461, instagram:sam_t"}
    data.update(fields)
    return officer.post("/cases", data)


def test_an_officer_opens_a_case_with_victim_and_suspect_and_is_assigned_to_it(store,
                                                                               signed_in):
    officer = signed_in("officer", name="jsmith")
    response = _open(officer)
    assert response.status_code == 303 and response.headers["location"] == "/cases/OP-7"
    with store.session() as session:
        case = cases.get_case(session, "OP-7")
        people = {p.name: (p.role, ids) for p, ids in persons.persons_of(session, case)}
        entries = custody.entries_of(session, custody.case_chain("OP-7"))
    assert case.timezone == "Europe/London" and case.officer_initials == "JS"
    assert people == {
        "Alex Morgan": ("victim", ["+447700900123", "alex@example.org"]),
        "Sam Taylor": ("suspect", ["+447700900461", "instagram:sam_t"]),
    }
    assert [(e.action, e.actor) for e in entries] == [
        ("case_created", "PC Jane Smith"), ("user_assigned", "jsmith"),
        ("person_added", "jsmith"), ("person_added", "jsmith")]
    page = officer.get("/cases/OP-7")
    assert page.status_code == 200 and "Alex Morgan (victim)" in page.text
    assert "OP-7" in officer.get("/cases").text


def test_a_bad_time_zone_is_explained_and_nothing_is_opened(store, signed_in):
    officer = signed_in("officer")
    response = _open(officer, timezone="Mars/Olympus")
    assert response.status_code == 400
    assert "unknown time zone" in response.text and 'value="Harassment of Alex"' in response.text
    with store.session() as session:
        assert cases.list_cases(session) == []


def test_a_bad_identifier_is_explained_and_nothing_is_opened(store, signed_in):
    response = _open(signed_in("officer"), suspect_ids="not an identifier")
    assert response.status_code == 400 and "is not an identifier" in response.text
    with store.session() as session:
        assert cases.list_cases(session) == []


def test_a_duplicate_reference_is_refused(signed_in, make_case):
    make_case("OP-7")
    response = _open(signed_in("officer"))
    assert response.status_code == 400 and "already exists" in response.text


def test_investigators_and_cps_reviewers_cannot_open_cases(signed_in):
    for role in ("investigator", "cps", "admin"):
        user = signed_in(role)
        assert user.get("/cases/new").status_code == 403
        assert _open(user).status_code == 403


def test_the_case_list_shows_only_assigned_cases(signed_in, make_case):
    make_case("OP-1")
    make_case("OP-2")
    page = signed_in("investigator", "OP-2").get("/cases").text
    assert "OP-2" in page and "OP-1" not in page


def test_an_admin_assigns_and_removes_users_and_it_is_logged(store, signed_in, make_case,
                                                             make_user, browser):
    make_case("OP-1")
    user = make_user("cps1", "cps", full_name="Ms K Patel")
    admin = signed_in("admin", name="root")
    assert admin.post(f"/admin/users/{user.id}/assign", {"case_ref": "OP-1"}).status_code == 303
    reviewer = browser()
    reviewer.login("cps1")
    assert reviewer.get("/cases/OP-1").status_code == 200
    assert admin.post(f"/admin/users/{user.id}/assign",
                      {"case_ref": "OP-1", "action": "unassign"}).status_code == 303
    assert reviewer.get("/cases/OP-1").status_code == 404
    with store.session() as session:
        entries = custody.entries_of(session, custody.case_chain("OP-1"))
        assert session.execute(select(CaseAssignment)).scalars().all() == []
    assert [(e.action, e.actor) for e in entries if e.actor != "Jane Smith"] == [
        ("user_assigned", "root"), ("viewed", "Ms K Patel [cps1]"), ("user_unassigned", "root")]


def test_an_admin_adds_an_account_that_can_then_sign_in(signed_in, browser):
    admin = signed_in("admin")
    response = admin.post("/admin/users", {"name": "kpatel", "full_name": "Ms K Patel",
                                           "role": "cps", "password": "a long enough one"})
    assert response.status_code == 303
    assert browser().login("kpatel", "a long enough one").status_code == 303
    short = admin.post("/admin/users", {"name": "x", "role": "cps", "password": "short"})
    assert short.status_code == 400 and "at least 12 characters" in short.text


def test_every_page_view_is_in_the_custody_log_with_the_user(store, signed_in, make_case):
    make_case("OP-1")
    user = signed_in("investigator", "OP-1", name="dc_jones")
    user.get("/cases/OP-1")
    user.get("/cases/OP-1/people")
    user.get("/cases")
    with store.session() as session:
        case_entries = custody.entries_of(session, custody.case_chain("OP-1"))
        store_entries = custody.entries_of(session, custody.STORE_CHAIN)
    views = [(e.actor, e.action, e.details) for e in case_entries if e.action == "viewed"]
    assert views == [("dc_jones", "viewed", '{"path":"/cases/OP-1"}'),
                     ("dc_jones", "viewed", '{"path":"/cases/OP-1/people"}')]
    assert any(e.actor == "dc_jones" and e.action == "viewed" and e.subject == "/cases"
               for e in store_entries)


def test_the_custody_log_page_lists_the_chain(signed_in, make_case):
    make_case("OP-1")
    page = signed_in("supervisor", "OP-1").get("/cases/OP-1/custody")
    assert page.status_code == 200 and "case_created" in page.text and "user_assigned" in page.text


def test_pages_carry_security_headers_and_are_not_cached(signed_in, make_case):
    make_case("OP-1")
    response = signed_in("officer", "OP-1").get("/cases/OP-1")
    headers = response.headers
    assert headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
