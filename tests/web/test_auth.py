"""Signing in: argon2 hashes, sessions, lockout, rate limit, CSRF on the sign-in form."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_store import custody
from evidence_store.models import User, WebSession
from tests.web.conftest import PASSWORD, csrf_of
from web.app import create_app
from web.sessions import COOKIE, token_hash


def test_passwords_are_stored_as_argon2id_hashes(store, make_user):
    make_user("jsmith", "officer")
    with store.session() as session:
        stored = session.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_signing_in_sets_a_strict_httponly_session_cookie_and_opens_the_case_list(
        browser, make_user):
    make_user("jsmith", "officer", full_name="PC Jane Smith")
    b = browser()
    response = b.login("jsmith")
    assert response.status_code == 303 and response.headers["location"] == "/cases"
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if c.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    page = b.get("/cases")
    assert page.status_code == 200 and "Signed in as PC Jane Smith (Officer)" in page.text


def test_over_https_the_session_cookie_is_secure(store, web_settings, make_user):
    make_user("jsmith", "officer")
    with TestClient(create_app(store, web_settings), base_url="https://testserver") as client:
        page = client.get("/login")
        response = client.post("/login", data={"username": "jsmith", "password": PASSWORD,
                                               "csrf_token": csrf_of(page.text)},
                               follow_redirects=False)
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if c.startswith(COOKIE + "="))
    assert "Secure" in cookie


def test_the_database_keeps_only_a_hash_of_the_session_token(store, browser, make_user):
    make_user("jsmith", "officer")
    b = browser()
    b.login("jsmith")
    token = b.client.cookies[COOKIE]
    with store.session() as session:
        kept = session.execute(select(WebSession.token_hash)).scalar_one()
    assert kept == token_hash(token) and token not in kept


def test_a_wrong_password_is_refused_with_the_same_message_as_an_unknown_user(browser,
                                                                              make_user):
    make_user("jsmith", "officer")
    wrong = browser().login("jsmith", "not the password at all")
    unknown = browser().login("nobody", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Sign-in failed" in wrong.text and "Sign-in failed" in unknown.text
    assert COOKIE not in wrong.cookies


def test_an_account_locks_after_repeated_wrong_passwords_even_for_the_right_one(
        store, browser, make_user, web_settings):
    make_user("jsmith", "officer")
    b = browser()
    for _ in range(web_settings.max_failed_logins):
        assert b.login("jsmith", "wrong password here").status_code == 401
    assert b.login("jsmith").status_code == 401
    with store.session() as session:
        user = session.execute(select(User)).scalar_one()
        assert user.locked_until is not None
        actions = [e.action for e in custody.entries_of(session, custody.STORE_CHAIN)]
        assert "account_locked" in actions
        # The lock runs out by itself.
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    assert browser().login("jsmith").status_code == 303


def test_an_admin_can_unlock_a_locked_account(store, browser, make_user, signed_in,
                                              web_settings):
    user = make_user("jsmith", "officer")
    for _ in range(web_settings.max_failed_logins):
        browser().login("jsmith", "wrong password here")
    admin = signed_in("admin")
    assert "locked until" in admin.get("/admin/users").text
    assert admin.post(f"/admin/users/{user.id}/unlock").status_code == 303
    assert browser().login("jsmith").status_code == 303


def test_one_address_is_rate_limited_across_accounts(store, make_user, web_settings):
    from dataclasses import replace

    make_user("jsmith", "officer")
    app = create_app(store, replace(web_settings, ip_attempts=3))
    with TestClient(app) as client:
        token = csrf_of(client.get("/login").text)
        codes = [client.post("/login", data={"username": f"user{i}", "password": "x" * 12,
                                             "csrf_token": token}).status_code
                 for i in range(4)]
        right = client.post("/login", data={"username": "jsmith", "password": PASSWORD,
                                            "csrf_token": token})
    assert codes == [401, 401, 401, 429]
    assert right.status_code == 429


def test_the_sign_in_form_needs_its_csrf_token(browser, make_user):
    make_user("jsmith", "officer")
    b = browser()
    b.client.get("/login")
    response = b.client.post("/login", data={"username": "jsmith", "password": PASSWORD})
    assert response.status_code == 403
    assert COOKIE not in response.cookies


def test_after_signing_in_only_local_pages_are_followed(browser, make_user):
    make_user("jsmith", "officer")
    assert browser().login("jsmith", next_path="//evil.example/x").headers["location"] == "/cases"
    assert browser().login("jsmith", next_path="/cases/new").headers["location"] == "/cases/new"


def test_pages_need_a_session_and_send_you_to_sign_in_and_back(browser):
    response = browser().get("/cases/OP-1/timeline?channel=sms")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcases%2FOP-1%2Ftimeline%3Fchannel%3Dsms"


def test_an_idle_session_expires(store, signed_in, web_settings):
    b = signed_in("officer")
    with store.session() as session:
        row = session.execute(select(WebSession)).scalar_one()
        row.last_seen_at = datetime.now(UTC) - web_settings.idle_timeout - timedelta(seconds=1)
    assert b.get("/cases").status_code == 303
    with store.session() as session:
        assert session.execute(select(WebSession)).scalar_one_or_none() is None


def test_a_session_ends_after_its_absolute_lifetime_however_busy(store, signed_in,
                                                                 web_settings):
    b = signed_in("officer")
    with store.session() as session:
        row = session.execute(select(WebSession)).scalar_one()
        row.created_at = datetime.now(UTC) - web_settings.absolute_timeout - timedelta(1)
        row.last_seen_at = datetime.now(UTC)
    assert b.get("/cases").status_code == 303


def test_signing_out_ends_the_session_on_the_server(store, signed_in):
    b = signed_in("officer")
    token = b.client.cookies[COOKIE]
    assert b.post("/logout").status_code == 303
    with TestClient(b.client.app) as other:
        other.cookies.set(COOKIE, token)
        assert other.get("/cases", follow_redirects=False).status_code == 303


def test_signing_out_needs_the_csrf_token(signed_in):
    b = signed_in("officer")
    assert b.post("/logout", csrf=False).status_code == 403
    assert b.get("/cases").status_code == 200


def test_sign_ins_and_failures_are_in_the_store_custody_log(store, browser, make_user):
    make_user("jsmith", "officer")
    browser().login("jsmith", "wrong password here")
    browser().login("jsmith")
    with store.session() as session:
        entries = custody.entries_of(session, custody.STORE_CHAIN)
    assert [(e.action, e.actor) for e in entries if e.action.startswith("login")] == [
        ("login_failed", "jsmith"), ("login", "jsmith")]


def test_a_disabled_account_cannot_sign_in_and_loses_its_sessions(store, browser, make_user,
                                                                  signed_in):
    user = make_user("jsmith", "officer")
    b = browser()
    b.login("jsmith")
    admin = signed_in("admin")
    assert admin.post(f"/admin/users/{user.id}/active", {"active": "no"}).status_code == 303
    assert b.get("/cases").status_code == 303
    assert browser().login("jsmith").status_code == 401
