"""What an e-mail's headers say about where it came from: hops, IPs, sender checks.

Pure functions of a message's header fields, shared by every e-mail parser
(mbox, .eml, Outlook .msg, PST). Nothing here raises on bad input: a header
that cannot be read still gives its fact, with ``defects`` saying what failed.

The facts report what the headers claim. Only the Received lines added by the
recipient's own provider (the top ones) can be trusted; anything below can be
forged by the sender, so every hop keeps its position and raw text for the
officer to weigh, and nothing is dropped for looking implausible.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

from parsers.records import DerivedFact, JSONValue, Locator

#: Received headers read per message; a hostile message may carry thousands.
MAX_HOPS = 100
#: Longest raw header text kept in a fact; the whole header stays in the original.
MAX_RAW = 2000

_FOLD = re.compile(r"\r?\n[ \t]*")
#: A comment's parentheses (with an escaped character kept whole) or a run of word characters.
_LEXEME = re.compile(r"\\.|[()]|[^\s()\\]+")
_INNERMOST_COMMENT = re.compile(r"\([^()]*\)")
_RECEIVED_KEYWORDS = frozenset({"from", "by", "via", "with", "id", "for"})
_HELO = re.compile(r"(?:\b(?:HELO|EHLO)\s+|\bhelo=)([^\s()\[\]]+)", re.IGNORECASE)
_BRACKETED = re.compile(r"\[(?:IPv6:)?([^\]\s]*)\]", re.IGNORECASE)
_NAME_BEFORE_BRACKET = re.compile(r"([A-Za-z0-9_.-]+)\s+\[(?:IPv6:)?[0-9A-Fa-f:.%]+\]")
_TOKEN_SPLIT = re.compile(r"[\s\[\]()<>=,;\"']+")
_MINUS_ZERO = re.compile(r"-0000\s*(?:\(.*\))?\s*$")
# RFC 8601 result names for the methods a summary shows.
_SUMMARY_METHODS = ("spf", "dkim", "dmarc")
_AUTH_METHODS = frozenset({
    "auth", "arc", "bimi", "compauth", "dkim", "dkim-adsp", "dkim-atps", "dmarc",
    "domainkeys", "iprev", "rrvs", "sender-id", "smime", "spf", "vbr",
})
_SOURCE_IP_HEADERS = ("x-originating-ip", "x-sender-ip")
_ADDRESS_CHECKED = ("return-path", "x-envelope-from", "envelope-from", "sender", "reply-to")
#: The header fields read here; others are skipped at once.
_READ = frozenset({
    "received", "from", "message-id", "authentication-results", "arc-authentication-results",
    "received-spf", "dkim-signature", *_SOURCE_IP_HEADERS, *_ADDRESS_CHECKED,
})
_ADDR_SPEC = r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
#: One address in its commonest plain forms: Name <addr>, "Name" <addr>, <addr>, addr.
_SIMPLE_ADDRESS = re.compile(
    rf"\s*(?:[A-Za-z0-9'_ .-]*|\"[^\"\\]*\")\s*<(?P<address>{_ADDR_SPEC})>\s*"
    rf"|\s*(?P<bare>{_ADDR_SPEC})\s*"
)
_HEADER_TITLES = {
    "x-originating-ip": "X-Originating-IP", "x-sender-ip": "X-Sender-IP",
    "return-path": "Return-Path", "reply-to": "Reply-To", "sender": "Sender",
    "x-envelope-from": "X-Envelope-From", "envelope-from": "Envelope-From",
    "authentication-results": "Authentication-Results",
    "arc-authentication-results": "ARC-Authentication-Results",
    "received-spf": "Received-SPF",
}
# Networks that are internal by design. Documentation ranges (192.0.2.0/24,
# 2001:db8::/32, ...) are not among them: they stand in for public addresses in
# examples and tests and never appear in real mail.
_INTERNAL: tuple[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network], ...] = tuple(
    (scope, ipaddress.ip_network(net)) for scope, net in (
        ("private", "10.0.0.0/8"), ("private", "172.16.0.0/12"), ("private", "192.168.0.0/16"),
        ("shared", "100.64.0.0/10"), ("loopback", "127.0.0.0/8"),
        ("link_local", "169.254.0.0/16"), ("unspecified", "0.0.0.0/8"),
        ("multicast", "224.0.0.0/4"), ("reserved", "240.0.0.0/4"),
        ("loopback", "::1/128"), ("unspecified", "::/128"), ("private", "fc00::/7"),
        ("link_local", "fe80::/10"), ("multicast", "ff00::/8"),
    )
)


@dataclass(frozen=True, slots=True)
class Attribution:
    """The facts about one message and a short summary for its event's ``extra``."""

    facts: tuple[DerivedFact, ...]
    summary: dict[str, str]


