"""SQLAlchemy models of the evidence store. Alembic migrations mirror these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store times in UTC, timezone-aware")
        value = value.astimezone(UTC)
        # SQLite has no zone type; strip it so stored text sorts and compares as UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(Text)
    officer_name: Mapped[str] = mapped_column(String(200))
    officer_initials: Mapped[str] = mapped_column(String(10))
    timezone: Mapped[str] = mapped_column(String(64))
    default_region: Mapped[str] = mapped_column(String(2), default="GB")
    created_at: Mapped[datetime]


class Blob(Base):
    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200))
    stored_at: Mapped[datetime]


class Exhibit(Base):
    __tablename__ = "exhibits"
    __table_args__ = (UniqueConstraint("case_id", "ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    ref: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("exhibits.id"), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    original_name: Mapped[str] = mapped_column(Text)
    # Path of the member inside its parent archive, or the part path inside an e-mail.
    member_path: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200))
    format: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    parser: Mapped[str | None] = mapped_column(String(100))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("exhibits.id"))
    received_from: Mapped[str | None] = mapped_column(Text)
    received_by: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]
    how_obtained: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    # JSON list of {code, message}: what the parser said about the file as a whole.
    notes: Mapped[str] = mapped_column(Text, default="[]")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_case_time", "case_id", "occurred_at", "id"),
        Index("ix_events_exhibit_seq", "exhibit_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"))
    # Position in the original; ties at the same instant keep file order.
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    local_time: Mapped[str | None] = mapped_column(Text)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    time_basis: Mapped[str] = mapped_column(String(20))
    precision: Mapped[str] = mapped_column(String(10))
    time_flags: Mapped[str] = mapped_column(Text, default="[]")
    channel: Mapped[str] = mapped_column(String(30))
    sender: Mapped[str | None] = mapped_column(Text)
    sender_id: Mapped[str | None] = mapped_column(String(320), index=True)
    recipients: Mapped[str] = mapped_column(Text, default="[]")
    direction: Mapped[str] = mapped_column(String(10))
    text: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[str] = mapped_column(Text, default="[]")
    locator: Mapped[str] = mapped_column(Text)
    parser: Mapped[str] = mapped_column(String(100))
    flags: Mapped[str] = mapped_column(Text, default="[]")
    defects: Mapped[str] = mapped_column(Text, default="[]")
    extra: Mapped[str] = mapped_column(Text, default="{}")


class Fact(Base):
    """A derived fact (EXIF, Received hop, OCR text, ...) with its provenance.

    ``event_seq`` names the event by its position in the exhibit (events are
    bulk-written, so their ids are not known while parsing); None means the fact
    is about the exhibit as a whole.
    """

    __tablename__ = "facts"
    __table_args__ = (Index("ix_facts_exhibit_seq", "exhibit_id", "event_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"))
    event_seq: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(50))
    value: Mapped[str] = mapped_column(Text)
    locator: Mapped[str] = mapped_column(Text, default="{}")
    # Parser or analyser that derived it, with its version ("rapidocr/1.3").
    source: Mapped[str] = mapped_column(String(100))


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))


class Identifier(Base):
    __tablename__ = "identifiers"
    __table_args__ = (UniqueConstraint("case_id", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    value: Mapped[str] = mapped_column(String(320))


class CustodyEntry(Base):
    __tablename__ = "custody_entries"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One chain per case ("case:<ref>") plus one for the store itself ("store").
    chain: Mapped[str] = mapped_column(String(120))
    seq: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(Text)
    # Kept as the exact text that was hashed, so verification needs no re-formatting.
    at: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class CustodyHead(Base):
    """The last entry of each chain: catches the deletion of trailing entries."""

    __tablename__ = "custody_heads"

    chain: Mapped[str] = mapped_column(String(120), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))


class SearchIndexState(Base):
    """How far the full-text index has caught up with the events table.

    The index (FTS5 on SQLite, a tsvector table on PostgreSQL; see
    evidence_store.search) is filled by catch-up rather than per-row triggers,
    so that ingest pays nothing for it: every event with an id above
    ``last_event_id`` is still to be indexed.
    """

    __tablename__ = "search_index_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)


# Pattern of behaviour (issue 5): officer decisions and derived analysis, each row
# citing the events it rests on. Decided rows are never deleted: they are disclosable.


class IdentifierLink(Base):
    """A suggested, confirmed or rejected "this identifier is that person's"."""

    __tablename__ = "identifier_links"
    __table_args__ = (UniqueConstraint("case_id", "value", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    value: Mapped[str] = mapped_column(String(320))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    status: Mapped[str] = mapped_column(String(12))
    # One sentence per reason, for the officer; reason_codes (JSON list) for machines.
    reason: Mapped[str] = mapped_column(Text)
    reason_codes: Mapped[str] = mapped_column(Text, default="[]")
    confidence: Mapped[float] = mapped_column(Float)
    event_ids: Mapped[str] = mapped_column(Text, default="[]")
    suggested_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class Notice(Base):
    """A notice that contact is unwanted (or that the victim blocked or changed a number):
    recorded by an officer, or suggested from the victim's own messages and accepted."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("case_id", "source_event_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    given_at: Mapped[datetime]
    given_by: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    # The suspect it concerns; None means every suspect of the case.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    # For "blocked" / "number_changed": the identifier blocked or given up, when known.
    identifier: Mapped[str | None] = mapped_column(String(320))
    source_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]


