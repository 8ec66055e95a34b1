"""A generated multi-source harassment case with known answers, built through the real
ingest: two overlapping SMS Backup & Restore files, a WhatsApp export and the
victim's incident diary, plus the persons an officer would record.

Each item of the material says what should be found in it: the behaviour rules
that must fire on it (and no others), whether it is one of the copies shared by
the two backups, who really sent it. The tests derive their expectations from
these declarations, never from what the code under test returns.

Times are in March 2024, before the clocks change, so London time is UTC.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

from tests.cli_support import conduct, ingest_json, open_case, timeline_json

REF = "OP-5"
VICTIM, SUSPECT, FRIEND = "Alex Morgan", "Sam Taylor", "Jo Bloggs"
SAM_PHONE, SAM_SECOND, SAM_NEW = "+447700900461", "+447700900555", "+447700900789"
FRIEND_PHONE, SAM_CALLER = "+447700900222", "+447700900999"
SAM_EMAIL = "sam.t.1990@example.com"


@dataclass(frozen=True)
class Item:
    """One message or diary row of the material."""

    source: str  # "sms_a", "sms_b", "whatsapp", "diary"
    at: datetime
    text: str
    #: SMS: the other party's number; WhatsApp: the sender's display name.
    party: str | None = None
    outgoing: bool = False
    contact_name: str = "(Unknown)"
    #: Who really wrote it (ground truth, independent of what the officer recorded).
    author: str | None = None
    rules: frozenset[str] = field(default_factory=frozenset)
    system: bool = False


def _at(day: int, hour: int, minute: int = 0, second: int = 0, ms: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, ms * 1000, tzinfo=UTC)


def _sms(at: datetime, text: str, party: str, author: str | None, *rules: str,
         outgoing: bool = False, contact: str = "(Unknown)", backups: str = "a"
         ) -> list[Item]:
    return [Item(f"sms_{b}", at, text, party, outgoing, contact, author, frozenset(rules))
            for b in backups]


SMS = [
    *_sms(_at(1, 9, 0, 0, 123), "Why won't you answer me", SAM_PHONE, SUSPECT, contact="Sam"),
    *_sms(_at(1, 21), "I saw you at the gym with him", SAM_PHONE, SUSPECT,
          "surveillance.whereabouts", contact="Sam"),
    *_sms(_at(1, 21, 5), "Stop contacting me. I will go to the police.", SAM_PHONE, VICTIM,
          outgoing=True, contact="Sam"),
    *_sms(_at(2, 8), "You'll regret this", SAM_PHONE, SUSPECT, "threat.harm", contact="Sam"),
    *_sms(_at(2, 9), "He won't leave me alone", FRIEND_PHONE, VICTIM, outgoing=True,
          contact="Jo"),
    # Copies: these four sit in both backups.
    *_sms(_at(2, 10), "Sam asked me to tell you he is sorry", FRIEND_PHONE, FRIEND,
          "third_party.relayed", "third_party.mentions_suspect", contact="Jo", backups="ab"),
    *_sms(_at(3, 12), "Pick up your phone", SAM_SECOND, SUSPECT, contact="Sam", backups="ab"),
    *_sms(_at(4, 23), "I'll kill myself if you leave me", SAM_PHONE, SUSPECT,
          "self_harm.threat", contact="Sam", backups="ab"),
    *_sms(_at(6, 10), "New number, you can't block this one", SAM_NEW, SUSPECT,
          "evasion.new_number", backups="ab"),
    *_sms(_at(4, 3, 5), "Answer the phone", SAM_CALLER, SUSPECT),
    *_sms(_at(10, 22), "Sexy photo of you in that dress", SAM_NEW, SUSPECT,
          "sexual.content", "surveillance.appearance", backups="b"),
    *_sms(_at(11, 7), "Morning", SAM_PHONE, SUSPECT, contact="Sam", backups="b"),
]

WHATSAPP = [
    Item("whatsapp", _at(5, 20), f"email me at {SAM_EMAIL}", SUSPECT, author=SUSPECT),
    Item("whatsapp", _at(5, 20, 5), "Please stop messaging me", VICTIM, author=VICTIM),
    Item("whatsapp", _at(5, 20, 6), "I'll post your photos everywhere", SUSPECT, author=SUSPECT,
         rules=frozenset({"publishing.threatened"})),
    Item("whatsapp", _at(7, 1), "I know where you live", SUSPECT, author=SUSPECT,
         rules=frozenset({"threat.implied", "surveillance.whereabouts"})),
    Item("whatsapp", _at(8, 12), "You blocked this contact. Tap to unblock.", system=True),
]

DIARY = [
    Item("diary", _at(9, 22, 15), "He was parked outside my house for an hour",
         rules=frozenset({"turning_up.place"})),
    Item("diary", _at(10, 8), "His mum came to my work and said he wants to talk",
         rules=frozenset({"third_party.diary"})),
    Item("diary", _at(4, 9), "Sam rang me from 07700 900999 at 3am"),
    Item("diary", _at(5, 21), "I blocked his number today"),
]

ITEMS = [*SMS, *WHATSAPP, *DIARY]
#: The identifiers and display names behind which the suspect really wrote.
SUSPECT_SENDERS = {SAM_PHONE, SAM_SECOND, SAM_NEW, SAM_CALLER, SUSPECT}


def _sms_xml(items: list[Item]) -> str:
    lines = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>",
             f'<smses count="{len(items)}">']
    for item in sorted(items, key=lambda i: i.at):
        epoch = int(item.at.timestamp() * 1000)
        lines.append(
            f'  <sms protocol="0" address="{item.party}" date="{epoch}" '
            f'type="{2 if item.outgoing else 1}" subject="null" body={quoteattr(item.text)} '
            f'toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" '
            f'date_sent="0" sub_id="1" readable_date="" '
            f'contact_name={quoteattr(item.contact_name)} />')
    lines.append("</smses>")
    return "\n".join(lines) + "\n"


def _whatsapp(items: list[Item]) -> str:
    lines = ["01/03/2024, 08:00 - Messages and calls are end-to-end encrypted. No one outside "
             "of this chat, not even WhatsApp, can read or listen to them. Tap to learn more."]
    for item in items:
        stamp = item.at.strftime("%d/%m/%Y, %H:%M")
        lines.append(f"{stamp} - {item.text}" if item.system
                     else f"{stamp} - {item.party}: {item.text}")
    return "\n".join(lines) + "\n"


def _diary(path: Path, items: list[Item]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["Date", "Time", "Location", "What happened"])
        for item in items:
            writer.writerow([item.at.strftime("%d/%m/%Y"), item.at.strftime("%H:%M"), "Home",
                             item.text])


@dataclass
class Built:
    """The ingested case: event ids of each declared item, by item."""

    events: dict[Item, list[int]]
    exhibits: dict[str, str]

    def ids(self, item: Item) -> list[int]:
        return self.events[item]

    def one(self, text: str, source: str | None = None) -> int:
        found = [e for i, ids in self.events.items() for e in ids
                 if i.text == text and (source is None or i.source == source)]
        assert len(found) == 1, (text, found)
        return found[0]


def build(tmp_path: Path) -> Built:
    """Open the case, record the people, write and ingest the material."""
    open_case(REF)
    for name, role, ids in ((VICTIM, "victim", ["name:Alex Morgan"]),
                            (SUSPECT, "suspect", [SAM_PHONE, "name:Sam Taylor",
                                                  "instagram:sam_t"]),
                            (FRIEND, "witness", [FRIEND_PHONE])):
        args = [a for value in ids for a in ("--id", value)]
        added = conduct("person", "add", REF, name, "--role", role, *args)
        assert added.exit_code == 0, added.output
    material = tmp_path / "material"
    material.mkdir()
    files = {
        "sms_a": material / "sms-20240310.xml",
        "sms_b": material / "sms-20240312.xml",
        "whatsapp": material / "WhatsApp Chat with Sam Taylor.txt",
        "diary": material / "diary.csv",
    }
    for key in ("sms_a", "sms_b"):
        files[key].write_text(_sms_xml([i for i in SMS if i.source == key]), encoding="utf-8")
    files["whatsapp"].write_text(_whatsapp(WHATSAPP), encoding="utf-8")
    _diary(files["diary"], DIARY)
    exhibits = {}
    for key, path in files.items():
        code, report = ingest_json(REF, path)
        assert code == 0, report
        exhibits[key] = report["exhibits"][0]["ref"]
    by_exhibit: dict[str, list[dict[str, object]]] = {}
    for event in timeline_json(REF):
        by_exhibit.setdefault(str(event["exhibit"]), []).append(event)
    events: dict[Item, list[int]] = {}
    for item in ITEMS:
        rows = [e for e in by_exhibit[exhibits[item.source]] if e["text"] == item.text]
        assert len(rows) == 1, (item, rows)
        events[item] = [int(rows[0]["id"])]  # type: ignore[call-overload]
    return Built(events, exhibits)
