"""`conduct link`, `conduct notice` and `conduct flags`: the officer's side of the
pattern of behaviour (suggested identities, notices, behaviour flags).

Registered on the main app by conduct.cli (imported at its end). Every decision
goes through evidence_store, which logs it in the case's custody chain with the
acting user.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session
from typer.core import TyperGroup

from conduct.cli import _identifiers, app, fail, guarded, opened, out, settings
from evidence_store import cases, custody
from evidence_store.behaviour import dismiss_flag, evaluate_flags, flags_of_case
from evidence_store.linking import confirm_link, links_of_case, reject_link, suggest_links
from evidence_store.models import Case
from evidence_store.notices import (
    accept_suggestion,
    notices_of_case,
    record_notice,
    reject_suggestion,
    suggest_notices,
)


class _DefaultShow(TyperGroup):
    """`conduct flags REF` runs `conduct flags show REF`; `conduct flags dismiss ...` the
    subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)  # type: ignore[no-any-return]


link_app = typer.Typer(no_args_is_help=True,
                       help="Suggested links between identifiers and people: review them.")
notice_app = typer.Typer(no_args_is_help=True,
                         help="Notices that contact is unwanted (and blocks, number changes).")
flags_app = typer.Typer(cls=_DefaultShow, no_args_is_help=True,
                        help="Behaviour flags from the rule file: `conduct flags REF`.")
app.add_typer(link_app, name="link")
app.add_typer(notice_app, name="notice")
app.add_typer(flags_app, name="flags")

RulesOption = Annotated[Path | None, typer.Option(
    "--rules", help="Behaviour rule file (TOML; default: the one shipped with Conduct).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _print_json(rows: Sequence[Any]) -> None:
    print(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=2))


def _plain(text: str) -> None:
    out.print(text, markup=False, highlight=False)


def _logged_listing(ref: str, fetch: Callable[[Session, Case], Sequence[Any]], action: str,
                    counted: str, line: Callable[[Any], str], as_json: bool) -> None:
    """A listing whose viewing is itself logged: what an officer was shown is disclosable."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        rows = fetch(session, case)
        custody.append(session, custody.case_chain(case.ref), settings.user, action,
                       case.ref, {counted: len(rows)})
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        _plain(line(row))


# --- links ----------------------------------------------------------------------------


def _link_line(link: Any) -> str:
    decided = f" by {link.decided_by}" if link.decided_by else ""
    note = f" ({link.note})" if link.note else ""
    return (f"#{link.id} {link.status}{decided}{note}: {link.value} -> {link.person_name} "
            f"({link.person_role}), confidence {link.confidence:.2f} "
            f"[{', '.join(link.reason_codes)}]\n    {link.reason}\n"
            f"    events: {', '.join(map(str, link.event_ids[:20]))}"
            + (" ..." if len(link.event_ids) > 20 else ""))


@link_app.command("suggest")
def link_suggest(ref: str, rules: RulesOption = None, as_json: JsonOption = False) -> None:
    """Work out which unknown identifiers look like a known person's, and why."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        pending = guarded(lambda: suggest_links(session, case, rules, actor=settings.user))
    if as_json:
        _print_json(pending)
        return
    for link in pending:
        _plain(_link_line(link))
    _plain(f"{len(pending)} suggestions waiting for a decision")


@link_app.command("list")
def link_list(ref: str, as_json: JsonOption = False) -> None:
    """Every suggestion with its decision (confirmed and rejected ones are kept)."""
    _logged_listing(ref, links_of_case, "links_viewed", "links", _link_line, as_json)


@link_app.command("confirm")
def link_confirm(ref: str, link_id: int,
                 note: Annotated[str | None, typer.Option(help="Why (kept and logged).")] = None
                 ) -> None:
    """The identifier is the person's: it is added to them and the timeline names them."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        link = guarded(lambda: confirm_link(session, case, link_id, settings.user, note))
    _plain(f"link #{link.id} confirmed: {link.value} is {link.person_name}'s")


@link_app.command("reject")
def link_reject(ref: str, link_id: int,
                note: Annotated[str | None, typer.Option(help="Why (kept and logged).")] = None
                ) -> None:
    """The identifier is not the person's: kept as rejected, never suggested again."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        link = guarded(lambda: reject_link(session, case, link_id, settings.user, note))
    _plain(f"link #{link.id} rejected: {link.value} is not {link.person_name}'s")


# --- notices --------------------------------------------------------------------------


class NoticeKind(StrEnum):
    notice = "notice"
    warning = "warning"
    spo = "spo"
    blocked = "blocked"
    number_changed = "number_changed"


def _notice_line(notice: Any) -> str:
    who = f" to {notice.person_name}" if notice.person_name else ""
    ident = f" ({notice.identifier})" if notice.identifier else ""
    source = f" from event {notice.source_event_id}" if notice.source_event_id else ""
    decided = f" by {notice.decided_by}" if notice.decided_by else ""
    line = (f"#{notice.id} {notice.status}{decided}: {notice.kind}{who}{ident} given "
            f"{notice.given_at.astimezone(UTC).isoformat().replace('+00:00', 'Z')} by "
            f"{notice.given_by or '?'}{source}")
    if notice.reason:
        line += f"\n    {notice.reason}"
    elif notice.text:
        line += f"\n    {notice.text}"
    return line


@notice_app.command("suggest")
def notice_suggest(ref: str, rules: RulesOption = None, as_json: JsonOption = False) -> None:
    """Offer the victim's own "stop contacting me" messages, and recorded blocks, as notices."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        pending = guarded(lambda: suggest_notices(session, case, rules, actor=settings.user))
    if as_json:
        _print_json(pending)
        return
    for notice in pending:
        _plain(_notice_line(notice))
    _plain(f"{len(pending)} suggested notices waiting for a decision")


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--at must be an ISO time such as 2024-03-12T10:00Z, not {text!r}")
    if moment.tzinfo is None:
        fail(f"--at needs a zone or offset (2024-03-12T10:00Z or +01:00), not {text!r}")
    return moment


@notice_app.command("add")
def notice_add(
    ref: str,
    kind: Annotated[NoticeKind, typer.Option(help="What was given or done.")],
    at: Annotated[str, typer.Option("--at", help="When, ISO with zone (2024-03-12T10:00Z).")],
    by: Annotated[str, typer.Option("--by", help="Who gave it (officer, court, victim).")],
    text: Annotated[str | None, typer.Option(help="Its wording or a summary.")] = None,
    person: Annotated[int | None, typer.Option(
        help="The suspect it was given to (person id); default: every suspect.")] = None,
    identifier: Annotated[str | None, typer.Option(
        help="For blocked / number_changed: the identifier blocked or given up.")] = None,
    event: Annotated[int | None, typer.Option(help="The event that records it, if any.")
                     ] = None,
) -> None:
    """Record a notice, warning, Stalking Protection Order, block or number change."""
    moment = _moment(at)
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        value = _identifiers([identifier], case.default_region)[0] if identifier else None
        notice = guarded(lambda: record_notice(
            session, case, kind.value, moment, by, text=text, person=person,
            source_event_id=event, identifier=value, actor=settings.user))
    _plain(f"notice #{notice.id} recorded: {_notice_line(notice)}")


@notice_app.command("accept")
def notice_accept(ref: str, suggestion_id: int) -> None:
    """A suggested notice counts from now on."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        notice = guarded(lambda: accept_suggestion(session, case, suggestion_id,
                                                   settings.user))
    _plain(f"notice #{notice.id} accepted")


