"""Validation rules across tables: what a column schema alone cannot say.

Each rule is a plain function from frames to a list of `Problem`s (empty when the rule holds), so
the same code runs in tests, in the staging step that gates the warehouse, and as Dagster asset
checks. Frames carry `source_file`/`source_row` so every problem names where it came from.
"""

from __future__ import annotations

import polars as pl

from checks.validation import Problem

# Published training FLOPs may differ from 6·N·D (attention FLOPs, encoder-decoder counting,
# hardware-time estimates); beyond this factor either way the model is flagged, not rejected.
FLOPS_6ND_FACTOR = 2.0

UNIT_RANGES: dict[str, tuple[float | None, float | None]] = {
    "percent": (0.0, 100.0),
    "bleu": (0.0, 100.0),
    "nats": (None, 0.0),
    "nats_per_token": (0.0, None),
    "perplexity": (1.0, None),
}
# Units a results file may use, and how they become the metric's declared unit.
UNIT_CONVERSIONS: dict[tuple[str, str], float] = {("fraction", "percent"): 100.0}


def _where(frame: pl.DataFrame, row: dict) -> tuple[str, int | None]:
    return str(row.get("source_file", "?")), row.get("source_row")


def with_flops_consistency(models: pl.DataFrame) -> pl.DataFrame:
    """Add 6·N·D, the ratio of the stated FLOPs to it, and whether that ratio is plausible."""
    checkable = (pl.col("params") > 0) & (pl.col("train_tokens") > 0)
    six_nd = pl.when(checkable).then(pl.col("params") * pl.col("train_tokens") * 6.0)
    ratio = pl.col("train_flops") / pl.col("flops_6nd")
    return (
        models.with_columns(six_nd.alias("flops_6nd"))
        .with_columns(
            ratio.alias("flops_6nd_ratio"),
        )
        .with_columns(
            pl.when(pl.col("flops_6nd_ratio").is_null())
            .then(None)
            .otherwise(
                (pl.col("flops_6nd_ratio") <= FLOPS_6ND_FACTOR)
                & (pl.col("flops_6nd_ratio") >= 1.0 / FLOPS_6ND_FACTOR)
            )
            .alias("flops_consistent")
        )
    )


def flops_flags(models: pl.DataFrame) -> list[Problem]:
    """Models whose stated FLOPs disagree with 6·N·D by more than FLOPS_6ND_FACTOR (a warning)."""
    flagged = models.filter(pl.col("flops_consistent") == False)  # noqa: E712 (null = not checkable)
    return [
        Problem(
            *_where(models, row),
            "train_flops",
            f"{row['train_flops']:.3g} = {row['flops_6nd_ratio']:.2f} × 6·N·D ({row['flops_6nd']:.3g}) for {row['model_id']}",
            f"within a factor {FLOPS_6ND_FACTOR:g} of 6·N·D (flagged, not rejected)",
        )
        for row in flagged.iter_rows(named=True)
    ]


def flops_basis_problems(models: pl.DataFrame) -> list[Problem]:
    problems = []
    for row in models.iter_rows(named=True):
        basis, flops = row["flops_basis"], row["train_flops"]
        if (basis == "missing") != (flops is None):
            problems.append(
                Problem(
                    *_where(models, row),
                    "flops_basis",
                    repr(basis),
                    "'missing' exactly when train_flops is empty"
                    if flops is None
                    else "a basis other than 'missing' when train_flops is given",
                )
            )
        if basis == "estimated_6nd":
            for column in ("params", "train_tokens"):
                if row[column] is None:
                    problems.append(
                        Problem(
                            *_where(models, row),
                            column,
                            "an empty cell",
                            "params and train_tokens when train_flops is a 6·N·D estimate",
                        )
                    )
    return problems