class BehaviourFlag(Base):
    """A behaviour rule that fired, with the events and text spans it rests on."""

    __tablename__ = "behaviour_flags"
    __table_args__ = (UniqueConstraint("case_id", "rule_id", "group_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    rule_version: Mapped[str] = mapped_column(String(40))
    rule_hash: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(40))
    # "event:<id>", "day:<local date>" or "identifier:<value>": what one flag covers.
    group_key: Mapped[str] = mapped_column(String(400))
    s2a3: Mapped[str] = mapped_column(Text, default="[]")
    four: Mapped[str] = mapped_column(Text, default="[]")
    explanation: Mapped[str] = mapped_column(Text)
    event_ids: Mapped[str] = mapped_column(Text, default="[]")
    # JSON list of {event_id, field, start, end, match}.
    citations: Mapped[str] = mapped_column(Text, default="[]")
    first_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    dismissed_by: Mapped[str | None] = mapped_column(String(200))
    dismissed_at: Mapped[datetime | None]
    dismissed_reason: Mapped[str | None] = mapped_column(Text)


class Occurrence(Base):
    """One message (or call, or diary entry) seen in several sources."""

    __tablename__ = "occurrences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    canonical_event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    # "same_content" (matched by sender, text and time) or "corroborated_by" (OCR fact).
    basis: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime]


class OccurrenceMember(Base):
    __tablename__ = "occurrence_members"
    __table_args__ = (Index("ix_occurrence_members_case_event", "case_id", "event_id"),)

    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrences.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"))
    canonical: Mapped[bool] = mapped_column(Boolean)


class AnalysisMark(Base):
    """How far a derived analysis of a case got: what it depended on (rule file,
    persons) and the exhibits it had read, so a re-run reads only what is new."""

    __tablename__ = "analysis_marks"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # JSON {exhibit id: event count} of the exhibits read.
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


# Web app (issue 7): accounts, sessions, who may see which case, victim upload links,
# uploads waiting for an officer, and the tags and notes written on events.


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Login name; also the actor recorded in the custody log.
    name: Mapped[str] = mapped_column(String(200), unique=True)
    full_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is kept, so a copy
    of the database does not let anyone take over a session."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class CaseAssignment(Base):
    __tablename__ = "case_assignments"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime]


class UploadLink(Base):
    """A one-time link a victim uses to upload without an account (token kept hashed)."""

    __tablename__ = "upload_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    max_bytes: Mapped[int] = mapped_column(BigInteger)
    max_files: Mapped[int] = mapped_column(Integer)
    #: Set when an upload through the link completed (or is under way): one use only.
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class QuarantinedUpload(Base):
    """A file received through an upload link: stored and logged, but not an exhibit
    until an officer accepts it. Rejected files stay stored (originals are never
    deleted) and stay listed here."""

    __tablename__ = "quarantined_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("upload_links.id"))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    original_name: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200))
    sender_note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    exhibit_ref: Mapped[str | None] = mapped_column(String(100))


class EventAnnotation(Base):
    """A tag or a note an investigator wrote on an event; never edited, never deleted."""

    __tablename__ = "event_annotations"
    __table_args__ = (Index("ix_event_annotations_case_event", "case_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