@notice_app.command("reject")
def notice_reject(ref: str, suggestion_id: int) -> None:
    """A suggested notice does not count (kept and logged)."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        notice = guarded(lambda: reject_suggestion(session, case, suggestion_id,
                                                   settings.user))
    _plain(f"notice #{notice.id} rejected")


@notice_app.command("list")
def notice_list(ref: str, as_json: JsonOption = False) -> None:
    """Every notice: recorded, suggested, accepted and rejected."""
    _logged_listing(ref, notices_of_case, "notices_viewed", "notices", _notice_line, as_json)


# --- flags ----------------------------------------------------------------------------


@flags_app.command("show")
def flags_show(
    ref: str,
    rules: RulesOption = None,
    as_json: JsonOption = False,
    dismissed: Annotated[bool, typer.Option(
        "--dismissed/--no-dismissed", help="Include flags the officer dismissed.")] = True,
) -> None:
    """Run the behaviour rules and show every flag with its rule and cited events."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        guarded(lambda: evaluate_flags(session, case, rules, actor=settings.user))
        flags = flags_of_case(session, case, include_dismissed=dismissed)
        custody.append(session, custody.case_chain(case.ref), settings.user, "flags_viewed",
                       case.ref, {"flags": len(flags), "rules": str(rules) if rules else None})
    if as_json:
        _print_json(flags)
        return
    for flag in flags:
        status = "" if flag.status == "active" else (
            f" [dismissed by {flag.dismissed_by}: {flag.dismissed_reason}]")
        _plain(f"#{flag.id} {flag.category} {flag.rule_id} v{flag.rule_version}{status}\n"
               f"    {flag.explanation}\n"
               f"    s.2A(3): {', '.join(flag.s2a3)}; FOUR: {', '.join(flag.four)}; "
               f"events: {', '.join(map(str, flag.event_ids[:20]))}"
               + (" ..." if len(flag.event_ids) > 20 else ""))
    _plain(f"{len(flags)} flags")


@flags_app.command("dismiss")
def flags_dismiss(
    ref: str, flag_id: int,
    reason: Annotated[str, typer.Option(help="Why the flag does not apply (kept and logged).")],
) -> None:
    """Set a flag aside: it is kept, marked dismissed, with who, when and why."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        flag = guarded(lambda: dismiss_flag(session, case, flag_id, settings.user, reason))
    _plain(f"flag #{flag.id} dismissed")
