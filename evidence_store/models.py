"""SQLAlchemy models of the evidence store. Alembic migrations mirror these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
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