def attribution(msg: Message, locator: Locator) -> Attribution:
    """Facts from the header fields of ``msg`` (raw values, in order, duplicates kept)."""
    return attribution_of_fields(msg.raw_items(), locator)


def attribution_of_header_text(text: str, locator: Locator) -> Attribution:
    """Facts from a header block given as text (Outlook's transport headers)."""
    try:
        msg = HeaderParser(policy=compat32).parsestr(text)
    except Exception:  # noqa: BLE001 - the stdlib parser's failures on hostile text are not typed
        return Attribution((), {})
    return attribution(msg, locator)


def attribution_of_fields(fields: Iterable[tuple[str, str]], locator: Locator) -> Attribution:
    headers: dict[str, list[str]] = {}
    for name, value in fields:
        key = str(name).lower()
        if key in _READ:
            # Unfolded once here; everything below reads one-line values.
            headers.setdefault(key, []).append(_unfold(clean_header_text(str(value))))
    facts: list[DerivedFact] = []
    summary: dict[str, str] = {}

    hops = _hops(headers.get("received", []))
    facts.extend(DerivedFact("received_hop", hop, locator) for hop in hops)
    if len(headers.get("received", [])) > MAX_HOPS:
        summary["received_hops_not_read"] = str(len(headers["received"]) - MAX_HOPS)

    origin = _originating_ip(headers, hops)
    if origin is not None:
        facts.append(DerivedFact("originating_ip", origin, locator))
        summary["originating_ip"] = str(origin["ip"])
        summary["originating_ip_source"] = str(origin["source"])

    from_address = _from_address(headers)
    mismatches = _sender_mismatches(headers, from_address)
    facts.extend(DerivedFact("sender_mismatch", m, locator) for m in mismatches)
    if mismatches:
        summary["sender_mismatch"] = " ".join(
            dict.fromkeys(f"{m['field']}:{m['differs']}" for m in mismatches))

    message_id = _message_id_domain(headers, from_address)
    if message_id is not None:
        facts.append(DerivedFact("message_id_domain", message_id, locator))

    results = _authentication_results(headers)
    facts.extend(DerivedFact("authentication_results", r, locator) for r in results)
    facts.extend(DerivedFact("dkim_signature", s, locator) for s in _dkim_signatures(headers))
    summary.update(_auth_summary(results))
    return Attribution(tuple(facts), summary)


# -- Received ------------------------------------------------------------------


def _hops(values: Sequence[str]) -> list[dict[str, JSONValue]]:
    """One hop per Received header, index 1 at the top (added last, by the recipient's side)."""
    hops = [_guarded(parse_received, value, index)
            for index, value in enumerate(values[:MAX_HOPS], start=1)]
    # Compared with the hop below it (the one before it in transit); a negative
    # gap means the clocks or the lower header disagree, which forgery can cause.
    instants = [_instant(hop) for hop in hops]
    for upper, upper_time, lower_time in zip(hops, instants, instants[1:], strict=False):
        if upper_time is not None and lower_time is not None:
            upper["seconds_after_hop_below"] = int((upper_time - lower_time).total_seconds())
    return hops


