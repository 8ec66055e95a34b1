"""Fast bulk insertion of events: COPY on PostgreSQL, executemany on SQLite.

The ORM's per-row work (compiling parameters, type processing) costs more than
the database itself at hundreds of thousands of rows, so derived rows go to the
driver as plain tuples in the column order below. The driver call runs on a
worker thread (both drivers release the GIL while the database works), so a
parser keeps producing the next batch meanwhile; callers must ``wait()`` before
using the session themselves, since the two share one connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

#: Columns that are the same for every event of one parse: bound once per batch.
CONSTANT_COLUMNS = ("case_id", "exhibit_id", "parser")
#: The per-event columns, in the order of the tuples evidence_store.events derives.
ROW_COLUMNS = (
    "seq", "kind", "occurred_at", "local_time", "time_zone", "time_basis", "precision",
    "time_flags", "channel", "sender", "sender_id", "recipients", "direction", "text",
    "subject", "attachments", "locator", "flags", "defects", "extra",
)
_NAMES = ", ".join(CONSTANT_COLUMNS + ROW_COLUMNS)
_WIDTH = len(CONSTANT_COLUMNS) + len(ROW_COLUMNS)
# Built from the constant column lists above, never from input.
_SQLITE_INSERT = f"INSERT INTO events ({_NAMES}) VALUES ({', '.join('?' * _WIDTH)})"  # noqa: S608
_POSTGRES_COPY = f"COPY events ({_NAMES}) FROM STDIN"
# One statement per batch: SQLite unpacks the rows in C with the GIL released, so
# the insert really runs beside the parser. executemany binds row by row under
# the GIL and ends up taking turns with it instead.
#: The last row column, extra, arrives as a dict: stored as its JSON text.
_EXTRA = len(ROW_COLUMNS) - 1
_SQLITE_FROM_JSON = (
    f"INSERT INTO events ({_NAMES}) SELECT ?, ?, ?, "  # noqa: S608
    + ", ".join(f"value->{n}" if n == _EXTRA else f"value->>{n}" for n in range(_EXTRA + 1))
    + " FROM json_each(?)"
)
_JSON_OPERATORS = sqlite3.sqlite_version_info >= (3, 38, 0)
#: Compact JSON, as stored in the events table's JSON columns.
encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def sqlite_time(naive_utc: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores, so ORM reads of these rows agree."""
    return naive_utc.isoformat(" ", "microseconds")


def aware_utc(naive_utc: datetime) -> datetime:
    """The value PostgreSQL's COPY takes for occurred_at."""
    return naive_utc.replace(tzinfo=UTC)


class EventSink:
    def __init__(self, session: Session, constants: tuple[int, int, str]) -> None:
        connection = session.connection()
        self.constants = constants
        self.postgres = connection.dialect.name == "postgresql"
        self._raw: Any = connection.connection.dbapi_connection
        #: How an aware UTC datetime is handed to this driver.
        self.time_value = aware_utc if self.postgres else sqlite_time
        self._executor: ThreadPoolExecutor | None = None
        self._inflight: Future[None] | None = None

    def write(self, rows: Sequence[tuple[Any, ...]], extra_encoded: bool = False) -> None:
        """Queue one batch; at most one is in flight, so memory stays bounded.

        ``extra_encoded``: the rows' last column is already JSON text (rows derived
        in a parsing process, collector.offload). Such batches are bound row by
        row: the parsing runs elsewhere, so holding the GIL for binding costs
        nothing, and SQLite then does less work than unpacking one JSON text.
        """
        payload: Any = rows
        if self.takes_json and not extra_encoded:
            payload = encode_json(rows)
        self.wait()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="events")
        self._inflight = self._executor.submit(self._insert, payload, extra_encoded)

    @property
    def takes_json(self) -> bool:
        return not self.postgres and _JSON_OPERATORS

    def wait(self) -> None:
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            inflight.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def _insert(self, rows: Any, extra_encoded: bool) -> None:
        constants = self.constants
        if self.postgres:
            with self._raw.cursor() as cursor, cursor.copy(_POSTGRES_COPY) as copy:
                for row in rows:
                    copy.write_row((*constants, *row) if extra_encoded else
                                   (*constants, *row[:_EXTRA], encode_json(row[_EXTRA])))
            return
        cursor = self._raw.cursor()
        try:
            if isinstance(rows, str):
                cursor.execute(_SQLITE_FROM_JSON, (*constants, rows))
            elif extra_encoded:
                cursor.executemany(_SQLITE_INSERT, [(*constants, *row) for row in rows])
            else:
                cursor.executemany(_SQLITE_INSERT, [
                    (*constants, *row[:_EXTRA], encode_json(row[_EXTRA])) for row in rows])
        finally:
            cursor.close()
