"""`conduct demo`: the main job, end to end, on a synthetic case in a fresh store."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

import typer
from rich.console import Console

from conduct.sample_case import SUSPECT, VICTIM, write_sample_case


def _run(console: Console, store: Path, *args: str) -> int:
    from conduct.cli import app

    shown = " ".join(shlex.quote(a) for a in args)
    console.print(f"\n[bold]$ conduct {shown}[/bold]")
    try:
        app(["--store", str(store), "--user", "PC Jane Smith", *args], standalone_mode=False)
    except typer.Exit as exit_:
        return int(exit_.exit_code or 0)
    return 0


def run_demo(keep: Path | None, console: Console) -> None:
    base = keep or Path(tempfile.mkdtemp(prefix="conduct-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    store = base / "store"
    material = base / "handed-over"
    bundle = base / "DEMO-1-bundle.zip"
    write_sample_case(material)
    console.print(f"Synthetic sample case written to {material}", markup=False)
    steps = [
        ("init",),
        ("case", "create", "DEMO-1", "--title", "Harassment of Alex Morgan (synthetic)",
         "--officer", "PC Jane Smith", "--initials", "JS"),
        ("person", "add", "DEMO-1", VICTIM, "--role", "victim", "--id", f"name:{VICTIM}",
         "--id", "alex.morgan@example.org"),
        ("person", "add", "DEMO-1", SUSPECT, "--role", "suspect", "--id", f"name:{SUSPECT}",
         "--id", "+44 7700 900461", "--id", "sam.t.1990@example.com"),
        ("ingest", "DEMO-1", str(material), "--received-from", f"{VICTIM} (victim)",
         "--how", "files copied from the victim's phone and laptop at interview"),
        ("timeline", "DEMO-1"),
        ("analyse", "DEMO-1"),
        ("verify", "DEMO-1"),
        ("export", "DEMO-1", "--out", str(bundle)),
    ]
    for step in steps:
        code = _run(console, store, *step)
        if code != 0:
            raise typer.Exit(code)
    password = _demo_user(store)
    console.print(
        f"\nDone. Store: {store}\nBundle: {bundle}\n"
        f"Check it without Conduct: mkdir b && cd b && unzip -q {shlex.quote(str(bundle))} "
        "&& sha256sum -c SHA256SUMS\n"
        f"Web app: .venv/bin/conduct --store {shlex.quote(str(store))} serve, then open "
        f"http://127.0.0.1:8000/ and sign in as 'demo' with password {password} "
        "(a demo-only account, assigned to DEMO-1)", markup=False,
    )


def _demo_user(store: Path) -> str:
    """An officer account for trying the web app on the demo case; its password is printed."""
    import secrets

    from evidence_store import cases
    from evidence_store.store import open_store
    from web import access
    from web.auth import create_user, hasher
    from web.settings import WebSettings

    password = secrets.token_urlsafe(12)
    opened = open_store(store)
    try:
        with opened.session() as session:
            user = create_user(session, hasher(WebSettings()), "demo", "officer", password,
                               "PC Jane Smith", "PC Jane Smith (demo)")
            access.assign(session, user, cases.get_case(session, "DEMO-1"), "PC Jane Smith")
    finally:
        opened.close()
    return password
