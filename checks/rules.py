"""Validation rules across tables: what a column schema alone cannot say.

Each rule is a plain function from frames to a list of `Problem`s (empty when the rule holds), so
the same code runs in tests, in the staging step that gates the warehouse, and as Dagster asset
checks. Frames carry `source_file`/`source_row` so every problem names where it came from.
"""

from __future__ import annotations

import polars as pl

from checks.validation import Problem, did_you_mean, show_cell

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


def _rows(frame: pl.DataFrame, *columns: str) -> list[dict]:
    """The offending rows only (after a vectorised filter/anti-join), with where they came from."""
    where = [c for c in ("source_file", "source_row") if c in frame.columns]
    return frame.select(*where, *dict.fromkeys(columns)).to_dicts()


def _where(row: dict) -> tuple[str, int | None]:
    return str(row.get("source_file") or "?"), row.get("source_row")


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
            *_where(row),
            "train_flops",
            f"{row['train_flops']:.3g} = {row['flops_6nd_ratio']:.2f} × 6·N·D ({row['flops_6nd']:.3g}) for {row['model_id']}",
            f"within a factor {FLOPS_6ND_FACTOR:g} of 6·N·D (flagged, not rejected)",
        )
        for row in _rows(flagged, "model_id", "train_flops", "flops_6nd", "flops_6nd_ratio")
    ]


def flops_basis_problems(models: pl.DataFrame) -> list[Problem]:
    """'missing' exactly when train_flops is empty; a 6·N·D estimate needs N and D."""
    basis, flops = pl.col("flops_basis"), pl.col("train_flops")
    wrong_basis = models.filter((basis == "missing") != flops.is_null())
    problems = [
        Problem(
            *_where(row),
            "flops_basis",
            show_cell(row["flops_basis"]),
            "'missing' exactly when train_flops is empty"
            if row["train_flops"] is None
            else "a basis other than 'missing' when train_flops is given",
        )
        for row in _rows(wrong_basis, "flops_basis", "train_flops")
    ]
    estimated = models.filter(basis == "estimated_6nd")
    for column in ("params", "train_tokens"):
        problems += [
            Problem(
                *_where(row),
                column,
                "an empty cell",
                "params and train_tokens when train_flops is a 6·N·D estimate",
            )
            for row in _rows(estimated.filter(pl.col(column).is_null()))
        ]
    return problems


def normalise_units(
    results: pl.DataFrame, task_metrics: pl.DataFrame
) -> tuple[pl.DataFrame, list[Problem]]:
    """Bring each value into its metric's declared unit (fraction -> percent); report the rest."""
    declared = task_metrics.select(
        "task_id", "metric", pl.col("unit").alias("declared_unit")
    ).unique(["task_id", "metric"], keep="first", maintain_order=True)  # a repeat: the schema's
    factors = pl.DataFrame(
        {
            "unit": [k[0] for k in UNIT_CONVERSIONS],
            "declared_unit": [k[1] for k in UNIT_CONVERSIONS],
            "factor": list(UNIT_CONVERSIONS.values()),
        }
    )
    # The join runs on the three key columns only (row order kept), and its two result columns
    # are put beside the rows: the wide frame is never gathered.
    looked_up = (
        results.select("task_id", "metric", "unit")
        .join(declared, on=["task_id", "metric"], how="left", maintain_order="left")
        .join(factors, on=["unit", "declared_unit"], how="left", maintain_order="left")
    )
    joined = results.with_columns(looked_up["declared_unit"], looked_up["factor"])
    problems = [
        Problem(
            *_where(row),
            "unit",
            show_cell(row["unit"]),
            f"'{row['declared_unit']}', the unit task_metrics.csv declares for {row['task_id']} / {row['metric']}"
            + (
                " (or 'fraction', converted to percent)"
                if row["declared_unit"] == "percent"
                else ""
            ),
        )
        for row in _rows(
            joined.filter(
                pl.col("declared_unit").is_not_null()
                & (pl.col("unit") != pl.col("declared_unit"))
                & pl.col("factor").is_null()
            ),
            "unit",
            "declared_unit",
            "task_id",
            "metric",
        )
    ]
    normalised = joined.with_columns(
        (pl.col("value") * pl.col("factor").fill_null(1.0)).alias("value"),
        pl.when(pl.col("factor").is_not_null())
        .then(pl.col("declared_unit"))
        .otherwise(pl.col("unit"))
        .alias("unit"),
    ).drop("declared_unit", "factor")
    return normalised, problems


