"""Live capture of a web page: what is stored and recorded, and what is refused.

Pages are served by a local server (tests/capture_support.py) on 127.0.0.1, which
the default configuration refuses; tests that fetch from it admit exactly that
address in the store's conduct.toml, as an operator would.
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import json
import os
import re
import socket
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from collector import capture
from collector.capture import (
    CaptureConfig,
    CaptureConfigError,
    CaptureFailed,
    CaptureRefused,
    capture_url,
    load_config,
)
from evidence_store import cases, custody
from evidence_store.cases import CaseError
from evidence_store.models import Exhibit
from evidence_store.timeline import iter_events
from tests.capture_support import (
    Site,
    huge_chunks,
    make_certificates,
    redirect,
    serve,
    stall,
    stream,
    trickle,
)
from tests.cli_support import conduct, ingest_json, open_case, timeline_json

FIXTURES = Path(__file__).parent / "fixtures" / "web"
PAGE = (FIXTURES / "profile_page.html").read_bytes()
PAGE_SHA = hashlib.sha256(PAGE).hexdigest()
LOCAL = CaptureConfig(allow_private_addresses=(ipaddress.ip_network("127.0.0.1/32"),))
AGENT = "Conduct/0.1.0 evidence capture"


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site({})
    yield served
    served.close()


@pytest.fixture
def case_store(store):
    with store.session() as session:
        cases.create_case(session, "OP-1", "Test case", "Jane Smith", "JS")
    return store


def exhibits(store) -> list[Exhibit]:
    with store.session() as session:
        return list(session.execute(select(Exhibit).order_by(Exhibit.id)).scalars())


def log(store) -> list[tuple[str, str, dict]]:
    with store.session() as session:
        return [(e.action, e.subject, json.loads(e.details))
                for e in custody.entries_of(session, "case:OP-1")]


def stored(store, sha256: str) -> bytes:
    with store.blobs.open(sha256) as handle:
        return handle.read()


def record_of(store, result) -> dict:
    return json.loads(stored(store, result.record.sha256))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- what a capture keeps ------------------------------------------------------------------


def test_a_capture_stores_the_served_bytes_and_a_record_of_the_exchange(case_store, site):
    site.routes["/u/sam_t"] = serve(PAGE, extra={"Set-Cookie": "session=abc"})
    url = site.url("/u/sam_t")
    result = capture_url(case_store, "OP-1", url, "named by the victim", "Jane Smith", LOCAL)

    assert (result.status, result.final_url, result.sha256, result.size, result.cut) == (
        200, url, PAGE_SHA, len(PAGE), None)
    assert stored(case_store, PAGE_SHA) == PAGE
    page, record_row = exhibits(case_store)
    stamp = utc(result.retrieved_at).strftime("%Y-%m-%dT%H%M%SZ")
    assert (page.ref, page.original_name, page.format, page.status, page.event_count) == (
        "JS/1", f"capture-127.0.0.1_{site.port}-{stamp}.html", "html", "parsed", 3)
    assert page.received_from == "public web (server response)"
    record = record_of(case_store, result)
    assert page.how_obtained == f"captured from {url} by Jane Smith at {record['started_at']}"
    assert (record_row.ref, record_row.parent_id, record_row.format, record_row.status,
            record_row.event_count, record_row.original_name) == (
        "JS/1/1", page.id, "capture_record", "parsed", 1,
        f"capture-127.0.0.1_{site.port}-{stamp}.capture-record.json")
    assert record_row.how_obtained.startswith(f"written by Conduct when capturing {url} at ")

    assert record["_format"] == "conduct-capture/1"
    assert record["statement"] == ("This capture shows what the server returned to Conduct at "
                                   "the time stated; it does not prove what other visitors saw.")
    assert (record["request_url"], record["final_url"], record["status"], record["reason"]) == (
        url, url, 200, "OK")
    assert record["redirects"] == []
    assert record["peer"] == {"ip": "127.0.0.1", "port": site.port}
    assert (record["tls"], record["tls_verified"]) == (None, None)
    assert ["Content-Type", "text/html; charset=utf-8"] in record["response_headers"]
    assert ["Set-Cookie", "session=abc"] in record["response_headers"]
    assert record["body"] == {
        "name": page.original_name, "sha256": PAGE_SHA, "size": len(PAGE), "truncated": False,
        "truncated_reason": None, "content_type": "text/html; charset=utf-8",
        "content_encoding": None, "content_length_header": str(len(PAGE)),
        "stored_as": "the bytes as received, before any content decoding"}
    assert (record["user_agent"], record["captured_by"], record["note"]) == (
        AGENT, "Jane Smith", "named by the victim")
    assert (record["request"]["cookies_sent"], record["request"]["javascript_run"]) == (
        False, False)
    assert (utc(record["started_at"]) <= utc(record["response_at"])
            <= utc(record["finished_at"]))
    assert record["response_at"] == result.retrieved_at
    # What the server saw: one request, a clear user agent, no cookies.
    [(path, headers)] = site.requests
    assert (path, headers["User-Agent"], "Cookie" in headers) == ("/u/sam_t", AGENT, False)
    assert stored(case_store, result.record.sha256).endswith(b"}\n")


def test_receipt_capture_and_parsing_are_logged_in_order(case_store, site):
    site.routes["/p"] = serve(PAGE)
    result = capture_url(case_store, "OP-1", site.url("/p"), None, "Jane Smith", LOCAL)
    entries = log(case_store)
    assert [(action, subject) for action, subject, _ in entries] == [
        ("case_created", "OP-1"), ("exhibit_received", "JS/1"), ("exhibit_attached", "JS/1/1"),
        ("captured", "JS/1"), ("parsed", "JS/1"), ("parsed", "JS/1/1")]
    captured = entries[3][2]
    assert captured == {
        "url": site.url("/p"), "final_url": site.url("/p"), "status": 200, "sha256": PAGE_SHA,
        "size": len(PAGE), "truncated": None, "record": "JS/1/1",
        "record_sha256": result.record.sha256, "peer_ip": "127.0.0.1", "redirects": 0,
        "retrieved_at": result.retrieved_at, "note": None}
    assert entries[2][2]["parent"] == "JS/1"


def test_the_capture_event_and_the_page_content_reach_the_timeline(case_store, site):
    site.routes["/p"] = serve(PAGE)
    result = capture_url(case_store, "OP-1", site.url("/p"), None, "Jane Smith", LOCAL)
    with case_store.session() as session:
        rows = list(iter_events(session, cases.get_case(session, "OP-1")))
    capture_row = next(row for row in rows if row["kind"] == "capture")
    assert (capture_row["exhibit"], capture_row["time_basis"], capture_row["channel"]) == (
        "JS/1/1", "captured", "web")
    assert utc(capture_row["occurred_at"]) == utc(result.retrieved_at)
    assert capture_row["local_time"] == result.retrieved_at
    assert capture_row["attachments"] == [{
        "name": exhibits(case_store)[0].original_name, "sha256": PAGE_SHA,
        "media_type": "text/html; charset=utf-8"}]
    posts = [row for row in rows if row["kind"] == "message"]
    assert [(row["exhibit"], row["sender_id"]) for row in posts] == [
        ("JS/1", "instagram:sam_t"), ("JS/1", "instagram:dana.w"), ("JS/1", None)]


def test_a_redirect_chain_is_recorded_hop_by_hop_without_passing_cookies_on(case_store, site):
    site.routes["/start"] = redirect(302, "/middle", {"Set-Cookie": "track=1"})
    site.routes["/middle"] = redirect(301, site.url("/final"))
    site.routes["/final"] = serve(PAGE)
    result = capture_url(case_store, "OP-1", site.url("/start"), None, "Jane Smith", LOCAL)
    record = record_of(case_store, result)
    assert (result.final_url, result.redirects, record["final_url"]) == (
        site.url("/final"), 2, site.url("/final"))
    assert [(hop["url"], hop["status"], hop["reason"], hop["location"], hop["peer"]["ip"])
            for hop in record["redirects"]] == [
        (site.url("/start"), 302, "Found", "/middle", "127.0.0.1"),
        (site.url("/middle"), 301, "Moved Permanently", site.url("/final"), "127.0.0.1")]
    assert ["Set-Cookie", "track=1"] in record["redirects"][0]["headers"]
    assert [path for path, _ in site.requests] == ["/start", "/middle", "/final"]
    assert all("Cookie" not in headers for _, headers in site.requests)
    assert exhibits(case_store)[0].how_obtained.startswith(
        f"captured from {site.url('/start')} by Jane Smith at ")


def test_too_many_redirects_are_refused_and_the_hops_logged(case_store, site):
    site.routes["/loop"] = redirect(302, "/loop")
    config = CaptureConfig(allow_private_addresses=True, max_redirects=3)
    with pytest.raises(CaptureRefused, match="more than 3 redirects"):
        capture_url(case_store, "OP-1", site.url("/loop"), None, "Jane Smith", config)
    assert exhibits(case_store) == []
    action, subject, details = log(case_store)[-1]
    assert (action, subject, len(details["hops"])) == ("capture_refused", "OP-1", 4)
    assert len(site.requests) == 4


# -- limits --------------------------------------------------------------------------------


def test_a_huge_body_is_cut_at_the_limit_without_being_held_in_memory(case_store, site):
    total, limit = 50 * 1024 * 1024, 1024 * 1024
    site.routes["/huge"] = stream(total)
    config = CaptureConfig(allow_private_addresses=True, max_bytes=limit)
    tracemalloc.start()
    try:
        result = capture_url(case_store, "OP-1", site.url("/huge"), None, "Jane Smith", config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = b"".join(huge_chunks(total))[:limit]
    assert (result.size, result.sha256) == (limit, hashlib.sha256(expected).hexdigest())
    assert stored(case_store, result.sha256) == expected
    assert result.cut == f"size limit of {limit} bytes reached"
    record = record_of(case_store, result)
    assert (record["body"]["truncated"], record["body"]["truncated_reason"],
            record["body"]["content_length_header"]) == (True, result.cut, str(total))
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes traced during a 50 MB capture"
    page, record_row = exhibits(case_store)
    assert (page.status, page.original_name.endswith(".bin")) == ("stored_unparsed", True)
    assert record_row.event_count == 1
    assert result.lines()[1] == (f"  warning: body cut short: {result.cut}; "
                                 "the part received is kept")


def test_a_body_exactly_at_the_limit_is_not_cut(case_store, site):
    site.routes["/exact"] = serve(b"x" * 1000, "text/plain")
    config = CaptureConfig(allow_private_addresses=True, max_bytes=1000)
    result = capture_url(case_store, "OP-1", site.url("/exact"), None, "Jane Smith", config)
    assert (result.size, result.cut) == (1000, None)


def test_a_server_that_does_not_answer_in_time_fails_and_nothing_is_stored(case_store, site):
    site.routes["/slow"] = stall(3)
    config = CaptureConfig(allow_private_addresses=True, timeout_seconds=0.5)
    with pytest.raises(CaptureFailed) as failed:
        capture_url(case_store, "OP-1", site.url("/slow"), None, "Jane Smith", config)
    assert str(failed.value) == f"{site.url('/slow')}: total time limit of 0.5 s reached"
    assert exhibits(case_store) == []
    assert log(case_store)[-1][0] == "capture_failed"


def test_a_trickling_body_is_cut_at_the_total_time_limit(case_store, site):
    site.routes["/drip"] = trickle(100, 0.05)
    config = CaptureConfig(allow_private_addresses=True, timeout_seconds=1)
    result = capture_url(case_store, "OP-1", site.url("/drip"), None, "Jane Smith", config)
    assert result.cut == "total time limit of 1 s reached"
    assert 5 <= result.size < 100
    assert stored(case_store, result.sha256) == b"x" * result.size


def test_a_body_sent_compressed_is_kept_as_sent_and_read_from_a_decoded_copy(case_store, site):
    sent = gzip.compress(PAGE, mtime=0)
    # Sent compressed although Conduct asked for "identity".
    site.routes["/gz"] = serve(sent, extra={"Content-Encoding": "gzip"})
    result = capture_url(case_store, "OP-1", site.url("/gz"), None, "Jane Smith", LOCAL)
    assert result.sha256 == hashlib.sha256(sent).hexdigest()
    page, _, decoded = exhibits(case_store)
    assert page.original_name.endswith(".html.gz")
    assert (page.status, stored(case_store, page.sha256)) == ("stored_unparsed", sent)
    assert (decoded.ref, decoded.format, decoded.event_count, decoded.parent_id) == (
        "JS/1/2", "html", 3, page.id)
    assert stored(case_store, decoded.sha256) == PAGE
    assert decoded.how_obtained == ("decoded by Conduct from its parent, which the server "
                                    "sent gzip-compressed")
    record = record_of(case_store, result)
    assert record["decoded_body"] == {
        "encoding": "gzip", "sha256": PAGE_SHA, "size": len(PAGE), "truncated": False,
        "truncated_reason": None, "name": decoded.original_name}
    assert record["body"]["content_encoding"] == "gzip"
    with case_store.session() as session:
        [event] = [e for e in iter_events(session, cases.get_case(session, "OP-1"))
                   if e["kind"] == "capture"]
    assert event["flags"] == ["live_capture", "decoded_by_conduct"]
    assert [a["sha256"] for a in event["attachments"]] == [result.sha256, PAGE_SHA]
    # Linked by the capture event: neither copy is an unexplained file.
    assert not any(o.unparsed_problem for o in result.page.walk())


def test_a_compressed_body_that_expands_past_the_limit_is_cut(case_store, site):
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024), mtime=0)
    site.routes["/bomb"] = serve(bomb, "text/plain", {"Content-Encoding": "gzip"})
    config = CaptureConfig(allow_private_addresses=True, max_bytes=1024 * 1024)
    result = capture_url(case_store, "OP-1", site.url("/bomb"), None, "Jane Smith", config)
    assert result.cut is None
    decoded = record_of(case_store, result)["decoded_body"]
    assert (decoded["size"], decoded["truncated"], decoded["truncated_reason"]) == (
        1024 * 1024, True, "size limit of 1048576 bytes reached")
    assert stored(case_store, decoded["sha256"]) == b"\0" * (1024 * 1024)


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "reason"), [
    ("http://127.0.0.1:{port}/p", "127.0.0.1 is a loopback address"),
    ("http://[::1]:{port}/p", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]:{port}/p", "::ffff:127.0.0.1 is a loopback address"),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://100.64.0.1/", "100.64.0.1 is a non-public address"),
    ("http://0.0.0.0:{port}/p", "0.0.0.0 is an unspecified address"),
    ("http://localhost:{port}/p", "localhost resolves to "),
])
def test_private_addresses_are_refused_by_default(case_store, site, address, reason):
    site.routes["/p"] = serve(PAGE)
    url = address.format(port=site.port)
    with pytest.raises(CaptureRefused) as refused:
        capture_url(case_store, "OP-1", url, None, "Jane Smith", CaptureConfig())
    assert str(refused.value).startswith(reason)
    assert str(refused.value).endswith("not captured unless the store's conduct.toml allows them")
    assert site.requests == []
    assert exhibits(case_store) == []
    action, _, details = log(case_store)[-1]
    assert (action, details["url"], details["reason"]) == ("capture_refused", url,
                                                          str(refused.value))


@pytest.mark.parametrize(("address", "reason"), [
    ("http://0.0.0.0:{port}/p", "0.0.0.0 is an unspecified address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://255.255.255.255/", "255.255.255.255 is a reserved address"),
])
def test_some_addresses_are_refused_even_when_private_ones_are_allowed(case_store, site,
                                                                       address, reason):
    config = CaptureConfig(allow_private_addresses=True)
    with pytest.raises(CaptureRefused, match=reason):
        capture_url(case_store, "OP-1", address.format(port=site.port), None, "J", config)
    assert site.requests == []


@pytest.mark.parametrize("target", [
    "http://127.0.0.2:{port}/p", "http://10.0.0.1/", "http://169.254.169.254/",
    "http://[::1]:{port}/p",
])
def test_a_redirect_to_a_private_address_is_refused_at_that_hop(case_store, site, target):
    to = target.format(port=site.port)
    site.routes["/go"] = redirect(302, to)
    with pytest.raises(CaptureRefused, match=r" is \S+ \S+ address; private, loopback"):
        capture_url(case_store, "OP-1", site.url("/go"), None, "Jane Smith", LOCAL)
    assert [path for path, _ in site.requests] == ["/go"]
    assert exhibits(case_store) == []
    action, _, details = log(case_store)[-1]
    assert (action, details["hops"]) == ("capture_refused", [
        {"url": site.url("/go"), "status": 302, "location": to}])


@pytest.mark.parametrize(("location", "message"), [
    ("file:///etc/passwd", "only http and https addresses are captured, not file:"),
    ("gopher://127.0.0.1:70/_evil", "only http and https addresses are captured, not gopher:"),
])
def test_a_redirect_to_another_scheme_is_refused(case_store, site, location, message):
    site.routes["/go"] = redirect(302, location)
    with pytest.raises(CaptureRefused, match=re.escape(message)):
        capture_url(case_store, "OP-1", site.url("/go"), None, "Jane Smith", LOCAL)
    assert [path for path, _ in site.requests] == ["/go"]


def test_a_redirect_to_nonsense_fails_in_one_line(case_store, site):
    site.routes["/go"] = redirect(302, "http://[::1")
    with pytest.raises(CaptureFailed) as failed:
        capture_url(case_store, "OP-1", site.url("/go"), None, "Jane Smith", LOCAL)
    assert str(failed.value) == (f"{site.url('/go')}: RemoteProtocolError: Invalid URL in "
                                 "location header: Invalid port: ':1'.")
    assert exhibits(case_store) == []


class Resolver:
    """socket.getaddrinfo with some names answered by the test, counted."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.real = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        self.asked.append(host)
        if host in self.answers:
            addresses = self.answers[host].pop(0)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]
        return self.real(host, port, *args, **kwargs)


