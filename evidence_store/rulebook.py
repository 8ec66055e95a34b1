"""The behaviour rule file (TOML): loading, validation and compiled matchers.

One file holds everything the pattern-of-behaviour analysis matches text
against, so that a force can read and change it in one place: the behaviour
rules (``[[rule]]``), the phrases that suggest a notice of unwanted contact
(``[notices]``) and the phrases of a new-number message (``[linking]``).
The shipped file is ``evidence_store/rules/behaviour.toml``; ``--rules FILE``
replaces it entirely. Every problem in a file is reported as one line naming
the file, the rule and the field.

Matching is built for a million events. A text is lower-cased and split into
words once; a phrase's expression runs only on texts that hold every word of
the phrase (found through an index on each phrase's rarest word), and a
pattern's only on texts holding a literal that every match of it contains
(``re._parser`` finds it). A pattern without any literal of two or more
characters runs on every text, which is slow; the shipped rules have none.
Results are cached per distinct text.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, get_args

from sqlalchemy import or_

from evidence_store.cases import CaseError
from parsers.records import Kind

CATEGORIES = (
    "threat", "surveillance", "turning_up", "third_party_contact", "sexual_content",
    "self_harm_threat", "publishing", "evasion",
)
#: Protection from Harassment Act 1997 s.2A(3), examples (a) to (g).
S2A3 = (
    "following", "contacting", "publishing", "monitoring_electronic_communications",
    "loitering", "interfering_with_property", "watching_or_spying",
)
FOUR = ("fixated", "obsessive", "unwanted", "repeated")
SENDER_ROLES = ("victim", "suspect", "witness", "other", "unattributed")
KINDS = tuple(get_args(Kind))
GROUPS = ("event", "day")
#: Rules computed by code rather than by text patterns; the file still gives their
#: category, mapping and explanation.
DETECTORS = ("new_identifier_after_block",)
PLACEHOLDERS = ("suspect_name", "victim_name", "suspect_handle", "victim_handle")
EXPLANATION_FIELDS = frozenset({
    "match", "matches", "kind", "sender", "count", "day", "identifier", "person",
    "blocked_at", "first_at", "title",
})

_TOP_KEYS = frozenset({"version", "linking", "notices", "rule"})
_RULE_KEYS = frozenset({
    "id", "version", "category", "title", "kinds", "senders", "channels", "phrases",
    "patterns", "detector", "s2a3", "four", "explanation", "group",
})
_PHRASE_LISTS = {
    "linking": ("new_number_phrases",),
    "notices": ("stop_phrases", "blocked_phrases", "number_changed_phrases"),
}
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_MIN_KEY = 2
# Words in most messages: a key made of one of them would let nearly every text through.
_COMMON_WORDS = (
    "you your you're yours i i'm i'll me my the and to of in on at is are was were be it "
    "he she him her his they them their we us going come make take want know just not "
    "don't about from for all so do no yes out up get will can that have where when what "
    "with this there here who how why then than been had has did would could should"
)
_COMMON = frozenset(_COMMON_WORDS.split())


class RuleFileError(CaseError):
    """A rule file that cannot be used (one line: file, rule, field, problem)."""


def default_rules_path() -> Path:
    return Path(str(resources.files("evidence_store") / "rules" / "behaviour.toml"))


# --- phrases and patterns -------------------------------------------------------------


def phrase_regex(phrase: str, placeholders: Mapping[str, Sequence[str]] | None = None,
                 lead: bool = True) -> str | None:
    """A phrase as a regex that tolerates case, punctuation and spacing between words
    and an optional apostrophe inside one ("dont" / "don't" / "don’t"), ending at a
    word edge and, with ``lead``, starting at one. ``{suspect_name}`` and the like
    become alternations of the case's names; None when a placeholder has no value in
    this case."""
    parts: list[str] = []
    for token in re.split(r"(\{\w+\})", phrase):
        if _PLACEHOLDER.fullmatch(token):
            values = (placeholders or {}).get(token[1:-1], ())
            alternatives = {alt for v in values if (alt := _words_regex(v))}
            if not alternatives:
                return None
            parts.append("(?:" + "|".join(sorted(alternatives, key=lambda a: (-len(a), a)))
                         + ")")
            continue
        if words := _words_regex(token):
            parts.append(words)
    if not parts:
        return None
    return (r"(?<!\w)" if lead else "") + r"[\W_]+".join(parts) + r"(?!\w)"


def _words_regex(text: str) -> str | None:
    words = []
    for word in _WORD.findall(text):
        pieces = re.split(r"['’]", word)
        words.append("['’]?".join(re.escape(p) for p in pieces))
    return r"[\W_]+".join(words) if words else None


def expand_pattern(pattern: str, placeholders: Mapping[str, Sequence[str]]) -> str | None:
    """A rule's own regex with ``{victim_name}`` etc. replaced by escaped alternatives."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        values = [v for v in placeholders.get(match.group(1), ()) if v]
        if not values:
            missing = True
            return ""
        words = {w for v in values if (w := _words_regex(v))}
        if not words:
            missing = True
            return ""
        return (r"(?<!\w)(?:" + "|".join(sorted(words, key=lambda w: (-len(w), w)))
                + r")(?!\w)")

    expanded = _PLACEHOLDER.sub(replace, pattern)
    return None if missing else expanded


