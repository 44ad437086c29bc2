"""Pre-registered forecasts: predict a registry model's score before the lake evaluates it.

For every registry model without fresh results, and every series of its family on its tasks and
shots (standard prompting, percent scale, a random level, any origin), the backtest methods are
fitted on the series' models smaller than it (never the same weights) and evaluated at its
scale. The scale is the registry's (FLOPs, else parameters), else that of the `models` row whose
id is the registry entry's hub id (ObsScaling names models by hub id). A forecast is stored once,
with the date it was made, and never changed; when the model's fresh results arrive, the lake
fills `observed` and `abs_error` (grading): a forecast made before the evaluation cannot have
seen it.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from marts.backtests import MIN_FIT, log_linear, sigmoid, split
from marts.emergent_scale import Z

FORECAST_METHODS = ("log_linear", "sigmoid", "best_so_far")
FORECAST_KEY = ["model_id", "task_id", "shots", "prompting", "metric", "basis_origin", "method"]
FORECAST_COLUMNS = [
    "made_on",
    *FORECAST_KEY,
    "family",
    "scale_axis",
    "scale",
    "n_fit",
    "predicted",
    "band_low",
    "band_high",
]


def _targets(registry: pl.DataFrame, models: pl.DataFrame, evaluated: set[str]) -> pl.DataFrame:
    """Registry models not yet evaluated, with their tasks, shots and scale."""
    from sources.registry import DEFAULT_SHOTS, DEFAULT_TASKS

    known = models.select(
        pl.col("model_id").alias("weights"),
        pl.col("train_flops").alias("known_flops"),
        pl.col("params").alias("known_params"),
    )
    return (
        registry.filter(~pl.col("id").is_in(list(evaluated)))
        .join(known, on="weights", how="left")
        .select(
            pl.col("id").alias("model_id"),
            "family",
            "weights",
            pl.coalesce("train_flops", "known_flops").alias("target_flops"),
            pl.coalesce("params", "known_params").alias("target_params"),
            pl.col("tasks").fill_null(pl.lit(list(DEFAULT_TASKS))).alias("task_id"),
            pl.col("shots").fill_null(DEFAULT_SHOTS),
        )
        .explode("task_id")
    )


def forecasts(
    points: pl.DataFrame,
    registry: pl.DataFrame,
    models: pl.DataFrame,
    evaluated: set[str],
    made_on: date,
) -> pl.DataFrame:
    """FORECAST_COLUMNS for every (registry model, series of its family, method) that can be fitted."""
    targets = _targets(registry, models, evaluated)
    series = split(points).with_columns(
        pl.col("flops").is_not_null().all().over("series_id").alias("on_flops")
    )
    pairs = series.join(targets, on=["family", "task_id", "shots"], suffix="_target").with_columns(
        pl.when(pl.col("on_flops"))
        .then(pl.col("target_flops"))
        .otherwise(pl.col("target_params"))
        .alias("target")
    )
    usable = pairs.filter(
        pl.col("target").is_not_null()
        & (pl.col("x") < pl.col("target"))
        & (pl.col("model_id") != pl.col("weights"))
    )
    rows = []
    for group in usable.partition_by("series_id", "model_id_target"):
        if group.height < MIN_FIT:
            continue
        first = group.row(0, named=True)
        lx = np.log10(np.r_[group["x"].to_numpy(), first["target"]])[None, :]
        y = np.r_[group["value"].to_numpy(), 0.0][None, :]
        fit = np.r_[np.ones(group.height, bool), False][None, :]
        line, line_se = log_linear(lx, y, fit)
        curve, curve_sd = sigmoid(lx, y, fit, np.array([first["reference"]]))
        for method, value, spread in (
            ("log_linear", line[0, -1], line_se[0, -1]),
            ("sigmoid", curve[0, -1], curve_sd[0, -1]),
            ("best_so_far", group["value"].max(), None),
        ):
            rows.append(
                {
                    "made_on": made_on,
                    "model_id": first["model_id_target"],
                    "task_id": first["task_id"],
                    "shots": first["shots"],
                    "prompting": first["prompting"],
                    "metric": first["metric"],
                    "basis_origin": first["origin"],
                    "method": method,
                    "family": first["family"],
                    "scale_axis": "train_flops" if first["on_flops"] else "params",
                    "scale": first["target"],
                    "n_fit": group.height,
                    "predicted": float(value),
                    "band_low": None if spread is None else float(value - Z * spread),
                    "band_high": None if spread is None else float(value + Z * spread),
                }
            )
    schema = {
        "made_on": pl.Date,
        **{c: pl.String for c in FORECAST_KEY},
        "shots": pl.Int64,
        "family": pl.String,
        "scale_axis": pl.String,
        "scale": pl.Float64,
        "n_fit": pl.Int64,
        "predicted": pl.Float64,
        "band_low": pl.Float64,
        "band_high": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema).select(FORECAST_COLUMNS)


def new_forecasts(made: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    """Only the forecasts not already registered: a stored forecast is never replaced."""
    if stored.height == 0:
        return made
    return made.join(stored.select(FORECAST_KEY), on=FORECAST_KEY, how="anti", nulls_equal=True)


GRADE_SQL = """
UPDATE forecasts AS f
SET observed = r.value, abs_error = abs(f.predicted - r.value), graded_on = ?
FROM (
    SELECT model_id, task_id, shots, prompting, metric, avg(value) AS value
    FROM results WHERE origin = 'fresh' AND final_checkpoint IS NOT FALSE
    GROUP BY ALL
) AS r
WHERE f.observed IS NULL AND f.model_id = r.model_id AND f.task_id = r.task_id
  AND f.shots IS NOT DISTINCT FROM r.shots AND f.prompting = r.prompting AND f.metric = r.metric
"""
