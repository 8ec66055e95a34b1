"""Fixtures for the web app: a store, cheap argon2 settings, users, signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence_store import cases
from evidence_store.models import User
from web import access
from web.app import create_app
from web.auth import create_user, hasher
from web.settings import WebSettings

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


@pytest.fixture
def web_settings() -> WebSettings:
    # argon2 at its cheapest: the tests are about the app, not the hash's cost.
    return WebSettings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1,
                       max_failed_logins=3, ip_attempts=1000)


@pytest.fixture
def app(store, web_settings):
    return create_app(store, web_settings)


@pytest.fixture
def make_user(store, web_settings) -> Callable[..., User]:
    def make(name: str, role: str, *case_refs: str, full_name: str | None = None) -> User:
        with store.session() as session:
            user = create_user(session, hasher(web_settings), name, role, PASSWORD, "test-admin",
                               full_name)
            for ref in case_refs:
                access.assign(session, user, cases.get_case(session, ref), "test-admin")
        return user
    return make


@pytest.fixture
def make_case(store) -> Callable[..., None]:
    def make(ref: str = "OP-1", timezone: str = "Europe/London") -> None:
        with store.session() as session:
            cases.create_case(session, ref, "Harassment of A", "Jane Smith", "JS", timezone)
    return make


class Browser:
    """A TestClient that signs in like a person and reads CSRF tokens off pages."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def login(self, name: str, password: str = PASSWORD, next_path: str = "/cases") -> Any:
        page = self.client.get("/login")
        response = self.client.post("/login", data={
            "username": name, "password": password, "next": next_path,
            "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        if response.status_code == 303:
            self.csrf = csrf_of(self.client.get("/cases").text)
        return response

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, follow_redirects=False, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, csrf: bool = True,
             **kw: Any) -> Any:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return self.client.post(url, data=body, follow_redirects=False, **kw)


@pytest.fixture
def browser(app) -> Callable[[], Browser]:
    clients: list[TestClient] = []

    def new() -> Browser:
        client = TestClient(app)
        clients.append(client)
        return Browser(client)

    yield new  # type: ignore[misc]
    for client in clients:
        client.close()


@pytest.fixture
def signed_in(browser, make_user, make_case) -> Iterator[Callable[..., Browser]]:
    """signed_in(role, *cases): a new user of that role assigned to those cases, signed in."""
    counter = iter(range(1, 1000))

    def sign_in(role: str, *case_refs: str, name: str | None = None) -> Browser:
        user = make_user(name or f"{role}{next(counter)}", role, *case_refs)
        b = browser()
        assert b.login(user.name).status_code == 303
        return b

    yield sign_in
