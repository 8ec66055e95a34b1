"""Pattern of behaviour on a generated multi-source case with known answers
(tests/pattern_case.py): linked identities, notices and contact after them,
behaviour flags citing their evidence, and copies of one message counted once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from evidence_store import cases, custody
from evidence_store.behaviour import evaluate_flags, flags_of_case
from evidence_store.linking import CONFIDENCE
from evidence_store.models import Case, Event, Person
from evidence_store.notices import after_notice_event_ids
from evidence_store.occurrences import (
    merge_duplicates,
    occurrences_of_case,
    representative_event_filter,
)
from evidence_store.rulebook import load_rules
from evidence_store.store import open_store
from tests import pattern_case as pc
from tests.cli_support import conduct, ingest_json, open_case, timeline_json


@contextmanager
def session_of(store_dir: Path) -> Iterator[tuple[Any, Case]]:
    store = open_store(store_dir)
    try:
        with store.session() as session:
            yield session, cases.get_case(session, pc.REF)
    finally:
        store.close()


def cli_json(*args: str) -> Any:
    result = conduct(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def actions(store_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    with session_of(store_dir) as (session, case):
        return [(e.actor, e.action, json.loads(e.details))
                for e in custody.entries_of(session, custody.case_chain(case.ref))]


def person_id(store_dir: Path, name: str) -> int:
    with session_of(store_dir) as (session, case):
        return session.execute(select(Person.id).where(Person.case_id == case.id,
                                                       Person.name == name)).scalar_one()


def link_id(identifier: str) -> int:
    found = [link["id"] for link in cli_json("link", "list", pc.REF)
             if link["identifier"] == identifier]
    assert len(found) == 1, found
    return int(found[0])


def suggestion_for(built: pc.Built, item: pc.Item, kind: str) -> int:
    found = [n["id"] for n in cli_json("notice", "list", pc.REF)
             if n["source_event_id"] == built.ids(item)[0] and n["kind"] == kind]
    assert len(found) == 1, found
    return int(found[0])


def item(text: str, source: str | None = None) -> pc.Item:
    found = [i for i in pc.ITEMS if i.text == text and (source is None or i.source == source)]
    assert len(found) == 1, found
    return found[0]


def events_of(built: pc.Built, *items: pc.Item) -> set[int]:
    return {e for i in items for e in built.ids(i)}


# --- linked identities ------------------------------------------------------------------


def test_links_are_suggested_with_their_reasons(store_dir, tmp_path):
    built = pc.build(tmp_path)
    suggested = cli_json("link", "suggest", pc.REF)
    found = {(s["identifier"], s["person"]): set(s["reason_codes"]) for s in suggested}
    assert found == {
        # The victim's phone shows the second number under the name "Sam" too.
        (pc.SAM_SECOND, pc.SUSPECT): {"display_name_reused", "seen_in_sources"},
        # "New number, you can't block this one", in both backups.
        (pc.SAM_NEW, pc.SUSPECT): {"new_number_message", "seen_in_sources"},
        # The diary names Sam next to a number that called in the SMS backup.
        (pc.SAM_CALLER, pc.SUSPECT): {"same_identifier_in_sources"},
        # "email me at ..." from Sam on WhatsApp.
        (pc.SAM_EMAIL, pc.SUSPECT): {"identifier_given_by_person"},
    }
    by_value = {s["identifier"]: s for s in suggested}
    new = by_value[pc.SAM_NEW]
    assert new["confidence"] == pytest.approx(
        1 - (1 - CONFIDENCE["new_number_message"]) * (1 - CONFIDENCE["seen_in_sources"]), abs=0.01)
    assert events_of(built, *(i for i in pc.SMS if i.party == pc.SAM_NEW)) <= set(new["event_ids"])
    assert "New number" in new["reason"]
    email = by_value[pc.SAM_EMAIL]
    assert email["event_ids"] == [built.one(f"email me at {pc.SAM_EMAIL}")]
    caller = by_value[pc.SAM_CALLER]
    assert set(caller["event_ids"]) == {built.one("Sam rang me from 07700 900999 at 3am"),
                                       built.one("Answer the phone")}


def test_suggesting_again_adds_nothing(store_dir, tmp_path):
    pc.build(tmp_path)
    first = cli_json("link", "suggest", pc.REF)
    logged = [a for _, a, _ in actions(store_dir)].count("links_suggested")
    second = cli_json("link", "suggest", pc.REF)
    assert [s["id"] for s in second] == [s["id"] for s in first]
    assert [a for _, a, _ in actions(store_dir)].count("links_suggested") == logged == 1


def test_confirmed_and_rejected_links_are_kept_logged_and_never_suggested_again(
        store_dir, tmp_path):
    built = pc.build(tmp_path)
    conduct("link", "suggest", pc.REF)
    confirmed = conduct("link", "confirm", pc.REF, str(link_id(pc.SAM_NEW)), "--note",
                        "same person per the phone company")
    assert confirmed.exit_code == 0, confirmed.output
    rejected = conduct("link", "reject", pc.REF, str(link_id(pc.SAM_SECOND)), "--note",
                       "his brother's phone")
    assert rejected.exit_code == 0, rejected.output

    links = {link["identifier"]: link for link in cli_json("link", "list", pc.REF)}
    assert (links[pc.SAM_NEW]["status"], links[pc.SAM_NEW]["decided_by"],
            links[pc.SAM_NEW]["note"]) == ("confirmed", "test-officer",
                                           "same person per the phone company")
    assert (links[pc.SAM_SECOND]["status"], links[pc.SAM_SECOND]["note"]) == (
        "rejected", "his brother's phone")
    logged = {(actor, action, details.get("identifier")) for actor, action, details
              in actions(store_dir)}
    assert ("test-officer", "link_confirmed", pc.SAM_NEW) in logged
    assert ("test-officer", "link_rejected", pc.SAM_SECOND) in logged

    again = {s["identifier"] for s in cli_json("link", "suggest", pc.REF)}
    assert again == {pc.SAM_CALLER, pc.SAM_EMAIL}
    # Confirmed: the identifier is the suspect's, and the timeline names its sender.
    assert pc.SAM_NEW in conduct("person", "list", pc.REF).stdout
    names = {e["id"]: e["sender_person"] for e in timeline_json(pc.REF)}
    assert {names[e] for e in events_of(built, *(i for i in pc.SMS if i.party == pc.SAM_NEW))
            } == {pc.SUSPECT}
    # A decision is final: deciding twice is one clear line.
    again_decided = conduct("link", "reject", pc.REF, str(link_id(pc.SAM_NEW)))
    assert again_decided.exit_code == 2
    assert again_decided.output.strip() == (
        f"conduct: link {link_id(pc.SAM_NEW)} was already confirmed by test-officer")


def test_a_handle_reused_on_another_platform_is_suggested(store_dir, tmp_path):
    open_case(pc.REF)
    conduct("person", "add", pc.REF, pc.SUSPECT, "--role", "suspect", "--id", "instagram:sam_t")
    export = tmp_path / "chat_history.json"
    export.write_text(json.dumps({"sam_t": [{
        "From": "sam_t", "Media Type": "TEXT", "Created": "2024-03-12 22:15:03 UTC",
        "Content": "hello again", "Conversation Title": None, "IsSender": False,
        "Created(microseconds)": 1710281703123, "IsSaved": True, "Media IDs": ""}]}),
        encoding="utf-8")
    code, report = ingest_json(pc.REF, export)
    assert code == 0, report
    suggested = cli_json("link", "suggest", pc.REF)
    assert [(s["identifier"], s["person"], s["reason_codes"]) for s in suggested] == [
        ("snapchat:sam_t", pc.SUSPECT, ["handle_reused"])]


# --- notices and contact after them -----------------------------------------------------


def test_the_victims_stop_messages_and_blocks_are_offered_as_notices(store_dir, tmp_path):
    built = pc.build(tmp_path)
    offered = cli_json("notice", "suggest", pc.REF)
    found = {(n["source_event_id"], n["kind"], n["person"]) for n in offered}
    stop_sms = item("Stop contacting me. I will go to the police.")
    stop_chat = item("Please stop messaging me")
    blocked_diary = item("I blocked his number today")
    blocked_chat = item("You blocked this contact. Tap to unblock.")
    assert found == {
        # Sent to Sam's number: a notice to him.
        (built.ids(stop_sms)[0], "victim_message", pc.SUSPECT),
        # A one-to-one chat export names no recipient: applies to every suspect.
        (built.ids(stop_chat)[0], "victim_message", None),
        (built.ids(blocked_diary)[0], "blocked", None),
        # WhatsApp's own notice, in the chat in which only Sam writes.
        (built.ids(blocked_chat)[0], "blocked", pc.SUSPECT),
    }
    # "He won't leave me alone", told to a friend, is not a notice to anyone.
    assert built.ids(item("He won't leave me alone"))[0] not in {n[0] for n in found}
    # Offered only: nothing counts until the officer accepts.
    with session_of(store_dir) as (session, case):
        assert after_notice_event_ids(session, case) == {}
    assert cli_json("notice", "suggest", pc.REF) == offered


def test_contact_after_notice_is_exactly_the_suspects_later_events(store_dir, tmp_path):
    built = pc.build(tmp_path)
    conduct("link", "suggest", pc.REF)
    assert conduct("link", "confirm", pc.REF, str(link_id(pc.SAM_NEW))).exit_code == 0
    conduct("notice", "suggest", pc.REF)
    stop_sms = item("Stop contacting me. I will go to the police.")
    accepted = conduct("notice", "accept", pc.REF,
                       str(suggestion_for(built, stop_sms, "victim_message")))
    assert accepted.exit_code == 0, accepted.output
    rejected = conduct("notice", "reject", pc.REF,
                       str(suggestion_for(built, item("Please stop messaging me"),
                                          "victim_message")))
    assert rejected.exit_code == 0
    warned_at = datetime(2024, 3, 9, 12, 0, tzinfo=UTC)
    warning = conduct("notice", "add", pc.REF, "--kind", "warning", "--at", "2024-03-09T12:00Z",
                      "--by", "PC Jane Smith", "--text", "Harassment warning",
                      "--person", str(person_id(store_dir, pc.SUSPECT)))
    assert warning.exit_code == 0, warning.output
    notices = {n["kind"]: n for n in cli_json("notice", "list", pc.REF)
               if n["status"] in ("accepted", "recorded")}
    assert set(notices) == {"victim_message", "warning"}

    # Sam's identifiers as the case now knows them: his phone, the confirmed new
    # number and his WhatsApp name; not the rejected or undecided ones.
    known = {pc.SAM_PHONE, pc.SAM_NEW, pc.SUSPECT}
    expected = {}
    for entry in pc.ITEMS:
        if entry.outgoing or entry.system or entry.party not in known:
            continue
        if entry.at > stop_sms.at:
            notice = notices["warning" if entry.at > warned_at else "victim_message"]
            expected.update(dict.fromkeys(built.ids(entry), notice["id"]))
    with session_of(store_dir) as (session, case):
        assert after_notice_event_ids(session, case) == expected
    assert len(expected) == 10
    logged = [(actor, action) for actor, action, _ in actions(store_dir)]
    assert ("test-officer", "notice_accepted") in logged
    assert ("test-officer", "notice_rejected") in logged
    assert ("test-officer", "notice_recorded") in logged


def test_a_notice_without_a_zone_is_refused_in_one_line(store_dir, tmp_path):
    open_case(pc.REF)
    result = conduct("notice", "add", pc.REF, "--kind", "spo", "--at", "2024-03-09T12:00",
                     "--by", "Court")
    assert result.exit_code == 2
    assert result.output.strip() == ("conduct: --at needs a zone or offset (2024-03-12T10:00Z "
                                     "or +01:00), not '2024-03-09T12:00'")


def test_a_new_identifier_after_a_block_is_flagged(store_dir, tmp_path):
    built = pc.build(tmp_path)
    conduct("link", "suggest", pc.REF)
    conduct("notice", "suggest", pc.REF)
    blocked = item("I blocked his number today")
    assert conduct("notice", "accept", pc.REF,
                   str(suggestion_for(built, blocked, "blocked"))).exit_code == 0

    def after_block_flags() -> list[dict[str, Any]]:
        return [f for f in cli_json("flags", pc.REF)
                if f["rule_id"] == "evasion.new_identifier_after_block"]

    # The new number is nobody's yet: nothing to flag.
    assert after_block_flags() == []
    assert conduct("link", "confirm", pc.REF, str(link_id(pc.SAM_NEW))).exit_code == 0
    flags = after_block_flags()
    new_number_items = [i for i in pc.SMS if i.party == pc.SAM_NEW]
    assert [(f["group_key"], set(f["event_ids"])) for f in flags] == [
        (f"identifier:{pc.SAM_NEW}", events_of(built, *new_number_items))]
    # Sam's first message from that number came after the block; his WhatsApp name was
    # in use before it, so it is not new.
    assert min(i.at for i in new_number_items) > blocked.at
    assert min(i.at for i in pc.WHATSAPP if i.party == pc.SUSPECT) < blocked.at


# --- behaviour flags --------------------------------------------------------------------


def text_flags(flags: list[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(f["rule_id"], e) for f in flags if not f["group_key"].startswith("identifier:")
            for e in f["event_ids"]}


def test_each_rule_fires_on_exactly_the_material_declared_for_it(store_dir, tmp_path):
    built = pc.build(tmp_path)
    expected = {(rule, e) for i in pc.ITEMS for rule in i.rules for e in built.ids(i)}
    assert text_flags(cli_json("flags", pc.REF)) == expected


def test_every_flag_cites_its_events_its_words_and_the_rule_that_fired(store_dir, tmp_path):
    pc.build(tmp_path)
    flags = cli_json("flags", pc.REF)
    rules = {rule.id: rule for rule in load_rules().rules}
    texts = {e["id"]: e for e in timeline_json(pc.REF)}
    assert flags
    for flag in flags:
        rule = rules[flag["rule_id"]]
        assert (flag["category"], flag["rule_version"], flag["rule_hash"]) == (
            rule.category, rule.version, rule.hash)
        assert (tuple(flag["s2a3"]), tuple(flag["four"])) == (rule.s2a3, rule.four)
        assert flag["event_ids"] and set(flag["event_ids"]) <= set(texts)
        assert {c["event_id"] for c in flag["citations"]} == set(flag["event_ids"])
        for citation in flag["citations"]:
            if rule.detector is not None:
                continue
            words = texts[citation["event_id"]][citation["field"]]
            assert words[citation["start"]:citation["end"]] == citation["match"]
        first = flag["citations"][0]["match"]
        assert rule.title in flag["explanation"]
        if first:
            assert first in flag["explanation"]


def test_a_dismissed_flag_is_kept_logged_and_stays_dismissed(store_dir, tmp_path):
    pc.build(tmp_path)
    flags = cli_json("flags", pc.REF)
    target = next(f for f in flags if f["rule_id"] == "third_party.mentions_suspect")
    no_reason = conduct("flags", "dismiss", pc.REF, str(target["id"]), "--reason", " ")
    assert no_reason.exit_code == 2
    assert no_reason.output.strip() == "conduct: a dismissed flag needs a reason (--reason)"
    dismissed = conduct("flags", "dismiss", pc.REF, str(target["id"]), "--reason",
                        "Jo is passing on an apology, not contact")
    assert dismissed.exit_code == 0, dismissed.output

    again = {f["id"]: f for f in cli_json("flags", pc.REF)}
    assert (again[target["id"]]["status"], again[target["id"]]["dismissed_by"],
            again[target["id"]]["dismissed_reason"]) == (
        "dismissed", "test-officer", "Jo is passing on an apology, not contact")
    assert set(again) == {f["id"] for f in flags}
    active_only = cli_json("flags", pc.REF, "--no-dismissed")
    assert target["id"] not in {f["id"] for f in active_only}
    logged = [(actor, action, details.get("flag")) for actor, action, details
              in actions(store_dir)]
    assert ("test-officer", "flag_dismissed", target["id"]) in logged


def test_evaluating_twice_stores_the_same_flags(store_dir, tmp_path):
    pc.build(tmp_path)
    with session_of(store_dir) as (session, case):
        first = evaluate_flags(session, case)
    with session_of(store_dir) as (session, case):
        second = evaluate_flags(session, case)
    assert [(f.id, f.event_ids, f.citations) for f in first] == [
        (f.id, f.event_ids, f.citations) for f in second]
    assert [a for _, a, _ in actions(store_dir)].count("flags_evaluated") == 1


def test_a_re_run_reads_only_what_is_new_unless_who_is_who_changed(store_dir, tmp_path):
    built = pc.build(tmp_path)
    first = cli_json("flags", pc.REF)
    later = pc.Item("whatsapp", datetime(2024, 3, 12, 9, 0, tzinfo=UTC), "I know where you live",
                    pc.SUSPECT, author=pc.SUSPECT,
                    rules=frozenset({"threat.implied", "surveillance.whereabouts"}))
    chat = tmp_path / "WhatsApp Chat with Sam Taylor (2).txt"
    chat.write_text(pc._whatsapp([later]), encoding="utf-8")
    code, report = ingest_json(pc.REF, chat)
    assert code == 0, report
    new_event = max(e["id"] for e in timeline_json(pc.REF) if e["text"] == later.text)

    flags = cli_json("flags", pc.REF)
    evaluated = [d for _, a, d in actions(store_dir) if a == "flags_evaluated"]
    assert [d["exhibits_read"] for d in evaluated] == ["all", 1]
    expected = {(rule, e) for i in pc.ITEMS for rule in i.rules for e in built.ids(i)}
    assert text_flags(flags) == expected | {(rule, new_event) for rule in later.rules}
    kept = {f["id"]: f for f in flags}
    assert all(kept[f["id"]]["citations"] == f["citations"] for f in first)

    # A confirmed link changes who sent what: every exhibit is read again.
    conduct("link", "suggest", pc.REF)
    assert conduct("link", "confirm", pc.REF, str(link_id(pc.SAM_NEW))).exit_code == 0
    again = cli_json("flags", pc.REF)
    evaluated = [d for _, a, d in actions(store_dir) if a == "flags_evaluated"]
    assert evaluated[-1]["exhibits_read"] == "all"
    assert text_flags(again) == text_flags(flags)


def test_a_forces_own_rule_file_replaces_the_shipped_one(store_dir, tmp_path):
    built = pc.build(tmp_path)
    shipped = cli_json("flags", pc.REF)
    own = tmp_path / "force.toml"
    own.write_text(
        'version = "force-7"\n'
        "[[rule]]\n"
        'id = "force.gym"\nversion = "2"\ncategory = "surveillance"\n'
        'kinds = ["message"]\nsenders = ["suspect"]\n'
        'phrases = ["at the gym"]\n'
        's2a3 = ["watching_or_spying"]\nfour = ["fixated"]\n'
        'explanation = "Knows the victim was {match}."\n', encoding="utf-8")
    flags = cli_json("flags", pc.REF, "--rules", str(own))
    assert [(f["rule_id"], f["rule_version"], f["event_ids"], f["explanation"]) for f in flags
            ] == [("force.gym", "2", [built.one("I saw you at the gym with him")],
                   "Knows the victim was at the gym.")]
    with session_of(store_dir) as (session, case):
        withdrawn = [f for f in flags_of_case(session, case, include_withdrawn=True)
                     if f.status == "withdrawn"]
    assert {f.id for f in withdrawn} == {f["id"] for f in shipped}
    evaluated = [d for _, a, d in actions(store_dir) if a == "flags_evaluated"]
    assert evaluated[-1]["rules"] == str(own)
    assert evaluated[-1]["rules_version"] == "force-7"


def test_a_rule_grouped_by_day_gives_one_flag_per_local_day(store_dir, tmp_path):
    built = pc.build(tmp_path)
    own = tmp_path / "by-day.toml"
    own.write_text(
        'version = "1"\n[[rule]]\nid = "daily.you"\nversion = "1"\ncategory = "threat"\n'
        'kinds = ["message"]\nsenders = ["suspect"]\nphrases = ["you"]\ngroup = "day"\n'
        's2a3 = ["contacting"]\nfour = ["repeated"]\n'
        'explanation = "{count} messages on {day}"\n', encoding="utf-8")
    flags = cli_json("flags", pc.REF, "--rules", str(own))
    # Sam's messages (his phone, his WhatsApp name) with the word "you" ("you'll" holds
    # it too: an apostrophe separates words), by London day.
    expected: dict[str, set[int]] = {}
    for entry in pc.ITEMS:
        if (entry.party in {pc.SAM_PHONE, pc.SUSPECT} and not entry.outgoing
                and not entry.system and "you" in re.findall(r"\w+", entry.text.lower())):
            expected.setdefault(f"day:{entry.at.date().isoformat()}", set()).update(
                built.ids(entry))
    assert {f["group_key"]: set(f["event_ids"]) for f in flags} == expected
    assert all(f["explanation"] == f"{len(f['event_ids'])} messages on {f['group_key'][4:]}"
               for f in flags)


BAD_RULES = {
    "not TOML": ("version = \n", "not valid TOML"),
    "unknown category": (
        'version = "1"\n[[rule]]\nid = "x"\nversion = "1"\ncategory = "rudeness"\n'
        'phrases = ["a b"]\ns2a3 = ["contacting"]\nfour = ["unwanted"]\nexplanation = "x"\n',
        "rule #1 'x': category 'rudeness' is not one of threat, surveillance"),
    "bad regex": (
        'version = "1"\n[[rule]]\nid = "x"\nversion = "1"\ncategory = "threat"\n'
        "patterns = ['(unclosed']\ns2a3 = [\"contacting\"]\nfour = [\"unwanted\"]\n"
        'explanation = "x"\n',
        "rule #1 'x': pattern '(unclosed' is not a valid regex"),
    "unknown s.2A(3) behaviour": (
        'version = "1"\n[[rule]]\nid = "x"\nversion = "1"\ncategory = "threat"\n'
        'phrases = ["a b"]\ns2a3 = ["shouting"]\nfour = ["unwanted"]\nexplanation = "x"\n',
        "rule #1 'x': s2a3 has unknown value 'shouting'"),
    "missing FOUR": (
        'version = "1"\n[[rule]]\nid = "x"\nversion = "1"\ncategory = "threat"\n'
        'phrases = ["a b"]\ns2a3 = ["contacting"]\nexplanation = "x"\n',
        "rule #1 'x': 'four' is missing"),
    "misspelt key": (
        'version = "1"\n[[rule]]\nid = "x"\nversion = "1"\ncategory = "threat"\n'
        'phrase = ["a b"]\ns2a3 = ["contacting"]\nfour = ["unwanted"]\nexplanation = "x"\n',
        "rule #1 'x': unknown key 'phrase'"),
    "unknown explanation field": (
        'version = "1"\n[[rule]]\nid = "x"\nversion = "1"\ncategory = "threat"\n'
        'phrases = ["a b"]\ns2a3 = ["contacting"]\nfour = ["unwanted"]\n'
        'explanation = "{victim}"\n',
        "rule #1 'x': explanation uses unknown field {victim}"),
    "duplicate id": (
        'version = "1"\n' + ('[[rule]]\nid = "x"\nversion = "1"\ncategory = "threat"\n'
                             'phrases = ["a b"]\ns2a3 = ["contacting"]\nfour = ["unwanted"]\n'
                             'explanation = "x"\n') * 2,
        "rule #2: id 'x' is used twice"),
}


@pytest.mark.parametrize("problem", sorted(BAD_RULES))
def test_a_bad_rule_file_is_one_clear_line(store_dir, tmp_path, problem):
    open_case(pc.REF)
    text, message = BAD_RULES[problem]
    rules = tmp_path / "rules.toml"
    rules.write_text(text, encoding="utf-8")
    result = conduct("flags", pc.REF, "--rules", str(rules))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"conduct: rules {rules}: ")
    assert message in lines[0]


def test_the_shipped_rule_file_is_valid_and_maps_every_rule():
    book = load_rules()
    assert {r.category for r in book.rules} == {
        "threat", "surveillance", "turning_up", "third_party_contact", "sexual_content",
        "self_harm_threat", "publishing", "evasion"}
    assert all(r.s2a3 and r.four for r in book.rules)


# --- copies of one message --------------------------------------------------------------


def copies(built: pc.Built) -> set[frozenset[int]]:
    """Messages the two backups share: the same declared text at the same time."""
    in_a = {(i.text, i.at): i for i in pc.SMS if i.source == "sms_a"}
    return {frozenset(built.ids(in_a[(i.text, i.at)]) + built.ids(i))
            for i in pc.SMS if i.source == "sms_b" and (i.text, i.at) in in_a}


def test_an_sms_in_two_backups_is_one_occurrence_with_both_sources(store_dir, tmp_path):
    built = pc.build(tmp_path)
    with session_of(store_dir) as (session, case):
        assert merge_duplicates(session, case) == len(copies(built)) == 4
        found = occurrences_of_case(session, case)
        total = session.execute(select(func.count()).select_from(Event)
                                .where(Event.case_id == case.id)).scalar_one()
        counted = session.execute(select(func.count()).select_from(Event).where(
            Event.case_id == case.id, representative_event_filter(case.id))).scalar_one()
    assert {frozenset(e for e, _ in o.members) for o in found} == copies(built)
    for occurrence in found:
        assert {ref for _, ref in occurrence.members} == {built.exhibits["sms_a"],
                                                          built.exhibits["sms_b"]}
        # The copy received first stands for the group.
        assert occurrence.members[0] == (occurrence.canonical_event_id,
                                          built.exhibits["sms_a"])
        assert occurrence.basis == "same_content"
    assert counted == total - 4


def test_merging_again_changes_nothing(store_dir, tmp_path):
    pc.build(tmp_path)
    with session_of(store_dir) as (session, case):
        merge_duplicates(session, case)
        before = occurrences_of_case(session, case)
    with session_of(store_dir) as (session, case):
        merge_duplicates(session, case)
        assert occurrences_of_case(session, case) == before
    assert [a for _, a, _ in actions(store_dir)].count("duplicates_merged") == 1


def test_a_screenshot_an_export_corroborates_joins_that_messages_occurrence(store_dir, tmp_path):
    from PIL import Image

    from evidence_store.facts import FactWriter
    from evidence_store.models import Exhibit
    from parsers.records import DerivedFact

    built = pc.build(tmp_path)
    shot = tmp_path / "Screenshot_20240302-101500.png"
    Image.new("RGB", (40, 80), "white").save(shot)
    code, report = ingest_json(pc.REF, shot)
    assert code == 0, report
    shown_once = built.one("I saw you at the gym with him")
    shown_twice = built.ids(item("Sam asked me to tell you he is sorry", "sms_a"))[0]
    with session_of(store_dir) as (session, case):
        exhibit = session.execute(select(Exhibit).where(
            Exhibit.case_id == case.id, Exhibit.ref == report["exhibits"][0]["ref"])).scalar_one()
        image_event = session.execute(select(Event.id).where(
            Event.exhibit_id == exhibit.id)).scalar_one()
        writer = FactWriter(session, case.id, exhibit.id, "conduct-corroboration/1")
        for event_id in (shown_once, shown_twice):
            writer.add(DerivedFact("corroborated_by", {"event_id": event_id, "score": 99.0},
                                   about="file"), None)
        writer.flush()
    with session_of(store_dir) as (session, case):
        merge_duplicates(session, case)
        found = {o.canonical_event_id: o for o in occurrences_of_case(session, case)}
    assert {e for e, _ in found[shown_once].members} == {shown_once, image_event}
    assert found[shown_once].basis == "corroborated_by"
    copy = built.ids(item("Sam asked me to tell you he is sorry", "sms_b"))[0]
    assert {e for e, _ in found[shown_twice].members} == {shown_twice, copy, image_event}
    assert found[shown_twice].basis == "corroborated_by,same_content"