def parse_received(value: str, index: int = 1) -> dict[str, JSONValue]:
    """A Received header's clauses (RFC 5321 §4.4), its time and the IP it names."""
    text = _unfold(value)
    defects: list[str] = []
    clauses, semicolon, stamp = text.rpartition(";")
    if not semicolon:
        clauses, stamp = text, ""
    if not stamp.strip():
        defects.append("no_time")
    tokens = _tokenize(clauses, defects)
    parts = _clauses(tokens)
    words_from, comments_from = parts.get("from", ([], []))
    words_by, comments_by = parts.get("by", ([], []))
    if "from" not in parts and "by" not in parts:
        defects.append("no_from_or_by")
    from_host = words_from[0] if words_from else None
    from_ip, from_ip_defects = _clause_ip(from_host, comments_from)
    defects.extend(from_ip_defects)
    by_host = words_by[0] if words_by else None
    by_ip, _ = _clause_ip(None, comments_by)
    hop: dict[str, JSONValue] = {
        "index": index,
        "from": from_host,
        "helo": _helo(comments_from),
        "reverse_dns": _reverse_dns(comments_from),
        "from_ip": from_ip,
        "from_ip_scope": ip_scope(from_ip) if from_ip else None,
        "by": by_host,
        "by_ip": by_ip,
        "with": _joined(parts, "with"),
        "id": _first(parts, "id"),
        "for": (_first(parts, "for") or "").strip("<>") or None,
        "via": _joined(parts, "via"),
    }
    hop.update(_hop_time(stamp.strip(), defects))
    hop["raw"] = text[:MAX_RAW]
    if len(text) > MAX_RAW:
        defects.append("raw_text_cut")
    hop["defects"] = list(dict.fromkeys(defects))
    return hop


def _tokenize(text: str, defects: list[str]) -> list[tuple[str, str]]:
    """Words and (possibly nested) parenthesised comments, in order."""
    tokens: list[tuple[str, str]] = []
    depth, start = 0, 0
    for match in _LEXEME.finditer(text):
        lexeme = match.group()
        if lexeme == "(":
            if depth == 0:
                start = match.end()
            depth += 1
        elif lexeme == ")":
            if depth == 0:
                defects.append("unbalanced_parentheses")
                continue
            depth -= 1
            if depth == 0:
                tokens.append(("comment", text[start:match.start()]))
        elif depth == 0:
            tokens.append(("word", lexeme))
    if depth:
        defects.append("unbalanced_parentheses")
        tokens.append(("comment", text[start:]))
    return tokens


def _clauses(tokens: list[tuple[str, str]]) -> dict[str, tuple[list[str], list[str]]]:
    """Words and comments under each keyword; a keyword's second use is an ordinary word."""
    parts: dict[str, tuple[list[str], list[str]]] = {}
    current: tuple[list[str], list[str]] | None = None
    for kind, text in tokens:
        keyword = text.lower() if kind == "word" and len(text) <= 4 else ""
        if keyword in _RECEIVED_KEYWORDS and keyword not in parts:
            current = parts[keyword] = ([], [])
        elif current is not None:
            current[0 if kind == "word" else 1].append(text)
    return parts


def _first(parts: dict[str, tuple[list[str], list[str]]], key: str) -> str | None:
    words = parts.get(key, ([], []))[0]
    return words[0] if words else None


def _joined(parts: dict[str, tuple[list[str], list[str]]], key: str) -> str | None:
    words = parts.get(key, ([], []))[0]
    return " ".join(words) or None


def _helo(comments: list[str]) -> str | None:
    for comment in comments:
        if match := _HELO.search(comment):
            return match.group(1)
    return None


def _reverse_dns(comments: list[str]) -> str | None:
    for comment in comments:
        if match := _NAME_BEFORE_BRACKET.search(comment):
            return match.group(1)
    return None


def _clause_ip(host: str | None, comments: list[str]) -> tuple[str | None, list[str]]:
    """The address a from (or by) clause names.

    The bracketed address in the comment is the one the receiving server saw on
    the connection; a bare address in the comment (qmail, Exchange) comes next;
    the name after "from" is only what the sender announced, so an address
    literal there counts last.
    """
    bracketed = [found for comment in comments for found in _BRACKETED.findall(comment)]
    for candidate in bracketed:
        if (ip := _ip(candidate)) is not None:
            return ip, []
    for comment in comments:
        for candidate in _TOKEN_SPLIT.split(comment):
            if (ip := _ip(candidate.removeprefix("IPv6:"))) is not None:
                return ip, []
    if host is not None and (ip := _ip(host.strip("[]").removeprefix("IPv6:"))) is not None:
        return ip, []
    # Brackets hold the connecting address; ones that hold no address are worth flagging.
    return None, ["unreadable_ip"] if bracketed else []


