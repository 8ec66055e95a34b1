import hashlib
import io
import zipfile

from PIL import Image

from tests.cli_support import conduct, ingest_json, open_case, timeline_json

CHAT = (
    "12/03/2024, 22:15 - Sam: Are you home?\n"
    "12/03/2024, 22:16 - Sam: IMG-20240312-WA0001.jpg (file attached)\n"
    "13/03/2024, 07:01 - Alex: Stop messaging me\n"
    "13/03/2024, 23:59 - Sam: You can't ignore me\n"
    "I know where you are\n"
)


def _tiny_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "JPEG", quality=80)
    return out.getvalue()


# A real JPEG: images are parsed now, and bytes that only start like one are damaged.
PHOTO = _tiny_jpeg()


def write_chat_zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("WhatsApp Chat with Sam.txt", CHAT)
        archive.writestr("IMG-20240312-WA0001.jpg", PHOTO)
    return path


def test_a_whatsapp_zip_becomes_an_exhibit_with_its_members_as_children(store_dir, tmp_path):
    open_case()
    code, report = ingest_json("OP-1", write_chat_zip(tmp_path / "chat.zip"))
    [top] = report["exhibits"]
    assert code == 0
    assert (top["ref"], top["format"], top["status"]) == ("JS/1", "zip", "parsed")
    assert [(c["ref"], c["format"], c["status"], c["events"]) for c in top["children"]] == [
        ("JS/1/1", "whatsapp", "parsed", 4),
        # The chat's photo is an event of its own: the day WhatsApp stored it.
        ("JS/1/2", "image", "parsed", 1),
    ]


def test_chat_media_is_linked_to_the_stored_member_by_hash(store_dir, tmp_path):
    open_case()
    ingest_json("OP-1", write_chat_zip(tmp_path / "chat.zip"))
    [message] = [e for e in timeline_json() if e["kind"] == "message" and e["attachments"]]
    assert message["attachments"] == [{
        "name": "IMG-20240312-WA0001.jpg", "sha256": hashlib.sha256(PHOTO).hexdigest(),
        "media_type": None,
    }]


def test_timeline_events_carry_time_and_provenance(store_dir, tmp_path):
    open_case()
    path = tmp_path / "WhatsApp Chat with Sam.txt"
    path.write_text(CHAT, encoding="utf-8")
    ingest_json("OP-1", path)
    first, *_, last = timeline_json()
    assert first["occurred_at"] == "2024-03-12T22:15:00Z"
    assert (first["local_time"], first["time_zone"], first["time_basis"]) == (
        "12/03/2024, 22:15", "Europe/London", "sent")
    assert "minute_precision" in first["time_flags"]
    assert (first["exhibit"], first["source_sha256"]) == (
        "JS/1", hashlib.sha256(CHAT.encode()).hexdigest())
    assert first["locator"]["line"] == 1
    assert first["parser"].startswith("whatsapp/")
    assert last["text"] == "You can't ignore me\nI know where you are"
    assert last["locator"]["line"] == 4 and last["locator"]["line_end"] == 5


def test_timeline_filters_by_date_and_channel(store_dir, tmp_path):
    open_case()
    path = tmp_path / "chat.txt"
    path.write_text(CHAT, encoding="utf-8")
    ingest_json("OP-1", path)
    assert [e["text"] for e in timeline_json("OP-1", "--from", "2024-03-13")] == [
        "Stop messaging me", "You can't ignore me\nI know where you are"]
    assert len(timeline_json("OP-1", "--to", "2024-03-12")) == 2
    assert timeline_json("OP-1", "--channel", "email") == []


def test_csv_timeline_has_the_json_columns(store_dir, tmp_path):
    open_case()
    path = tmp_path / "chat.txt"
    path.write_text(CHAT, encoding="utf-8")
    ingest_json("OP-1", path)
    header = conduct("timeline", "OP-1", "--format", "csv").stdout.splitlines()[0].split(",")
    assert header == list(timeline_json()[0].keys())


def test_the_same_bytes_twice_are_one_blob_and_a_recorded_duplicate(store_dir, tmp_path):
    open_case()
    path = tmp_path / "chat.txt"
    path.write_text(CHAT, encoding="utf-8")
    copy = tmp_path / "copy of chat.txt"
    copy.write_text(CHAT, encoding="utf-8")
    ingest_json("OP-1", path)
    code, report = ingest_json("OP-1", copy)
    [second] = report["exhibits"]
    assert code == 0
    assert (second["ref"], second["status"], second["duplicate_of"]) == (
        "JS/2", "duplicate", "JS/1")
    assert len(timeline_json()) == 4
    assert sum(1 for p in (store_dir / "blobs").rglob("*") if p.is_file()) == 1


def test_a_bad_batch_keeps_every_file_and_exits_non_zero(store_dir, tmp_path):
    open_case()
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "a-chat.txt").write_text(CHAT, encoding="utf-8")
    (batch / "b-empty.txt").write_bytes(b"")
    (batch / "c-unknown.bin").write_bytes(bytes(range(256)) * 4)
    (batch / "d-truncated.zip").write_bytes(write_chat_zip(tmp_path / "z.zip").read_bytes()[:60])
    code, report = ingest_json("OP-1", batch)
    assert code == 1
    assert [(e["name"], e["status"]) for e in report["exhibits"]] == [
        ("a-chat.txt", "parsed"), ("b-empty.txt", "stored_unparsed"),
        ("c-unknown.bin", "stored_unparsed"), ("d-truncated.zip", "failed")]
    assert all(len(e["sha256"]) == 64 for e in report["exhibits"])
    assert report["exhibits"][1]["error"] == "empty file"


def test_expected_errors_are_one_line_without_a_traceback(store_dir, tmp_path):
    not_ready = conduct("case", "list").output.strip()
    assert not_ready.startswith("conduct: ") and not_ready.endswith("run `conduct init` first")
    open_case()
    for args, message in [
        (("ingest", "NOPE", str(tmp_path)), "conduct: no case 'NOPE'"),
        (("ingest", "OP-1", str(tmp_path / "missing.txt")), "conduct: "),
        (("case", "create", "OP-2", "--title", "t", "--officer", "o", "--initials", "OO",
          "--timezone", "Mars/Olympus"), "conduct: unknown time zone 'Mars/Olympus'"),
    ]:
        result = conduct(*args)
        assert result.exit_code == 2
        assert result.output.startswith(message)
        assert len(result.output.strip().splitlines()) == 1
        assert "Traceback" not in result.output

