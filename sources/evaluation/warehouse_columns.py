"""The columns of the warehouse tables the engine fills, read from warehouse/schema.sql itself.

Why read the file: schema.sql is the contract between the layers, and it evolves; deriving the
frames' columns from it keeps the engine's output matching it exactly. A nullable column the engine
does not know is filled with nulls; a NOT NULL column it does not know is an error that names it.
"""

from __future__ import annotations

import re
from functools import cache

import polars as pl

from sources.paths import PROJECT_ROOT

SCHEMA_SQL = PROJECT_ROOT / "warehouse" / "schema.sql"

_SQL_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "TEXT": pl.String(),
    "INTEGER": pl.Int32(),
    "INT": pl.Int32(),
    "BIGINT": pl.Int64(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "DATE": pl.Date(),
    "TIMESTAMP": pl.Datetime(),
}


@cache
def table_columns(table: str) -> tuple[tuple[str, pl.DataType, bool], ...]:
    """(name, polars type, nullable) per column of `table`, in schema.sql's order."""
    sql = SCHEMA_SQL.read_text(encoding="utf-8")
    found = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\);", sql, re.S)
    if found is None:
        raise ValueError(f"{SCHEMA_SQL}: no CREATE TABLE IF NOT EXISTS {table} (...)")
    columns = []
    for raw_line in found.group(1).splitlines():
        line = raw_line.split("--", 1)[0].strip().rstrip(",")
        if not line or line.upper().startswith(("PRIMARY KEY", "UNIQUE", "FOREIGN KEY", "CHECK")):
            continue
        name, sql_type, *rest = line.split()
        is_list = sql_type.endswith("[]")
        base = _SQL_TYPES.get(sql_type.removesuffix("[]").upper())
        if base is None:
            raise ValueError(
                f"{SCHEMA_SQL}: {table}.{name} has type {sql_type}, unknown to the engine"
            )
        dtype = pl.List(base) if is_list else base
        nullable = (
            "NOT NULL" not in " ".join(rest).upper() and "PRIMARY KEY" not in " ".join(rest).upper()
        )
        columns.append((name, dtype, nullable))
    return tuple(columns)


def table_schema(table: str) -> dict[str, pl.DataType]:
    return {name: dtype for name, dtype, _ in table_columns(table)}


def conform(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """`frame` with exactly `table`'s columns, order and types; unknown nullable columns null."""
    missing_required = [
        name
        for name, _, nullable in table_columns(table)
        if name not in frame.columns and not nullable
    ]
    if missing_required:
        raise ValueError(
            f"{SCHEMA_SQL}: {table} has NOT NULL column(s) {missing_required} that the evaluation "
            "engine does not fill"
        )
    return frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype, _ in table_columns(table)
        ]
    )