def _ip(text: str) -> str | None:
    if not text or ("." not in text and ":" not in text):
        return None
    try:
        return str(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def ip_scope(text: str | None) -> str | None:
    """"public", or which kind of internal network the address belongs to."""
    if text is None:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for scope, network in _INTERNAL:
        if address.version == network.version and address in network:
            return scope
    return "public"


def _hop_time(stamp: str, defects: list[str]) -> dict[str, JSONValue]:
    found: dict[str, JSONValue] = {"time": None, "time_text": stamp or None}
    if not stamp:
        return found
    try:
        parsed = parsedate_to_datetime(stamp)
        if parsed.tzinfo is None and _MINUS_ZERO.search(stamp):
            # RFC 5322 §3.3: -0000 is UTC from a system that would not state its zone.
            parsed = parsed.replace(tzinfo=UTC)
        if parsed.tzinfo is None:
            found["time_local"] = parsed.isoformat()
            defects.append("time_zone_unknown")
        else:
            found["time"] = parsed.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("unparseable_time")
    return found


def _instant(hop: dict[str, JSONValue]) -> datetime | None:
    value = hop.get("time")
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value)


# -- originating IP ------------------------------------------------------------


def _originating_ip(headers: dict[str, list[str]],
                    hops: list[dict[str, JSONValue]]) -> dict[str, JSONValue] | None:
    """The sender's address: a provider's own header when given, else the lowest public hop.

    The lowest hop is the one nearest the sender, and also the easiest to forge;
    the value names its hop so it can be weighed against the trusted ones above.
    """
    chain = next((hop for hop in reversed(hops) if hop.get("from_ip_scope") == "public"), None)
    found: dict[str, JSONValue] | None = None
    for name in _SOURCE_IP_HEADERS:
        for raw in headers.get(name, []):
            ip = _ip(raw.strip().strip("[]").strip())
            if ip is not None:
                found = {"ip": ip, "scope": ip_scope(ip), "source": _HEADER_TITLES[name],
                         "hop": None, "raw": raw[:MAX_RAW]}
                break
        if found is not None:
            break
    if found is None and chain is None:
        return None
    if found is None:
        assert chain is not None
        return {"ip": chain["from_ip"], "scope": "public", "source": "Received",
                "hop": chain["index"], "raw": chain["raw"]}
    if chain is not None:
        found["received_ip"] = chain["from_ip"]
        found["received_hop"] = chain["index"]
    return found


# -- sender checks --------------------------------------------------------------


def _addresses(values: Sequence[str]) -> list[str]:
    return [address for value in values for address in _parsed_addresses(value)]


@lru_cache(maxsize=4096)
def _parsed_addresses(value: str) -> tuple[str, ...]:
    """The addresses in one header value; the plain forms without the slow general parser."""
    if simple := _SIMPLE_ADDRESS.fullmatch(value):
        return (simple["address"] or simple["bare"],)
    try:
        pairs = getaddresses([value])
    except Exception:  # noqa: BLE001 - getaddresses has raised on hostile input in several CPython releases
        return ()
    return tuple(address.strip() for _name, address in pairs if address.strip())


def _from_address(headers: dict[str, list[str]]) -> str | None:
    found = _addresses(headers.get("from", []))
    return found[0] if found and "@" in found[0] else None


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(".").lower()


def _sender_mismatches(headers: dict[str, list[str]],
                       from_address: str | None) -> list[dict[str, JSONValue]]:
    """Each envelope, Sender or Reply-To address that is not the From address."""
    if from_address is None:
        return []
    mismatches: list[dict[str, JSONValue]] = []
    for name in _ADDRESS_CHECKED:
        seen: set[str] = set()
        for raw in headers.get(name, []):
            if name == "return-path" and raw.replace(" ", "") == "<>":
                addresses = ["<>"]
            else:
                addresses = _addresses([raw])
            for address in addresses:
                if address.lower() in seen:
                    continue
                seen.add(address.lower())
                differs = _difference(from_address, address)
                if differs is not None:
                    mismatches.append({
                        "field": _HEADER_TITLES[name], "from_address": from_address,
                        "address": address, "differs": differs, "raw": raw[:MAX_RAW],
                    })
    return mismatches


def _difference(from_address: str, other: str) -> str | None:
    if other == "<>":
        return "null_sender"
    if other.lower() == from_address.lower():
        return None
    if "@" not in other:
        return "unreadable_address"
    if _domain(other) != _domain(from_address):
        return "domain"
    return "local_part"


