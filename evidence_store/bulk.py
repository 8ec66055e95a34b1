"""Fast bulk insertion of events: COPY on PostgreSQL, executemany on SQLite.

The ORM's per-row work (compiling parameters, type processing) costs more than
the database itself at hundreds of thousands of rows, so derived rows go to
the driver as plain tuples in the column order below.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

EVENT_COLUMNS = (
    "case_id", "exhibit_id", "seq", "kind", "occurred_at", "local_time", "time_zone",
    "time_basis", "precision", "time_flags", "channel", "sender", "sender_id", "recipients",
    "direction", "text", "subject", "attachments", "locator", "parser", "flags", "defects",
    "extra",
)
_OCCURRED_AT = EVENT_COLUMNS.index("occurred_at")
_NAMES = ", ".join(EVENT_COLUMNS)
# Built from the constant column list above, never from input.
_PLACEHOLDERS = ", ".join("?" * len(EVENT_COLUMNS))
_SQLITE_INSERT = f"INSERT INTO events ({_NAMES}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
_POSTGRES_COPY = f"COPY events ({_NAMES}) FROM STDIN"


def sqlite_time(moment: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores, so ORM reads of these rows agree."""
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def insert_events(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw: Any = connection.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(_POSTGRES_COPY) as copy:
            for row in rows:
                copy.write_row(row)
        return
    at = _OCCURRED_AT
    converted = [(*row[:at], sqlite_time(row[at]), *row[at + 1:]) for row in rows]
    connection.exec_driver_sql(_SQLITE_INSERT, converted)  # type: ignore[arg-type]
