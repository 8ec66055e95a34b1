"""The CPS case file: a generated case exported with the CLI, unpacked and checked
item by item, its PDFs rendered with poppler, tampered with, and redacted."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import zipfile
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pytest

from evidence_store.database import scratch_schema
from tests.cli_support import conduct, open_case, timeline_json

FIXTURES = Path(__file__).parent / "fixtures"
SMS = FIXTURES / "sms_backup" / "messages.xml"
DIARY = FIXTURES / "diary" / "paladin_template.csv"
SUSPECT_NUMBER = "7700900123"
WITNESS_NUMBER = "7700900999"
WITNESS_EMAIL = "joanne.witness@example.net"
UNKNOWN_NUMBER = "7700900456"
FAMILY_CHAT = (
    "14/03/2024, 10:00 - Mum: Joanne saw him outside again, her number is 07700 900999\n"
    "14/03/2024, 10:05 - Alex Morgan: Thanks Mum. Sam Taylor texted from 07700 900123 again\n"
    f"14/03/2024, 10:06 - Mum: Email Joanne at {WITNESS_EMAIL} if you need her\n"
    "14/03/2024, 10:07 - Alex Morgan: \u4e2d\u6587 test and \u00e9t\u00e9 \u2014 ok\n"
)
SUSPECT_CHAT = (
    "12/03/2024, 22:15 - Sam Taylor: Are you home?\n"
    "12/03/2024, 22:16 - Sam Taylor: I can see your light is on\n"
    "13/03/2024, 07:01 - Alex Morgan: Stop messaging me\n"
    "13/03/2024, 23:59 - Sam Taylor: You can't ignore me\nI know where you live\n"
)


def _run(*args: str) -> None:
    result = conduct(*args)
    assert result.exit_code == 0, result.output


def _ingest(*args: str) -> None:
    """Exit 1 only says that some file could not be parsed (held, and listed as unused)."""
    result = conduct("ingest", "OP-1", *args)
    assert result.exit_code in (0, 1) and "events" in result.output, result.output


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """One generated case, exported plain, again, and redacted (built once: PDFs take time)."""
    base = tmp_path_factory.mktemp("cps")
    with ExitStack() as stack:
        url = None
        if os.environ.get("CONDUCT_DATABASE_URL"):
            url = stack.enter_context(scratch_schema(os.environ["CONDUCT_DATABASE_URL"], "t"))
        # The environment is changed only while the case is built, so that the other
        # tests of this module get their own store and schema as usual.
        with pytest.MonkeyPatch.context() as patch:
            if url:
                patch.setenv("CONDUCT_DATABASE_URL", url)
            patch.setenv("CONDUCT_STORE", str(base / "store"))
            patch.setenv("CONDUCT_USER", "test-officer")
            built = _build_case(base)
        yield built


def _build_case(base: Path) -> dict:
    open_case()
    _run("person", "add", "OP-1", "Alex Morgan", "--role", "victim", "--id", "name:Alex Morgan")
    _run("person", "add", "OP-1", "Sam Taylor", "--role", "suspect",
         "--id", "name:Sam Taylor", "--id", "07700 900123")
    _run("person", "add", "OP-1", "Joanne Witness", "--role", "witness",
         "--id", "name:Joanne", "--id", "07700 900999", "--id", WITNESS_EMAIL)
    material = base / "material"
    material.mkdir()
    (material / "WhatsApp Chat with Sam Taylor.txt").write_text(SUSPECT_CHAT, "utf-8")
    (material / "WhatsApp Chat with Mum.txt").write_text(FAMILY_CHAT, "utf-8")
    shutil.copy(DIARY, material / "diary.csv")
    (material / "notes.bin").write_bytes(bytes(range(256)) * 4)
    _ingest(material, "--received-from", "Alex Morgan (victim)",
            "--how", "copied from her phone at interview")
    _ingest(SMS, "--only-with", "07700 900123", "--received-from", "Alex Morgan (victim)",
            "--how", "SMS Backup & Restore file from her phone")
    # The same chat handed over again: held as a duplicate.
    _run("ingest", "OP-1", material / "WhatsApp Chat with Sam Taylor.txt",
         "--received-from", "Alex Morgan (victim)")
    flags = _flag_and_dismiss_one(base / "store")
    _run("export", "OP-1", "--out", base / "bundle.zip")
    timeline = timeline_json()
    _run("verify", "OP-1")
    _run("export", "OP-1", "--out", base / "again.zip")
    _run("export", "OP-1", "--out", base / "redacted.zip", "--redact")
    from evidence_store import custody
    from evidence_store.store import open_store

    store = open_store(base / "store")
    with store.session() as session:
        log = custody.entries_of(session, "case:OP-1")
    store.close()
    return {"flags": flags, "base": base, "bundle": base / "bundle.zip",
            "again": base / "again.zip", "redacted": base / "redacted.zip",
            "timeline": timeline, "log": log, "material": material, "store": base / "store"}


def _flag_and_dismiss_one(root: Path) -> list:
    """The behaviour rules raise flags; the officer sets one aside with a reason."""
    from evidence_store import cases
    from evidence_store.behaviour import dismiss_flag, evaluate_flags
    from evidence_store.store import open_store

    store = open_store(root)
    with store.session() as session:
        case = cases.get_case(session, "OP-1")
        flags = evaluate_flags(session, case, actor="Jane Smith")
        assert len(flags) >= 2, flags
        dismissed = dismiss_flag(session, case, flags[-1].id, "Jane Smith",
                                 "said about a parcel delivery, not the victim")
    store.close()
    return [*flags[:-1], dismissed]


def _zip(path: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


def _csv(bundle: Path, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_zip(bundle).read(name).decode("utf-8"))))


def _manifest(bundle: Path) -> dict:
    return json.loads(_zip(bundle).read("manifest.json"))


def _poppler() -> None:
    if shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        pytest.fail("poppler-utils (pdftoppm, pdftotext) is needed: "
                    "scripts/ensure-system-packages.sh installs it")


def _pdf_pages(data: bytes, tmp_path: Path, name: str) -> list[str]:
    """Each page's text, after proving every page renders to an image."""
    _poppler()
    pdf = tmp_path / name.replace("/", "_")
    pdf.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(next(line.split()[-1] for line in info.stdout.splitlines()
                     if line.startswith("Pages:")))
    prefix = tmp_path / (pdf.stem + "-page")
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(prefix)], check=True)
    images = sorted(tmp_path.glob(pdf.stem + "-page*.png"))
    assert len(images) == pages
    assert all(image.read_bytes().startswith(b"\x89PNG") for image in images)
    texts = []
    for page in range(1, pages + 1):
        texts.append(subprocess.run(
            ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
            capture_output=True, text=True, check=True).stdout)
    return texts


