"""Attribution facts from e-mail headers: Received hops, IPs, sender checks, authentication."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import eml
from parsers.email_attribution import (
    MAX_HOPS,
    Attribution,
    attribution,
    attribution_of_fields,
    attribution_of_header_text,
    ip_scope,
    parse_authentication_results,
    parse_received,
)
from parsers.records import DerivedFact, EventRecord, Locator
from tests.parsers.support import events, parse_all

HERE = Locator(line=1, message_id="m@example.org")

GMAIL_CHAIN = (
    "Received: by 2002:a05:6520:1234:b0:2a1:2345:6789 with SMTP id x12csp123lkn;\r\n"
    "        Tue, 12 Mar 2024 10:00:05 -0700 (PDT)\r\n"
    "Received: from mail.sender.example (mail.sender.example. [203.0.113.9])\r\n"
    "        by mx.google.com with ESMTPS id a1si123.2024.03.12\r\n"
    "        for <victim@example.org>\r\n"
    "        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\r\n"
    "        Tue, 12 Mar 2024 10:00:04 -0700 (PDT)\r\n"
    "Received: from [192.168.1.10] (host86.range86.example.net [198.51.100.23])\r\n"
    "        by mail.sender.example (Postfix) with ESMTPSA id ABC123\r\n"
    "        for <victim@example.org>; Tue, 12 Mar 2024 17:00:01 +0000 (UTC)\r\n"
)


def facts_of(text: str) -> Attribution:
    return attribution_of_header_text(text, HERE)


def kinds(found: Attribution, kind: str) -> list[dict]:
    return [f.value for f in found.facts if f.kind == kind]


def one(found: Attribution, kind: str) -> dict:
    [value] = kinds(found, kind)
    return value


# -- Received hops -------------------------------------------------------------------


def test_hops_are_numbered_from_the_recipients_side_with_their_parts() -> None:
    hops = kinds(facts_of(GMAIL_CHAIN), "received_hop")
    assert [h["index"] for h in hops] == [1, 2, 3]
    assert [h["by"] for h in hops] == [
        "2002:a05:6520:1234:b0:2a1:2345:6789", "mx.google.com", "mail.sender.example"]
    top, middle, bottom = hops
    assert (top["from"], top["with"], top["id"]) == (None, "SMTP", "x12csp123lkn")
    assert {k: middle[k] for k in ("from", "reverse_dns", "from_ip", "from_ip_scope", "with",
                                   "id", "for")} == {
        "from": "mail.sender.example", "reverse_dns": "mail.sender.example.",
        "from_ip": "203.0.113.9", "from_ip_scope": "public", "with": "ESMTPS",
        "id": "a1si123.2024.03.12", "for": "victim@example.org",
    }
    # The address the server saw, not the private one the sender announced.
    assert (bottom["from"], bottom["from_ip"]) == ("[192.168.1.10]", "198.51.100.23")


def test_hop_times_are_utc_with_the_text_kept_and_gaps_to_the_hop_below() -> None:
    hops = kinds(facts_of(GMAIL_CHAIN), "received_hop")
    assert [(h["time"], h["time_text"]) for h in hops] == [
        ("2024-03-12T17:00:05Z", "Tue, 12 Mar 2024 10:00:05 -0700 (PDT)"),
        ("2024-03-12T17:00:04Z", "Tue, 12 Mar 2024 10:00:04 -0700 (PDT)"),
        ("2024-03-12T17:00:01Z", "Tue, 12 Mar 2024 17:00:01 +0000 (UTC)"),
    ]
    assert [h.get("seconds_after_hop_below") for h in hops] == [1, 3, None]
    assert all(h["defects"] == [] for h in hops)


def test_a_hop_stamped_before_the_one_below_it_shows_a_negative_gap() -> None:
    hops = kinds(facts_of(
        "Received: from b by c; Tue, 12 Mar 2024 10:00:00 +0000\r\n"
        "Received: from a by b; Tue, 12 Mar 2024 11:00:00 +0000\r\n\r\n"), "received_hop")
    assert hops[0]["seconds_after_hop_below"] == -3600


@pytest.mark.parametrize(("header", "expected"), [
    ("from mail.example.org (mail.example.org [IPv6:2001:db8::25]) by mx.example.net; "
     "Tue, 12 Mar 2024 10:00:00 +0000", ("mail.example.org", None, "2001:db8::25")),
    ("from AM6PR04MB.eurprd04.prod.outlook.example (2603:10a6:20b:123::45) by "
     "AM0PR04MB.eurprd04.prod.outlook.example (2603:10a6:208:ab::12) with Microsoft SMTP Server "
     "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7409.21; "
     "Tue, 12 Mar 2024 10:00:00 +0000", ("AM6PR04MB.eurprd04.prod.outlook.example", None,
                                         "2603:10a6:20b:123::45")),
    ("from unknown (HELO laptop.example) (198.51.100.3) by mx.example.net with SMTP; "
     "12 Mar 2024 10:00:00 -0000", ("unknown", "laptop.example", "198.51.100.3")),
    ("from host.example ([203.0.113.4] helo=pc.local) by mx.example.net with esmtp "
     "(Exim 4.96) (envelope-from <a@example.org>) id 1rk-000; Tue, 12 Mar 2024 10:00:00 +0000",
     ("host.example", "pc.local", "203.0.113.4")),
    ("from [203.0.113.8] by mx.example.net; Tue, 12 Mar 2024 10:00:00 +0000",
     ("[203.0.113.8]", None, "203.0.113.8")),
])
def test_the_sending_address_is_found_in_each_servers_style(header: str, expected) -> None:
    hop = parse_received(header)
    assert (hop["from"], hop["helo"], hop["from_ip"]) == expected
    assert hop["defects"] == []


def test_the_microsoft_by_clause_address_and_long_with_clause_are_kept() -> None:
    hop = parse_received(
        "from a.example (2603:10a6:20b:123::45) by b.example (2603:10a6:208:ab::12) with "
        "Microsoft SMTP Server (version=TLS1_2) id 15.20.7409.21; Tue, 12 Mar 2024 10:00:00 +0000")
    assert (hop["by_ip"], hop["with"], hop["id"]) == (
        "2603:10a6:208:ab::12", "Microsoft SMTP Server", "15.20.7409.21")


@pytest.mark.parametrize(("header", "defects", "time"), [
    ("from a by b; Tue, 12 Mar 2024 10:00:00", ["time_zone_unknown"], None),
    ("from a by b; the day after tomorrow", ["unparseable_time"], None),
    ("from a by b", ["no_time"], None),
    ("from a (b [203.0.113.1] by c; Tue, 12 Mar 2024 10:00:00 +0000",
     ["unbalanced_parentheses"], "2024-03-12T10:00:00Z"),
    ("(qmail 12345 invoked by uid 89); 12 Mar 2024 10:00:00 -0000",
     ["no_from_or_by"], "2024-03-12T10:00:00Z"),
])
def test_unreadable_parts_of_a_hop_become_defects(header: str, defects: list[str],
                                                   time: str | None) -> None:
    hop = parse_received(header)
    assert hop["defects"] == defects
    assert hop["time"] == time
    assert hop["raw"] == header


def test_a_zoneless_hop_time_keeps_its_wall_clock_reading() -> None:
    hop = parse_received("from a by b; Tue, 12 Mar 2024 10:00:00")
    assert hop["time_local"] == "2024-03-12T10:00:00"


def test_only_so_many_hops_are_read_and_the_rest_are_counted() -> None:
    text = "".join(f"Received: from h{n} by h{n + 1}; Tue, 12 Mar 2024 10:00:00 +0000\r\n"
                   for n in range(MAX_HOPS + 5))
    found = facts_of(text + "\r\n")
    assert len(kinds(found, "received_hop")) == MAX_HOPS
    assert found.summary["received_hops_not_read"] == "5"


# -- originating IP ------------------------------------------------------------------


def test_the_originating_ip_is_the_lowest_public_address_in_the_chain() -> None:
    found = facts_of(GMAIL_CHAIN + "\r\n")
    assert one(found, "originating_ip") == {
        "ip": "198.51.100.23", "scope": "public", "source": "Received", "hop": 3,
        "raw": kinds(found, "received_hop")[2]["raw"],
    }
    assert (found.summary["originating_ip"], found.summary["originating_ip_source"]) == (
        "198.51.100.23", "Received")


def test_private_and_loopback_hops_are_passed_over() -> None:
    found = facts_of(
        "Received: from relay.example (relay.example [203.0.113.50]) by mx.example; "
        "Tue, 12 Mar 2024 10:00:02 +0000\r\n"
        "Received: from pc (pc [10.1.2.3]) by relay.example; Tue, 12 Mar 2024 10:00:01 +0000\r\n"
        "Received: from localhost (localhost [127.0.0.1]) by pc;"
        " Tue, 12 Mar 2024 10:00:00 +0000\r\n"
        "\r\n")
    assert [h["from_ip_scope"] for h in kinds(found, "received_hop")] == [
        "public", "private", "loopback"]
    assert one(found, "originating_ip")["ip"] == "203.0.113.50"


def test_a_providers_originating_ip_header_wins_and_the_chain_address_is_kept_beside_it() -> None:
    found = facts_of(GMAIL_CHAIN + "X-Originating-IP: [203.0.113.200]\r\n\r\n")
    assert one(found, "originating_ip") == {
        "ip": "203.0.113.200", "scope": "public", "source": "X-Originating-IP", "hop": None,
        "raw": "[203.0.113.200]", "received_ip": "198.51.100.23", "received_hop": 3,
    }


def test_x_sender_ip_is_used_when_there_is_no_x_originating_ip() -> None:
    found = facts_of("X-Sender-IP: 192.0.2.77\r\n\r\n")
    assert (one(found, "originating_ip")["ip"], one(found, "originating_ip")["source"]) == (
        "192.0.2.77", "X-Sender-IP")


def test_no_originating_ip_when_the_chain_is_all_internal() -> None:
    found = facts_of("Received: from a (a [192.168.0.2]) by b; Tue, 12 Mar 2024 10:00:00 +0000"
                     "\r\n\r\n")
    assert kinds(found, "originating_ip") == []
    assert "originating_ip" not in found.summary


@pytest.mark.parametrize(("address", "scope"), [
    ("203.0.113.9", "public"), ("10.0.0.1", "private"), ("172.20.1.1", "private"),
    ("100.64.0.1", "shared"), ("169.254.1.1", "link_local"), ("::1", "loopback"),
    ("fd00::1", "private"), ("::ffff:192.168.1.1", "private"), ("2001:db8::1", "public"),
])
def test_ip_scopes(address: str, scope: str) -> None:
    assert ip_scope(address) == scope


# -- sender checks -------------------------------------------------------------------


def test_envelope_reply_to_and_sender_that_differ_from_from_are_each_reported() -> None:
    found = facts_of(
        "Return-Path: <bounce@mailer.example>\r\n"
        "From: \"Bank\" <alerts@bank.example>\r\n"
        "Sender: other@bank.example\r\n"
        "Reply-To: Sam <sam@elsewhere.example>\r\n\r\n")
    assert [(m["field"], m["address"], m["differs"]) for m in kinds(found, "sender_mismatch")] == [
        ("Return-Path", "bounce@mailer.example", "domain"),
        ("Sender", "other@bank.example", "local_part"),
        ("Reply-To", "sam@elsewhere.example", "domain"),
    ]
    assert found.summary["sender_mismatch"] == (
        "Return-Path:domain Sender:local_part Reply-To:domain")


def test_matching_addresses_in_another_case_are_no_mismatch() -> None:
    found = facts_of("Return-Path: <Sam@Example.org>\r\nFrom: sam@example.org\r\n"
                     "Reply-To: SAM@EXAMPLE.ORG\r\n\r\n")
    assert kinds(found, "sender_mismatch") == []
    assert "sender_mismatch" not in found.summary


def test_a_null_return_path_is_reported_as_a_null_sender() -> None:
    found = facts_of("Return-Path: <>\r\nFrom: sam@example.org\r\n\r\n")
    assert one(found, "sender_mismatch")["differs"] == "null_sender"


@pytest.mark.parametrize(("message_id", "from_", "domain", "matches"), [
    ("<abc@example.org>", "sam@example.org", "example.org", "same"),
    ("<CAF=x@mail.gmail.example>", "sam@gmail.example", "mail.gmail.example", "subdomain"),
    ("<1@prod.outlook.example>", "alerts@bank.example", "prod.outlook.example", "different"),
    ("<no-domain-here>", "sam@example.org", None, None),
])
def test_the_message_id_domain_is_compared_with_from(message_id: str, from_: str,
                                                      domain: str | None,
                                                      matches: str | None) -> None:
    value = one(facts_of(f"Message-ID: {message_id}\r\nFrom: {from_}\r\n\r\n"),
                "message_id_domain")
    assert (value["message_id"], value["domain"], value["matches_from"]) == (
        message_id, domain, matches)
    assert value["defects"] == ([] if domain else ["no_domain"])


# -- authentication results ----------------------------------------------------------


def test_authentication_results_give_each_method_with_its_properties() -> None:
    value = parse_authentication_results(
        "mx.google.com;\r\n dkim=pass header.i=@sender.example header.s=s1 header.b=\"ab;c\";\r\n"
        " spf=pass (google.com: domain of b@sender.example designates 203.0.113.9 as\r\n"
        " permitted sender) smtp.mailfrom=b@sender.example;\r\n"
        " dmarc=fail (p=REJECT sp=REJECT dis=NONE) header.from=bank.example")
    assert value["authserv_id"] == "mx.google.com"
    assert value["results"] == [
        {"method": "dkim", "result": "pass",
         "properties": {"header.i": "@sender.example", "header.s": "s1", "header.b": "ab;c"}},
        {"method": "spf", "result": "pass", "properties": {"smtp.mailfrom": "b@sender.example"}},
        {"method": "dmarc", "result": "fail", "properties": {"header.from": "bank.example"}},
    ]
    assert value["defects"] == []


def test_microsoft_style_results_without_spaces_after_semicolons() -> None:
    value = parse_authentication_results(
        "spf=pass (sender IP is 198.51.100.5) smtp.mailfrom=example.com; dkim=none (message not "
        "signed) header.d=none;dmarc=none action=none header.from=example.com;compauth=pass "
        "reason=100")
    # Exchange Online writes no authserv-id.
    assert (value["authserv_id"], value["defects"]) == (None, ["no_authserv_id"])
    assert [r["method"] for r in value["results"]] == ["spf", "dkim", "dmarc", "compauth"]
    methods = {r["method"]: r for r in value["results"]}
    assert methods["dkim"]["properties"] == {"header.d": "none"}
    assert methods["dmarc"]["properties"] == {"action": "none", "header.from": "example.com"}
    assert methods["compauth"] == {"method": "compauth", "result": "pass",
                                   "properties": {"reason": "100"}}


def test_arc_results_carry_their_instance_and_do_not_make_the_summary() -> None:
    found = facts_of(
        "ARC-Authentication-Results: i=1; forwarder.example; spf=fail smtp.mailfrom=x.example\r\n"
        "Authentication-Results: mx.victim.example; spf=pass smtp.mailfrom=forwarder.example;"
        " dkim=fail header.d=x.example; dkim=pass header.d=forwarder.example; dmarc=fail\r\n\r\n")
    results = kinds(found, "authentication_results")
    assert [(r["header"], r["instance"], r["authserv_id"]) for r in results] == [
        ("Authentication-Results", None, "mx.victim.example"),
        ("ARC-Authentication-Results", "1", "forwarder.example"),
    ]
    assert found.summary["auth"] == "spf=pass dkim=fail,pass dmarc=fail"
    assert found.summary["auth_by"] == "mx.victim.example"


def test_received_spf_is_read_and_summarised_when_there_is_nothing_better() -> None:
    found = facts_of(
        "Received-SPF: softfail (mx.example: domain of transitioning a@example.net does not\r\n"
        " designate 198.51.100.7 as permitted sender) client-ip=198.51.100.7;\r\n"
        " envelope-from=a@example.net; helo=relay.example;\r\n\r\n")
    value = one(found, "authentication_results")
    assert value["header"] == "Received-SPF"
    assert value["results"] == [{
        "method": "spf", "result": "softfail",
        "properties": {"client-ip": "198.51.100.7", "envelope-from": "a@example.net",
                       "helo": "relay.example"},
        "comment": "mx.example: domain of transitioning a@example.net does not "
                   "designate 198.51.100.7 as permitted sender",
    }]
    assert found.summary["auth"] == "spf=softfail"


def test_dkim_signatures_name_the_signing_domain_and_selector() -> None:
    found = facts_of("DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel;\r\n"
                     "  h=from:to:subject; bh=abc=; b=def=\r\n\r\n")
    assert one(found, "dkim_signature") == {
        "index": 1, "domain": "example.org", "selector": "sel",
        "signed_headers": "from:to:subject", "identity": None, "timestamp": None,
        "algorithm": "rsa-sha256", "defects": [],
    }


# -- garbage -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "", ";", "(((((", ")))", "from", "by by by ; ;", "\x00\udce9 from [999.1.1.1] by",
    "from a (b [IPv6:zz::1]) by c; Tue, 12 Mar 2024 10:00:00 +0000",
])
def test_garbage_received_headers_give_facts_with_defects_not_errors(value: str) -> None:
    found = attribution_of_fields([("Received", value), ("Authentication-Results", value),
                                   ("From", value), ("Return-Path", value),
                                   ("Message-ID", value)], HERE)
    json.dumps([f.value for f in found.facts], allow_nan=False)
    [hop] = kinds(found, "received_hop")
    assert hop["defects"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(
    st.sampled_from(["Received", "Authentication-Results", "ARC-Authentication-Results",
                     "Received-SPF", "From", "Reply-To", "Sender", "Return-Path", "Message-ID",
                     "X-Originating-IP", "DKIM-Signature", "X-Other"]),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=120)), max_size=8))
def test_any_headers_give_plain_json_facts_and_never_raise(fields) -> None:
    found = attribution_of_fields(fields, HERE)
    json.dumps([f.value for f in found.facts], allow_nan=False)
    assert all(isinstance(v, str) for v in found.summary.values())


# -- through the .eml parser ---------------------------------------------------------


def test_an_eml_gives_its_facts_right_after_its_event_with_a_summary_in_extra() -> None:
    data = (GMAIL_CHAIN
            + "Authentication-Results: mx.google.com; spf=pass smtp.mailfrom=sender.example;"
              " dkim=fail header.d=sender.example; dmarc=fail header.from=bank.example\r\n"
            + "Message-ID: <m1@mail.sender.example>\r\nFrom: alerts@bank.example\r\n"
              "To: victim@example.org\r\nDate: Tue, 12 Mar 2024 17:00:00 +0000\r\n\r\nhi\r\n"
            ).encode()
    items = parse_all(eml.PARSER, data)
    [record] = events(items)
    after = items[items.index(record) + 1:]
    assert all(isinstance(i, DerivedFact) and i.about == "record" for i in after)
    assert [f.kind for f in after] == [
        "received_hop", "received_hop", "received_hop", "originating_ip", "message_id_domain",
        "authentication_results"]
    assert all(f.locator == record.locator for f in after)
    assert {k: record.extra[k] for k in ("originating_ip", "originating_ip_source", "auth",
                                         "auth_by")} == {
        "originating_ip": "198.51.100.23", "originating_ip_source": "Received",
        "auth": "spf=pass dkim=fail dmarc=fail", "auth_by": "mx.google.com",
    }


def test_a_message_without_a_timeline_event_gives_no_facts() -> None:
    data = (GMAIL_CHAIN.replace("Received:", "X-Not-Received:")
            + "From: a@example.org\r\nSubject: undated\r\n\r\nbody\r\n").encode()
    items = parse_all(eml.PARSER, data)
    assert not [i for i in items if isinstance(i, EventRecord | DerivedFact)]


def test_attribution_reads_raw_header_values_of_a_parsed_message() -> None:
    msg = message_from_bytes(b"From: a@example.org\nReturn-Path: <b@example.net>\n\nx",
                             policy=default_policy)
    assert one(attribution(msg, HERE), "sender_mismatch")["address"] == "b@example.net"
