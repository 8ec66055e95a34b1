import hashlib
import io
import os
import stat

import pytest

from evidence_store.blobs import BlobSizeExceeded, BlobStore


def test_a_blob_is_stored_under_its_sha256_and_made_read_only(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    data = b"the original bytes\r\n\x00\xff"
    stored = blobs.put_stream(io.BytesIO(data))
    path = blobs.path(stored.sha256)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data
    assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_the_same_bytes_twice_are_stored_once(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    first = blobs.put_stream(io.BytesIO(b"same"))
    second = blobs.put_bytes(b"same")
    assert (first.already_present, second.already_present) == (False, True)
    assert sum(1 for p in (tmp_path / "blobs").rglob("*") if p.is_file()) == 1


def test_a_stream_past_its_limit_leaves_nothing_behind(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    with pytest.raises(BlobSizeExceeded):
        blobs.put_stream(io.BytesIO(b"x" * 5000), limit=4096)
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []
