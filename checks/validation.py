"""Turning bad input into messages a person can act on.

Every staged frame carries `source_file` and `source_row` (the line number in the file, header =
line 1), so a failure anywhere in validation can name the file, the row, the column, what was
found and what was expected. Nothing here writes anything: callers collect `Problem`s and refuse
to go on when there are any.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

# A person reads the first problems and fixes them; past this many, a count says how many remain.
MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    found: str
    expected: str
    rule: str = ""  # which rule found it: schema | references | units | catalogue | parse

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: found {self.found}; expected {self.expected}"


def in_reading_order(problems: Iterable[Problem]) -> list[Problem]:
    """Each problem once, by file, then row, then column: the order a person fixes them in."""
    return sorted(set(problems), key=lambda p: (p.file, p.row or 0, p.column or "", p.found))


def problem_lines(problems: Iterable[Problem], limit: int = MAX_PROBLEMS_SHOWN) -> list[str]:
    """One line per problem, in reading order, the last saying how many more were left out."""
    ordered = in_reading_order(problems)
    lines = [str(p) for p in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"… and {len(ordered) - limit} more")
    return lines


class ValidationError(ValueError):
    """Raised with every problem found, before anything is written."""

    def __init__(self, problems: list[Problem]):
        self.problems = in_reading_order(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the input; nothing was written:\n"
            + "\n".join(problem_lines(self.problems))
        )


def raise_if_any(problems: list[Problem]) -> None:
    if problems:
        raise ValidationError(problems)


def show_cell(value: object) -> str:
    """What a message says was found: the value as Python writes it, or "an empty cell"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "an empty cell"
    return repr(value)


def did_you_mean(value: object, known: Iterable[str]) -> str:
    """ "; did you mean 'gpt3-175b'?" for the closest known id (to end an expectation), or ""."""
    if not isinstance(value, str):
        return ""
    known = list(known)
    same_but_case = [k for k in known if k.lower() == value.lower()]
    matches = same_but_case or difflib.get_close_matches(value, known, n=1, cutoff=0.75)
    return f"; did you mean {matches[0]!r}?" if matches else ""


# --- parsing: every CSV is read as text first, so a bad cell is reported, not silently nulled ---

_NUMBER_WORDS = {pl.Float64: "a number", pl.Int64: "a whole number", pl.Boolean: "true or false"}


