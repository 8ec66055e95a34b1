import stat
import zipfile

from collector.archives import ArchiveLimits
from collector.intake import IngestOptions, Ingestor
from evidence_store import cases
from tests.cli_support import ingest_json, open_case


def _zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return path


def _symlink(name, target):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def _files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_traversal_and_absolute_names_are_stored_by_hash_and_reported(store_dir, tmp_path):
    open_case()
    (tmp_path / "in").mkdir()
    archive = _zip(tmp_path / "in" / "evil.zip", [
        ("../../escaped.txt", b"outside?"),
        ("/etc/cron.d/evil", b"* * * * * root true"),
        ("ok.txt", b"fine"),
    ])
    before = _files_under(tmp_path)
    code, report = ingest_json("OP-1", archive)
    [top] = report["exhibits"]
    assert code == 0
    assert top["status"] == "parsed"
    assert [c["name"] for c in top["children"]] == ["escaped.txt", "evil", "ok.txt"]
    assert sum("unsafe name" in w for w in top["warnings"]) == 2
    new_files = set(_files_under(tmp_path)) - set(before)
    assert all(f.startswith("store/") for f in new_files)
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_a_symlink_entry_is_not_followed(store_dir, tmp_path):
    open_case()
    archive = _zip(tmp_path / "links.zip", [_symlink("passwd", "/etc/passwd"), ("a.txt", b"a")])
    _, report = ingest_json("OP-1", archive)
    [top] = report["exhibits"]
    assert [c["name"] for c in top["children"]] == ["a.txt"]
    assert top["warnings"] == ["passwd: symbolic link, not followed"]


def test_a_zip_bomb_member_is_not_expanded_and_the_rest_goes_on(store_dir, tmp_path):
    open_case()
    archive = _zip(tmp_path / "bomb.zip", [("zeros.bin", b"\0" * (40 * 1024**2)),
                                          ("note.txt", b"still here")])
    assert archive.stat().st_size < 100_000
    code, report = ingest_json("OP-1", archive)
    [top] = report["exhibits"]
    assert code == 1
    assert top["status"] == "failed"
    assert "possible zip bomb" in top["error"]
    assert [c["name"] for c in top["children"]] == ["note.txt"]
    assert max(p.stat().st_size for p in (store_dir / "blobs").rglob("*") if p.is_file()) < 10**6


def test_an_archive_over_the_entry_limit_is_stored_unexpanded(store, tmp_path):
    archive = _zip(tmp_path / "many.zip", [(f"f{n}.txt", str(n).encode()) for n in range(300)])
    with store.session() as session:
        cases.create_case(session, "OP-1", "t", "Jane Smith", "JS")
    ingestor = Ingestor(store, "OP-1", IngestOptions(received_by="Jane Smith",
                                                     limits=ArchiveLimits(max_members=250)))
    [outcome] = ingestor.ingest_paths([archive])
    assert (outcome.status, outcome.children) == ("failed", [])
    assert outcome.error == ("archive has 300 entries, more than the limit of 250; "
                             "stored unexpanded")
    assert store.blobs.rehash(outcome.sha256) == outcome.sha256


def test_thousands_of_entries_within_the_limit_are_all_kept(store_dir, tmp_path):
    open_case()
    archive = _zip(tmp_path / "many.zip", [(f"d/f{n}.txt", f"file {n}".encode())
                                           for n in range(2000)])
    code, report = ingest_json("OP-1", archive)
    [top] = report["exhibits"]
    assert code == 0
    assert len(top["children"]) == 2000
    assert top["children"][-1]["ref"] == "JS/1/2000"


def test_nested_archives_stop_at_the_depth_limit(store, tmp_path):
    inner = b"just text"
    for level in range(5):
        path = tmp_path / f"level{level}.zip"
        _zip(path, [(f"level{level}.bin", inner)])
        inner = path.read_bytes()
    with store.session() as session:
        cases.create_case(session, "OP-1", "t", "Jane Smith", "JS")
    ingestor = Ingestor(store, "OP-1", IngestOptions(received_by="Jane Smith",
                                                     limits=ArchiveLimits(max_depth=2)))
    [outcome] = ingestor.ingest_paths([tmp_path / "level4.zip"])
    deepest = outcome.children[0].children[0]
    assert deepest.status == "stored_unparsed"
    assert deepest.error == "archive nested deeper than 2; stored unexpanded"

