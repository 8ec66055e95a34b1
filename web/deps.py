"""What every route needs: the app's context, the signed-in user, rendering, logging views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.models import Case
from evidence_store.store import Store
from web import access, sessions
from web.auth import ROLE_NAMES, Authenticator, RateLimiter
from web.sessions import Viewer
from web.settings import WebSettings


@dataclass
class WebContext:
    store: Store
    settings: WebSettings
    auth: Authenticator
    login_limiter: RateLimiter
    templates: Jinja2Templates


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def ctx(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


def optional_viewer(request: Request) -> Viewer | None:
    if "viewer" not in request.state._state:
        context = ctx(request)
        with context.store.session() as session:
            request.state.viewer = sessions.load(
                session, request.cookies.get(sessions.COOKIE), context.settings)
    found: Viewer | None = request.state.viewer
    return found


def viewer(request: Request) -> Viewer:
    """Dependency: the signed-in user, or a redirect to the sign-in page."""
    found = optional_viewer(request)
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status: int = 200) -> HTMLResponse:
    found = request.state._state.get("viewer")
    values: dict[str, Any] = {
        "viewer": found, "csrf": found.csrf_token if found else "",
        "can": (lambda permission: found is not None and access.can(found, permission)),
        "role_names": ROLE_NAMES, "settings": ctx(request).settings,
    }
    values.update(context or {})
    return ctx(request).templates.TemplateResponse(request, template, values,
                                                   status_code=status)


def log_case(session: Session, viewer: Viewer, case: Case, action: str,
             details: dict[str, Any]) -> None:
    custody.append(session, custody.case_chain(case.ref), viewer.actor, action, case.ref,
                   details)


def log_view(session: Session, viewer: Viewer, request: Request, case: Case | None = None,
             **details: Any) -> None:
    """Every page a user opens goes into the custody log: the case's chain when the
    page belongs to a case, the store's otherwise."""
    body = {"path": request.url.path, **details}
    if case is None:
        custody.append(session, custody.STORE_CHAIN, viewer.actor, "viewed", request.url.path,
                       body)
    else:
        log_case(session, viewer, case, "viewed", body)


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="")
