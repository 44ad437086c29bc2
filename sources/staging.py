"""The staged layer: every source in one long format, validated before anything is written."""

from __future__ import annotations

from dataclasses import dataclass, fields

import polars as pl

from checks.rules import lake_problems, normalise_units, with_flops_consistency
from checks.schemas import SCHEMAS
from checks.validation import Problem, raise_if_any
from sources.literature import LiteratureTables
from sources.obsscaling import ObsScalingTables


@dataclass(frozen=True)
class StagedLake:
    """Validated frames, one per warehouse table, still carrying source_file/source_row."""

    models: pl.DataFrame
    tasks: pl.DataFrame
    task_metrics: pl.DataFrame
    results: pl.DataFrame
    table1: pl.DataFrame

    def table(self, name: str) -> pl.DataFrame:
        """The frame in the warehouse's column order, provenance-only columns dropped."""
        columns = list(SCHEMAS[name].to_schema().columns)
        return getattr(self, name).select(columns)

    def row_counts(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name).height for f in fields(self)}


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def stage_lake(
    literature: LiteratureTables,
    obsscaling: ObsScalingTables | None = None,
    *,
    extra_models: pl.DataFrame | None = None,
) -> StagedLake:
    """Combine the sources, normalise units, validate; raise ValidationError on any problem."""
    models = _concat([literature.models, *(obsscaling and [obsscaling.models] or []),
                      *([extra_models] if extra_models is not None else [])])
    models = with_flops_consistency(models)
    results = _concat([literature.results, *(obsscaling and [obsscaling.results] or [])])
    results, problems = normalise_units(results, literature.task_metrics)
    staged = StagedLake(
        models=models,
        tasks=literature.tasks,
        task_metrics=literature.task_metrics,
        results=results,
        table1=literature.table1,
    )
    problems: list[Problem] = problems + lake_problems(
        staged.models, staged.tasks, staged.task_metrics, staged.results, staged.table1
    )
    raise_if_any(problems)
    return staged
