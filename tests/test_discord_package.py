"""A Discord data package: channel.json and account/user.json join the messages they sit beside."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.cli_support import ingest_json, open_case, timeline_json

FIXTURES = Path(__file__).parent / "fixtures" / "discord"


def _package(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("account/user.json", json.dumps({"id": "80351110224678912"}))
        archive.writestr("messages/c1300000000000000003/channel.json", json.dumps(
            {"id": "1300000000000000003", "type": 1,
             "recipients": ["80351110224678912", "90351110224678913"]}))
        archive.write(FIXTURES / "no_attachments_messages.json",
                      "messages/c1300000000000000003/messages.json")
    return path


def test_messages_are_addressed_to_the_other_member_of_the_channel(store_dir, tmp_path):
    open_case()
    code, report = ingest_json("OP-1", _package(tmp_path / "package.zip"))
    assert code == 0, report
    messages = [e for e in timeline_json() if e["channel"] == "discord"]
    assert messages
    assert {(e["sender_id"], tuple(e["recipients"])) for e in messages} == {
        ("discord:80351110224678912", ("discord:90351110224678913",))}
