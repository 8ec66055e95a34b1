"""Wall-clock times become UTC with the zone recorded; ambiguity is flagged, never hidden."""

from tests.cli_support import ingest_json, open_case, timeline_json


def _ingest_chat(tmp_path, text, *extra):
    path = tmp_path / "WhatsApp Chat with Sam.txt"
    path.write_text(text, encoding="utf-8")
    return ingest_json("OP-1", path, extra=extra)


def test_the_repeated_autumn_hour_is_flagged(store_dir, tmp_path):
    open_case()
    _ingest_chat(tmp_path, "26/10/2024, 23:00 - Sam: before\n27/10/2024, 01:30 - Sam: which one?\n"
                           "27/10/2024, 13:00 - Sam: after\n")
    middle = timeline_json()[1]
    assert middle["occurred_at"] == "2024-10-27T00:30:00Z"
    assert "ambiguous_dst" in middle["time_flags"]


def test_the_skipped_spring_hour_is_flagged(store_dir, tmp_path):
    open_case()
    _ingest_chat(tmp_path, "30/03/2024, 23:00 - Sam: before\n31/03/2024, 01:30 - Sam: impossible\n"
                           "31/03/2024, 13:00 - Sam: after\n")
    assert "nonexistent_local_time" in timeline_json()[1]["time_flags"]


def test_an_undecidable_date_order_is_flagged_until_the_officer_sets_it(store_dir, tmp_path):
    open_case()
    chat = "01/02/2024, 10:00 - Sam: one\n03/04/2024, 11:00 - Sam: two\n"
    _ingest_chat(tmp_path, chat)
    assert all("ambiguous_day_month" in e["time_flags"] for e in timeline_json())
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "chat.txt").write_text(chat + "05/06/2024, 12:00 - Sam: three\n",
                                                 encoding="utf-8")
    _, report = ingest_json("OP-1", tmp_path / "again" / "chat.txt",
                            extra=("--date-order", "mdy"))
    assert report["exhibits"][0]["status"] == "parsed"
    officer_set = [e for e in timeline_json() if e["exhibit"] == "JS/2"]
    assert [e["occurred_at"] for e in officer_set] == [
        "2024-01-02T10:00:00Z", "2024-03-04T11:00:00Z", "2024-05-06T11:00:00Z"]
    assert not any("ambiguous_day_month" in e["time_flags"] for e in officer_set)


def test_a_source_zone_given_at_ingest_is_used_and_recorded(store_dir, tmp_path):
    open_case()
    _ingest_chat(tmp_path, "13/07/2024, 22:15 - Sam: from New York\n"
                           "14/07/2024, 09:00 - Sam: morning\n", "--timezone", "America/New_York")
    event = timeline_json()[0]
    assert (event["occurred_at"], event["time_zone"]) == ("2024-07-14T02:15:00Z",
                                                          "America/New_York")
