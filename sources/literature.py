"""Curated published numbers (sources/literature/): read, typed, with file and row on every line.

The folder holds one file per table (models, tasks, task_metrics, table1_emergent_scale) and a
`results/` folder where each paper gets its own CSV in ONE format (README, "Adding a paper").
Dropping a new CSV into `results/` adds its rows: no code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from checks.validation import Problem, cast_columns, raise_if_any, show_cell
from sources.csv_text import read_csv_text
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
# The documented column order of a results file (README "Adding a paper").
RESULT_FILE_HEADER = [
    *RESULT_COLUMNS_REQUIRED[:8],
    "n_examples",
    *RESULT_COLUMNS_REQUIRED[8:],
    "in_wei_figure",
    "trust",
    "note",
]
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
    """The curated tables, and what reading them found (so staging can report it all at once)."""

    models: pl.DataFrame
    tasks: pl.DataFrame
    task_metrics: pl.DataFrame
    results: pl.DataFrame
    table1: pl.DataFrame
    problems: tuple[Problem, ...] = ()  # parse problems: cells that did not type, bad files
    unreadable: frozenset[str] = frozenset()  # tables with no usable file: no rules against them
    ignored: tuple[str, ...] = ()  # files in results/ that are not read, and why


def display_path(path: Path) -> str:
    """Paths in messages are relative to the project when they can be."""
    absolute = path.parent.resolve() / path.name  # a link is named as itself, not its target
    try:
        return str(absolute.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(absolute)


def read_text_csv(
    path: Path, columns: list[str], optional: list[str] = (), *, other_columns_allowed: bool = False
) -> tuple[pl.DataFrame, list[Problem]]:
    """Read every cell as text (sources/csv_text.py) and check the header against the documented
    columns (extra ones allowed for files we do not own); each row keeps the line its record
    starts on. Only the documented columns are kept."""
    label = display_path(path)
    header, frame, problems = read_csv_text(path, label)
    if not header:  # unreadable, empty or too large: nothing more to say about its columns
        return pl.DataFrame(), problems
    header_problems = [
        Problem(label, 1, column, "no such column", "the documented column to be present")
        for column in columns
        if column not in header
    ]
    allowed = set(columns) | set(optional)
    header_problems += [
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
    if frame.width == 0 or header_problems:  # the file's shape is wrong: none of its rows count
        return pl.DataFrame(), problems + header_problems
    # Strip and null the empty cells of the columns that have any to strip: a column copied only
    # where it changes keeps the peak memory of a large file near one copy of its cells.
    to_clean = frame.select(
        (pl.col(c).str.contains(r"^\s|\s$") | (pl.col(c) == "")).any().alias(c) for c in header
    ).row(0, named=True)
    source_row = frame["source_row"]
    frame = frame.select(
        *(
            pl.col(c).str.strip_chars().replace("", None) if to_clean[c] else pl.col(c)
            for c in header
        ),
        *(pl.lit(None, dtype=pl.String).alias(c) for c in optional if c not in header),
    ).with_columns(pl.lit(label).alias("source_file"), source_row)
    return frame, problems


SCALE_SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def scale_expr(text: pl.Expr) -> pl.Expr:
    """'13B' -> 1.3e10, '40M' -> 4e7, '1,320M' -> 1.32e9, '2.3E+22' -> 2.3e22; else null."""
    cleaned = text.str.strip_chars().str.replace_all(",", "", literal=True)
    multiplier = (
        cleaned.str.slice(-1)
        .str.to_uppercase()
        .replace_strict(SCALE_SUFFIXES, default=None, return_dtype=pl.Float64)
    )
    number = pl.when(multiplier.is_not_null()).then(cleaned.str.head(-1)).otherwise(cleaned)
    value = number.cast(pl.Float64, strict=False) * multiplier.fill_null(1.0)
    return pl.when(value.is_finite()).then(value)


def parse_scale(text: str | None) -> float | None:
    """One printed scale as a number ('Many' and blanks -> None), by `scale_expr`."""
    return pl.select(scale_expr(pl.lit(text, dtype=pl.String))).item()


def _models(directory: Path) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = read_text_csv(directory / "models.csv", MODEL_COLUMNS)
    if frame.width == 0:
        return frame, problems
    frame, cast_problems = cast_columns(
        frame,
        {
            "params": pl.Float64,
            "train_tokens": pl.Float64,
            "train_flops": pl.Float64,
            "flops_printed_by_wei": pl.Float64,
        },
    )
    problems += cast_problems
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
    if frame.width == 0:
        return frame, problems
    frame, cast_problems = cast_columns(
        frame, {"higher_is_better": pl.Boolean, "random_level": pl.Float64}
    )
    return frame, problems + cast_problems


def _table1(directory: Path) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = read_text_csv(directory / "table1_emergent_scale.csv", TABLE1_COLUMNS)
    if frame.width == 0:
        return frame, problems
    frame, cast_problems = cast_columns(frame, {"row_order": pl.Int64, "shots": pl.Int64})
    problems += cast_problems
    printed = {"reported_flops": "train_flops_as_printed", "reported_params": "params_as_printed"}
    frame = frame.with_columns(scale_expr(pl.col(p)).alias(r) for r, p in printed.items())
    for reported, column in printed.items():  # 'Many' (Table 1 row 23): kept, non-numeric
        unparsed = frame.filter(
            pl.col(reported).is_null() & (pl.col(column).str.to_lowercase().fill_null("") != "many")
        )
        problems += [
            Problem(
                row["source_file"],
                row["source_row"],
                column,
                show_cell(row[column]),
                "a number like 2.3E+22 or 13B, or 'Many'",
            )
            for row in unparsed.select("source_file", "source_row", column).to_dicts()
        ]
    frame = frame.with_columns(
        (pl.col("reported_flops").is_not_null() & pl.col("reported_params").is_not_null()).alias(
            "is_numeric"
        ),
    ).drop("train_flops_as_printed", "params_as_printed")
    return frame, problems


def read_results_file(path: Path) -> tuple[pl.DataFrame, list[Problem]]:
    """One paper's results in the documented format (README, 'Adding a paper')."""
    frame, problems = read_text_csv(path, RESULT_COLUMNS_REQUIRED, RESULT_COLUMNS_OPTIONAL)
    if frame.width == 0:
        return frame, problems
    frame, cast_problems = cast_columns(
        frame,
        {
            "shots": pl.Int64,
            "value": pl.Float64,
            "n_examples": pl.Int64,
            "in_wei_figure": pl.Boolean,
        },
    )
    problems += cast_problems
    frame = frame.with_columns(
        pl.col("in_wei_figure").fill_null(False),
        pl.lit("literature").alias("origin"),
    )
    return frame, problems


