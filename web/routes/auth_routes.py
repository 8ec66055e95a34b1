"""Signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from evidence_store import custody
from web import csrf, sessions
from web.deps import client_address, ctx, optional_viewer, render, viewer
from web.sessions import Viewer

router = APIRouter()

FAILED = ("Sign-in failed. Check your user name and password. After "
          "{n} failed attempts in a row an account is locked for {m} minutes.")


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an open redirect would help phishing.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/cases"


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/cases" if optional_viewer(request) else "/login", status_code=303)


def _login_page(request: Request, next_path: str, error: str | None, status: int = 200
                ) -> Response:
    token = csrf.login_token(request)
    response = render(request, "login.html", {"next": next_path, "error": error,
                                              "login_csrf": token}, status=status)
    csrf.set_login_cookie(response, token, sessions.secure(request, ctx(request).settings))
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if optional_viewer(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, _safe_next(next), None)


@router.post("/login")
def login(request: Request, username: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/cases",
          csrf_token: Annotated[str, Form()] = "") -> Response:
    csrf.check_login(request, csrf_token)
    context = ctx(request)
    settings = context.settings
    address = client_address(request)
    if not context.login_limiter.allow(address):
        raise HTTPException(429, "Too many sign-in attempts from this computer. "
                                 "Wait a few minutes and try again.")
    with context.store.session() as session:
        result = context.auth.authenticate(session, username.strip()[:200], password, address)
        token = sessions.start(session, result.user) if result.user else None
    if token is None:
        message = FAILED.format(n=settings.max_failed_logins,
                                m=int(settings.lockout.total_seconds() // 60))
        return _login_page(request, _safe_next(next), message, status=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    sessions.set_cookie(response, request, settings, token)
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    user: Viewer = viewer(request)
    csrf.check(user, csrf_token)
    context = ctx(request)
    with context.store.session() as session:
        sessions.end(session, user)
        custody.append(session, custody.STORE_CHAIN, user.actor, "logout", user.name, {})
    response = RedirectResponse("/login", status_code=303)
    sessions.clear_cookie(response, request, context.settings)
    return response
