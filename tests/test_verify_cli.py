import os
import stat

from sqlalchemy import delete, update

from evidence_store.models import CustodyEntry
from evidence_store.store import open_store
from tests.cli_support import conduct, ingest_json, open_case
from tests.test_ingest_cli import CHAT


def _ingest(tmp_path):
    open_case()
    path = tmp_path / "chat.txt"
    path.write_text(CHAT, encoding="utf-8")
    return ingest_json("OP-1", path)[1]["exhibits"][0]


def test_an_untouched_store_verifies(store_dir, tmp_path):
    _ingest(tmp_path)
    result = conduct("verify")
    assert result.exit_code == 0
    assert result.stdout.startswith("OK: 1 originals re-hashed")


def test_one_changed_byte_in_an_original_fails_and_names_the_exhibit(store_dir, tmp_path):
    exhibit = _ingest(tmp_path)
    blob = next(p for p in (store_dir / "blobs").rglob(exhibit["sha256"]))
    os.chmod(blob, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(blob.read_bytes())
    data[10] ^= 0x01
    blob.write_bytes(bytes(data))
    result = conduct("verify", "OP-1")
    assert result.exit_code == 1
    assert "FAIL exhibit OP-1 JS/1: original altered" in result.stdout


def _tamper(store_dir, statement):
    store = open_store(store_dir)
    with store.session() as session:
        session.execute(statement)
    store.close()


def test_an_edited_custody_row_fails_and_is_named(store_dir, tmp_path):
    _ingest(tmp_path)
    _tamper(store_dir, update(CustodyEntry).where(CustodyEntry.chain == "case:OP-1",
                                                  CustodyEntry.seq == 2)
            .values(details='{"sha256":"0"}'))
    result = conduct("verify")
    assert result.exit_code == 1
    assert "FAIL custody case:OP-1 entry 2: entry altered (hash mismatch)" in result.stdout


def test_a_deleted_custody_row_fails_and_is_named(store_dir, tmp_path):
    _ingest(tmp_path)
    _tamper(store_dir, delete(CustodyEntry).where(CustodyEntry.chain == "case:OP-1",
                                                  CustodyEntry.seq == 2))
    result = conduct("verify", "OP-1")
    assert result.exit_code == 1
    assert "FAIL custody case:OP-1 entry 2: missing (next entry present is 3)" in result.stdout


def test_a_missing_original_fails_and_is_named(store_dir, tmp_path):
    exhibit = _ingest(tmp_path)
    next(p for p in (store_dir / "blobs").rglob(exhibit["sha256"])).unlink()
    result = conduct("verify")
    assert "FAIL exhibit OP-1 JS/1: original missing from the store" in result.stdout
