import csv
import hashlib
import io
import shutil
import subprocess
import zipfile

import pytest

from tests.cli_support import conduct, open_case, timeline_json
from tests.test_ingest_cli import CHAT, write_chat_zip


@pytest.fixture
def ingested(store_dir, tmp_path):
    open_case()
    assert conduct("ingest", "OP-1", write_chat_zip(tmp_path / "chat.zip"),
                   "--received-from", "Alex (victim)").exit_code == 0


def _export(path):
    result = conduct("export", "OP-1", "--out", path)
    assert result.exit_code == 0, result.output
    return path


def test_the_bundle_holds_originals_lists_and_checksums(ingested, tmp_path):
    bundle = zipfile.ZipFile(_export(tmp_path / "b.zip"))
    names = bundle.namelist()
    # The parent first, its members right after it.
    assert [n for n in names if n.startswith("exhibits/")] == [
        "exhibits/JS-1_chat.zip", "exhibits/JS-1-1_WhatsApp Chat with Sam.txt",
        "exhibits/JS-1-2_IMG-20240312-WA0001.jpg",
    ]
    assert {"SHA256SUMS", "custody.csv", "exhibits.csv", "facts.csv", "timeline.csv",
            "manifest.json", "signature/manifest.sig"} <= set(names)
    assert bundle.read("exhibits/JS-1-1_WhatsApp Chat with Sam.txt") == CHAT.encode()
    assert bundle.read("exhibits/JS-1_chat.zip") == (tmp_path / "chat.zip").read_bytes()


def test_sha256sum_checks_the_unpacked_bundle(ingested, tmp_path):
    if shutil.which("sha256sum") is None:
        pytest.fail("sha256sum (coreutils) is needed to check bundles")
    target = tmp_path / "unpacked"
    zipfile.ZipFile(_export(tmp_path / "b.zip")).extractall(target)
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=target, capture_output=True,
                             text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    members = zipfile.ZipFile(tmp_path / "b.zip").namelist()
    assert checked.stdout.count(": OK") == len(members) - 1


def test_the_exhibit_list_records_receipt(ingested, tmp_path):
    rows = list(csv.DictReader(io.StringIO(
        zipfile.ZipFile(_export(tmp_path / "b.zip")).read("exhibits.csv").decode())))
    top = rows[0]
    assert (top["ref"], top["file_name"], top["received_from"], top["received_by"]) == (
        "JS/1", "chat.zip", "Alex (victim)", "Jane Smith")
    assert top["sha256"] == hashlib.sha256((tmp_path / "chat.zip").read_bytes()).hexdigest()
    assert [r["parent"] for r in rows] == ["", "JS/1", "JS/1"]


def test_the_timeline_csv_has_every_event(ingested, tmp_path):
    text = zipfile.ZipFile(_export(tmp_path / "b.zip")).read("timeline.csv").decode()
    # Four messages and the chat's photo.
    assert len(list(csv.DictReader(io.StringIO(text)))) == len(timeline_json()) == 5


def test_exporting_an_unchanged_case_twice_gives_identical_bytes(ingested, tmp_path):
    first = _export(tmp_path / "one.zip").read_bytes()
    timeline_json()
    conduct("verify", "OP-1")
    second = _export(tmp_path / "two.zip").read_bytes()
    assert first == second


def test_the_export_is_logged_with_the_bundle_hash(ingested, tmp_path):
    bundle = _export(tmp_path / "b.zip")
    _export(tmp_path / "again.zip")
    custody = list(csv.DictReader(io.StringIO(
        zipfile.ZipFile(tmp_path / "again.zip").read("custody.csv").decode())))
    assert "exported" not in {row["action"] for row in custody}
    from evidence_store import custody as log
    from evidence_store.store import open_store

    store = open_store(tmp_path / "store")
    with store.session() as session:
        last_export = next(e for e in log.entries_of(session, "case:OP-1")
                           if e.action == "exported")
    store.close()
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() in last_export.details