def _pdf_raw_text(data: bytes, tmp_path: Path) -> str:
    pdf = tmp_path / "raw.pdf"
    pdf.write_bytes(data)
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def _flat(text: str) -> str:
    return " ".join(text.split())


# -- what is in the bundle ----------------------------------------------------------


def test_the_case_file_holds_every_part(case):
    names = set(_zip(case["bundle"]).namelist())
    expected = {
        "README.txt", "exhibits.csv", "exhibits.pdf", "timeline.csv", "timeline.pdf",
        "timeline.jsonl", "course_of_conduct.pdf", "custody.csv", "custody.pdf",
        "witness_statement.pdf", "witness_statement.txt", "disclosure_aid.csv",
        "disclosure_aid.pdf", "facts.csv", "manifest.json", "SHA256SUMS",
        "signature/manifest.sig", "signature/public_key.pem", "signature/fingerprint.txt",
    }
    assert expected <= names
    assert "redaction_log.csv" not in names
    assert "redaction_log.csv" in set(_zip(case["redacted"]).namelist())


def test_originals_are_byte_identical_and_children_follow_their_parents(case):
    bundle = _zip(case["bundle"])
    rows = _csv(case["bundle"], "exhibits.csv")
    for row in rows:
        assert hashlib.sha256(bundle.read(row["bundle_path"])).hexdigest() == row["sha256"]
        assert row["bundle_path"].startswith("exhibits/" + row["ref"].replace("/", "-") + "_")
    chat = next(r for r in rows if r["file_name"] == "WhatsApp Chat with Mum.txt")
    assert bundle.read(chat["bundle_path"]) == FAMILY_CHAT.encode()
    assert bundle.read(next(r["bundle_path"] for r in rows if r["file_name"] == "messages.xml")
                       ) == SMS.read_bytes()
    originals = [n for n in bundle.namelist() if n.startswith("exhibits/")]
    refs = [r["ref"] for r in rows]
    # Member order is reference order, each MMS part right after its SMS backup.
    assert originals == [next(r["bundle_path"] for r in rows if r["ref"] == ref) for ref in refs]
    parents = [r for r in rows if r["parent"]]
    assert parents, "the SMS backup's MMS parts are child exhibits"
    for child in parents:
        assert refs.index(child["parent"]) < refs.index(child["ref"])


