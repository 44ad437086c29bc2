"""Read-only questions the `emergence` command asks the warehouse: list, show, export.

Why read-only: a researcher's `emergence list` must never take DuckDB's single writer lock from a
running lake refresh, nor change a byte of the warehouse. Every filter value reaches DuckDB as a
bound parameter, never as SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sources.paths import duckdb_path


class LakeQueryError(Exception):
    """A question the warehouse cannot answer as asked; the message is one line for a person."""


@dataclass(frozen=True)
class Selection:
    """Filters shared by list/show/export; an empty list means no filter on that column."""

    tasks: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    shots: list[int] = field(default_factory=list)
    prompting: list[str] = field(default_factory=list)

    def where(self, columns: dict[str, str]) -> tuple[str, list[Any]]:
        """`WHERE ...` over the filters, each mapped to its SQL column by `columns`; a filter the
        question has no column for is an error, never silently ignored."""
        clauses, params = [], []
        for name, values in (
            ("task", self.tasks),
            ("model", self.models),
            ("family", self.families),
            ("origin", self.origins),
            ("metric", self.metrics),
            ("shots", self.shots),
            ("prompting", self.prompting),
        ):
            if values and name not in columns:
                raise LakeQueryError(
                    f"--{name} does not apply here; filters that do: "
                    + ", ".join(f"--{known}" for known in columns)
                )
            if values:
                clauses.append(f"{columns[name]} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def describe(self) -> str:
        parts = [
            f"{name}={','.join(map(str, values))}" for name, values in vars(self).items() if values
        ]
        return " ".join(parts) if parts else "no filter"


def connect(path: Path | None = None) -> Any:
    """A read-only connection to the warehouse, or LakeQueryError saying what to do."""
    import duckdb

    path = path or duckdb_path()
    if not path.is_file():
        raise LakeQueryError(
            f"no warehouse at {path}: run `make run` first, or point EMERGENCE_DUCKDB at one"
        )
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise LakeQueryError(f"cannot open the warehouse {path} read-only: {first}") from None


def _query(con: Any, sql: str, params: list[Any], what: str, selection: Selection) -> pl.DataFrame:
    _check_tasks_known(con, selection)
    frame = con.execute(sql, params).pl()
    if frame.is_empty():
        raise LakeQueryError(f"no {what} match the selection ({selection.describe()})")
    return frame


def _check_tasks_known(con: Any, selection: Selection) -> None:
    """A task id the lake has never heard of is a typo, not an empty selection: say so."""
    if not selection.tasks:
        return
    known = {
        row[0]
        for row in con.execute(
            f"SELECT task_id FROM tasks WHERE task_id IN ({', '.join('?' for _ in selection.tasks)})",
            selection.tasks,
        ).fetchall()
    }
    unknown = [task for task in selection.tasks if task not in known]
    if unknown:
        raise LakeQueryError(
            f"unknown task {', '.join(map(repr, unknown))}: `emergence list tasks` shows the lake's tasks"
        )


MODELS_SQL = """
SELECT m.model_id, m.family, m.params, m.train_flops, m.flops_basis, m.origin,
       count(r.model_id) AS results
FROM models m LEFT JOIN results r USING (model_id)
{where}
GROUP BY ALL ORDER BY m.family, m.params NULLS LAST, m.model_id
"""
TASKS_SQL = """
SELECT t.task_id, t.name, t.suite, t.figure_panel, t.preferred_metric,
       count(r.task_id) AS results
FROM tasks t LEFT JOIN results r USING (task_id) LEFT JOIN models m ON m.model_id = r.model_id
{where}
GROUP BY ALL ORDER BY t.task_id
"""
SERIES_SQL = """
SELECT task_id, family, shots, prompting, metric, origin, n_models, classification,
       emergent_model_id, emergent_params, emergent_flops
