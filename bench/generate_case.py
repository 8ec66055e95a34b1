"""A large synthetic harassment case written straight into a store, for analysis benchmarks.

One case (Europe/London, a year that spans both DST changes) with a victim, a
suspect using several identifiers (two phones, e-mail, Instagram, a WhatsApp
display name), a witness, and five sources: SMS, calls (with outcomes and
withheld numbers), WhatsApp (minute precision, local times), e-mail and
Instagram. The suspect's contacts escalate over the year, lean towards the
night, come in bursts, and now and then carry threat-like text.

Events go through evidence_store.events.EventWriter exactly as an ingest writes
them, but no originals are stored: the exhibits' blobs are placeholders, so
`conduct verify` on such a store fails by design. Never mix it with real cases.

Run: .venv/bin/python bench/generate_case.py STORE_DIR [--events N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from evidence_store import cases, persons  # noqa: E402
from evidence_store.events import EventWriter  # noqa: E402
from evidence_store.models import Case, Exhibit  # noqa: E402
from evidence_store.store import Store, init_store  # noqa: E402
from parsers.records import EventRecord, Locator, WallClock  # noqa: E402

REF = "BENCH"
ZONE = "Europe/London"
START = datetime(2023, 4, 1, tzinfo=UTC)
DAYS = 366
VICTIM = ("Alex Morgan", ("+447700900123", "alex.m@example.org", "instagram:alex_m"))
SUSPECT = ("Sam Taylor", ("+447700900461", "+447700900462", "sam.t@example.com",
                          "instagram:sam_t", "name:sam taylor"))
WITNESS = ("Jo Bloggs", ("+447700900999",))
#: (channel, share of the suspect's contacts)
CHANNELS = (("sms", 0.33), ("whatsapp", 0.33), ("call", 0.16), ("instagram", 0.12),
            ("email", 0.06))
OUTCOMES = ((("missed",), 0.4), (("rejected",), 0.2), ((), 0.25), (("voicemail",), 0.08),
            (("blocked",), 0.07))
WITHHELD_SHARE = 0.1
FILLER = ("hello", "where", "are", "you", "why", "won't", "answer", "me", "please", "just",
          "talk", "I", "saw", "your", "car", "outside", "again", "we", "need", "to", "meet",
          "tonight", "at", "the", "station", "ok", "fine", "whatever", "call", "back", "now",
          "miss", "us", "remember", "summer", "work", "today", "late", "home", "friend")
THREATS = ("I know where you live", "you will regret this", "I'll make you pay",
           "nobody will find you", "watch your back tonight", "I have a knife")
THREAT_SHARE = 0.002
_LONDON = ZoneInfo(ZONE)
_POOL = 50_000


@dataclass
class Generated:
    events: int
    suspect_contacts: int
    seconds: float


def _exhibit(session, case: Case, ref: str, name: str, fmt: str) -> Exhibit:
    sha = hashlib.sha256(f"bench placeholder {name}".encode()).hexdigest()
    cases.ensure_blob(session, sha, 0, "application/octet-stream")
    exhibit = Exhibit(case_id=case.id, ref=ref, sha256=sha, original_name=name, size=0,
                      media_type="application/octet-stream", format=fmt, status="parsed",
                      received_by="Bench Officer", received_at=datetime.now(UTC),
                      description=f"synthetic {fmt} (no original stored)", notes="[]",
                      event_count=0)
    session.add(exhibit)
    session.flush()
    return exhibit


def _times(rng: np.random.Generator, n: int) -> np.ndarray:
    """Epoch seconds: rising over the year, more at night, partly in bursts."""
    start = int(START.timestamp())
    # Escalation: density grows linearly from 1 to 3 across the year.
    u = rng.random(n)
    day = (np.sqrt(1 + 8 * u) - 1) / 2 * DAYS
    hours = rng.choice(24, size=n, p=_hour_weights())
    seconds = start + day.astype(np.int64) * 86400 + hours * 3600 + rng.integers(0, 3600, n)
    # A tenth of the contacts come as bursts: 5-15 within a few minutes of a leader.
    burst_members = rng.random(n) < 0.1
    leaders = np.flatnonzero(~burst_members)
    pick = rng.choice(leaders, size=int(burst_members.sum()))
    seconds[burst_members] = seconds[pick] + rng.integers(0, 240, int(burst_members.sum()))
    return np.sort(seconds)


def _hour_weights() -> np.ndarray:
    weights = np.ones(24)
    weights[[23, 0, 1, 2]] = 2.5
    weights[[3, 4, 5]] = 1.2
    weights[8:18] = 0.8
    return weights / weights.sum()


def generate(store: Store, events: int = 1_000_000, seed: int = 7) -> Generated:
    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    with store.session() as session:
        case = cases.create_case(session, REF, "Bench harassment case", "Bench Officer", "BO",
                                 ZONE)
        persons.add_person(session, case, VICTIM[0], "victim", VICTIM[1], "bench")
        persons.add_person(session, case, SUSPECT[0], "suspect", SUSPECT[1], "bench")
        persons.add_person(session, case, WITNESS[0], "witness", WITNESS[1], "bench")
        exhibits = {
            "sms": _exhibit(session, case, "BO/1", "sms-20240402.xml", "sms_backup_xml"),
            "call": _exhibit(session, case, "BO/2", "calls-20240402.xml", "call_log_backup_xml"),
            "whatsapp": _exhibit(session, case, "BO/3", "WhatsApp Chat with Sam.txt",
                                 "whatsapp_txt"),
            "instagram": _exhibit(session, case, "BO/4", "instagram-alex_m.zip",
                                  "instagram_json"),
            "email": _exhibit(session, case, "BO/5", "All mail.mbox", "mbox"),
        }
        case_id = case.id
    times = _times(rng, events)
    who = rng.choice(3, size=events, p=(0.62, 0.34, 0.04))  # suspect, victim, witness
    channel_names = [c for c, _ in CHANNELS]
    channel = rng.choice(len(CHANNELS), size=events, p=[p for _, p in CHANNELS])
    # The victim and the witness write on SMS and WhatsApp only.
    channel[who != 0] = rng.choice(2, size=int((who != 0).sum()))
    outcome = rng.choice(len(OUTCOMES), size=events, p=[p for _, p in OUTCOMES])
    withheld = rng.random(events) < WITHHELD_SHARE
    threat = rng.random(events) < THREAT_SHARE
    phone = rng.choice(2, size=events, p=(0.8, 0.2))
    # Texts from a pool of random sentences: varied enough for search, cheap to build.
    pool = [" ".join(FILLER[w] for w in rng.integers(0, len(FILLER), size=int(n)))
            for n in rng.integers(3, 14, size=_POOL)]
    text_of = rng.integers(0, _POOL, size=events)
    suspect_contacts = 0
    with store.session() as session:
        writers = {name: EventWriter(session, case_id, exhibit.id, ZONE, f"bench/{name}")
                   for name, exhibit in exhibits.items()}
        lines = dict.fromkeys(exhibits, 0)
        for i in range(events):
            text = pool[text_of[i]]
            sender_kind = int(who[i])
            name = channel_names[channel[i]]
            if threat[i] and sender_kind == 0:
                text = f"{text} {THREATS[i % len(THREATS)]}"
            lines[name] += 1
            record = _record(name, sender_kind, int(times[i]), text, int(phone[i]),
                             OUTCOMES[outcome[i]][0], bool(withheld[i]), lines[name])
            if sender_kind == 0 and record.sender != "withheld":
                suspect_contacts += 1
            writers[name].add(record)
        for writer in writers.values():
            writer.close()
        for name, exhibit in exhibits.items():
            session.merge(exhibit).event_count = writers[name].count
    return Generated(events, suspect_contacts, time.perf_counter() - began)


def _record(channel: str, sender_kind: int, epoch: int, text: str, phone: int,
            outcome: tuple[str, ...], withheld: bool, line: int) -> EventRecord:
    moment = datetime.fromtimestamp(epoch, UTC)
    if channel == "whatsapp":
        # WhatsApp exports write local wall-clock time to the minute.
        local = moment.astimezone(_LONDON).replace(tzinfo=None, second=0)
        clock = WallClock(text=local.strftime("%d/%m/%Y, %H:%M"), local=local,
                          precision="minute")
    else:
        clock = WallClock(text=str(epoch * 1000), instant=moment)
    locator = Locator(line=line)
    if sender_kind == 1:
        return EventRecord(kind="message", time=clock, time_basis="sent", channel=channel,
                           locator=locator, sender=VICTIM[0], sender_id=VICTIM[1][0],
                           recipients=(SUSPECT[1][0],), direction="outgoing", text=text)
    if sender_kind == 2:
        return EventRecord(kind="message", time=clock, time_basis="sent", channel=channel,
                           locator=locator, sender=WITNESS[0], sender_id=WITNESS[1][0],
                           direction="incoming", text=text)
    if channel == "call":
        flags = (*outcome, "withheld") if withheld else outcome
        return EventRecord(kind="call", time=clock, time_basis="call_started", channel="call",
                           locator=locator, sender="withheld" if withheld else SUSPECT[0],
                           sender_id=None if withheld else SUSPECT[1][phone],
                           direction="incoming", flags=flags)
    if channel == "whatsapp":
        return EventRecord(kind="message", time=clock, time_basis="sent", channel=channel,
                           locator=locator, sender="Sam Taylor", direction="unknown",
                           text=text)
    if channel == "email":
        return EventRecord(kind="email", time=clock, time_basis="sent", channel=channel,
                           locator=locator, sender="Sam Taylor", sender_id=SUSPECT[1][2],
                           recipients=(VICTIM[1][1],), direction="incoming", text=text,
                           subject=" ".join(text.split()[:4]))
    sender_id = SUSPECT[1][3] if channel == "instagram" else SUSPECT[1][phone]
    return EventRecord(kind="message", time=clock, time_basis="sent", channel=channel,
                       locator=locator, sender=SUSPECT[0], sender_id=sender_id,
                       direction="incoming", text=text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("store", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    store = init_store(args.store, args.database_url, actor="bench")
    try:
        result = generate(store, args.events)
    finally:
        store.close()
    print(f"{result.events:,} events ({result.suspect_contacts:,} from the suspect) "
          f"in {result.seconds:.1f} s")


if __name__ == "__main__":
    main()
