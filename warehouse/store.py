"""Writing the DuckDB warehouse: every write is one transaction, so a failed run changes nothing.

DuckDB allows one writer at a time; Dagster serialises writers with the `duckdb_writer` pool
(dagster.yaml). Readers open the file read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
VIEWS_SQL = Path(__file__).with_name("views.sql")


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_SQL.read_text())
    con.execute(VIEWS_SQL.read_text())


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on any error so the previous contents stay."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    con.register("_incoming", frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")  # table: a fixed name
    finally:
        con.unregister("_incoming")


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    where: str = "TRUE",
    params: list | None = None,
) -> None:
    """Delete the rows `where` selects and insert `frame`: call inside `transaction`."""
    con.execute(f"DELETE FROM {table} WHERE {where}", params or [])
    _insert(con, table, frame)


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = ["models", "tasks", "task_metrics", "results", "table1", "eval_examples", "emergence"]
    return {n: con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def read_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> pl.DataFrame:
    return con.execute(sql, params or []).pl()
