"""`conduct user add`, `conduct user assign` and `conduct serve`."""

from sqlalchemy import select

from conduct.cli import app
from evidence_store import custody
from evidence_store.models import CaseAssignment, User
from evidence_store.store import open_store
from tests.cli_support import conduct, open_case, runner


def test_the_first_admin_is_created_from_the_command_line(store_dir):
    open_case("OP-1")
    added = runner.invoke(app, ["user", "add", "root", "--role", "admin", "--full-name",
                                "IT Admin", "--password-stdin"],
                          input="a sufficiently long password\n")
    assert added.exit_code == 0, added.output
    assert "user root (admin) created" in added.output
    store = open_store(store_dir)
    with store.session() as session:
        user = session.execute(select(User)).scalar_one()
        entries = custody.entries_of(session, custody.STORE_CHAIN)
    store.close()
    assert (user.name, user.role, user.full_name) == ("root", "admin", "IT Admin")
    assert user.password_hash.startswith("$argon2id$")
    assert (entries[-1].action, entries[-1].actor) == ("user_added", "test-officer")


def test_a_short_password_or_unknown_role_is_refused(store_dir):
    open_case("OP-1")
    short = runner.invoke(app, ["user", "add", "root", "--role", "admin", "--password-stdin"],
                          input="short\n")
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    role = runner.invoke(app, ["user", "add", "root", "--role", "chief", "--password-stdin"],
                         input="a sufficiently long password\n")
    assert role.exit_code == 2


def test_assigning_a_user_to_a_case(store_dir):
    open_case("OP-1")
    runner.invoke(app, ["user", "add", "dc_jones", "--role", "investigator",
                        "--password-stdin"], input="a sufficiently long password\n")
    assigned = conduct("user", "assign", "dc_jones", "OP-1")
    assert assigned.exit_code == 0 and "dc_jones assigned to OP-1" in assigned.output
    assert "already assigned" in conduct("user", "assign", "dc_jones", "OP-1").output
    assert conduct("user", "assign", "nobody", "OP-1").exit_code == 2
    assert conduct("user", "assign", "dc_jones", "OP-9").exit_code == 2
    store = open_store(store_dir)
    with store.session() as session:
        assert len(session.execute(select(CaseAssignment)).all()) == 1
    store.close()
    listed = conduct("user", "list")
    assert "dc_jones\tinvestigator" in listed.output


def test_serve_is_a_command_with_host_and_port():
    helped = conduct("serve", "--help")
    assert helped.exit_code == 0
    assert "--host" in helped.output and "--port" in helped.output


def test_conduct_serve_answers_over_http(store_dir):
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    open_case("OP-1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parent.parent.parent
    server = subprocess.Popen([sys.executable, "-m", "conduct.cli", "serve", "--port",
                               str(port)], cwd=root, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login")
                break
            except httpx.TransportError:
                assert server.poll() is None, "conduct serve exited"
                assert time.monotonic() < deadline, "conduct serve did not start"
                time.sleep(0.2)
        assert response.status_code == 200 and "Sign in" in response.text
        assert response.headers["cache-control"] == "no-store"
        assert "server" not in response.headers
        css = httpx.get(f"http://127.0.0.1:{port}/static/conduct.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    finally:
        server.terminate()
        server.wait(timeout=30)