def _message_id_domain(headers: dict[str, list[str]],
                       from_address: str | None) -> dict[str, JSONValue] | None:
    values = headers.get("message-id", [])
    if not values:
        return None
    message_id = values[0]
    inner = message_id.strip().removeprefix("<").removesuffix(">").strip()
    domain = _domain(inner) if "@" in inner else None
    from_domain = _domain(from_address) if from_address else None
    if domain is None or from_domain is None:
        matches = None
    elif domain == from_domain:
        matches = "same"
    elif domain.endswith("." + from_domain):
        matches = "subdomain"
    else:
        matches = "different"
    return {
        "message_id": message_id[:MAX_RAW], "domain": domain, "from_domain": from_domain,
        "matches_from": matches, "defects": [] if domain else ["no_domain"],
    }


# -- authentication results -------------------------------------------------------


def _authentication_results(headers: dict[str, list[str]]) -> list[dict[str, JSONValue]]:
    results: list[dict[str, JSONValue]] = []
    for name in ("authentication-results", "arc-authentication-results"):
        for index, value in enumerate(headers.get(name, []), start=1):
            result = _guarded(parse_authentication_results, value, index)
            result["header"] = _HEADER_TITLES[name]
            results.append(result)
    for index, value in enumerate(headers.get("received-spf", []), start=1):
        result = _guarded(parse_received_spf, value, index)
        result["header"] = "Received-SPF"
        results.append(result)
    return results


def parse_authentication_results(value: str, index: int = 1) -> dict[str, JSONValue]:
    """An (ARC-)Authentication-Results header (RFC 8601, RFC 8617) as method results."""
    text = _unfold(value)
    defects: list[str] = []
    segments = _split_outside_quotes(_strip_comments(text, defects), ";")
    instance: str | None = None
    if segments and re.fullmatch(r"\s*i\s*=\s*\d+\s*", segments[0]):
        instance = segments.pop(0).split("=", 1)[1].strip()
    authserv_id: str | None = None
    # Exchange Online writes no authserv-id: its header starts with a result.
    if segments and not _starts_with_result(segments[0]):
        head = segments.pop(0).split()
        authserv_id = head[0] if head else None
    if not authserv_id:
        defects.append("no_authserv_id")
    methods: list[JSONValue] = []
    for segment in segments:
        methods.extend(_method_results(segment, defects))
    return {
        "index": index, "authserv_id": authserv_id, "instance": instance,
        "results": methods, "raw": text[:MAX_RAW], "defects": list(dict.fromkeys(defects)),
    }


def _starts_with_result(segment: str) -> bool:
    key, equals, _ = segment.strip().partition("=")
    return bool(equals) and key.strip().lower().split("/", 1)[0] in _AUTH_METHODS


def _method_results(segment: str, defects: list[str]) -> list[JSONValue]:
    found: list[JSONValue] = []
    current: dict[str, JSONValue] | None = None
    for token in _split_outside_quotes(segment, None):
        key, equals, raw_value = token.partition("=")
        key, item = key.strip().lower(), raw_value.strip().strip('"')
        if not equals:
            if key != "none":
                defects.append("unreadable_result")
            continue
        method = key.split("/", 1)[0]
        if method in _AUTH_METHODS or (current is None and "." not in key):
            current = {"method": method, "result": item.lower(), "properties": {}}
            found.append(current)
        elif current is None:
            defects.append("property_without_method")
        else:
            properties = current["properties"]
            assert isinstance(properties, dict)
            properties[key] = item
    return found


