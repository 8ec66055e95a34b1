"""Material the victim wrote or exported by hand: diaries and mapped CSV files."""

import shutil
from pathlib import Path

from tests.cli_support import conduct, ingest_json, open_case, timeline_json

FIXTURES = Path(__file__).parent / "fixtures"


def _copy(tmp_path, relative):
    target = tmp_path / Path(relative).name
    shutil.copyfile(FIXTURES / relative, target)
    return target


def test_a_diary_workbook_is_read_not_unpacked(store_dir, tmp_path):
    open_case()
    code, report = ingest_json("OP-1", _copy(tmp_path, "diary/excel_style.xlsx"))
    [top] = report["exhibits"]
    assert (code, top["format"], top["status"], top["children"]) == (0, "diary_xlsx", "parsed", [])
    assert {e["kind"] for e in timeline_json()} == {"incident"}


def test_a_mapped_csv_becomes_messages_from_its_columns(store_dir, tmp_path):
    open_case()
    code, report = ingest_json(
        "OP-1", _copy(tmp_path, "generic_csv/phone_export.csv"),
        extra=("--csv-map", "time=Date Sent", "--csv-map", "sender=From",
               "--csv-map", "recipient=To", "--csv-map", "text=Message",
               "--csv-map", "channel_name=sms"))
    assert (code, report["exhibits"][0]["format"]) == (0, "generic_csv")
    first = timeline_json()[0]
    assert (first["occurred_at"], first["sender_id"], first["text"], first["channel"]) == (
        "2024-03-12T22:15:03Z", "+447700900123", "Are you home?", "sms")


def test_without_a_mapping_an_unknown_csv_is_stored_unparsed(store_dir, tmp_path):
    open_case()
    code, report = ingest_json("OP-1", _copy(tmp_path, "generic_csv/phone_export.csv"))
    assert (code, report["exhibits"][0]["status"]) == (1, "stored_unparsed")


def test_a_bad_mapping_argument_is_one_line(store_dir, tmp_path):
    open_case()
    result = conduct("ingest", "OP-1", _copy(tmp_path, "generic_csv/phone_export.csv"),
                     "--csv-map", "nonsense")
    assert result.exit_code == 2
    assert result.output.strip() == "conduct: --csv-map takes FIELD=Column Header, not 'nonsense'"


def test_scoping_never_leaves_out_the_victims_own_diary(store_dir, tmp_path):
    open_case()
    _, report = ingest_json("OP-1", _copy(tmp_path, "diary/paladin_template.csv"),
                            extra=("--only-with", "+447700900461"))
    [top] = report["exhibits"]
    assert top["events"] > 0 and top["scope"]["left_out_events"] == 0


def test_a_facebook_download_folder_links_media_across_its_tree(store_dir, tmp_path):
    open_case()
    export = tmp_path / "facebook"
    shutil.copytree(FIXTURES / "meta" / "facebook_2024", export)
    code, report = ingest_json("OP-1", export)
    threads = [e for e in report["exhibits"] if e["format"] == "meta_json"]
    assert code == 0 and threads and all(t["status"] == "parsed" for t in threads)
    linked = [a for e in timeline_json() for a in e["attachments"]]
    stored = {e["sha256"] for e in report["exhibits"]}
    assert linked and all(a["sha256"] in stored for a in linked if a["sha256"])
    assert any(a["sha256"] for a in linked)


def test_a_facebook_download_zip_links_media_too(store_dir, tmp_path):
    open_case()
    archive = shutil.make_archive(str(tmp_path / "facebook-download"), "zip",
                                  FIXTURES / "meta" / "facebook_2024")
    code, report = ingest_json("OP-1", archive)
    children = report["exhibits"][0]["children"]
    stored = {c["sha256"] for c in children}
    linked = [a["sha256"] for e in timeline_json() for a in e["attachments"] if a["sha256"]]
    assert code == 0 and linked and set(linked) <= stored