def test_the_exhibit_list_has_the_mg12_fields(case):
    rows = _csv(case["bundle"], "exhibits.csv")
    sms = next(r for r in rows if r["file_name"] == "messages.xml")
    assert sms["received_from"] == "Alex Morgan (victim)"
    assert sms["received_by"] == "Jane Smith"
    assert sms["where_received"].startswith("Received 20")
    assert "SMS Backup & Restore file from her phone" in sms["where_received"]
    assert sms["description"] and len(sms["sha256"]) == 64
    child = next(r for r in rows if r["parent"] == sms["ref"])
    assert f"from exhibit {sms['ref']}" in child["where_received"]


def test_the_timeline_is_complete_in_csv_and_timesketch_jsonl(case):
    events = case["timeline"]
    rows = _csv(case["bundle"], "timeline.csv")
    assert [int(r["id"]) for r in rows] == [e["id"] for e in events]
    lines = _zip(case["bundle"]).read("timeline.jsonl").decode().splitlines()
    assert len(lines) == len(events)
    for line, event in zip(lines, events, strict=True):
        item = json.loads(line)
        assert {"message", "datetime", "timestamp", "timestamp_desc"} <= set(item)
        moment = datetime.fromisoformat(item["datetime"])
        assert moment.utcoffset() is not None
        assert item["timestamp"] == int(moment.timestamp() * 1_000_000)
        assert (item["event_id"], item["exhibit"], item["locator"]) == (
            event["id"], event["exhibit"], event["locator"])
    descs = {json.loads(line)["timestamp_desc"] for line in lines}
    assert {"Message Sent", "Reported"} <= descs


# -- the PDFs ----------------------------------------------------------------------


def test_the_timeline_pdf_is_paginated_and_cites_exhibit_and_locator(case, tmp_path):
    pages = _pdf_pages(_zip(case["bundle"]).read("timeline.pdf"), tmp_path, "timeline.pdf")
    total = len(pages)
    assert total >= 2
    for number, page in enumerate(pages, 1):
        assert f"page {number} of {total}" in page
        assert "Case OP-1" in page
    whole = _flat(" ".join(pages))
    assert "Timeline of events" in _flat(pages[0])
    assert "Time (UTC)" in _flat(pages[-1])
    for event in case["timeline"]:
        assert f"event {event['id']}" in whole
    chat = next(e for e in case["timeline"] if e["text"] == "Stop messaging me")
    # Read by column (no -layout), the exhibit cell holds reference, locator and event id.
    columns = _pdf_raw_text(_zip(case["bundle"]).read("timeline.pdf"), tmp_path)
    assert (f"{chat['exhibit']}\nline {chat['locator']['line']}, byte "
            f"{chat['locator']['byte_offset']} (+{chat['locator']['byte_length']})\n"
            f"event {chat['id']}") in columns
    # Characters the font cannot draw are shown by code point, not dropped.
    assert "[U+4E2D][U+6587] test and été — ok" in whole


