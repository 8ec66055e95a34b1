"""Who is who: persons and identifiers name the senders and settle direction."""

from tests.cli_support import conduct, ingest_json, open_case, timeline_json

CHAT = (
    "12/03/2024, 22:15 - Sam Taylor: Are you home?\n"
    "12/03/2024, 22:17 - +44 7700 900461: It's me, new number\n"
    "13/03/2024, 07:01 - Alex Morgan: Stop messaging me\n"
)


def _case_with_people(tmp_path):
    open_case()
    assert conduct("person", "add", "OP-1", "Alex Morgan", "--role", "victim",
                   "--id", "name:Alex Morgan").exit_code == 0
    added = conduct("person", "add", "OP-1", "Sam Taylor", "--role", "suspect",
                    "--id", "name:Sam Taylor", "--id", "07700 900461",
                    "--id", "Sam.T@Example.com")
    assert added.exit_code == 0, added.output
    path = tmp_path / "chat.txt"
    path.write_text(CHAT, encoding="utf-8")
    ingest_json("OP-1", path)


def test_identifiers_are_stored_normalised(store_dir, tmp_path):
    _case_with_people(tmp_path)
    listing = conduct("person", "list", "OP-1").stdout.splitlines()
    assert listing == [
        "Alex Morgan\tvictim\tname:alex morgan",
        "Sam Taylor\tsuspect\t+447700900461, name:sam taylor, sam.t@example.com",
    ]


def test_senders_are_named_and_direction_follows_from_roles(store_dir, tmp_path):
    _case_with_people(tmp_path)
    assert [(e["sender_person"], e["sender_role"], e["direction"], e["direction_basis"])
            for e in timeline_json()] == [
        ("Sam Taylor", "suspect", "incoming", "persons"),
        ("Sam Taylor", "suspect", "incoming", "persons"),
        ("Alex Morgan", "victim", "outgoing", "persons"),
    ]


def test_an_identifier_belongs_to_one_person(store_dir, tmp_path):
    _case_with_people(tmp_path)
    result = conduct("person", "add", "OP-1", "Someone", "--role", "witness",
                     "--id", "+447700900461")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "conduct: +447700900461 already belongs to Sam Taylor in case OP-1")


def test_a_bad_identifier_is_one_clear_line(store_dir):
    open_case()
    result = conduct("person", "add", "OP-1", "X", "--role", "suspect", "--id", "not a thing")
    assert result.exit_code == 2
    assert result.output.startswith("conduct: 'not a thing' is not an identifier")


def test_scoping_keeps_whole_conversations_with_the_named_person(store_dir, tmp_path):
    open_case()
    folder = tmp_path / "phone"
    folder.mkdir()
    (folder / "chat-sam.txt").write_text(CHAT, encoding="utf-8")
    (folder / "chat-mum.txt").write_text(
        "12/03/2024, 09:00 - Mum: Lunch on Sunday?\n12/03/2024, 09:05 - Alex Morgan: Yes!\n",
        encoding="utf-8")
    code, report = ingest_json("OP-1", folder, extra=("--only-with", "07700 900461"))
    mum, sam = report["exhibits"]
    assert code == 0
    assert (sam["events"], sam["scope"]["left_out_events"]) == (3, 0)
    assert (mum["events"], mum["scope"]["left_out_events"], mum["status"]) == (0, 2, "parsed")
    assert [e["text"] for e in timeline_json()] == [
        "Are you home?", "It's me, new number", "Stop messaging me"]


def test_what_scoping_left_out_is_in_the_custody_log(store_dir, tmp_path):
    import json

    from evidence_store import custody
    from evidence_store.store import open_store

    open_case()
    path = tmp_path / "chat-mum.txt"
    path.write_text("12/03/2024, 09:00 - Mum: Lunch?\n12/03/2024, 09:05 - Alex: Yes!\n",
                    encoding="utf-8")
    ingest_json("OP-1", path, extra=("--only-with", "name:Sam Taylor"))
    store = open_store(store_dir)
    with store.session() as session:
        parsed = custody.entries_of(session, "case:OP-1")[-1]
    store.close()
    assert json.loads(parsed.details)["scope"] == {
        "only_with": ["name:sam taylor"], "kept_events": 0, "kept_conversations": 0,
        "left_out_events": 2, "left_out_conversations": 1, "left_out_media": 0}