def test_a_name_with_any_private_address_is_refused_before_connecting(case_store, monkeypatch):
    resolver = Resolver({"mixed.example.org": [["93.184.215.14", "10.1.2.3"]]})
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(CaptureRefused, match=r"^mixed.example.org resolves to 10.1.2.3, a "
                                             r"private address"):
        capture_url(case_store, "OP-1", "http://mixed.example.org/", None, "J", CaptureConfig())
    assert resolver.asked == ["mixed.example.org"]


def test_the_connection_goes_to_the_address_that_was_checked(case_store, site, monkeypatch):
    # DNS rebinding: the first answer passes the check, a second look-up would not.
    site.routes["/p"] = serve(PAGE)
    resolver = Resolver({"rebind.example.org": [["127.0.0.1"], ["10.9.9.9"]]})
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    result = capture_url(case_store, "OP-1", site.url("/p", host="rebind.example.org"), None,
                         "Jane Smith", LOCAL)
    assert record_of(case_store, result)["peer"]["ip"] == "127.0.0.1"
    assert resolver.asked.count("rebind.example.org") == 1
    [(_, headers)] = site.requests
    assert headers["Host"] == f"rebind.example.org:{site.port}"


def test_an_unknown_case_is_refused_before_anything_is_fetched(case_store, site):
    site.routes["/p"] = serve(PAGE)
    with pytest.raises(CaseError):
        capture_url(case_store, "OP-404", site.url("/p"), None, "Jane Smith", LOCAL)
    assert site.requests == []


