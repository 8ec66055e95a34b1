"""The `conduct` command line. Expected problems print one line and exit non-zero."""

from __future__ import annotations

import csv
import getpass
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError

from collector.capture import CaptureConfigError, CaptureError, CaptureRefused, capture_url
from collector.capture import load_config as load_capture_config
from collector.identities import BadIdentifier, normalise_identifier
from collector.intake import IngestOptions, Ingestor
from collector.ocr_stage import OcrStageReport, run_ocr_stage
from collector.outcome import ExhibitOutcome
from conduct.terminal import RichProgress, wants_progress
from evidence_store import cases, custody, persons
from evidence_store.cases import CaseError
from evidence_store.localtime import UnknownTimeZone, zone
from evidence_store.store import Store, StoreNotInitialised, init_store, open_store, store_root
from evidence_store.timeline import COLUMNS, TimelineFilter, csv_row, event_detail, iter_events
from evidence_store.verify import verify as verify_store
from exports.bundle import export_case

_ONE_DAY = timedelta(days=1)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Conduct: evidence collector for stalking and harassment cases.")
case_app = typer.Typer(no_args_is_help=True, help="Open and list cases.")
app.add_typer(case_app, name="case")
person_app = typer.Typer(no_args_is_help=True, help="Record who is who: victim, suspect, ...")
app.add_typer(person_app, name="person")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    CaseError, StoreNotInitialised, UnknownTimeZone, FileNotFoundError, PermissionError,
    IsADirectoryError, BadIdentifier,
)


class Settings:
    store: Path = Path("conduct-store")
    user: str = "unknown"


settings = Settings()


def fail(message: str, code: int = 2) -> NoReturn:
    # Plain print: an error line must never be wrapped or styled.
    print(f"conduct: {message}", file=sys.stderr)
    raise typer.Exit(code)


T = TypeVar("T")


def guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except EXPECTED_ERRORS as exc:
        fail(str(exc))


@contextmanager
def opened() -> Iterator[Store]:
    store = guarded(lambda: open_store(settings.store))
    try:
        yield store
    finally:
        store.close()


@app.callback()
def main_options(
    store: Annotated[Path | None, typer.Option(
        "--store", help="Store directory (default $CONDUCT_STORE or ./conduct-store).")] = None,
    user: Annotated[str | None, typer.Option(
        "--user", help="Who is acting, for the custody log (default $CONDUCT_USER).")] = None,
) -> None:
    settings.store = store_root(store)
    settings.user = user or os.environ.get("CONDUCT_USER") or _login_name()


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@app.command()
def init() -> None:
    """Create the store (or bring its schema up to date)."""
    store = guarded(lambda: init_store(settings.store, actor=settings.user))
    out.print(f"Conduct store ready at {store.root} ({store.url})", markup=False)
    store.close()


@case_app.command("create")
def case_create(
    ref: str,
    title: Annotated[str, typer.Option(help="Short description of the case.")],
    officer: Annotated[str, typer.Option(help="Officer in the case.")],
    initials: Annotated[str, typer.Option(help="Officer's initials for exhibit references.")],
    timezone: Annotated[str, typer.Option(help="IANA zone for local times.")] = "Europe/London",
    region: Annotated[str, typer.Option(help="Default phone-number region.")] = "GB",
) -> None:
    """Open a case."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.create_case(session, ref, title, officer, initials,
                                                 timezone, region.upper()))
        out.print(f"case {case.ref} opened (officer {case.officer_name}, "
                  f"exhibits {case.officer_initials}/n, zone {case.timezone})", markup=False)


@case_app.command("list")
def case_list() -> None:
    """List cases in the store."""
    with opened() as store, store.session() as session:
        for case in cases.list_cases(session):
            print(f"{case.ref}\t{case.title}\t{case.officer_name}\t{case.timezone}")


class Role(StrEnum):
    victim = "victim"
    suspect = "suspect"
    witness = "witness"
    other = "other"


@person_app.command("add")
def person_add(
    ref: str,
    name: str,
    role: Annotated[Role, typer.Option(help="Their part in the case.")],
    ids: Annotated[list[str] | None, typer.Option(
        "--id", help="Phone, e-mail, platform:handle or name:Display Name (repeatable).")
    ] = None,
) -> None:
    """Record a person and the identifiers they use; the timeline then names them."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        values = _identifiers(ids, case.default_region)
        guarded(lambda: persons.add_person(session, case, name, role.value, values,
                                           settings.user))
    out.print(f"{name} ({role.value}): {', '.join(values) or 'no identifiers yet'}",
              markup=False)


