"""A small multi-source harassment case whose pattern numbers are known by hand.

Case OP-1, Europe/London. Sam Taylor (suspect) uses +447700900461 (SMS, calls),
sam.t@example.com (e-mail) and the WhatsApp name "Sam Taylor"; Alex Morgan is
the victim, Jo Bloggs a witness. The files are written the way the phones and
apps write them and go through the real `conduct ingest`:

- e-mail (4 .eml, stated UTC times) around the end of summer time, 29 Oct 2023,
  a 25-hour local day: all four fall on local 29 October, though one is on
  28 October in UTC;
- an SMS backup: four messages around the start of summer time, 31 Mar 2024 (a
  23-hour day; 23:30 UTC that evening is already 1 April locally), a run of five
  over 11 minutes (not a burst of 5 in 10), a barrage of seven over 12 minutes
  (one burst), the victim's replies and a witness's message;
- a second, incremental SMS backup repeating two of those messages (duplicates);
- a call log: missed, rejected, missed, answered, voicemail from the suspect, and
  two missed calls from a withheld number;
- a WhatsApp chat (local wall-clock times): one message on 31 March and a burst
  of five over 9 minutes on 2 April, plus the victim's reply.

Local days with the suspect's contacts, 32 in all (duplicates counted once):
2023-10-29 email 4 | 2024-03-30 sms 1 | 2024-03-31 sms 3, whatsapp 1 |
2024-04-01 sms 1 | 2024-04-02 whatsapp 5 | 2024-04-03 sms 5 | 2024-04-04 call 5 |
2024-04-05 sms 7.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidence_store.database import scratch_schema
from evidence_store.store import Store, open_store
from tests.cli_support import conduct, ingest_json, open_case

SUSPECT_PHONE = "+447700900461"
SUSPECT_EMAIL = "sam.t@example.com"
VICTIM_PHONE = "+447700900123"
WITNESS_PHONE = "+447700900999"
THREAT = "I know where you live"

PROLOG = (
    "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
    "<!--File Created By SMS Backup & Restore v10.20.002 on 06/04/2024 09:30:00-->\n"
)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
               .timestamp() * 1000)


def _sms(address: str, when: str, kind: int, body: str) -> str:
    return (f'  <sms protocol="0" address="{address}" date="{_ms(when)}" type="{kind}" '
            f'subject="null" body="{body}" toa="null" sc_toa="null" service_center="null" '
            f'read="1" status="-1" locked="0" date_sent="0" sub_id="1" '
            f'readable_date="x" contact_name="(Unknown)" />\n')


def _backup(records: list[str], backup_set: str) -> str:
    return (PROLOG + f'<smses count="{len(records)}" backup_set="{backup_set}" '
            'backup_date="1712395800000" type="full">\n' + "".join(records) + "</smses>\n")


#: (UTC time, text) of the suspect's SMS.
SUSPECT_SMS = [
    ("2024-03-30T23:30:00Z", "are you awake"),
    ("2024-03-31T00:30:00Z", "answer me"),
    ("2024-03-31T01:30:00Z", "why are you ignoring me"),
    ("2024-03-31T12:00:00Z", f"{THREAT} so dont ignore me"),
    ("2024-03-31T23:30:00Z", "still up?"),
    *[(f"2024-04-03T10:{m:02d}:00Z", f"slow run {n}") for n, m in enumerate((0, 3, 6, 9, 11))],
    *[(f"2024-04-05T18:{m:02d}:00Z", f"barrage {n}") for n, m in enumerate(range(0, 13, 2))],
]


def _sms_backup() -> str:
    records = [_sms(SUSPECT_PHONE, when, 1, text) for when, text in SUSPECT_SMS]
    records += [
        _sms(SUSPECT_PHONE, "2024-03-31T12:05:00Z", 2, "Leave me alone. Stop contacting me."),
        _sms(SUSPECT_PHONE, "2024-04-01T08:00:00Z", 2, "I have asked you to stop"),
        _sms(WITNESS_PHONE, "2024-04-01T09:00:00Z", 1, "Are you ok? Sam was outside again"),
    ]
    return _backup(records, "7a1d3b0e-8f7a-4c2e-9d61-2b7e0f4a9c13")


def _incremental_backup() -> str:
    """A later backup holding two of the same messages again."""
    records = [_sms(SUSPECT_PHONE, when, 1, text) for when, text in SUSPECT_SMS[3:5]]
    return _backup(records, "8b2e4c1f-9a8b-4d3f-8e72-3c8f1a5b0d24")


def _call(number: str, when: str, kind: int, duration: int = 0, presentation: int = 1) -> str:
    return (f'  <call number="{number}" duration="{duration}" date="{_ms(when)}" type="{kind}" '
            f'presentation="{presentation}" subscription_id="1" post_dial_digits="" '
            f'readable_date="x" contact_name="(Unknown)" />\n')


def _call_log() -> str:
    records = [
        _call(SUSPECT_PHONE, "2024-04-04T02:00:00Z", 3),
        _call(SUSPECT_PHONE, "2024-04-04T02:05:00Z", 5),
        _call(SUSPECT_PHONE, "2024-04-04T02:10:00Z", 3),
        _call(SUSPECT_PHONE, "2024-04-04T09:00:00Z", 1, duration=40),
        _call(SUSPECT_PHONE, "2024-04-04T09:30:00Z", 4, duration=20),
        _call("", "2024-04-04T03:00:00Z", 3, presentation=2),
        _call("", "2024-04-04T03:05:00Z", 3, presentation=2),
    ]
    return (PROLOG + f'<calls count="{len(records)}" '
            'backup_set="9c3f5d2a-0b9c-4e4a-9f83-4d9a2b6c1e35" backup_date="1712395800000">\n'
            + "".join(records) + "</calls>\n")


def _whatsapp() -> str:
    lines = ["31/03/2024, 10:00 - Sam Taylor: good morning"]
    lines += [f"02/04/2024, 21:{m:02d} - Sam Taylor: burst {n}"
              for n, m in enumerate((0, 2, 4, 6, 9))]
    lines.append("02/04/2024, 21:15 - Alex Morgan: please stop")
    return "\n".join(lines) + "\n"


#: UTC times of the suspect's e-mails.
EMAILS = ("2023-10-28T23:30:00Z", "2023-10-29T00:30:00Z", "2023-10-29T01:30:00Z",
          "2023-10-29T23:30:00Z")


def _eml(n: int, when: str) -> str:
    moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return (f"From: Sam Taylor <{SUSPECT_EMAIL}>\r\nTo: Alex Morgan <alex.m@example.org>\r\n"
            f"Subject: message {n}\r\nDate: {moment:%a, %d %b %Y %H:%M:%S} +0000\r\n"
            f"Message-ID: <pattern-{n}@example.com>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Why won't you talk to me ({n})\r\n")


def write_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "sms-20240406093000.xml": _sms_backup(),
        "sms-20240407093000.xml": _incremental_backup(),
        "calls-20240406093000.xml": _call_log(),
        "WhatsApp Chat with Sam Taylor.txt": _whatsapp(),
        **{f"mail-{n}.eml": _eml(n, when) for n, when in enumerate(EMAILS, 1)},
    }
    paths = []
    for name, content in files.items():
        path = folder / name
        path.write_text(content, encoding="utf-8", newline="")
        paths.append(path)
    return paths


def open_pattern_case(folder: Path, ref: str = "OP-1") -> None:
    """Create the case, its people, and ingest every file through the real CLI."""
    open_case(ref)
    for name, role, ids in (
            ("Alex Morgan", "victim", (VICTIM_PHONE, "alex.m@example.org", "name:Alex Morgan")),
            ("Sam Taylor", "suspect", (SUSPECT_PHONE, SUSPECT_EMAIL, "name:Sam Taylor")),
            ("Jo Bloggs", "witness", (WITNESS_PHONE,))):
        added = conduct("person", "add", ref, name, "--role", role,
                        *[a for i in ids for a in ("--id", i)])
        assert added.exit_code == 0, added.output
    code, report = ingest_json(ref, *write_files(folder))
    assert code == 0, report


@contextmanager
def built_case(directory: Path) -> Iterator[Store]:
    """The case in a store of its own (a scratch schema on PostgreSQL runs), for tests
    that share one build: what tests/conftest.py does per test, once per module."""
    base = os.environ.get("CONDUCT_DATABASE_URL")
    with scratch_schema(base, prefix="t") if base else nullcontext(None) as url:
        # The environment points at this store only while the CLI builds it, so the
        # per-test fixtures of the same module still start from the original.
        with pytest.MonkeyPatch.context() as patch:
            if url:
                patch.setenv("CONDUCT_DATABASE_URL", url)
            patch.setenv("CONDUCT_STORE", str(directory / "store"))
            patch.setenv("CONDUCT_USER", "test-officer")
            open_pattern_case(directory / "files")
        store = open_store(directory / "store", url)
        try:
            yield store
        finally:
            store.close()