@pytest.mark.parametrize(("url", "message"), [
    ("file:///etc/passwd", "only http and https addresses are captured, not file:"),
    ("ftp://example.org/x", "only http and https addresses are captured, not ftp:"),
    ("javascript:alert(1)", "only http and https addresses are captured, not javascript:"),
    ("example.org/page", "only http and https addresses are captured, not an address "
                         "without a scheme"),
    ("http://user:secret@example.org/", "addresses carrying a user name or password"),
    ("http:///nohost", "no host"),
])
def test_only_plain_http_and_https_addresses_are_captured(case_store, url, message):
    with pytest.raises(CaptureRefused, match=message):
        capture_url(case_store, "OP-1", url, None, "Jane Smith", CaptureConfig())


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture
def tls_site(tmp_path) -> Iterator[tuple[Site, object]]:
    certificates = make_certificates(tmp_path)
    served = Site({"/p": serve(PAGE)}, tls=certificates.server_context())
    yield served, certificates
    served.close()


def test_https_capture_records_the_certificate_the_server_presented(case_store, tls_site):
    site, certificates = tls_site
    config = CaptureConfig(allow_private_addresses=True, ca_bundle=certificates.ca_file)
    result = capture_url(case_store, "OP-1", site.url("/p"), None, "Jane Smith", config)
    record = record_of(case_store, result)
    tls = record["tls"]
    server = certificates.server
    assert tls["certificate_sha256"] == hashlib.sha256(certificates.server_der).hexdigest()
    assert (tls["subject"], tls["issuer"]) == ("CN=conduct-test-server", "CN=Conduct Test CA")
    assert tls["serial_number"] == format(server.serial_number, "x")
    assert (tls["not_before"], tls["not_after"]) == (
        server.not_valid_before_utc.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        server.not_valid_after_utc.isoformat(timespec="microseconds").replace("+00:00", "Z"))
    assert tls["subject_alt_names"] == ["localhost", "127.0.0.1"]
    assert tls["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert tls["certificate_der_base64"]
    assert record["tls_verified"] is True
    assert result.sha256 == PAGE_SHA


def test_https_with_a_certificate_nobody_vouches_for_is_refused(case_store, tls_site):
    site, _ = tls_site
    with pytest.raises(CaptureFailed, match="CERTIFICATE_VERIFY_FAILED"):
        capture_url(case_store, "OP-1", site.url("/p"), None, "Jane Smith",
                    CaptureConfig(allow_private_addresses=True))
    assert exhibits(case_store) == []


def test_https_unverified_when_the_store_says_so_and_the_record_says_it(case_store, tls_site):
    site, certificates = tls_site
    config = CaptureConfig(allow_private_addresses=True, verify_tls=False)
    result = capture_url(case_store, "OP-1", site.url("/p"), None, "Jane Smith", config)
    record = record_of(case_store, result)
    assert record["tls_verified"] is False
    assert record["tls"]["certificate_sha256"] == hashlib.sha256(
        certificates.server_der).hexdigest()
    with case_store.session() as session:
        [event] = [e for e in iter_events(session, cases.get_case(session, "OP-1"))
                   if e["kind"] == "capture"]
    assert event["flags"] == ["live_capture", "tls_not_verified"]


# -- configuration -------------------------------------------------------------------------


def test_configuration_is_read_from_the_store_only(tmp_path):
    assert load_config(tmp_path) == CaptureConfig()
    (tmp_path / "conduct.toml").write_text(
        '[capture]\nallow_private_addresses = ["127.0.0.1", "10.0.0.0/8"]\nmax_bytes = 1000\n'
        'timeout_seconds = 5\nmax_redirects = 2\nverify_tls = true\nca_bundle = "ca.pem"\n'
        'contact = "evidence@force.example"\n', encoding="utf-8")
    config = load_config(tmp_path)
    assert [str(n) for n in config.allow_private_addresses] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert (config.max_bytes, config.timeout_seconds, config.max_redirects,
            config.ca_bundle) == (1000, 5.0, 2, tmp_path / "ca.pem")
    assert capture.user_agent(config) == f"{AGENT}; +evidence@force.example"


@pytest.mark.parametrize(("text", "message"), [
    ("[capture]\nallow_private_adresses = true\n", "unknown [capture] setting "
                                                   "allow_private_adresses"),
    ('[capture]\nallow_private_addresses = "yes"\n', "must be true, false or a list"),
    ('[capture]\nallow_private_addresses = ["not an address"]\n', "must be true, false"),
    ("[capture]\nmax_bytes = -1\n", "max_bytes must be a whole number"),
    ("[capture]\ntimeout_seconds = 0\n", "timeout_seconds must be a number of seconds"),
    ("[capture\n", "conduct.toml"),
])
def test_a_bad_configuration_is_one_clear_error(tmp_path, text, message):
    (tmp_path / "conduct.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CaptureConfigError, match=message.replace("[", r"\[")):
        load_config(tmp_path)


# -- the command line ----------------------------------------------------------------------


def test_cli_capture_reports_exhibits_and_the_timeline_shows_the_capture(store_dir, site):
    site.routes["/p"] = serve(PAGE)
    open_case()
    (store_dir / "conduct.toml").write_text(
        '[capture]\nallow_private_addresses = ["127.0.0.1"]\n', encoding="utf-8")
    result = conduct("capture", "OP-1", site.url("/p"), "--note", "profile")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"JS/1 capture-127.0.0.1_{site.port}-")
    assert f": HTTP 200 from {site.url('/p')}, {len(PAGE)} bytes, sha256 {PAGE_SHA}, " \
           "retrieved " in lines[0]
    assert lines[1].startswith("  JS/1 capture-")
    assert lines[1].endswith(".html: html, 3 events (1 item inside)")
    assert lines[2].endswith(".capture-record.json: capture_record, 1 events")
    events = timeline_json()
    [captured] = [e for e in events if e["kind"] == "capture"]
    assert (captured["exhibit"], captured["time_basis"], captured["flags"]) == (
        "JS/1/1", "captured", ["live_capture"])
    assert captured["text"].endswith("\nNote: profile")
    detail = json.loads(conduct("event", "OP-1", str(captured["id"])).stdout)
    [http] = [f for f in detail["facts"] if f["kind"] == "capture_http"]
    assert http["value"]["body"]["sha256"] == PAGE_SHA
    assert conduct("verify", "OP-1").exit_code == 0


def test_cli_capture_json(store_dir, site):
    site.routes["/p"] = serve(PAGE)
    open_case()
    (store_dir / "conduct.toml").write_text("[capture]\nallow_private_addresses = true\n",
                                            encoding="utf-8")
    result = conduct("capture", "OP-1", site.url("/p"), "--json")
    report = json.loads(result.stdout)
    assert (report["status"], report["sha256"], report["cut"]) == (200, PAGE_SHA, None)
    [page] = report["exhibits"]
    assert (page["ref"], page["format"], [c["ref"] for c in page["children"]]) == (
        "JS/1", "html", ["JS/1/1"])


def test_cli_refusal_is_one_line_and_non_zero(store_dir, site):
    open_case()
    result = conduct("capture", "OP-1", site.url("/p"))
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "conduct: capture refused: 127.0.0.1 is a loopback address; private, loopback and "
        "link-local addresses are not captured unless the store's conduct.toml allows them"]
    assert site.requests == []


def test_cli_has_no_way_around_the_store_configuration(store_dir, site, monkeypatch):
    open_case()
    monkeypatch.setenv("CONDUCT_ALLOW_PRIVATE_ADDRESSES", "true")
    result = conduct("capture", "OP-1", site.url("/p"), "--allow-private-addresses")
    assert result.exit_code == 2
    assert "No such option" in result.output
    assert conduct("capture", "OP-1", site.url("/p")).exit_code == 2


def test_cli_bad_configuration_is_one_line_before_any_fetch(store_dir, site):
    open_case()
    (store_dir / "conduct.toml").write_text("[capture]\nmax_bytes = \"lots\"\n",
                                            encoding="utf-8")
    result = conduct("capture", "OP-1", site.url("/p"))
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"conduct: capture not started: {store_dir / 'conduct.toml'}: [capture] max_bytes "
        "must be a whole number of 0 or more, not 'lots'"]
    assert site.requests == []


# -- saved pages the victim brings ---------------------------------------------------------


def test_a_saved_page_with_its_folder_is_read_like_a_capture(store_dir, tmp_path):
    folder = tmp_path / "saved"
    (folder / "threats_files").mkdir(parents=True)
    (folder / "threats.html").write_bytes((FIXTURES / "threats.html").read_bytes())
    png = bytes.fromhex(  # a 1x1 PNG
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8cfc0f01f00050001ff56c72f0d0000000049454e44ae426082")
    css = b"body {}\n"
    (folder / "threats_files" / "avatar.png").write_bytes(png)
    (folder / "threats_files" / "site.css").write_bytes(css)
    saved = datetime(2026, 11, 24, 22, 15, 3, tzinfo=UTC)
    os.utime(folder / "threats.html", (saved.timestamp(), saved.timestamp()))
    open_case()
    code, report = ingest_json("OP-1", folder)
    assert code == 0, report
    [captured] = [e for e in timeline_json() if e["exhibit"] == "JS/1"]
    assert (captured["kind"], captured["time_basis"], captured["occurred_at"]) == (
        "capture", "captured", "2026-11-24T22:15:03Z")
    assert captured["time_flags"] == ["saved_page_time_from_file_modified"]
    assert captured["text"] == ("Saved copy of https://forum.example.org/t/threats-1234\n"
                                "Caf\u00e9 thread")
    assert [(a["name"], a["sha256"]) for a in captured["attachments"]] == [
        ("threats_files/avatar.png", hashlib.sha256(png).hexdigest()),
        ("threats_files/site.css", hashlib.sha256(css).hexdigest())]


def test_a_saved_mhtml_page_keeps_its_parts_as_child_exhibits(store_dir):
    open_case()
    code, report = ingest_json("OP-1", FIXTURES / "blink_saved.mhtml")
    assert code == 0, report
    [page] = report["exhibits"]
    assert (page["format"], page["events"]) == ("mhtml", 2)
    assert [(c["ref"], c["name"]) for c in page["children"]] == [
        ("JS/1/1", "site.css"), ("JS/1/2", "avatar.png")]
    kinds = [(e["kind"], e["occurred_at"], e["exhibit"]) for e in timeline_json()]
    assert kinds == [("message", "2026-11-24T21:59:00Z", "JS/1"),
                     ("capture", "2026-11-24T22:15:03Z", "JS/1")]