def normalise_units(
    results: pl.DataFrame, task_metrics: pl.DataFrame
) -> tuple[pl.DataFrame, list[Problem]]:
    """Bring each value into its metric's declared unit (fraction -> percent); report the rest."""
    declared = task_metrics.select("task_id", "metric", pl.col("unit").alias("declared_unit"))
    joined = results.join(declared, on=["task_id", "metric"], how="left")
    factors = pl.DataFrame(
        {
            "unit": [k[0] for k in UNIT_CONVERSIONS],
            "declared_unit": [k[1] for k in UNIT_CONVERSIONS],
            "factor": list(UNIT_CONVERSIONS.values()),
        }
    )
    joined = joined.join(factors, on=["unit", "declared_unit"], how="left")
    problems = [
        Problem(
            *_where(joined, row),
            "unit",
            repr(row["unit"]),
            f"'{row['declared_unit']}', the unit task_metrics.csv declares for {row['task_id']} / {row['metric']}"
            + (
                " (or 'fraction', converted to percent)"
                if row["declared_unit"] == "percent"
                else ""
            ),
        )
        for row in joined.filter(
            pl.col("declared_unit").is_not_null()
            & (pl.col("unit") != pl.col("declared_unit"))
            & pl.col("factor").is_null()
        ).iter_rows(named=True)
    ]
    normalised = joined.with_columns(
        (pl.col("value") * pl.col("factor").fill_null(1.0)).alias("value"),
        pl.when(pl.col("factor").is_not_null())
        .then(pl.col("declared_unit"))
        .otherwise(pl.col("unit"))
        .alias("unit"),
    ).drop("declared_unit", "factor")
    return normalised, problems


def reference_problems(
    results: pl.DataFrame, models: pl.DataFrame, task_metrics: pl.DataFrame
) -> list[Problem]:
    """Every result's model must be in models; its task and metric in task_metrics."""
    known_models = set(models["model_id"].to_list())
    known_metrics = set(
        zip(task_metrics["task_id"].to_list(), task_metrics["metric"].to_list(), strict=True)
    )
    known_tasks = {t for t, _ in known_metrics}
    problems = []
    for row in results.iter_rows(named=True):
        if row["model_id"] not in known_models:
            problems.append(
                Problem(
                    *_where(results, row),
                    "model_id",
                    repr(row["model_id"]),
                    "a model_id listed in models.csv (or the model registry)",
                )
            )
        if row["task_id"] not in known_tasks:
            problems.append(
                Problem(
                    *_where(results, row),
                    "task_id",
                    repr(row["task_id"]),
                    "a task_id listed in task_metrics.csv",
                )
            )
        elif (row["task_id"], row["metric"]) not in known_metrics:
            problems.append(
                Problem(
                    *_where(results, row),
                    "metric",
                    repr(row["metric"]),
                    f"a metric declared for {row['task_id']} in task_metrics.csv",
                )
            )
    return problems


def range_problems(frame: pl.DataFrame, value_column: str = "value") -> list[Problem]:
    """Values must lie in the range of their unit (percent and BLEU 0-100, log-probs <= 0)."""
    problems = []
    for row in frame.iter_rows(named=True):
        value, unit = row[value_column], row["unit"]
        if value is None or unit not in UNIT_RANGES:
            continue
        low, high = UNIT_RANGES[unit]
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = (
                f"between {low:g} and {high:g}"
                if low is not None and high is not None
                else (f"<= {high:g}" if high is not None else f">= {low:g}")
            )
            problems.append(
                Problem(
                    *_where(frame, row), value_column, repr(value), f"a value {bounds} ({unit})"
                )
            )
    return problems


def catalogue_problems(tasks: pl.DataFrame, task_metrics: pl.DataFrame) -> list[Problem]:
    """task_metrics must name known tasks; each task's preferred metric must be declared."""
    known_tasks = set(tasks["task_id"].to_list())
    declared = set(
        zip(task_metrics["task_id"].to_list(), task_metrics["metric"].to_list(), strict=True)
    )
    problems = [
        Problem(
            *_where(task_metrics, row),
            "task_id",
            repr(row["task_id"]),
            "a task_id listed in tasks.csv",
        )
        for row in task_metrics.iter_rows(named=True)
        if row["task_id"] not in known_tasks
    ]
    problems += [
        Problem(
            *_where(tasks, row),
            "preferred_metric",
            repr(row["preferred_metric"]),
            f"a metric declared for {row['task_id']} in task_metrics.csv",
        )
        for row in tasks.iter_rows(named=True)
        if (row["task_id"], row["preferred_metric"]) not in declared
    ]
    problems += range_problems(
        task_metrics.filter(pl.col("random_level").is_not_null()), value_column="random_level"
    )
    return problems


def table1_problems(table1: pl.DataFrame, task_metrics: pl.DataFrame) -> list[Problem]:
    declared = set(
        zip(task_metrics["task_id"].to_list(), task_metrics["metric"].to_list(), strict=True)
    )
    problems = []
    for row in table1.filter(pl.col("task_id").is_not_null()).iter_rows(named=True):
        if (row["task_id"], row["metric"]) not in declared:
            problems.append(
                Problem(
                    *_where(table1, row),
                    "metric",
                    f"{row['task_id']!r} / {row['metric']!r}",
                    "a task and metric declared in task_metrics.csv",
                )
            )
    return problems