def test_the_other_pdfs_open_and_say_what_they_should(case, tmp_path):
    bundle = _zip(case["bundle"])
    rows = _csv(case["bundle"], "exhibits.csv")
    exhibits = _flat(" ".join(_pdf_pages(bundle.read("exhibits.pdf"), tmp_path, "ex.pdf")))
    assert "Exhibit list (MG12)" in exhibits
    for row in rows:
        assert row["ref"] in exhibits and row["sha256"][:32] in exhibits.replace(" ", "")
    custody = _pdf_pages(bundle.read("custody.pdf"), tmp_path, "custody.pdf")
    flat = _flat(" ".join(custody))
    assert "every entry's hash and every link to the previous entry recomputed" in flat
    kept = _csv(case["bundle"], "custody.csv")
    assert kept[-1]["entry_hash"][:32] in flat.replace(" ", "")
    summary = _flat(" ".join(_pdf_pages(bundle.read("course_of_conduct.pdf"), tmp_path,
                                        "coc.pdf")))
    assert "Course of conduct" in summary
    active, dismissed = case["flags"][:-1], case["flags"][-1]
    for flag in active:
        assert flag.category.replace("_", " ").capitalize() in summary
    for event_id in active[0].event_ids:
        assert str(event_id) in summary
    assert "Dismissed flags" in summary
    # Table cells wrap: compare the text read column by column, without white space.
    cells = "".join(_pdf_raw_text(bundle.read("course_of_conduct.pdf"), tmp_path).split())
    assert f"{dismissed.rule_id}v{dismissed.rule_version}" in cells
    assert "saidaboutaparceldelivery,notthevictim" in cells
    _pdf_pages(bundle.read("disclosure_aid.pdf"), tmp_path, "d.pdf")
    disclosure = _flat(_pdf_raw_text(bundle.read("disclosure_aid.pdf"), tmp_path))
    assert "conversations left out by scope" in disclosure and "notes.bin" in disclosure


def test_the_draft_witness_statement_produces_every_exhibit(case, tmp_path):
    bundle = _zip(case["bundle"])
    pages = _pdf_pages(bundle.read("witness_statement.pdf"), tmp_path, "ws.pdf")
    first = _flat(pages[0])
    assert "WITNESS STATEMENT" in first
    assert ("(Criminal Procedure Rules, r. 16.2; Criminal Justice Act 1967, s. 9; "
            "Magistrates' Courts Act 1980, s. 5B)") in first
    assert "Statement of: Jane Smith" in first and "Age if under 18: Over 18" in first
    assert (f"This statement (consisting of {len(pages)} page(s) each signed by me) is true "
            "to the best of my knowledge and belief") in first
    for page in pages:
        assert "Signature: ...." in page and "Signature witnessed by:" in page
    fingerprint = bundle.read("signature/fingerprint.txt").decode().strip()
    whole = _flat(" ".join(pages))
    assert fingerprint in whole
    text = bundle.read("witness_statement.txt").decode()
    for row in _csv(case["bundle"], "exhibits.csv"):
        assert f"Exhibit {row['ref']}:" in text and row["sha256"] in text
        assert f"Exhibit {row['ref']}:" in whole
    assert "copied from her phone at interview" in text
    assert "consisting of ___ page(s)" in text and fingerprint in text


