"""The results key is checked on every write (warehouse/store.py `check_key`), not declared: a
duplicate is still refused with a message naming the key and the files, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from checks.schemas import SCHEMAS
from warehouse.store import (
    CHECKED_KEYS,
    DuplicateKey,
    connect,
    ensure_schema,
    replace_rows,
    transaction,
)


def _row(model_id: str, *, origin: str = "literature", source_file: str = "results/a.csv", **kw):
    return {
        "model_id": model_id,
        "task_id": "arithmetic",
        "shots": 2,
        "prompting": "standard",
        "setting": "2-shot",
        "metric": "exact_str_match",
        "value": 10.0,
        "unit": "percent",
        "origin": origin,
        "citation": "Brown et al. (2020)",
        "location": "Table 9",
        "source_file": source_file,
        "in_wei_figure": False,
        **kw,
    }


def _frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows))


def _results(con) -> list[tuple]:
    return con.execute(
        "SELECT model_id, origin, value, source_file FROM results ORDER BY ALL"
    ).fetchall()


def test_the_checked_key_is_the_schemas_key() -> None:
    assert list(CHECKED_KEYS["results"]) == list(SCHEMAS["results"].Config.unique)


def test_schema_declares_no_index_on_results() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    kinds = con.execute(
        "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'results'"
    ).fetchall()
    assert ("PRIMARY KEY",) not in kinds and ("UNIQUE",) not in kinds


def test_a_key_repeated_in_the_rows_written_is_refused_and_nothing_changes() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    with transaction(con):
        replace_rows(con, "results", _frame(_row("gpt-3-13b")))
    before = _results(con)
    incoming = _frame(
        _row("gpt-3-175b", source_file="results/a.csv"),
        _row("gpt-3-175b", source_file="results/b.csv", value=11.0),
        _row("gpt-3-6.7b"),
    )
    with pytest.raises(DuplicateKey) as raised, transaction(con):
        replace_rows(con, "results", incoming)
    message = str(raised.value)
    assert "model_id='gpt-3-175b'" in message and "citation='Brown et al. (2020)'" in message
    assert "2 rows being written, from results/a.csv, results/b.csv" in message
    assert "previous contents" in message
    assert _results(con) == before  # the DELETE was rolled back too


def test_a_row_clashing_with_a_kept_fresh_row_is_refused() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    fresh = _row("pythia-70m", origin="fresh", source_file="EleutherAI/pythia-70m")
    with transaction(con):
        replace_rows(con, "results", _frame(fresh, _row("gpt-3-13b")))
    before = _results(con)
    clashing = _row("pythia-70m", source_file="results/pythia.csv")
    with pytest.raises(DuplicateKey, match="origin fresh") as raised, transaction(con):
        replace_rows(
            con,
            "results",
            _frame(clashing),
            where="origin IN (SELECT unnest(?))",
            params=[["literature"]],
        )
    assert (
        "written from results/pythia.csv, already in the warehouse from EleutherAI/pythia-70m"
        in (str(raised.value))
    )
    assert _results(con) == before


def test_rows_replacing_their_own_key_are_written() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    for value in (10.0, 12.5):  # the same key again: the old row is deleted first
        with transaction(con):
            replace_rows(con, "results", _frame(_row("gpt-3-13b", value=value)))
    assert _results(con) == [("gpt-3-13b", "literature", 12.5, "results/a.csv")]


def test_a_refused_write_session_publishes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "emergence.duckdb"
    with connect(db) as con:
        ensure_schema(con)
        with transaction(con):
            replace_rows(con, "results", _frame(_row("gpt-3-13b")))
    with pytest.raises(DuplicateKey), connect(db) as con, transaction(con):
        replace_rows(con, "results", _frame(_row("a"), _row("a")))
    with connect(db, read_only=True) as con:
        assert _results(con) == [("gpt-3-13b", "literature", 10.0, "results/a.csv")]


def test_a_warehouse_with_the_old_declared_key_is_rebuilt_without_it(tmp_path: Path) -> None:
    db = tmp_path / "emergence.duckdb"
    with connect(db) as con:
        ensure_schema(con)
        # the table as schema.sql declared it before: same columns, plus the PRIMARY KEY
        con.execute("DROP VIEW IF EXISTS results_with_scale")
        con.execute("CREATE TABLE old AS SELECT * FROM results")
        con.execute("DROP TABLE results")
        con.execute("ALTER TABLE old RENAME TO results")
        con.execute(f"ALTER TABLE results ADD PRIMARY KEY ({', '.join(CHECKED_KEYS['results'])})")
        with transaction(con):
            replace_rows(con, "results", _frame(_row("gpt-3-13b"), _row("gpt-3-175b")))
    with connect(db) as con:
        ensure_schema(con)
        kinds = con.execute(
            "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'results'"
        ).fetchall()
        assert ("PRIMARY KEY",) not in kinds
        assert ("NOT NULL",) in kinds  # the columns' constraints came back with the schema
        assert [r[0] for r in _results(con)] == ["gpt-3-13b", "gpt-3-175b"]
        con.execute("SELECT count(*) FROM results_with_scale").fetchone()  # views still bind