def _parsed(text: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """The typed value of a text cell, null where it does not parse (NaN and inf are not data)."""
    if dtype == pl.Boolean:
        lowered = text.str.to_lowercase()
        return (
            pl.when(lowered.is_in(["true", "yes", "1"]))
            .then(True)
            .when(lowered.is_in(["false", "no", "0"]))
            .then(False)
            .otherwise(None)
        )
    if dtype == pl.Int64:
        number = text.cast(pl.Float64, strict=False)
        whole = number.is_finite() & (number == number.round(0)) & (number.abs() < 2**53)
        return pl.when(whole).then(number).otherwise(None).cast(pl.Int64, strict=False)
    number = text.cast(dtype, strict=False)
    return pl.when(number.is_finite()).then(number).otherwise(None)


def cast_columns(
    frame: pl.DataFrame, dtypes: dict[str, pl.DataType], *, file_label: str | None = None
) -> tuple[pl.DataFrame, list[Problem]]:
    """Cast text columns to `dtypes` in one pass; report each non-empty cell that does not parse.

    Cells arrive stripped, empty ones as null (sources/literature.py's read_text_csv).
    """
    columns = [c for c in dtypes if c in frame.columns]
    if not columns:
        return frame, []
    typed = frame.with_columns(
        _parsed(pl.col(c).cast(pl.String), dtypes[c]).alias(f"__typed_{c}") for c in columns
    )
    unparsed = {c: pl.col(c).is_not_null() & pl.col(f"__typed_{c}").is_null() for c in columns}
    bad = typed.filter(pl.any_horizontal(unparsed.values())).select(
        "source_file", "source_row", *columns, *(e.alias(f"__bad_{c}") for c, e in unparsed.items())
    )
    problems = [
        Problem(
            file_label or row["source_file"],
            row["source_row"],
            column,
            show_cell(row[column]),
            _NUMBER_WORDS.get(dtypes[column], str(dtypes[column])),
        )
        for row in bad.to_dicts()
        for column in columns
        if row[f"__bad_{column}"]
    ]
    typed = typed.with_columns(
        pl.col(f"__typed_{c}").cast(dtypes[c]).alias(c) for c in columns
    ).drop(f"__typed_{c}" for c in columns)
    return typed, problems


# --- schema checks: pandera failure cases -> Problems ---

_CHECK_WORDS: list[tuple[str, str]] = [
    (r"^greater_than_or_equal_to\((.*)\)$", "a value >= {0}"),
    (r"^greater_than\((.*)\)$", "a value > {0}"),
    (r"^less_than_or_equal_to\((.*)\)$", "a value <= {0}"),
    (r"^less_than\((.*)\)$", "a value < {0}"),
    (r"^in_range\((.*), (.*)\)$", "a value between {0} and {1}"),
    (r"^isin\((.*)\)$", "one of {0}"),
    (r"^str_matches\('?(.*?)'?\)$", "text matching {0}"),
    (r"^str_length\((\d+), None\)$", "text of at least {0} characters"),
    (r"^str_length\((.*)\)$", "text of length {0}"),
    (r"^not_nullable$", "a value (the cell is required)"),
    (r"^dtype\('(.*)'\)$", "type {0}"),
    (r"^column_in_dataframe$", "the column to be present"),
    (r"^column_in_schema$", "no such column (not in the documented format)"),
]


def _number_words(text: str) -> str:
    """A bound as the range rules write it: 100000.0 -> 100000, 10000000000000.0 -> 1e+13."""
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def _expected_from_check(check: str) -> str:
    for pattern, words in _CHECK_WORDS:
        match = re.match(pattern, check)
        if match:
            groups = match.groups()
            if pattern.startswith(("^greater", "^less", "^in_range")):
                groups = tuple(_number_words(g) for g in groups)
            return words.format(*groups)
    if check in ("multiple_fields_uniqueness", "field_uniqueness", "unique"):
        return "a unique key (another row has the same key)"
    return check


def schema_problems(
    frame: pl.DataFrame,
    schema: type[pa.DataFrameModel],
    *,
    table: str,
    file_columns: dict[str, str] | None = None,
) -> list[Problem]:
    """Validate `frame` lazily (all failures at once) and map them to rows of their files.

    `file_columns` renames derived columns to the file column they come from, for messages.
    """
    fields = set(schema.to_schema().columns)
    checked = frame.drop(
        [c for c in ("source_file", "source_row") if c in frame.columns and c not in fields]
    )
    try:
        schema.validate(checked, lazy=True)
    except pa.errors.SchemaErrors as errors:
        problems = _failures_to_problems(errors.failure_cases, frame, schema, table)
        renames = file_columns or {}
        return [
            Problem(p.file, p.row, renames.get(p.column, p.column), p.found, p.expected, p.rule)
            for p in problems
        ]
    return []


def _typed(text: object, kind: type | None) -> object:
    """Pandera gives failure cases as text; a number is written as a number (140.0, not '140.0')."""
    if kind is None or not isinstance(text, str):
        return text
    try:
        return kind(text)
    except ValueError:
        return text


def _failures_to_problems(
    failures: pl.DataFrame, frame: pl.DataFrame, schema: type[pa.DataFrameModel], table: str
) -> list[Problem]:
    """Pandera's failure cases, located by a join on the row index (no per-row lookups)."""
    located = failures.with_columns(pl.col("index").cast(pl.Int64))
    if {"source_file", "source_row"} <= set(frame.columns):
        where = frame.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("index"), "source_file", "source_row"
        )
        located = located.join(where, on="index", how="left")
    else:
        located = located.with_columns(
            pl.lit(None, dtype=pl.String).alias("source_file"),
            pl.lit(None, dtype=pl.Int64).alias("source_row"),
        )
    key_columns = getattr(schema.Config, "unique", None)
    numeric = {
        name: int if dtype.is_integer() else float
        for name, dtype in frame.schema.items()
        if dtype.is_numeric()
    }
    problems = []
    for failure in located.iter_rows(named=True):
        column = failure.get("column")
        check = str(failure.get("check"))
        if column == schema.__name__ or failure.get("schema_context") == "DataFrameSchema":
            column = ", ".join(key_columns) if key_columns and "unique" in check else None
        found = failure.get("failure_case")
        if "unique" in check:
            found = "a duplicate of another row's key " + str(found)
        elif check == "not_nullable":
            found = "an empty cell"
        else:
            found = show_cell(_typed(found, numeric.get(column)))
        problems.append(
            Problem(
                str(failure["source_file"] or table),
                failure["source_row"],
                column,
                found,
                _expected_from_check(check),
            )
        )
    return problems
