"""One writer for the two-writers test: `python -m tests.scaleout.ducklake_writer MODEL N`
writes N results rows for MODEL into the warehouse at EMERGENCE_DUCKDB, one transaction per
row, through the lake's own write path (warehouse.store: connect, transaction, replace_rows)."""

from __future__ import annotations

import sys

import polars as pl

from sources.paths import duckdb_path
from warehouse.store import connect, ensure_schema, replace_rows, transaction


def write_rows(model_id: str, count: int) -> None:
    with connect(duckdb_path()) as con:
        ensure_schema(con)  # as every write session of the lake does
        for index in range(count):
            row = pl.DataFrame(
                {
                    "model_id": [model_id],
                    "task_id": ["arithmetic/3_digit_addition"],
                    "setting": [f"write {index}"],
                    "prompting": ["standard"],
                    "metric": ["exact_str_match"],
                    "value": [float(index)],
                    "unit": ["percent"],
                    "origin": ["fresh"],
                    "citation": ["two-writers test"],
                    "location": [f"writer {model_id}"],
                    "source_file": ["tests/scaleout/ducklake_writer.py"],
                    "in_wei_figure": [False],
                }
            )
            with transaction(con):
                replace_rows(
                    con,
                    "results",
                    row,
                    where="model_id = ? AND setting = ?",
                    params=[model_id, f"write {index}"],
                )


if __name__ == "__main__":
    write_rows(sys.argv[1], int(sys.argv[2]))
