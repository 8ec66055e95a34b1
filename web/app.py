"""The web app for officers, investigators, supervisors, CPS reviewers and victims.

Server-rendered pages that work without JavaScript; every asset is served from
here (no CDN, no external fonts), every response says not to cache evidence,
and pages may not be framed or run anything but this app's own script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evidence_store.store import Store
from web import format as fmt
from web.auth import Authenticator, RateLimiter
from web.deps import LoginRequired, WebContext, login_url, render
from web.routes import (
    admin,
    auth_routes,
    cases,
    charts,
    events,
    exhibits,
    export,
    people,
    timeline,
    victim_upload,
)
from web.settings import WebSettings

HERE = Path(__file__).resolve().parent

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
     b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]


class SecurityHeaders:
    """Plain ASGI (not BaseHTTPMiddleware), so streamed bodies stay streamed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"cache-control" or static]
                headers.extend(h for h in SECURITY_HEADERS
                               if not any(k.lower() == h[0] for k, _ in headers))
                if not static:
                    # Evidence must not linger in a shared computer's browser cache.
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(store: Store, settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    app = FastAPI(title="Conduct", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(fmt.FILTERS)
    app.state.web = WebContext(
        store=store, settings=settings, auth=Authenticator(settings),
        login_limiter=RateLimiter(settings.ip_attempts, settings.ip_window.total_seconds()),
        templates=templates,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for module in (auth_routes, admin, cases, exhibits, victim_upload, timeline, events,
                   people, charts, export):
        app.include_router(module.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_middleware(SecurityHeaders)
    return app


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_path), status_code=303)


TITLES = {400: "Request not understood", 403: "Not allowed", 404: "Not found",
          405: "Not allowed", 413: "Too large", 429: "Too many attempts"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    template = "victim/gone.html" if request.url.path.startswith("/u/") else "error.html"
    response = render(request, template, {"title": TITLES.get(exc.status_code, "Error"),
                                          "message": exc.detail}, status=exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _bad_request(request: Request, exc: Exception) -> Response:
    fields: list[Any] = []
    if isinstance(exc, RequestValidationError):
        fields = [" ".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()]
    # A malformed id in a path is a page that does not exist.
    if any(str(e.get("loc", ("",))[0]) == "path" for e in getattr(exc, "errors", list)()):
        return await _http_error(request, StarletteHTTPException(404, "There is nothing here."))
    return render(request, "error.html", {
        "title": "Request not understood",
        "message": "Some fields were missing or not valid: " + ", ".join(fields)},
        status=400)