def _unknown(
    frame: pl.DataFrame, known: pl.DataFrame, key: list[str], column: str, expected: str
) -> list[Problem]:
    """Rows whose `key` is not among `known` (an anti-join), each with a close match if any.

    Empty keys are the schema's to report ("an empty cell"), not unknown ids.
    """
    where = [c for c in ("source_file", "source_row") if c in frame.columns]
    unknown = (
        frame.select(*where, *key)
        .filter(pl.all_horizontal(pl.col(k).is_not_null() for k in key))
        .join(known.select(key).unique(), on=key, how="anti")
    )
    if unknown.height == 0:
        return []
    # Suggestions are computed once per distinct unknown value, against the candidates of its
    # group (a metric is suggested among its own task's metrics).
    group = [k for k in key if k != column]
    candidates: dict[tuple, list[str]] = {
        tuple(g): values
        for *g, values in known.group_by(group or pl.lit(0))
        .agg(pl.col(column).unique().sort())
        .iter_rows()
    }
    suggestion: dict[tuple, str] = {}
    problems = []
    for row in _rows(unknown, *key):
        g = tuple(row[k] for k in group) if group else (0,)
        value = row[column]
        if (g, value) not in suggestion:
            suggestion[(g, value)] = (
                did_you_mean(value, candidates.get(g, []))
                if len(suggestion) < MAX_SUGGESTED
                else ""
            )
        problems.append(
            Problem(
                *_where(row),
                column,
                show_cell(value),
                expected.format(**row) + suggestion[(g, value)],
            )
        )
    return problems


# difflib is quadratic-ish; past this many distinct unknown values, no more suggestions.
MAX_SUGGESTED = 200


def reference_problems(
    results: pl.DataFrame, models: pl.DataFrame, task_metrics: pl.DataFrame
) -> list[Problem]:
    """Every result's model must be in models; its task and metric in task_metrics."""
    problems = _unknown(
        results,
        models,
        ["model_id"],
        "model_id",
        "a model_id listed in models.csv (or the model registry)",
    )
    problems += _unknown(
        results, task_metrics, ["task_id"], "task_id", "a task_id listed in task_metrics.csv"
    )
    known_task = results.select(
        *(c for c in ("source_file", "source_row") if c in results.columns), "task_id", "metric"
    ).join(task_metrics.select("task_id").unique(), on="task_id", how="semi")
    problems += _unknown(
        known_task,
        task_metrics,
        ["task_id", "metric"],
        "metric",
        "a metric declared for {task_id} in task_metrics.csv",
    )
    return problems


def _bounds_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"<= {high:g}" if high is not None else f">= {low:g}"


def range_problems(frame: pl.DataFrame, value_column: str = "value") -> list[Problem]:
    """Values must lie in the range of their unit (percent and BLEU 0-100, log-probs <= 0)."""
    ranges = pl.DataFrame(
        {
            "unit": list(UNIT_RANGES),
            "low": [r[0] for r in UNIT_RANGES.values()],
            "high": [r[1] for r in UNIT_RANGES.values()],
        },
        schema={"unit": pl.String, "low": pl.Float64, "high": pl.Float64},
    )
    value = pl.col(value_column)
    where = [c for c in ("source_file", "source_row") if c in frame.columns]
    outside = (
        frame.select(*where, value_column, "unit")
        .join(ranges, on="unit", how="inner")
        .filter(
            value.is_not_null()
            & ((value < pl.col("low")).fill_null(False) | (value > pl.col("high")).fill_null(False))
        )
    )
    return [
        Problem(
            *_where(row),
            value_column,
            repr(row[value_column]),
            f"a value {_bounds_text(row['low'], row['high'])} ({row['unit']})",
        )
        for row in _rows(outside, value_column, "unit", "low", "high")
    ]


def catalogue_problems(tasks: pl.DataFrame, task_metrics: pl.DataFrame) -> list[Problem]:
    """task_metrics must name known tasks; each task's preferred metric must be declared."""
    problems = _unknown(
        task_metrics, tasks, ["task_id"], "task_id", "a task_id listed in tasks.csv"
    )
    declared = task_metrics.select("task_id", pl.col("metric").alias("preferred_metric"))
    problems += _unknown(
        tasks,
        declared,
        ["task_id", "preferred_metric"],
        "preferred_metric",
        "a metric declared for {task_id} in task_metrics.csv",
    )
    problems += range_problems(
        task_metrics.filter(pl.col("random_level").is_not_null()), value_column="random_level"
    )
    return problems


def table1_problems(table1: pl.DataFrame, task_metrics: pl.DataFrame) -> list[Problem]:
    """A Table 1 row linked to a curve names a task and metric declared in task_metrics."""
    undeclared = table1.filter(pl.col("task_id").is_not_null()).join(
        task_metrics.select("task_id", "metric"),
        on=["task_id", "metric"],
        how="anti",
        nulls_equal=True,
    )
    return [
        Problem(
            *_where(row),
            "metric",
            f"{show_cell(row['task_id'])} / {show_cell(row['metric'])}",
            "a task and metric declared in task_metrics.csv",
        )
        for row in _rows(undeclared, "task_id", "metric")
    ]
