"""Column documentation for each warehouse table, read from the comments in schema.sql.

schema.sql is the one place columns are described; Dagster's column-schema metadata and the
evaluation engine's output frames (sources/evaluation/warehouse_columns.py) come from here, so they
cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \(")
_COLUMN = re.compile(r"^\s{4}(\w+)\s+([A-Z]+(?:\[\])?)([^-]*)(?:--\s*(.*))?$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as in schema.sql: VARCHAR, DOUBLE, INTEGER, BOOLEAN, DOUBLE[]
    description: str
    nullable: bool


@cache
def table_columns() -> dict[str, tuple[Column, ...]]:
    tables: dict[str, list[Column]] = {}
    current = None
    for line in SCHEMA_SQL.read_text().splitlines():
        match = _TABLE.search(line)
        if match:
            current = match.group(1)
            tables[current] = []
            continue
        if current is None:
            continue
        if line.startswith(");"):
            current = None
            continue
        column = _COLUMN.match(line)
        if column and column.group(1) != "PRIMARY":
            constraints = column.group(3).upper()
            tables[current].append(
                Column(
                    column.group(1),
                    column.group(2),
                    (column.group(4) or "").strip(),
                    nullable="NOT NULL" not in constraints and "PRIMARY KEY" not in constraints,
                )
            )
    return {name: tuple(columns) for name, columns in tables.items()}
