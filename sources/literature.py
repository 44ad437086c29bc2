"""Curated published numbers (sources/literature/): read, typed, with file and row on every line.

The folder holds one file per table (models, tasks, task_metrics, table1_emergent_scale) and a
`results/` folder where each paper gets its own CSV in ONE format (README, "Adding a paper").
Dropping a new CSV into `results/` adds its rows: no code change.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from checks.validation import Problem, cast_columns, raise_if_any
from sources.paths import LITERATURE_DIR, PROJECT_ROOT

RESULT_COLUMNS_REQUIRED = [
    "model_id",
    "task_id",
    "shots",
    "prompting",
    "setting",
    "metric",
    "value",
    "unit",
    "citation",
    "location",
]
RESULT_COLUMNS_OPTIONAL = ["n_examples", "in_wei_figure", "trust", "note"]
RESULT_FILE_UNITS = ["percent", "fraction", "bleu", "nats", "nats_per_token"]

MODEL_COLUMNS = [
    "model_id",
    "family",
    "label",
    "params",
    "train_tokens",
    "train_flops",
    "flops_basis",
    "flops_printed_by_wei",
    "source",
    "note",
]
TASK_COLUMNS = [
    "task_id",
    "name",
    "suite",
    "figure_panel",
    "preferred_metric",
    "variant_of",
    "description",
    "source",
]
TASK_METRIC_COLUMNS = [
    "task_id",
    "metric",
    "unit",
    "higher_is_better",
    "random_level",
    "random_source",
]
TABLE1_COLUMNS = [
    "row_order",
    "prompting_kind",
    "ability",
    "train_flops_as_printed",
    "params_as_printed",
    "family",
    "reference",
    "task_id",
    "shots",
    "prompting",
    "metric",
    "source",
    "note",
]


@dataclass(frozen=True)
class LiteratureTables:
    models: pl.DataFrame
    tasks: pl.DataFrame
    task_metrics: pl.DataFrame
    results: pl.DataFrame
    table1: pl.DataFrame


def display_path(path: Path) -> str:
    """Paths in messages are relative to the project when they can be."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def read_text_csv(
    path: Path, columns: list[str], optional: list[str] = (), *, other_columns_allowed: bool = False
) -> tuple[pl.DataFrame, list[Problem]]:
    """Read every cell as text (one pass of the csv module) and check the header against the
    documented columns (extra ones allowed for files we do not own); each row keeps the line its
    record starts on."""
    label = display_path(path)
    try:
        header, records, starts, problems = _read_records(path, label)
    except (OSError, csv.Error, UnicodeDecodeError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        return pl.DataFrame(), [
            Problem(
                label,
                None,
                None,
                f"an unreadable CSV ({first_line})",
                "a UTF-8 comma-separated file with a header row",
            )
        ]
    if problems:
        return pl.DataFrame(), problems
    problems = [
        Problem(label, 1, column, "no such column", "the documented column to be present")
        for column in columns
        if column not in header
    ]
    allowed = set(columns) | set(optional)
    problems += [
        Problem(
            label,
            1,
            column,
            "an undocumented column",
            f"only the documented columns {sorted(allowed)}",
        )
        for column in header
        if column not in allowed and not other_columns_allowed
    ]
    if problems:
        return pl.DataFrame(), problems
    cells = {column: [record[i] for record in records] for i, column in enumerate(header)}
    frame = pl.DataFrame(cells, schema=dict.fromkeys(header, pl.String))
    for column in optional:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    frame = frame.with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in frame.columns]
    ).with_columns(
        pl.lit(label).alias("source_file"),
        pl.Series("source_row", starts, dtype=pl.Int64),
    )
    return frame, []


def _read_records(
    path: Path, label: str
) -> tuple[list[str], list[list[str]], list[int], list[Problem]]:
    """Header, records, the line each record starts on (a quoted cell may span lines), and
    records of the wrong width."""
    records, starts, problems = [], [], []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return [], [], [], [Problem(label, None, None, "an empty file", "a header row")]
        previous_end = reader.line_num
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not record:
                continue
            if len(record) != len(header):
                problems.append(
                    Problem(
                        label,
                        start,
                        None,
                        f"{len(record)} fields",
                        f"{len(header)} fields, as in the header (a stray or missing comma?)",
                    )
                )
            records.append(record)
            starts.append(start)
    return header, records, starts, problems


