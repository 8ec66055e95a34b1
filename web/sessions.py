"""Server-side sessions: a random token in an HttpOnly, SameSite=Strict cookie.

The database keeps only the token's SHA-256, with the session's CSRF token and
its times; a session ends after a spell of inactivity and after a fixed time
whatever happens, and signing out deletes it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from evidence_store.models import User, WebSession
from web.settings import WebSettings

COOKIE = "conduct_session"
#: last_seen_at is written at most this often, so reading pages is not a write each time.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one request."""

    user_id: int
    name: str
    full_name: str
    role: str
    csrf_token: str
    token_hash: str

    @property
    def actor(self) -> str:
        """How the user is named in the custody log and as a receiving officer:
        the full name for people, the unique user name to tell them apart."""
        if self.full_name == self.name:
            return self.name
        return f"{self.full_name} [{self.name}]"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session: Session, user: User) -> str:
    """A new session for ``user``; returns the cookie value (never stored)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(WebSession(token_hash=token_hash(token), user_id=user.id,
                           csrf_token=secrets.token_urlsafe(32), created_at=now,
                           last_seen_at=now))
    return token


def load(session: Session, token: str | None, settings: WebSettings) -> Viewer | None:
    if not token or len(token) > 100:
        return None
    digest = token_hash(token)
    found = session.execute(
        select(WebSession, User).join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == digest)).first()
    if found is None:
        return None
    row, user = found
    now = datetime.now(UTC)
    if (now - row.last_seen_at > settings.idle_timeout
            or now - row.created_at > settings.absolute_timeout or not user.active):
        session.delete(row)
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
    return Viewer(user.id, user.name, user.full_name, user.role, row.csrf_token, digest)


def end(session: Session, viewer: Viewer) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == viewer.token_hash))


def end_all(session: Session, user_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


def secure(request: Request, settings: WebSettings) -> bool:
    if settings.secure_cookies is not None:
        return settings.secure_cookies
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, settings: WebSettings, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                        secure=secure(request, settings), path="/")


def clear_cookie(response: Response, request: Request, settings: WebSettings) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="strict",
                           secure=secure(request, settings), path="/")