def test_the_disclosure_aid_lists_material_held_but_not_used(case):
    rows = _csv(case["bundle"], "disclosure_aid.csv")
    by_reason = {(r["file_name"], r["material"]): r for r in rows}
    scoped = by_reason[("messages.xml", "conversations left out by scope")]
    assert "+447700900123" in scoped["reason"]
    assert "events in" in scoped["detail"] and "left out" in scoped["detail"]
    assert "no parser reads" in by_reason[("notes.bin", "whole exhibit")]["reason"]
    duplicate = next(r for r in rows if r["reason"].startswith("duplicate"))
    assert duplicate["file_name"] == "WhatsApp Chat with Sam Taylor.txt"
    chats = {r["file_name"] for r in rows}
    assert "WhatsApp Chat with Mum.txt" not in chats


# -- checking the bundle -----------------------------------------------------------


def test_sha256sums_and_the_manifest_cover_every_file(case, tmp_path):
    target = tmp_path / "unpacked"
    _zip(case["bundle"]).extractall(target)
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=target, capture_output=True,
                             text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    members = set(_zip(case["bundle"]).namelist())
    assert checked.stdout.count(": OK") == len(members) - 1
    body = _manifest(case["bundle"])
    listed = {f["path"]: f for f in body["files"]}
    assert set(listed) == members - {"manifest.json", "SHA256SUMS", "signature/manifest.sig",
                                     "signature/public_key.pem", "signature/fingerprint.txt"}
    for path, entry in listed.items():
        data = (target / path).read_bytes()
        assert (entry["size"], entry["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
        assert entry.get("unredacted") is (True if entry["role"] == "original" else None)


def test_the_manifest_signature_checks_out_without_conduct(case, tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to check the README's instructions")
    target = tmp_path / "unpacked"
    _zip(case["bundle"]).extractall(target)
    verified = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signature/public_key.pem",
         "-rawin", "-in", "manifest.json", "-sigfile", "signature/manifest.sig"],
        cwd=target, capture_output=True, text=True, check=False)
    assert "Signature Verified Successfully" in verified.stdout, verified.stderr
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", "signature/public_key.pem",
                          "-outform", "DER"], cwd=target, capture_output=True, check=True).stdout
    fingerprint = hashlib.sha256(der[-32:]).hexdigest()
    shown = (target / "signature" / "fingerprint.txt").read_text().strip()
    assert shown.replace(" ", "") == fingerprint
    assert fingerprint in (target / "README.txt").read_text().replace(" ", "")


def test_verify_bundle_passes_an_untouched_bundle(case):
    fingerprint = _zip(case["bundle"]).read("signature/fingerprint.txt").decode().strip()
    result = conduct("verify-bundle", case["bundle"], "--fingerprint", fingerprint)
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert result.output.strip().endswith("OK: bundle verified")


