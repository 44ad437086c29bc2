"""The columns of the warehouse tables the engine fills, from warehouse/schema.sql (via its catalog).

Why derive them: schema.sql is the contract between the layers, and it evolves; deriving the
frames' columns from it keeps the engine's output matching it exactly. A nullable column the engine
does not know is filled with nulls; a NOT NULL column it does not know is an error that names it.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from warehouse.catalog import SCHEMA_SQL
from warehouse.catalog import table_columns as catalog_columns

# Integers are Int64 whatever their SQL width: the pandera contract (checks/schemas.py) says so,
# and DuckDB narrows on insert.
_SQL_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "INTEGER": pl.Int64(),
    "BIGINT": pl.Int64(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
}


@cache
def table_columns(table: str) -> tuple[tuple[str, pl.DataType, bool], ...]:
    """(name, polars type, nullable) per column of `table`, in schema.sql's order."""
    columns = []
    for column in catalog_columns()[table]:
        base = _SQL_TYPES.get(column.type.removesuffix("[]"))
        if base is None:
            raise ValueError(
                f"{SCHEMA_SQL}: {table}.{column.name} has type {column.type}, unknown to the engine"
            )
        dtype = pl.List(base) if column.type.endswith("[]") else base
        columns.append((column.name, dtype, column.nullable))
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
