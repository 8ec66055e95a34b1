"""The streaming JSON helpers shared by the X, Snapchat, Discord and Google parsers."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from parsers.errors import DamagedInput
from parsers.streamed_json import (
    JsonStream,
    Rest,
    Tally,
    epoch_clock,
    is_digits,
    iso_instant,
    json_head,
    json_path,
    opened,
)
from tests.parsers.support import source_of


def stream_of(data: bytes) -> JsonStream:
    return JsonStream(Rest(io.BytesIO(data), b""), "test.json")


def test_json_paths_read_like_the_document() -> None:
    assert json_path(("messages", 12)) == "messages[12]"
    assert json_path((3, "dmConversation", "messages", 40)) == "[3].dmConversation.messages[40]"
    assert json_path(("Sent Chat History", 2)) == '["Sent Chat History"][2]'
    assert json_path(('say "hi"', 0)) == '["say \\"hi\\""][0]'
    assert json_path(()) == ""


def test_picked_values_come_with_their_paths_and_nothing_else_is_built() -> None:
    data = b'{"a": [1, {"b": [[], {}], "c": null}, "x"], "d": {"e": true}, "f": 2.5}'
    document = stream_of(data)
    assert list(document.values(lambda path: len(path) == 2 and path[0] == "a")) == [
        (("a", 0), 1), (("a", 1), {"b": [[], {}], "c": None}), (("a", 2), "x")]
    assert (document.root, document.picked, document.trailing) == ("start_map", 3, False)


def test_the_root_itself_can_be_picked() -> None:
    assert list(stream_of(b"[1, [2]]").values(lambda path: not path)) == [((), [1, [2]])]


def test_broken_json_is_damaged_input_naming_where_it_broke() -> None:
    with pytest.raises(DamagedInput) as caught:
        list(stream_of(b'{"messages": [{"a": 1}, {"a": ').values(lambda p: len(p) == 2))
    assert str(caught.value) == ("test.json: JSON unreadable at messages[1] after 1 items "
                                 "read: parse error: premature EOF")


@pytest.mark.parametrize("data", [b"", b'["\xff"]', b"[1, 12345678901234567890123]", b"{,}"])
def test_undecodable_or_unparseable_bytes_are_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        list(stream_of(data).values(lambda p: True))


def test_bytes_after_the_root_value_are_noticed_not_fatal() -> None:
    document = stream_of(b"[1, 2];\n")
    assert [v for _, v in document.values(lambda p: len(p) == 1)] == [1, 2]
    assert document.trailing


def test_opened_skips_a_byte_order_mark_then_a_prefix() -> None:
    source = source_of(b"\xef\xbb\xbfprefix = [1]")
    with opened(source, len(b"prefix = ")) as stream:
        assert stream.read() == b"[1]"
    with opened(source_of(b"[1]")) as stream:
        assert stream.read(2) + stream.read(5) == b"[1]"


def test_rest_returns_the_pending_bytes_first_in_any_read_size() -> None:
    rest = Rest(io.BytesIO(b"world"), b"hello ")
    assert (rest.read(0), rest.read(3), rest.read(100)) == (b"", b"hel", b"lo world")


def test_json_head_drops_a_bom_and_white_space() -> None:
    assert json_head(b"\xef\xbb\xbf \n {") == b"{"


def test_iso_instants_need_a_zone_and_keep_their_precision() -> None:
    clock = iso_instant("2020-01-20T21:42:09.068Z")
    assert clock is not None
    assert (clock.instant, clock.precision) == (datetime(2020, 1, 20, 21, 42, 9, 68000,
                                                         tzinfo=UTC), "subsecond")
    offset = iso_instant("2024-03-12 23:15:03+01:00")
    assert offset is not None and offset.instant == datetime(2024, 3, 12, 22, 15, 3, tzinfo=UTC)
    assert offset.precision == "second"
    assert iso_instant("2024-03-12 22:15:03") is None
    assert iso_instant("2024-02-30T00:00:00Z") is None


def test_epoch_clocks_in_any_unit_and_only_in_a_plausible_range() -> None:
    micro = epoch_clock("1710281703123456", 1_000_000)
    assert micro is not None and micro.instant == datetime(2024, 3, 12, 22, 15, 3, 123456,
                                                           tzinfo=UTC)
    milli = epoch_clock(1710281703123, 1000)
    assert milli is not None and milli.text == "1710281703123"
    assert epoch_clock("1710281703", 1000) is None  # 1970: a unit mistake or damage
    assert epoch_clock("²", 1) is None
    assert epoch_clock(True, 1) is None


def test_is_digits_accepts_ascii_digits_only() -> None:
    assert is_digits("0123")
    assert not any(is_digits(t) for t in ("", "²", "١٢", "12a", "-1"))


def test_tallies_report_a_count_and_the_first_places() -> None:
    tally = Tally("code", "Things", shown=2)
    assert tally.note() is None
    for where in ("a", "b", "c"):
        tally.add(where)
    note = tally.note()
    assert note is not None
    assert (note.code, note.message) == (
        "code", "Things: 3 (at a, b, ...); they are kept in the stored original only.")
