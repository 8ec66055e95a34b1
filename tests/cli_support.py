"""Running the real CLI in-process, the way an officer would type it."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner, Result

from conduct.cli import app

runner = CliRunner()


def conduct(*args: str) -> Result:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def open_case(ref: str = "OP-1", timezone: str = "Europe/London") -> None:
    assert conduct("init").exit_code == 0
    created = conduct("case", "create", ref, "--title", "Test case", "--officer", "Jane Smith",
                      "--initials", "JS", "--timezone", timezone)
    assert created.exit_code == 0, created.output


def ingest_json(ref: str, *paths: Any, extra: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]]:
    result = conduct("ingest", ref, *map(str, paths), "--json", *extra)
    return result.exit_code, json.loads(result.stdout)


def timeline_json(ref: str = "OP-1", *extra: str) -> list[dict[str, Any]]:
    result = conduct("timeline", ref, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