def results_files(directory: Path) -> tuple[list[Path], list[Problem], list[str]]:
    """The CSVs of results/ (any case of .csv), links out of the folder refused, the rest named.

    A link that leads outside results/ could make the lake read (and echo in its messages) any
    file on the machine, so it is refused with a problem, not followed.
    """
    folder = directory / "results"
    if not folder.is_dir():
        return (
            [],
            [Problem(display_path(folder), None, None, "no such folder", "results/*.csv")],
            [],
        )
    inside = folder.resolve()
    files, problems, ignored = [], [], []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        label = display_path(path)
        if path.is_symlink() and not path.resolve().is_relative_to(inside):
            problems.append(
                Problem(
                    label,
                    None,
                    None,
                    f"a symbolic link to {path.resolve()}, outside results/",
                    "a file inside results/ (links out of the folder are not followed)",
                )
            )
        elif path.name.startswith("~$"):  # Excel's lock file while the CSV is open in Excel
            ignored.append(f"{label}: ignored (an Excel lock file; only results/*.csv are read)")
        elif path.suffix.lower() != ".csv" or not path.is_file():
            if not path.name.startswith("."):  # .DS_Store, editor swap files: not worth a line
                what = "a folder" if path.is_dir() else "not a .csv file"
                ignored.append(f"{label}: ignored ({what}; only results/*.csv files are read)")
        else:
            files.append(path)
    if not files and not problems:
        problems.append(
            Problem(display_path(folder), None, None, "no CSV files", "at least one results/*.csv")
        )
    return files, problems, ignored


def read_results(directory: Path) -> tuple[pl.DataFrame, list[Problem], list[str]]:
    """Every results file's rows; a file whose shape is wrong contributes none (and says why)."""
    files, problems, ignored = results_files(directory)
    frames = []
    for path in files:
        frame, file_problems = read_results_file(path)
        problems += file_problems
        if frame.width:
            frames.append(frame)
    results = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    return results, problems, ignored


def read_literature(directory: Path = LITERATURE_DIR, *, strict: bool = True) -> LiteratureTables:
    """Read and type every curated file, every file's problems together.

    With `strict` (the default) any problem raises ValidationError naming file, row and column;
    without, the problems ride along (`LiteratureTables.problems`) so that staging can add the
    schema and rule problems of everything that could be read, and report them all in one pass.
    """
    problems: list[Problem] = []
    tables = {}
    for name, read in (
        ("models", _models),
        ("tasks", _tasks),
        ("task_metrics", _task_metrics),
        ("table1", _table1),
    ):
        tables[name], found = read(directory)
        problems += found
    tables["results"], found, ignored = read_results(directory)
    problems += found
    if strict:
        raise_if_any(problems)
    return LiteratureTables(
        **tables,
        problems=tuple(problems),
        unreadable=frozenset(name for name, frame in tables.items() if frame.width == 0),
        ignored=tuple(ignored),
    )
