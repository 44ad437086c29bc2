"""The staged layer: every source in one long format, validated before anything is written."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import polars as pl

from checks.rules import (
    catalogue_problems,
    flops_basis_problems,
    normalise_units,
    range_problems,
    reference_problems,
    table1_problems,
    with_flops_consistency,
)
from checks.schemas import SCHEMAS
from checks.validation import Problem, raise_if_any, schema_problems
from sources.literature import LiteratureTables
from sources.lmeval import LmEvalTables
from sources.obsscaling import ObsScalingTables


@dataclass(frozen=True)
class StagedLake:
    """Validated frames, one per warehouse table, still carrying source_file/source_row."""

    models: pl.DataFrame
    tasks: pl.DataFrame
    task_metrics: pl.DataFrame
    results: pl.DataFrame
    table1: pl.DataFrame
    problems: tuple[Problem, ...] = field(default=())
    origins: tuple[str, ...] = (
        "literature",
    )  # the sources present, whose warehouse rows get replaced

    def problems_of(self, *rules: str) -> list[Problem]:
        return [p for p in self.problems if p.rule in rules]

    def table(self, name: str) -> pl.DataFrame:
        """The frame in the warehouse's column order, provenance-only columns dropped."""
        columns = list(SCHEMAS[name].to_schema().columns)
        return getattr(self, name).select(columns)

    def results_with_scale(self) -> pl.DataFrame:
        """The columns of the warehouse view `results_with_scale` that the emergence detector
        reads, joined in memory: detection on a staged lake without writing a warehouse."""
        return (
            self.table("results")
            .join(
                self.table("models").select("model_id", "family", "params", "train_flops"),
                on="model_id",
            )
            .join(
                self.table("task_metrics").select(
                    "task_id", "metric", "random_level", "higher_is_better"
                ),
                on=["task_id", "metric"],
                how="left",
            )
        )

    def row_counts(self) -> dict[str, int]:
        return {
            f.name: getattr(self, f.name).height
            for f in fields(self)
            if f.name not in ("problems", "origins")
        }


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


# Staged columns derived from a differently named file column, for messages.
FILE_COLUMNS = {
    "table1": {"reported_flops": "train_flops_as_printed", "reported_params": "params_as_printed"}
}


def _with_optional_columns(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Optional schema columns (lm-eval checkpoints, provenance) as nulls where no source gave them."""
    columns = SCHEMAS[table].to_schema().columns
    return frame.with_columns(
        pl.lit(None, dtype=c.dtype.type).alias(name)
        for name, c in columns.items()
        if not c.required and name not in frame.columns
    )


def _tag(problems: list[Problem], rule: str) -> list[Problem]:
    return [replace(p, rule=rule) for p in problems]


def _not_repeating_parse(problems: list[Problem]) -> list[Problem]:
    """A cell that did not parse is read as empty: its rule problems would only repeat it."""
    unparsed = {(p.file, p.row, p.column) for p in problems if p.rule == "parse" and p.column}
    return [p for p in problems if p.rule == "parse" or (p.file, p.row, p.column) not in unparsed]


def stage_lake(
    literature: LiteratureTables,
    obsscaling: ObsScalingTables | None = None,
    lmeval: LmEvalTables | None = None,
    *,
    extra_models: pl.DataFrame | None = None,
    parse_problems: list[Problem] = (),
    strict: bool = True,
) -> StagedLake:
    """Combine the sources, normalise units and run every rule.

    Every problem is found in one pass: parse problems (`literature.problems`, `parse_problems`)
    do not stop the schema and rule checks of everything that could be read; only a table with
    no usable file (`literature.unreadable`) skips the checks that would all fail for want of it.
    With `strict` (the default) any problem raises ValidationError; otherwise the problems ride
    along on the result so that Dagster asset checks can report them and block the warehouse.
    """
    unreadable = literature.unreadable
    models = _concat(
        [
            literature.models,
            *(obsscaling and [obsscaling.models] or []),
            *([extra_models] if extra_models is not None else []),
            *([lmeval.models] if lmeval is not None else []),
        ]
    )
    models = with_flops_consistency(models) if models.width else models
    tasks = _concat([literature.tasks, *([lmeval.tasks] if lmeval is not None else [])])
    task_metrics = _concat(
        [literature.task_metrics, *([lmeval.task_metrics] if lmeval is not None else [])]
    )
    results = _concat(
        [
            literature.results,
            *(obsscaling and [obsscaling.results] or []),
            *([lmeval.results] if lmeval is not None else []),
        ]
    )
    results = _with_optional_columns(results, "results")
    unit_problems: list[Problem] = []
    if results.width and "task_metrics" not in unreadable:
        results, unit_problems = normalise_units(results, task_metrics)
    problems = _tag([*literature.problems, *parse_problems], "parse") + _tag(unit_problems, "units")
    frames = {
        "models": models,
        "tasks": tasks,
        "task_metrics": task_metrics,
        "results": results,
        "table1": literature.table1,
    }
    for name, frame in frames.items():
        if frame.width == 0:
            continue  # its file could not be read; the parse problems say why
        problems += _tag(
            schema_problems(frame, SCHEMAS[name], table=name, file_columns=FILE_COLUMNS.get(name)),
            "schema",
        )
    # Tables the cross-table rules can trust: read, and (but for results, which other sources
    # add to) not missing their curated file.
    readable = {
        name
        for name, frame in frames.items()
        if frame.width and (name == "results" or name not in unreadable)
    }
    catalogue = []
    if "models" in readable:
        catalogue += flops_basis_problems(models)
    if {"tasks", "task_metrics"} <= readable:
        catalogue += catalogue_problems(tasks, task_metrics)
    if {"table1", "task_metrics"} <= readable:
        catalogue += table1_problems(literature.table1, task_metrics)
    problems += _tag(catalogue, "catalogue")
    if {"results", "models", "task_metrics"} <= readable:
        problems += _tag(reference_problems(results, models, task_metrics), "references")
    if "results" in readable:
        problems += _tag(range_problems(results), "units")
    problems = _not_repeating_parse(problems)
    if strict:
        raise_if_any(problems)
    origins = ("literature",) + (("obsscaling",) if obsscaling is not None else ())
    origins += ("lmeval",) if lmeval is not None and lmeval.complete else ()
    return StagedLake(**frames, problems=tuple(problems), origins=origins)


def validate_fresh(
    results: pl.DataFrame,
    examples: pl.DataFrame,
    models: pl.DataFrame,
    task_metrics: pl.DataFrame,
    *,
    label: str,
) -> None:
    """Fresh evaluation rows pass the same schemas and rules as published ones, or nothing is written.

    Results keep their own source_file (the weights); messages number rows from 1 within the run.
    """
    row_number = (pl.int_range(pl.len(), dtype=pl.Int64) + 1).alias("source_row")
    results = results.with_columns(row_number)
    examples = examples.with_columns(pl.lit(label).alias("source_file"), row_number)
    problems = schema_problems(results, SCHEMAS["results"], table=label)
    problems += schema_problems(examples, SCHEMAS["eval_examples"], table=label)
    problems += reference_problems(results, models, task_metrics)
    problems += range_problems(results)
    raise_if_any(problems)