FROM emergence
{where}
ORDER BY task_id, family, shots NULLS LAST, prompting, metric, origin
"""
SERIES_COLUMNS = {
    "task": "task_id",
    "family": "family",
    "origin": "origin",
    "metric": "metric",
    "shots": "shots",
    "prompting": "prompting",
}


def list_table(con: Any, what: str, selection: Selection) -> pl.DataFrame:
    """Models, tasks or series (emergence rows) in the lake, narrowed by `selection`."""
    if what == "models":
        # A model (a task) matches a filter on results when it has results that match it.
        where, params = selection.where(
            {
                "model": "m.model_id",
                "family": "m.family",
                "task": "r.task_id",
                "origin": "r.origin",
                "metric": "r.metric",
                "shots": "r.shots",
                "prompting": "r.prompting",
            }
        )
        return _query(con, MODELS_SQL.format(where=where), params, "models", selection)
    if what == "tasks":
        where, params = selection.where(
            {
                "task": "t.task_id",
                "model": "r.model_id",
                "family": "m.family",
                "origin": "r.origin",
                "metric": "r.metric",
                "shots": "r.shots",
                "prompting": "r.prompting",
            }
        )
        return _query(con, TASKS_SQL.format(where=where), params, "tasks", selection)
    if what == "series":
        where, params = selection.where(SERIES_COLUMNS)
        return _query(con, SERIES_SQL.format(where=where), params, "series", selection)
    raise LakeQueryError(f"cannot list {what!r}; expected models, tasks or series")


def show_series(con: Any, selection: Selection) -> tuple[dict[str, Any], pl.DataFrame]:
    """The one series `selection` names: its emergence row and its points, by scale."""
    where, params = selection.where(SERIES_COLUMNS)
    rows = _query(con, f"SELECT * FROM emergence{where}", params, "series", selection)
    if rows.height > 1:
        keys = rows.select(
            pl.format(
                "--shots {} --prompting {} --metric {} --origin {}",
                pl.col("shots").cast(pl.String).fill_null("NULL"),
                "prompting",
                "metric",
                "origin",
            )
        ).to_series()
        raise LakeQueryError(
            f"{rows.height} series match ({selection.describe()}); narrow it with one of: "
            + "; ".join(keys.to_list())
        )
    row = rows.row(0, named=True)
    points = con.execute(
        """
        SELECT model_id, model_label, params, train_flops, value, unit, n_examples,
               citation, location
        FROM results_with_scale
        WHERE task_id = ? AND family = ? AND shots IS NOT DISTINCT FROM ?
          AND prompting = ? AND metric = ? AND origin = ?
        ORDER BY train_flops NULLS LAST, params NULLS LAST, model_id
        """,
        [
            row["task_id"],
            row["family"],
            row["shots"],
            row["prompting"],
            row["metric"],
            row["origin"],
        ],
    ).pl()
    return row, points


EXPORT_SQL = {
    "results": (
        "SELECT * FROM results_with_scale{where} ORDER BY task_id, family, metric, train_flops",
        {
            "task": "task_id",
            "model": "model_id",
            "family": "family",
            "origin": "origin",
            "metric": "metric",
            "shots": "shots",
            "prompting": "prompting",
        },
    ),
    # Per-example rows exist for fresh evaluations only: their origin is 'fresh'.
    "examples": (
        "SELECT * FROM (SELECT e.*, m.family, 'fresh' AS origin FROM eval_examples e "
        "LEFT JOIN models m USING (model_id)){where} ORDER BY model_id, task_id, example_idx",
        {
            "task": "task_id",
            "model": "model_id",
            "family": "family",
            "origin": "origin",
            "shots": "shots",
        },
    ),
}
FORMATS = ("csv", "parquet", "json", "jsonl")


def export(con: Any, what: str, selection: Selection, out: Path, fmt: str | None) -> int:
    """Write the selected rows of `what` (results | examples) to `out`; the number of rows."""
    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise LakeQueryError(
            f"cannot tell the format of {out}: pass --format {' | '.join(FORMATS)} "
            "or name the file .csv, .parquet, .json or .jsonl"
        )
    sql, columns = EXPORT_SQL[what]
    where, params = selection.where(columns)
    frame = _query(con, sql.format(where=where), params, what, selection)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.write_parquet(out)
    elif fmt == "json":
        frame.write_json(out)
    elif fmt == "jsonl":
        frame.write_ndjson(out)
    else:  # CSV has no lists: option log-probabilities become a JSON array in one cell
        lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
        frame.with_columns(
            pl.concat_str(
                pl.lit("["), pl.col(name).cast(pl.List(pl.String)).list.join(", "), pl.lit("]")
            ).alias(name)
            for name in lists
        ).write_csv(out)
    return frame.height
