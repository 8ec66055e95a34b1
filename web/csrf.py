"""Cross-site request forgery: every state-changing form carries a token the attacker
cannot know. Signed-in forms use the session's own token (synchronizer pattern);
the sign-in form, before there is a session, a random value that must equal the
one in a short-lived cookie (double submit)."""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from web.sessions import Viewer

FIELD = "csrf_token"
LOGIN_COOKIE = "conduct_login_csrf"


class CsrfRejected(HTTPException):
    def __init__(self) -> None:
        super().__init__(403, "The form was missing its security token or it did not match. "
                              "Go back, reload the page and try again.")


def same(expected: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(expected.encode(), (submitted or "").encode())


def check(viewer: Viewer, submitted: str | None) -> None:
    if not same(viewer.csrf_token, submitted):
        raise CsrfRejected()


def login_token(request: Request) -> str:
    """The sign-in form's token: the cookie's when there is one, else a new one."""
    current = request.cookies.get(LOGIN_COOKIE)
    return current if current and len(current) <= 100 else secrets.token_urlsafe(32)


def set_login_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure,
                        path="/login", max_age=3600)


def check_login(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not same(cookie, submitted):
        raise CsrfRejected()
