"""What the web benches share: a free port, waiting for `conduct serve`, signing in."""

from __future__ import annotations

import re
import socket
import subprocess
import time

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    if found is None:
        raise SystemExit("no CSRF token on the page")
    return found.group(1)


def sign_in(client: httpx.Client, server: subprocess.Popen[bytes], user: str,
            password: str, wait_seconds: float = 120) -> httpx.Response:
    """Wait for the server to answer, then sign in; the page signing in led to."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            page = client.get("/login")
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)
    return client.post("/login", data={"username": user, "password": password,
                                       "csrf_token": csrf_token(page.text)},
                       follow_redirects=True)