def _rewrite(source: Path, target: Path, change: dict[str, bytes | None],
             add: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    new.writestr(info, change[info.filename])
            else:
                new.writestr(info, old.read(info))
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return target


def test_verify_bundle_names_a_tampered_file(case, tmp_path):
    rows = _csv(case["bundle"], "exhibits.csv")
    original = next(r["bundle_path"] for r in rows if r["file_name"] == "diary.csv")
    data = _zip(case["bundle"]).read(original)
    tampered = _rewrite(case["bundle"], tmp_path / "t.zip",
                        {original: data.replace(b"watching", b"WATCHING")})
    result = conduct("verify-bundle", tampered)
    assert result.exit_code == 1
    assert f"FAIL {original}: SHA-256 differs from manifest.json" in result.output
    assert f"FAIL {original}: SHA-256 differs from SHA256SUMS" in result.output
    assert "FAIL signature" not in result.output


def test_verify_bundle_names_a_forged_signature_and_a_changed_manifest(case, tmp_path):
    signature = bytearray(_zip(case["bundle"]).read("signature/manifest.sig"))
    signature[0] ^= 1
    forged = _rewrite(case["bundle"], tmp_path / "s.zip",
                      {"signature/manifest.sig": bytes(signature)})
    result = conduct("verify-bundle", forged)
    assert result.exit_code == 1
    assert "FAIL signature/manifest.sig: signature of manifest.json is not valid" in result.output

    body = _manifest(case["bundle"])
    body["case"]["officer"] = "Someone Else"
    edited = _rewrite(case["bundle"], tmp_path / "m.zip",
                      {"manifest.json": json.dumps(body).encode()})
    result = conduct("verify-bundle", edited)
    assert "FAIL signature/manifest.sig" in result.output
    assert "FAIL manifest.json: SHA-256 differs from SHA256SUMS" in result.output


def test_verify_bundle_names_an_extra_file_and_a_foreign_key(case, tmp_path):
    extra = _rewrite(case["bundle"], tmp_path / "x.zip", {}, add={"../evil.txt": b"x"})
    result = conduct("verify-bundle", extra)
    assert result.exit_code == 1
    assert "FAIL '../evil.txt': unsafe member name" in result.output
    assert "FAIL ../evil.txt: in the ZIP but not listed in manifest.json" in result.output
    assert not (tmp_path.parent / "evil.txt").exists()
    result = conduct("verify-bundle", case["bundle"], "--fingerprint", "00" * 32)
    assert result.exit_code == 1
    assert "is not the one expected" in result.output


def test_verify_bundle_refuses_what_is_not_a_zip(tmp_path):
    path = tmp_path / "not.zip"
    path.write_bytes(b"plain text")
    result = conduct("verify-bundle", path)
    assert result.exit_code == 1
    assert "not a readable ZIP" in result.output


# -- determinism, custody, the key ------------------------------------------------


def test_an_unchanged_case_exports_to_identical_bytes(case):
    assert case["bundle"].read_bytes() == case["again"].read_bytes()


def test_each_export_is_logged_with_its_hash_and_key(case):
    exports = [json.loads(e.details) for e in case["log"] if e.action == "exported"]
    assert [e["redacted"] for e in exports] == [False, False, True]
    assert exports[0]["bundle_sha256"] == hashlib.sha256(case["bundle"].read_bytes()).hexdigest()
    fingerprint = _zip(case["bundle"]).read("signature/fingerprint.txt").decode().strip()
    assert {e["signature_fingerprint"] for e in exports} == {fingerprint}


def test_the_signing_key_stays_private_in_the_store(case):
    key = case["store"] / "signing" / "bundle-ed25519.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for bundle in (case["bundle"], case["redacted"]):
        assert b"PRIVATE KEY" not in b"".join(
            _zip(bundle).read(n) for n in _zip(bundle).namelist()
            if not n.startswith("exhibits/"))


# -- redaction ----------------------------------------------------------------------


def _derived_texts(bundle: Path, tmp_path: Path) -> dict[str, str]:
    archive = _zip(bundle)
    texts = {}
    for entry in _manifest(bundle)["files"]:
        name = entry["path"]
        if entry["role"] == "original" or name.endswith(".png"):
            continue
        data = archive.read(name)
        texts[name] = (" ".join(_pdf_pages(data, tmp_path, name)) if name.endswith(".pdf")
                       else data.decode("utf-8"))
    texts["manifest.json"] = archive.read("manifest.json").decode()
    return texts


def test_redaction_removes_third_parties_from_every_derived_file(case, tmp_path):
    texts = _derived_texts(case["redacted"], tmp_path)
    assert {"timeline.csv", "timeline.jsonl", "timeline.pdf", "exhibits.csv", "custody.csv",
            "witness_statement.pdf", "witness_statement.txt", "disclosure_aid.csv",
            "facts.csv", "course_of_conduct.pdf"} <= set(texts)
    for name, text in texts.items():
        digits = "".join(c for c in text if c.isdigit() or c.isalpha() or c in "@.")
        for secret in (WITNESS_NUMBER, UNKNOWN_NUMBER):
            assert secret not in digits, f"{secret} left in {name}"
        assert WITNESS_EMAIL not in text, name
        assert "Joanne" not in text, name
        assert "Mum" not in text, name
    timeline = texts["timeline.csv"]
    assert "[REDACTED-PHONE-" in timeline and "[REDACTED-NAME-" in timeline
    assert "+44" + SUSPECT_NUMBER in timeline and "Sam Taylor" in timeline
    assert "Alex Morgan" in timeline


def test_redaction_leaves_the_originals_byte_identical_and_says_so(case):
    plain, redacted = _zip(case["bundle"]), _zip(case["redacted"])
    plain_files = {f["exhibit"]: f for f in _manifest(case["bundle"])["files"]
                   if f["role"] == "original"}
    for entry in _manifest(case["redacted"])["files"]:
        if entry["role"] == "document":
            assert entry["redacted"] is True
        if entry["role"] != "original":
            continue
        assert entry["unredacted"] is True
        assert not entry["path"].split("/")[1].startswith(("WhatsApp", "Mum"))
        assert redacted.read(entry["path"]) == plain.read(plain_files[entry["exhibit"]]["path"])
        assert entry["sha256"] == plain_files[entry["exhibit"]]["sha256"]
    result = conduct("verify-bundle", case["redacted"])
    assert result.exit_code == 0, result.output


def test_the_redaction_log_counts_tokens_but_never_holds_the_values(case):
    log = _zip(case["redacted"]).read("redaction_log.csv").decode()
    rows = list(csv.DictReader(io.StringIO(log)))
    assert {"PHONE", "EMAIL", "NAME"} <= {r["kind"] for r in rows}
    assert all(int(r["count"]) >= 1 for r in rows)
    assert {r["file"] for r in rows} >= {"timeline", "custody"}
    for secret in (WITNESS_NUMBER, WITNESS_EMAIL, "Joanne", "Mum"):
        assert secret not in log
    timeline = _zip(case["redacted"]).read("timeline.csv").decode()
    for token in {r["token"] for r in rows if r["file"] == "timeline"}:
        assert token in timeline


def test_an_original_that_no_longer_matches_its_hash_stops_the_export(store_dir, tmp_path):
    open_case()
    chat = tmp_path / "chat.txt"
    chat.write_text(SUSPECT_CHAT, "utf-8")
    _ingest(chat)
    digest = hashlib.sha256(SUSPECT_CHAT.encode()).hexdigest()
    blob = next(p for p in (store_dir / "blobs").rglob(digest))
    blob.chmod(0o644)
    blob.write_bytes(SUSPECT_CHAT.replace("home", "HOME").encode())
    result = conduct("export", "OP-1", "--out", tmp_path / "b.zip")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "conduct: the original of exhibit JS/1 no longer matches its SHA-256 in the store: "
        "nothing exported; run `conduct verify`")
    assert not (tmp_path / "b.zip").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export")]


def test_a_long_timeline_is_printed_in_volumes(store_dir, tmp_path, monkeypatch):
    import exports.bundle

    monkeypatch.setattr(exports.bundle, "TIMELINE_VOLUME_EVENTS", 2)
    open_case()
    chat = tmp_path / "chat.txt"
    chat.write_text(SUSPECT_CHAT, "utf-8")
    _ingest(chat)
    _run("export", "OP-1", "--out", tmp_path / "b.zip")
    bundle = _zip(tmp_path / "b.zip")
    names = [n for n in bundle.namelist() if n.startswith("timeline")]
    assert names == ["timeline-01-of-02.pdf", "timeline-02-of-02.pdf", "timeline.csv",
                     "timeline.jsonl"]
    second = _pdf_pages(bundle.read("timeline-02-of-02.pdf"), tmp_path, "v2.pdf")
    assert "Volume 2 of 2: events 3 to 4 of 4." in _flat(second[0])
    assert "Stop messaging me" in _flat(" ".join(second))
    first = _flat(" ".join(_pdf_pages(bundle.read("timeline-01-of-02.pdf"), tmp_path, "v1.pdf")))
    assert "Are you home?" in first and "Stop messaging me" not in first
