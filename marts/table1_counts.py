"""How many of Wei et al.'s Table 1 rows the lake links to a curve, recomputes, and agrees with:
the README's query "How many Table 1 rows the lake recomputes", run against the warehouse, so the
gallery's number is never typed."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

TABLE1_COUNTS_SQL = """
SELECT count(*) AS total,
       count(*) FILTER (WHERE task_id IS NOT NULL) AS linked,
       count(*) FILTER (WHERE computed_params IS NOT NULL) AS recomputed,
       count(*) FILTER (WHERE agrees) AS agreeing
FROM table1_comparison
"""


@dataclass(frozen=True)
class Table1Counts:
    total: int
    linked: int
    recomputed: int
    agreeing: int

    def sentence(self) -> str:
        return (
            f"Table 1: {self.recomputed} of {self.total} rows recomputed by the lake "
            f"({self.linked} linked to a curve; {self.agreeing} agree with the printed scale)."
        )


def table1_counts(con: duckdb.DuckDBPyConnection) -> Table1Counts:
    total, linked, recomputed, agreeing = con.execute(TABLE1_COUNTS_SQL).fetchone()
    return Table1Counts(total, linked, recomputed, agreeing)
