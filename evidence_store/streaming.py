"""Reading many rows of a few plain columns, for passes over a whole case."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session


def stream_rows(session: Session, query: Select, batch: int) -> Iterator[list[Any]]:
    """Rows of a plain-column query (ints and strings: no type conversion is applied)
    in batches. On SQLite the DB-API cursor is used directly, without Row objects,
    which halves the cost over a million rows; elsewhere rows are streamed from a
    server-side cursor."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        compiled = query.compile(dialect=connection.dialect,
                                 compile_kwargs={"render_postcompile": True})
        params = [compiled.params[name] for name in compiled.positiontup or ()]
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(str(compiled), params)
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            cursor.close()
        return
    result = connection.execute(query, execution_options={"yield_per": batch})
    for part in result.partitions():
        yield [tuple(row) for row in part]