def literal_keys(pattern: str) -> frozenset[str] | None:
    """Lower-case literals at least one of which every match of ``pattern`` contains;
    None when the pattern has no such literal (it must then be tried on every text)."""
    return _sequence_keys(list(sre_parse.parse(pattern, re.IGNORECASE)))


_REPEATS = {sre_c.MAX_REPEAT, sre_c.MIN_REPEAT}
if hasattr(sre_c, "POSSESSIVE_REPEAT"):
    _REPEATS.add(sre_c.POSSESSIVE_REPEAT)


def _sequence_keys(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def close() -> None:
        if len(run) >= _MIN_KEY:
            candidates.append(frozenset({"".join(run).lower()}))
        run.clear()

    for op, arg in items:
        if op is sre_c.LITERAL:
            run.append(chr(arg))
            continue
        close()
        keys: frozenset[str] | None = None
        if op is sre_c.SUBPATTERN:
            keys = _sequence_keys(list(arg[-1]))
        elif op is sre_c.BRANCH:
            found = [_sequence_keys(list(branch)) for branch in arg[1]]
            if found and all(k is not None for k in found):
                keys = frozenset().union(*(k for k in found if k is not None))
        elif op in _REPEATS and arg[0] >= 1:
            keys = _sequence_keys(list(arg[2]))
        if keys:
            candidates.append(keys)
    close()
    if not candidates:
        return None
    # The most selective candidate: no everyday word if possible, then the one whose
    # shortest key is longest.
    return max(candidates, key=lambda keys: (not keys & _COMMON, min(map(len, keys)),
                                             -len(keys)))


@dataclass(frozen=True, slots=True)
class PhraseSet:
    """Phrases compiled into one matcher (notices, new-number messages)."""

    phrases: tuple[str, ...]
    regex: re.Pattern[str] | None
    keys: frozenset[str] | None

    @classmethod
    def of(cls, phrases: Sequence[str]) -> PhraseSet:
        sources = [p for p in (phrase_regex(x) for x in phrases) if p]
        if not sources:
            return cls(tuple(phrases), None, frozenset())
        regex = re.compile("|".join(f"(?:{s})" for s in sources), re.IGNORECASE)
        keys = [literal_keys(s) for s in sources]
        merged = None if any(k is None for k in keys) else frozenset().union(
            *(k for k in keys if k is not None))
        return cls(tuple(phrases), regex, merged)

    def search(self, text: str | None) -> re.Match[str] | None:
        if not text or self.regex is None:
            return None
        return self.regex.search(text)

    def like_keys(self) -> list[str] | None:
        """Literals for a SQL LIKE pre-filter (none inside another: "contact" covers
        "contacting"); None when some phrase has none."""
        if self.keys is None:
            return None
        return sorted(k for k in self.keys if not any(o != k and o in k for o in self.keys))

    def sql_filter(self, column: Any, dialect: str) -> Any:
        """SQL: the column may hold one of the phrases (None: no filter possible).
        SQLite's LIKE ignores ASCII case already; PostgreSQL needs ILIKE."""
        keys = self.like_keys()
        if not keys:
            return None
        def pattern(key: str) -> str:
            return "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if dialect == "postgresql":
            return or_(*(column.ilike(pattern(k), escape="\\") for k in keys))
        return or_(*(column.like(pattern(k), escape="\\") for k in keys))


# --- rules ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as the file states it (placeholders not yet filled in)."""

    id: str
    version: str
    category: str
    title: str
    kinds: frozenset[str] | None
    senders: frozenset[str] | None
    channels: frozenset[str] | None
    phrases: tuple[str, ...]
    patterns: tuple[str, ...]
    detector: str | None
    s2a3: tuple[str, ...]
    four: tuple[str, ...]
    explanation: str
    group: str
    hash: str

    def applies_to(self, kind: str, channel: str, role: str) -> bool:
        return ((self.kinds is None or kind in self.kinds)
                and (self.channels is None or channel in self.channels)
                and (self.senders is None or role in self.senders))


@dataclass(frozen=True, slots=True)
class Rulebook:
    path: str
    sha256: str
    version: str
    rules: tuple[RuleSpec, ...]
    new_number: PhraseSet
    stop: PhraseSet
    blocked: PhraseSet
    number_changed: PhraseSet

    def rule(self, rule_id: str) -> RuleSpec | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def text_rules(self) -> list[RuleSpec]:
        return [r for r in self.rules if r.detector is None]


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


#: The words of a text, as the pre-filter sees them (the text lower-cased first).
TOKEN = re.compile(r"\w+")

# A phrase's requirement: for each of its words, the alternative token sets one of
# which the text must hold ("can't" is the token "cant", or "can" and "t").
Requirement = tuple[tuple[frozenset[str], ...], ...]


def _word_alternatives(word: str) -> tuple[frozenset[str], ...]:
    pieces = [p for p in re.split(r"['’]", word) if p]
    if len(pieces) == 1:
        return (frozenset(pieces),)
    return (frozenset({"".join(pieces)}), frozenset(pieces))


def phrase_requirement(phrase: str, placeholders: Mapping[str, Sequence[str]]
                       ) -> Requirement | None:
    """The words a lower-cased text must contain for ``phrase`` to match in it. A
    placeholder is one requirement whose alternatives are the names' word sets.
    None when a placeholder has no value."""
    required: list[tuple[frozenset[str], ...]] = []
    for token in re.split(r"(\{\w+\})", phrase.lower()):
        if _PLACEHOLDER.fullmatch(token):
            names = []
            for value in placeholders.get(token[1:-1], ()):
                words = [w for word in _WORD.findall(value.lower())
                         for w in re.split(r"['’]", word) if w]
                if words:
                    names.append(frozenset(words))
            if not names:
                return None
            required.append(tuple(dict.fromkeys(names)))
            continue
        required.extend(_word_alternatives(w) for w in _WORD.findall(token))
    return tuple(required)


def _key_word(requirement: Requirement) -> frozenset[str]:
    """The words to index a phrase under: its most telling single-token word (a rare,
    long one), or for a placeholder-only phrase every word of its names."""
    singles = [next(iter(alt[0])) for alt in requirement
               if len(alt) == 1 and len(alt[0]) == 1]
    if singles:
        return frozenset({max(singles, key=lambda w: (w not in _COMMON, len(w)))})
    return frozenset(w for alt in requirement for option in alt for w in option)


@dataclass(slots=True)
class Source:
    """One phrase or pattern of a rule, compiled for one case.

    A phrase is matched against the lower-cased text, without case folding in the
    engine and with its leading word edge checked here: the expression then starts
    with a literal, which the regex engine finds by fast search instead of trying
    the expression at every position. It is tried only on texts holding all its
    words. A pattern (the file's own regex) is matched case-insensitively on the
    text as written, on texts holding its literal key.
    """

    rule: int
    regex: re.Pattern[str]
    on_lowered: bool
    requirement: Requirement | None = None  # phrases
    keys: frozenset[str] | None = None  # patterns: literals, one of which every match holds
    fallback: re.Pattern[str] | None = None  # phrases, for texts that lower-case unevenly
    # The requirement split for speed: words that must all be there, and the few
    # requirements with alternatives (apostrophes, names).
    needed: frozenset[str] = frozenset()
    choices: Requirement = ()

    def __post_init__(self) -> None:
        if self.requirement is not None:
            self.needed = frozenset(next(iter(alt[0])) for alt in self.requirement
                                    if len(alt) == 1 and len(alt[0]) == 1)
            self.choices = tuple(alt for alt in self.requirement
                                 if not (len(alt) == 1 and len(alt[0]) == 1))

    def possible(self, tokens: set[str]) -> bool:
        return self.needed <= tokens and all(
            any(option <= tokens for option in alternatives) for alternatives in self.choices)

    def spans(self, text: str, lowered: str | None) -> list[tuple[int, int]]:
        if not self.on_lowered:
            return [m.span() for m in self.regex.finditer(text)]
        if lowered is None:
            assert self.fallback is not None
            return [m.span() for m in self.fallback.finditer(text)]
        found = []
        position = 0
        search = self.regex.search
        while (match := search(lowered, position)) is not None:
            start = match.start()
            if start == 0 or not _is_word(lowered[start - 1]):
                found.append((start, match.end()))
                position = max(match.end(), start + 1)
            else:
                position = start + 1
        return found


@dataclass(slots=True)
class CaseMatcher:
    """The text rules compiled for one case (its names filled in), with the
    pre-filter and a cache of results for texts already seen (chats repeat
    themselves: "ok", "where are you", the same line pasted again)."""

    rules: list[RuleSpec]
    sources: list[Source]
    # Word -> phrase sources indexed under it.
    by_word: dict[str, list[int]] = field(default_factory=dict)
    # Pattern sources: (their literal keys, index); unkeyed ones are always tried.
    by_literal: list[tuple[frozenset[str], int]] = field(default_factory=list)
    unkeyed: list[int] = field(default_factory=list)
    cache: dict[str, tuple[tuple[int, int, int], ...]] = field(default_factory=dict)
    cache_limit: int = 200_000
    words: frozenset[str] = frozenset()
    # Any pattern literal at all: one search gates every pattern source.
    literals: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        self.words = frozenset(self.by_word)
        keys = sorted({k for keys, _ in self.by_literal for k in keys}, key=len)
        self.literals = re.compile("|".join(map(re.escape, keys))) if keys else None

    def wanted(self, lowered: str) -> list[int]:
        """Sources worth trying on one lower-cased text."""
        tokens = set(TOKEN.findall(lowered))
        present = tokens & self.words
        literal = (self.literals is not None and self.literals.search(lowered) is not None)
        if not present and not literal and not self.unkeyed:
            return []
        found: set[int] = set(self.unkeyed)
        sources = self.sources
        for word in present:
            for index in self.by_word[word]:
                if index not in found and sources[index].possible(tokens):
                    found.add(index)
        if literal:
            for keys, index in self.by_literal:
                if any(key in lowered for key in keys):
                    found.add(index)
        return sorted(found)

    def evaluate(self, text: str) -> tuple[tuple[int, int, int], ...]:
        """(rule index, start, end) of every match in one text, from the cache if seen."""
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        lowered = text.lower()
        wanted = self.wanted(lowered)
        result = self.matches(text, lowered if len(lowered) == len(text) else None,
                              wanted) if wanted else ()
        if len(self.cache) >= self.cache_limit:
            self.cache.clear()
        self.cache[text] = result
        return result

    def matches(self, text: str, lowered: str | None, wanted: Iterable[int]
                ) -> tuple[tuple[int, int, int], ...]:
        """(rule index, start, end) of every match of the wanted sources."""
        found: list[tuple[int, int, int]] = []
        for index in wanted:
            source = self.sources[index]
            found.extend((source.rule, start, end) for start, end in source.spans(text, lowered))
        if len(found) < 2:
            return tuple(found)
        # Two phrases of one rule over the same words ("I will kill you", "kill you"):
        # cite the longer span only.
        found = sorted(set(found), key=lambda m: (m[0], m[1], -m[2]))
        kept: list[tuple[int, int, int]] = []
        for match in found:
            if kept and kept[-1][0] == match[0] and match[2] <= kept[-1][2]:
                continue
            kept.append(match)
        return tuple(sorted(kept, key=lambda m: (m[1], m[0], m[2])))


def compile_for_case(book: Rulebook, placeholders: Mapping[str, Sequence[str]]) -> CaseMatcher:
    lowered_values = {k: [v.lower() for v in vs] for k, vs in placeholders.items()}
    rules: list[RuleSpec] = []
    sources: list[Source] = []
    for spec in book.text_rules():
        index = len(rules)
        added = False
        for phrase in spec.phrases:
            body = phrase_regex(phrase.lower(), lowered_values, lead=False)
            requirement = phrase_requirement(phrase, placeholders)
            if body is None or requirement is None:
                continue
            bounded = phrase_regex(phrase, placeholders)
            sources.append(Source(index, re.compile(body), True, requirement=requirement,
                                  fallback=re.compile(bounded or body, re.IGNORECASE)))
            added = True
        for pattern in spec.patterns:
            expanded = expand_pattern(pattern, placeholders)
            if expanded is None:
                continue
            sources.append(Source(index, re.compile(expanded, re.IGNORECASE), False,
                                  keys=literal_keys(expanded)))
            added = True
        if added:
            rules.append(spec)
    by_word: dict[str, list[int]] = {}
    by_literal: list[tuple[frozenset[str], int]] = []
    unkeyed: list[int] = []
    for index, source in enumerate(sources):
        if source.requirement is not None:
            for word in _key_word(source.requirement):
                by_word.setdefault(word, []).append(index)
        elif source.keys:
            by_literal.append((source.keys, index))
        else:
            unkeyed.append(index)
    return CaseMatcher(rules, sources, by_word, by_literal, unkeyed)


# --- loading and validation -----------------------------------------------------------


def load_rules(path: str | Path | None = None) -> Rulebook:
    """Read and validate a rule file (the shipped one when ``path`` is None)."""
    where = Path(path) if path is not None else default_rules_path()
    try:
        raw = where.read_bytes()
    except OSError as exc:
        raise RuleFileError(f"rules {where}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RuleFileError(f"rules {where}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleFileError(f"rules {where}: not valid TOML: {exc}") from None
    return _validate(where, hashlib.sha256(raw).hexdigest(), data)


def _validate(where: Path, digest: str, data: dict[str, Any]) -> Rulebook:
    def fail(message: str) -> RuleFileError:
        return RuleFileError(f"rules {where}: {message}")

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise fail(f"unknown top-level key {unknown[0]!r} "
                   f"(allowed: {', '.join(sorted(_TOP_KEYS))})")
    version = data.get("version")
    if not isinstance(version, str | int) or isinstance(version, bool):
        raise fail("'version' (the rule set's version) is missing or not a string")
    phrases: dict[str, PhraseSet] = {}
    for table, names in _PHRASE_LISTS.items():
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise fail(f"[{table}] must be a table")
        extra = sorted(set(section) - set(names))
        if extra:
            raise fail(f"[{table}] has unknown key {extra[0]!r} (allowed: {', '.join(names)})")
        for name in names:
            values = section.get(name, [])
            _strings(values, f"[{table}] {name}", fail)
            phrases[name] = PhraseSet.of(values)
    rules_raw = data.get("rule", [])
    if not isinstance(rules_raw, list) or not rules_raw:
        raise fail("no [[rule]] entries")
    rules: list[RuleSpec] = []
    seen: set[str] = set()
    for number, entry in enumerate(rules_raw, 1):
        spec = _rule(entry, number, fail)
        if spec.id in seen:
            raise fail(f"rule #{number}: id {spec.id!r} is used twice")
        seen.add(spec.id)
        rules.append(spec)
    return Rulebook(
        path=str(where), sha256=digest, version=str(version), rules=tuple(rules),
        new_number=phrases["new_number_phrases"], stop=phrases["stop_phrases"],
        blocked=phrases["blocked_phrases"], number_changed=phrases["number_changed_phrases"],
    )


def _strings(values: Any, label: str, fail: Any) -> None:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip()
                                               for v in values):
        raise fail(f"{label} must be a list of non-empty strings")


def _choices(entry: dict[str, Any], key: str, allowed: Sequence[str], label: str, fail: Any,
             required: bool = False) -> tuple[str, ...] | None:
    if key not in entry:
        if required:
            raise fail(f"{label}: '{key}' is missing (one or more of {', '.join(allowed)})")
        return None
    values = entry[key]
    _strings(values, f"{label}: {key}", fail)
    for value in values:
        if value not in allowed:
            raise fail(f"{label}: {key} has unknown value {value!r} "
                       f"(allowed: {', '.join(allowed)})")
    return tuple(dict.fromkeys(values))


def _rule(entry: Any, number: int, fail: Any) -> RuleSpec:
    if not isinstance(entry, dict):
        raise fail(f"rule #{number} must be a table")
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not re.fullmatch(r"[a-z0-9_.\-]{1,100}", rule_id):
        raise fail(f"rule #{number}: 'id' must be 1-100 of a-z 0-9 _ . -")
    label = f"rule #{number} {rule_id!r}"
    unknown = sorted(set(entry) - _RULE_KEYS)
    if unknown:
        raise fail(f"{label}: unknown key {unknown[0]!r}")
    version = entry.get("version")
    if not isinstance(version, str | int) or isinstance(version, bool):
        raise fail(f"{label}: 'version' is missing or not a string")
    category = entry.get("category")
    if category not in CATEGORIES:
        raise fail(f"{label}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    detector = entry.get("detector")
    if detector is not None and detector not in DETECTORS:
        raise fail(f"{label}: detector {detector!r} is not one of {', '.join(DETECTORS)}")
    phrases = entry.get("phrases", [])
    patterns = entry.get("patterns", [])
    _strings(phrases, f"{label}: phrases", fail)
    _strings(patterns, f"{label}: patterns", fail)
    if detector is None and not phrases and not patterns:
        raise fail(f"{label}: needs 'phrases' or 'patterns' (or a 'detector')")
    if detector is not None and (phrases or patterns):
        raise fail(f"{label}: a detector rule takes no phrases or patterns")
    dummy = {name: ["Sample Name"] for name in PLACEHOLDERS}
    for pattern in patterns:
        try:
            re.compile(expand_pattern(pattern, dummy) or "", re.IGNORECASE)
        except re.error as exc:
            raise fail(f"{label}: pattern {pattern!r} is not a valid regex: {exc}") from None
        if re.compile(expand_pattern(pattern, dummy) or "", re.IGNORECASE).search(""):
            raise fail(f"{label}: pattern {pattern!r} matches empty text")
    s2a3 = _choices(entry, "s2a3", S2A3, label, fail, required=True) or ()
    four = _choices(entry, "four", FOUR, label, fail, required=True) or ()
    if not s2a3 or not four:
        raise fail(f"{label}: 's2a3' and 'four' each need at least one value")
    kinds = _choices(entry, "kinds", KINDS, label, fail)
    senders = _choices(entry, "senders", SENDER_ROLES, label, fail)
    channels = entry.get("channels")
    if channels is not None:
        _strings(channels, f"{label}: channels", fail)
    explanation = entry.get("explanation")
    if not isinstance(explanation, str) or not explanation.strip():
        raise fail(f"{label}: 'explanation' is missing")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(explanation) if name}
    except ValueError as exc:
        raise fail(f"{label}: explanation is not a valid template: {exc}") from None
    bad = sorted(f for f in fields if f not in EXPLANATION_FIELDS)
    if bad:
        raise fail(f"{label}: explanation uses unknown field {{{bad[0]}}} "
                   f"(allowed: {', '.join(sorted(EXPLANATION_FIELDS))})")
    group = entry.get("group", "event")
    if group not in GROUPS:
        raise fail(f"{label}: group {group!r} is not one of {', '.join(GROUPS)}")
    title = entry.get("title", rule_id)
    if not isinstance(title, str):
        raise fail(f"{label}: 'title' must be a string")
    # The hash covers what the rule says, so a stored flag shows which wording fired it.
    digest = hashlib.sha256(json.dumps(entry, sort_keys=True, ensure_ascii=False)
                            .encode("utf-8")).hexdigest()
    return RuleSpec(
        id=rule_id, version=str(version), category=category, title=title,
        kinds=frozenset(kinds) if kinds is not None else None,
        senders=frozenset(senders) if senders is not None else None,
        channels=frozenset(channels) if channels is not None else None,
        phrases=tuple(phrases), patterns=tuple(patterns), detector=detector,
        s2a3=s2a3, four=four, explanation=explanation, group=group, hash=digest,
    )
