"""The installed command as an officer runs it: exit codes and one-line errors."""

import os
import subprocess
import sys


def _run(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "conduct.cli", *args], capture_output=True,
                          text=True, env=env, check=False, timeout=120)


def test_an_unreachable_database_is_one_line_not_a_traceback(tmp_path):
    done = _run("--store", str(tmp_path / "s"), "init", env_extra={
        "CONDUCT_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    assert done.returncode == 2
    assert done.stderr.startswith("conduct: database unavailable: ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_help_lists_the_contract_commands():
    out = _run("--help").stdout
    for command in ("init", "case", "ingest", "timeline", "verify", "export", "demo"):
        assert command in out
