"""`conduct serve` and `conduct user ...`: the web app and its accounts.

Registered on the main app by conduct.cli (imported at its end).
"""

from __future__ import annotations

import getpass
import sys
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy import select

from conduct.cli import app, fail, guarded, opened, out, settings
from evidence_store import cases
from evidence_store.models import User
from web.auth import AccountError, create_user, find_user, hasher
from web.settings import WebSettings

user_app = typer.Typer(no_args_is_help=True, help="Accounts of the web app.")
app.add_typer(user_app, name="user")


class WebRole(StrEnum):
    officer = "officer"
    investigator = "investigator"
    supervisor = "supervisor"
    cps = "cps"
    admin = "admin"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Same password again: ") != first:
        fail("the two passwords differ")
    return first


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[WebRole, typer.Option(help="What the user may do.")],
    full_name: Annotated[str | None, typer.Option(
        help="Name and rank as shown in the custody log (default: the user name).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input.")
    ] = False,
) -> None:
    """Create an account (the first one is usually an admin)."""
    password = _read_password(password_stdin)
    with opened() as store, store.session() as session:
        try:
            user = create_user(session, hasher(WebSettings()), name, role.value, password,
                               settings.user, full_name)
        except AccountError as exc:
            fail(str(exc))
    out.print(f"user {user.name} ({user.role}) created", markup=False)


@user_app.command("assign")
def user_assign(name: str, ref: str) -> None:
    """Give a user access to a case (only assigned users see a case)."""
    # Imported here: the web framework is not loaded for every other command.
    from web import access

    with opened() as store, store.session() as session:
        user = find_user(session, name)
        if user is None:
            fail(f"no user {name!r}")
        case = guarded(lambda: cases.get_case(session, ref))
        added = access.assign(session, user, case, settings.user)
    out.print(f"{name} {'assigned to' if added else 'was already assigned to'} {ref}",
              markup=False)


@user_app.command("list")
def user_list() -> None:
    """Accounts and their roles."""
    with opened() as store, store.session() as session:
        for user in session.execute(select(User).order_by(User.name)).scalars():
            state = "active" if user.active else "disabled"
            print(f"{user.name}\t{user.role}\t{user.full_name}\t{state}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[bool | None, typer.Option(
        "--secure-cookies/--no-secure-cookies",
        help="Mark cookies Secure (default: when the request came over https; behind a "
        "TLS proxy say --secure-cookies).")] = None,
) -> None:
    """Run the web app for officers, investigators, supervisors and CPS reviewers."""
    import uvicorn

    from web.app import create_app

    with opened() as store:
        web = create_app(store, WebSettings(secure_cookies=secure_cookies))
        out.print(f"Conduct web app on http://{host}:{port}/ (store {store.root}); "
                  "Ctrl+C stops it", markup=False)
        uvicorn.run(web, host=host, port=port, log_level="warning", server_header=False,
                    proxy_headers=False)