def parse_received_spf(value: str, index: int = 1) -> dict[str, JSONValue]:
    """A Received-SPF header (RFC 7208 §9.1): result, comment, then key=value pairs."""
    text = _unfold(value)
    defects: list[str] = []
    words = text.split(None, 1)
    result = words[0].lower() if words else None
    if not result:
        defects.append("no_result")
    rest = words[1] if len(words) > 1 else ""
    comment = None
    if rest.startswith("("):
        depth = 0
        for position, char in enumerate(rest):
            depth += (char == "(") - (char == ")")
            if depth == 0:
                comment, rest = rest[1:position], rest[position + 1:]
                break
        else:
            defects.append("unbalanced_parentheses")
            rest = ""
    properties: dict[str, JSONValue] = {}
    for pair in _split_outside_quotes(rest, ";"):
        key, equals, item = pair.strip().partition("=")
        if equals:
            properties[key.strip().lower()] = item.strip().strip('"')
        elif pair.strip():
            defects.append("unreadable_property")
    spf: dict[str, JSONValue] = {"method": "spf", "result": result, "properties": properties}
    if comment is not None:
        spf["comment"] = comment
    return {
        "index": index, "authserv_id": properties.get("receiver"), "instance": None,
        "results": [spf], "raw": text[:MAX_RAW], "defects": list(defects),
    }


def _strip_comments(text: str, defects: list[str]) -> str:
    """``text`` without its (nested) comments; an unclosed comment runs to the end."""
    while "(" in text:
        stripped = _INNERMOST_COMMENT.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    if "(" in text or ")" in text:
        defects.append("unbalanced_parentheses")
        text = text.partition("(")[0].replace(")", " ")
    return text


def _split_outside_quotes(text: str, separator: str | None) -> list[str]:
    """``text`` split at ``separator`` (or whitespace) outside double quotes, no empty parts."""
    if '"' not in text:
        return [part.strip() for part in text.split(separator) if part.strip()]
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        splits = char.isspace() if separator is None else char == separator
        if splits and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _dkim_signatures(headers: dict[str, list[str]]) -> list[dict[str, JSONValue]]:
    """Who signed (d=, s=) and what (h=): re-verifiable later only while the key is published."""
    found: list[dict[str, JSONValue]] = []
    for index, text in enumerate(headers.get("dkim-signature", []), start=1):
        tags = {}
        for pair in text.split(";"):
            key, equals, item = pair.partition("=")
            if equals:
                tags[key.strip().lower()] = re.sub(r"\s+", "", item)
        found.append({
            "index": index, "domain": tags.get("d"), "selector": tags.get("s"),
            "signed_headers": tags.get("h"), "identity": tags.get("i"),
            "timestamp": tags.get("t"), "algorithm": tags.get("a"),
            "defects": [] if tags.get("d") else ["no_domain"],
        })
    return found


def _auth_summary(results: list[dict[str, JSONValue]]) -> dict[str, str]:
    """spf/dkim/dmarc of the top Authentication-Results: the recipient's provider's verdict.

    ARC results were written by an intermediary and Received-SPF says only SPF,
    so Received-SPF is used only when there is no Authentication-Results at all.
    """
    chosen = next((r for r in results if r.get("header") == "Authentication-Results"), None)
    if chosen is None:
        chosen = next((r for r in results if r.get("header") == "Received-SPF"), None)
    if chosen is None:
        return {}
    verdicts: dict[str, list[str]] = {}
    entries = chosen.get("results")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("method") in _SUMMARY_METHODS:
            verdicts.setdefault(str(entry["method"]), []).append(str(entry.get("result")))
    text = " ".join(f"{method}={','.join(dict.fromkeys(verdicts[method]))}"
                    for method in _SUMMARY_METHODS if method in verdicts)
    summary = {"auth": text} if text else {}
    if text and chosen.get("authserv_id"):
        summary["auth_by"] = str(chosen["authserv_id"])
    return summary


# -- small helpers -----------------------------------------------------------------


def _guarded(parse: Callable[[str, int], dict[str, JSONValue]], value: str,
             index: int) -> dict[str, JSONValue]:
    """``parse(value, index)``; an unexpected failure becomes a fact with a defect."""
    try:
        return parse(value, index)
    except Exception as exc:  # noqa: BLE001 - one unreadable header must not cost the message its other facts
        return {"index": index, "raw": _unfold(value)[:MAX_RAW],
                "defects": [f"unreadable:{type(exc).__name__}"]}


def _unfold(value: str) -> str:
    return _FOLD.sub(" ", value).strip()


def clean_header_text(text: str) -> str:
    """Text with raw 8-bit header bytes (kept by the email package as lone surrogates) decoded.

    Lone surrogates cannot be stored or printed, and raw UTF-8 in headers is
    legal (RFC 6532), so they are decoded as UTF-8 with U+FFFD for the rest.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "replace").decode("utf-8")
    return text