@person_app.command("list")
def person_list(ref: str) -> None:
    """People recorded in a case, with their identifiers."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        for person, values in persons.persons_of(session, case):
            # Plain print: tab-separated output is for scripts, and Rich expands tabs.
            print(f"{person.name}\t{person.role}\t{', '.join(values)}")


def _identifiers(texts: list[str] | None, region: str) -> list[str]:
    try:
        return [normalise_identifier(text, region) for text in texts or []]
    except BadIdentifier as exc:
        fail(str(exc))


def _column_map(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    mapping = []
    for pair in pairs:
        field, sep, header = pair.partition("=")
        if not sep or not field.strip() or not header:
            fail(f"--csv-map takes FIELD=Column Header, not {pair!r}")
        mapping.append((field.strip(), header))
    return tuple(mapping)


class DateOrderChoice(StrEnum):
    dmy = "dmy"
    mdy = "mdy"
    ymd = "ymd"


@app.command()
def ingest(
    ref: str,
    paths: Annotated[list[Path], typer.Argument(help="Files, folders or archives.")],
    received_from: Annotated[str | None, typer.Option(help="Who handed the material over.")
                             ] = None,
    by: Annotated[str | None, typer.Option(help="Officer receiving it (default: case officer).")
                  ] = None,
    how: Annotated[str | None, typer.Option(help="How it was obtained (e.g. 'USB stick').")
                   ] = None,
    initials: Annotated[str | None, typer.Option(help="Initials for the exhibit references.")
                        ] = None,
    timezone: Annotated[str | None, typer.Option(help="Zone of the source's local times.")
                        ] = None,
    date_order: Annotated[DateOrderChoice | None, typer.Option(
        help="Day/month order of the source's dates when the file cannot tell.")] = None,
    only_with: Annotated[list[str] | None, typer.Option(
        "--only-with", help="Keep only conversations involving this identifier (repeatable).")
    ] = None,
    csv_map: Annotated[list[str] | None, typer.Option(
        "--csv-map", help="Generic CSV: FIELD=Column Header (time, text, sender, sender_id, "
        "recipient, direction, subject, channel, conversation; channel_name=NAME for a fixed "
        "channel). Used for files no other parser recognises.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    no_ocr: Annotated[bool, typer.Option(
        "--no-ocr", help="Do not read the text of images now (later: conduct ocr).")] = False,
) -> None:
    """Store, hash and parse evidence; exit non-zero when anything could not be parsed."""
    if timezone:
        guarded(lambda: zone(timezone))
    with opened() as store:
        with store.session() as session:
            case = guarded(lambda: cases.get_case(session, ref))
            officer = by or case.officer_name
            scope = frozenset(_identifiers(only_with, case.default_region))
        options = IngestOptions(
            received_by=officer, received_from=received_from, how_obtained=how,
            initials=initials, timezone=timezone,
            date_order=date_order.value if date_order else None,  # type: ignore[arg-type]
            column_map=_column_map(csv_map or []), only_with=scope,
        )
        bar = RichProgress(err) if wants_progress() and not as_json else None
        with bar or nullcontext():
            ingestor = Ingestor(store, ref, options, progress=bar)
            outcomes = guarded(lambda: ingestor.ingest_paths(paths))
            # New messages may corroborate screenshots read before; images alone may not.
            added = any(o.events and o.format != "image" for t in outcomes for o in t.walk())
            ocr = None if no_ocr else run_ocr_stage(store, ref, officer, progress=bar,
                                                    recheck_all=added)
    _report(outcomes, as_json, ocr)
    if any(o.unparsed_problem for top in outcomes for o in top.walk()):
        raise typer.Exit(1)


def _report(outcomes: list[ExhibitOutcome], as_json: bool, ocr: OcrStageReport | None = None
            ) -> None:
    if as_json:
        report: dict[str, Any] = {"exhibits": [o.as_json() for o in outcomes]}
        if ocr is not None:
            report["ocr"] = ocr.as_json()
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if ocr is not None and (ocr.images or ocr.error or (ocr.corroboration and
                                                        ocr.corroboration.changed)):
        out.print(ocr.one_line(), markup=False, highlight=False)
        for ref, problem in ocr.failed:
            out.print(f"  {ref}: OCR: {problem}", markup=False, highlight=False)
    for top in outcomes:
        for outcome in top.walk():
            if outcome.top_level or outcome.status in ("parsed", "failed") or outcome.warnings:
                out.print(outcome.one_line(), markup=False, highlight=False)
            for warning in outcome.warnings:
                out.print(f"  warning: {warning}", markup=False, highlight=False)


@app.command()
def capture(
    ref: str,
    url: Annotated[str, typer.Argument(help="The public http(s) address to capture.")],
    note: Annotated[str | None, typer.Option(help="Why, or what is on the page (kept in the "
                                                  "record).")] = None,
    by: Annotated[str | None, typer.Option(help="Officer capturing (default: case officer).")
                  ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Capture a public web page: the server's response and a record of the exchange,
    hashed and stored as exhibits, then parsed. Limits and the private-address
    allowance are set only in the store's conduct.toml."""
    with opened() as store:
        with store.session() as session:
            case = guarded(lambda: cases.get_case(session, ref))
            officer = by or case.officer_name
        try:
            config = load_capture_config(store.root)
            result = capture_url(store, ref, url, note, officer, config)
        except CaptureError as exc:
            what = ("capture refused" if isinstance(exc, CaptureRefused)
                    else "capture not started" if isinstance(exc, CaptureConfigError)
                    else "capture failed")
            fail(f"{what}: {exc}")
    if as_json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        for line in result.lines():
            out.print(line, markup=False, highlight=False)
    if any(o.unparsed_problem for o in result.page.walk()):
        raise typer.Exit(1)


