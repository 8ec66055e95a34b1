"""Properties every registered parser must have, checked over every fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.base import ParseOptions
from parsers.errors import ParserError
from parsers.registry import PARSERS
from tests.parsers.support import FIXTURES, probe_of, source_of

#: Which parsers may claim the fixtures of each folder (damaged ones may be unclaimed).
OWNERS: dict[str, set[str]] = {
    "whatsapp": {"whatsapp"},
    "email": {"mbox", "eml"},
    "email_msg": {"outlook_msg"},
    "email_pst": {"pst"},
    "diary": {"diary_csv", "diary_xlsx"},
    "generic_csv": set(),
    "meta": {"meta_json", "meta_e2ee_json", "meta_html"},
    "telegram": {"telegram"},
    "telegram_html": {"telegram_html"},
    "ios_sms": {"ios_sms_db"},
    "sms_backup": {"sms_backup", "call_log_backup"},
    "x": {"x_dms"},
    "snapchat": {"snapchat"},
    "discord": {"discord_messages", "discord_messages_csv"},
    "google_chat": {"google_chat", "hangouts"},
    "web": {"web_page", "mhtml", "capture_record"},
    "images": {"image"},
    "screenshots": {"image"},
}


def _fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*")
                  if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts)


def _folder(path: Path) -> str:
    return path.relative_to(FIXTURES).parts[0]


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_no_parser_claims_another_formats_fixture(path):
    probe = probe_of(path.read_bytes()[:64 * 1024], path.name)
    probe = type(probe)(name=probe.name, head=probe.head, media_type=probe.media_type,
                        size=path.stat().st_size)
    claimants = {p.name for p in PARSERS if p.detect(probe)}
    assert claimants <= OWNERS[_folder(path)]


def test_every_fixture_folder_has_owners():
    assert {_folder(p) for p in _fixtures()} <= set(OWNERS)


def _survives(parser, data: bytes) -> None:
    try:
        for _ in parser.parse(source_of(data, "fuzz.bin"), ParseOptions()):
            pass
    except ParserError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048))
@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.name)
def test_random_bytes_raise_only_parser_errors(parser, data):
    parser.detect(probe_of(data))
    _survives(parser, data)


_SEEDS = [p.read_bytes()[:4096] for p in _fixtures()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(_SEEDS) if _SEEDS else st.just(b""),
       cut=st.integers(min_value=0, max_value=4096),
       flips=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=8))
@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.name)
def test_damaged_real_files_raise_only_parser_errors(parser, seed, cut, flips):
    data = bytearray(seed[:cut])
    for position, value in flips:
        if position < len(data):
            data[position] = value
    _survives(parser, bytes(data))