def parse_scale(text: str | None) -> float | None:
    """'13B' -> 1.3e10, '40M' -> 4e7, '2.3E+22' -> 2.3e22; 'Many' and blanks -> None."""
    if text is None:
        return None
    cleaned = text.strip().replace(",", "")
    multipliers = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    try:
        if cleaned[-1:].upper() in multipliers:
            value = float(cleaned[:-1]) * multipliers[cleaned[-1].upper()]
        else:
            value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _models(directory: Path) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = read_text_csv(directory / "models.csv", MODEL_COLUMNS)
    if problems:
        return frame, problems
    frame, problems = cast_columns(
        frame,
        {
            "params": pl.Float64,
            "train_tokens": pl.Float64,
            "train_flops": pl.Float64,
            "flops_printed_by_wei": pl.Float64,
        },
    )
    frame = frame.with_columns(
        pl.lit(None, dtype=pl.String).alias("weights"),
        pl.lit(None, dtype=pl.String).alias("revision"),
        pl.lit("literature").alias("origin"),
    )
    return frame, problems


def _tasks(directory: Path) -> tuple[pl.DataFrame, list[Problem]]:
    return read_text_csv(directory / "tasks.csv", TASK_COLUMNS)


def _task_metrics(directory: Path) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = read_text_csv(directory / "task_metrics.csv", TASK_METRIC_COLUMNS)
    if problems:
        return frame, problems
    return cast_columns(frame, {"higher_is_better": pl.Boolean, "random_level": pl.Float64})


def _table1(directory: Path) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = read_text_csv(directory / "table1_emergent_scale.csv", TABLE1_COLUMNS)
    if problems:
        return frame, problems
    frame, problems = cast_columns(frame, {"row_order": pl.Int64, "shots": pl.Int64})
    label = frame["source_file"][0] if frame.height else "table1_emergent_scale.csv"
    flops = [parse_scale(v) for v in frame["train_flops_as_printed"].to_list()]
    params = [parse_scale(v) for v in frame["params_as_printed"].to_list()]
    non_numeric = {"many"}
    for row, printed_f, printed_p, f, p in zip(
        frame["source_row"],
        frame["train_flops_as_printed"],
        frame["params_as_printed"],
        flops,
        params,
        strict=True,
    ):
        for column, printed, value in (
            ("train_flops_as_printed", printed_f, f),
            ("params_as_printed", printed_p, p),
        ):
            if value is None and (printed or "").strip().lower() not in non_numeric:
                problems.append(
                    Problem(
                        label, row, column, repr(printed), "a number like 2.3E+22 or 13B, or 'Many'"
                    )
                )
    frame = (
        frame.with_columns(
            pl.Series("reported_flops", flops, dtype=pl.Float64),
            pl.Series("reported_params", params, dtype=pl.Float64),
        )
        .with_columns(
            (
                pl.col("reported_flops").is_not_null() & pl.col("reported_params").is_not_null()
            ).alias("is_numeric"),
        )
        .drop("train_flops_as_printed", "params_as_printed")
    )
    return frame, problems


def read_results_file(path: Path) -> tuple[pl.DataFrame, list[Problem]]:
    """One paper's results in the documented format (README, 'Adding a paper')."""
    frame, problems = read_text_csv(path, RESULT_COLUMNS_REQUIRED, RESULT_COLUMNS_OPTIONAL)
    if problems:
        return frame, problems
    frame, problems = cast_columns(
        frame,
        {
            "shots": pl.Int64,
            "value": pl.Float64,
            "n_examples": pl.Int64,
            "in_wei_figure": pl.Boolean,
        },
    )
    frame = frame.with_columns(
        pl.col("in_wei_figure").fill_null(False),
        pl.lit("literature").alias("origin"),
    )
    return frame, problems


def read_results(directory: Path) -> tuple[pl.DataFrame, list[Problem]]:
    frames, problems = [], []
    files = sorted((directory / "results").glob("*.csv"))
    if not files:
        problems.append(
            Problem(
                display_path(directory / "results"),
                None,
                None,
                "no CSV files",
                "at least one results/*.csv",
            )
        )
    for path in files:
        frame, file_problems = read_results_file(path)
        problems += file_problems
        if not file_problems:
            frames.append(frame)
    results = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    return results, problems


def read_literature(directory: Path = LITERATURE_DIR) -> LiteratureTables:
    """Read and type every curated file; raise ValidationError naming file/row/column on bad cells."""
    problems: list[Problem] = []
    models, p = _models(directory)
    problems += p
    tasks, p = _tasks(directory)
    problems += p
    task_metrics, p = _task_metrics(directory)
    problems += p
    table1, p = _table1(directory)
    problems += p
    results, p = read_results(directory)
    problems += p
    raise_if_any(problems)
    return LiteratureTables(models, tasks, task_metrics, results, table1)