@app.command()
def ocr(
    ref: str,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes (default: one per core).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Read the text of images not read yet, then match names and check screenshots
    against the exports (safe to run again)."""
    with opened() as store:
        bar = RichProgress(err) if wants_progress() and not as_json else None
        with bar or nullcontext():
            report = guarded(lambda: run_ocr_stage(store, ref, settings.user, progress=bar,
                                                   workers=workers))
    if as_json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        out.print(report.one_line(), markup=False, highlight=False)
        for exhibit, problem in report.failed:
            out.print(f"  {exhibit}: {problem}", markup=False, highlight=False)
    if report.error:
        raise typer.Exit(1)


class TimelineFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _day(text: str | None, label: str) -> datetime | None:
    if text is None:
        return None
    try:
        if "T" in text or " " in text:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    except ValueError:
        fail(f"{label} must be a date (2024-03-12) or an ISO time, not {text!r}")


@app.command()
def timeline(
    ref: str,
    fmt: Annotated[TimelineFormat, typer.Option("--format")] = TimelineFormat.table,
    start: Annotated[str | None, typer.Option("--from", help="From this UTC date/time.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Up to this UTC date (inclusive).")
                   ] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    limit: Annotated[int | None, typer.Option(
        help="One page of this many events; the cursor of the next page goes to stderr.")
    ] = None,
    after: Annotated[str | None, typer.Option(
        help="The page after this cursor (from a previous page).")] = None,
) -> None:
    """The case's events in time order, across every source."""
    end_at = _day(end, "--to")
    if end is not None and end_at is not None and "T" not in end and " " not in end:
        end_at = end_at.replace(hour=0) + _ONE_DAY
    filt = TimelineFilter(start=_day(start, "--from"), end=end_at, channel=channel)
    paged: dict[str, Any] = {}
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        if limit is None and after is None:
            count = _print_timeline(iter_events(session, case, filt), fmt)
        else:
            rows, following = _timeline_page(session, case, filt, after, limit or 100)
            count = _print_timeline(iter(rows), fmt)
            paged = {"after": after, "limit": limit or 100}
        custody.append(session, custody.case_chain(case.ref), settings.user, "timeline_viewed",
                       case.ref, {"format": fmt.value, "from": start, "to": end,
                                  "channel": channel, "events": count, **paged})
    if paged:
        print(f"next page: --after {following}" if following else "no more events",
              file=sys.stderr)


def _timeline_page(session: Any, case: Any, filt: TimelineFilter, after: str | None,
                   limit: int) -> tuple[list[dict[str, Any]], str | None]:
    from evidence_store.search import PageFilter, SearchError, timeline_page

    try:
        return timeline_page(session, case, PageFilter(start=filt.start, end=filt.end,
                                                       channel=filt.channel), after, limit)
    except SearchError as exc:
        fail(str(exc))


@app.command()
def event(
    ref: str,
    event_id: Annotated[int, typer.Argument(help="Event id, as the timeline shows it.")],
) -> None:
    """One event in detail, as JSON: provenance, locator and the facts derived about it."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        detail = event_detail(session, case, event_id)
        if detail is None:
            fail(f"case {ref} has no event {event_id}")
        custody.append(session, custody.case_chain(case.ref), settings.user, "viewed",
                       case.ref, {"event": event_id})
    print(json.dumps(detail, ensure_ascii=False, indent=2))


def _fit(text: str, size: int) -> str:
    return text if len(text) <= size else text[: max(size - 1, 0)] + "…"


def _table_line(when: str, kind: str, channel: str, sender: str, exhibit: str, text: str,
                width: int) -> str:
    # Streamed line by line (a table object would hold a million-event case in memory).
    fixed = f"{when:<21} {kind:<8} {channel:<9} {_fit(sender, 22):<22} {_fit(exhibit, 9):<9} "
    return fixed + _fit(text, max(width - len(fixed), 20)) + "\n"


def _print_timeline(events: Iterator[dict[str, Any]], fmt: TimelineFormat) -> int:
    count = 0
    if fmt is TimelineFormat.json:
        sys.stdout.write("[")
        for count, event in enumerate(events, 1):
            sys.stdout.write(("\n" if count == 1 else ",\n")
                             + json.dumps(event, ensure_ascii=False))
        sys.stdout.write("\n]\n" if count else "]\n")
        return count
    if fmt is TimelineFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        for event in events:
            writer.writerow(csv_row(event))
            count += 1
        return count
    width = shutil.get_terminal_size((160, 24)).columns
    sys.stdout.write(_table_line("time (UTC)", "kind", "channel", "from", "exhibit", "text",
                                 width))
    for event in events:
        count += 1
        text = (event["subject"] or event["text"] or "").replace("\n", " ⏎ ")
        notable = [f for f in event["time_flags"] if f != "minute_precision"]
        if notable:
            text = f"[{', '.join(notable)}] {text}"
        when = event["occurred_at"].replace("T", " ")
        sender = event["sender"] or ""
        if event["sender_role"]:
            sender = f"{event['sender_person']} ({event['sender_role']})"
        sys.stdout.write(_table_line(when, event["kind"], event["channel"], sender,
                                     event["exhibit"], text, width))
    out.print(f"{count} events", markup=False)
    return count


@app.command()
def verify(ref: Annotated[str | None, typer.Argument(help="Only this case.")] = None) -> None:
    """Re-hash every original and re-walk the custody chain; non-zero when anything fails."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref)) if ref else None
        report = verify_store(session, store.blobs, case)
        targets = [case] if case else cases.list_cases(session)
        for target in targets:
            custody.append(session, custody.case_chain(target.ref), settings.user, "verified",
                           target.ref, {"ok": report.ok, "problems": len(report.problems)})
    for problem in report.problems:
        out.print(f"FAIL {problem}", markup=False, highlight=False)
    verdict = "OK" if report.ok else "FAILED"
    out.print(f"{verdict}: {report.blobs_checked} originals re-hashed, "
              f"{report.entries_checked} custody entries checked, "
              f"{len(report.problems)} problems", markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def export(
    ref: str,
    out_file: Annotated[Path, typer.Option("--out", help="Bundle to write (.zip).")],
    redact: Annotated[bool, typer.Option(
        "--redact", help="Redact third parties' personal data from the derived documents "
        "(originals are never altered).")] = False,
) -> None:
    """Write the CPS case file: originals, exhibit list, timeline, summary, continuity,
    draft statement, disclosure aid, signed manifest and SHA256SUMS."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        result = guarded(lambda: export_case(session, store, case, out_file, settings.user,
                                             redact=redact))
    out.print(f"bundle {result.path}: {result.files} files, sha256 {result.sha256}, "
              f"signed by key {result.fingerprint}", markup=False)


@app.command("verify-bundle")
def verify_bundle_command(
    bundle: Annotated[Path, typer.Argument(help="The case-file ZIP.")],
    fingerprint: Annotated[str | None, typer.Option(
        help="The key fingerprint the bundle must be signed with (from the statement).")
    ] = None,
) -> None:
    """Check a case file from the bundle alone: hashes, manifest and signature."""
    from exports.verify_bundle import verify_bundle

    if not bundle.is_file():
        fail(f"{bundle}: no such file")
    report = verify_bundle(bundle, fingerprint)
    for line in report.lines():
        print(line)
    print("OK: bundle verified" if report.ok else f"FAILED: {len(report.failed)} problems")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def demo(
    keep: Annotated[Path | None, typer.Option(help="Build the demo here instead of a temp dir.")
                    ] = None,
) -> None:
    """Build a synthetic sample case, ingest it, print its timeline and write a bundle."""
    from conduct.demo import run_demo

    run_demo(keep, out)


def main() -> None:
    try:
        app()
    except OperationalError as exc:
        # The database is down or locked: an operating condition, not a bug.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        print(f"conduct: database unavailable: {reason}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("conduct: interrupted; nothing half-written was committed", file=sys.stderr)
        sys.exit(130)


# `conduct analyse` and `conduct search` live in conduct.analysis_cli, which adds them to
# this app when imported; `conduct link`, `notice` and `flags` in conduct.pattern_cli;
# `conduct serve` and `conduct user ...` (the web app) in conduct.web_cli, likewise.
from conduct import (  # noqa: E402
    analysis_cli,  # noqa: F401
    pattern_cli,  # noqa: F401
    web_cli,  # noqa: F401
)

if __name__ == "__main__":
    # Run with -m, this file is __main__ and the analysis commands were added to the
    # app of the imported conduct.cli: run that one.
    from conduct.cli import main as main_of_module

    main_of_module()
