"""Is it real? Emergence under exact match and under the continuous metrics, and a verdict.

Why: Schaeffer et al. (2023) argue that some emergent abilities are artefacts of hit-or-miss
metrics: the same evaluations look smooth through a continuous metric. For every series with
per-example data (re-scored rows, marts/rescore.py) the emergence detector
(marts/emergent_scale.compute_emergence, unchanged) runs under each metric, and the verdict is:

- `persists`: emergent under the discrete metric (exact match / multiple-choice grade) AND under
  at least one continuous metric;
- `metric_artefact`: emergent under the discrete metric, emergent under no continuous metric,
  smooth under at least one;
- `undetermined`: anything else (not emergent under the discrete metric, or no continuous metric
  the detector can judge); `evidence` says which.

Reference levels of the continuous metrics follow the registry's chance rule (sources/metrics.yaml):
0 for probabilities of producing the target, 1/options for the probability of the correct option,
uniform guessing for Brier. Brier is judged as 100 x (1 - Brier/2) (higher is better, percent-like)
so that the detector's margin (in points) means the same as for the others. Edit distances have
no chance level: the detector classifies them `no_baseline` and they do not count.
"""

from __future__ import annotations

import polars as pl

from marts.emergent_scale import INPUT_COLUMNS, compute_emergence
from sources.metric_registry import metric

SERIES = ["task_id", "family", "shots", "origin"]
VERDICTS = ("persists", "metric_artefact", "undetermined")
# Decisive classifications of a continuous metric; the rest (no_baseline, too_few_points,
# never_above_random) say nothing either way.
EMERGENT, SMOOTH = "emergent", "smooth"


def detector_input(results: pl.DataFrame, chance: pl.DataFrame) -> pl.DataFrame:
    """Rows of the detector for series with re-scored metrics: discrete + continuous metrics.

    `results`: results_with_scale rows (INPUT_COLUMNS plus `rescored_from_run`); `chance`: task_id,
    metric, random_level for the re-scored metrics (rescore.chance_levels).
    """
    rescored = results.filter(pl.col("rescored_from_run").is_not_null())
    series = rescored.select(SERIES).unique()
    kinds = pl.col("metric").map_elements(_kind, return_dtype=pl.String)
    in_series = results.join(series, on=SERIES, how="semi", nulls_equal=True).with_columns(
        kinds.alias("kind")
    )
    discrete = in_series.filter(
        (pl.col("kind") == "discrete") & pl.col("rescored_from_run").is_null()
    )
    continuous = (
        in_series.filter(pl.col("rescored_from_run").is_not_null())
        .drop("random_level", "higher_is_better")
        .join(chance, on=["task_id", "metric"], how="left")
        .with_columns(
            pl.col("metric")
            .map_elements(lambda m: metric(m).higher_is_better, return_dtype=pl.Boolean)
            .alias("higher_is_better")
        )
    )
    brier = pl.col("metric") == "brier_score"
    continuous = continuous.with_columns(
        pl.when(brier)
        .then(100 * (1 - pl.col("value") / 2))
        .otherwise(pl.col("value"))
        .alias("value"),
        pl.when(brier)
        .then(100 * (1 - pl.col("random_level") / 2))
        .otherwise(pl.col("random_level"))
        .alias("random_level"),
        pl.when(brier).then(pl.lit("percent")).otherwise(pl.col("unit")).alias("unit"),
        pl.when(brier)
        .then(pl.lit(True))
        .otherwise(pl.col("higher_is_better"))
        .alias("higher_is_better"),
    )
    return pl.concat(
        [discrete.select(INPUT_COLUMNS), continuous.select(INPUT_COLUMNS)], how="vertical_relaxed"
    )


def _kind(name: str) -> str:
    try:
        return metric(name).kind
    except ValueError:
        return "unknown"


def _described() -> pl.Expr:
    return pl.format(
        "{}: {}{}",
        pl.col("metric"),
        pl.col("classification"),
        pl.when(pl.col("classification") == EMERGENT)
        .then(pl.format(" at {}", pl.col("emergent_model_id")))
        .otherwise(pl.lit("")),
    )


def compute_verdicts(detector_rows: pl.DataFrame) -> pl.DataFrame:
    """One row per task x family x shots x origin: emergence per metric kind and the verdict."""
    emergence = compute_emergence(detector_rows).with_columns(
        pl.col("metric").map_elements(_kind, return_dtype=pl.String).alias("kind"),
        _described().alias("described"),
    )
    exact = (
        emergence.filter(pl.col("kind") == "discrete")
        .sort("metric")
        .group_by(SERIES, maintain_order=True)
        .agg(
            pl.col("metric").first().alias("exact_metric"),
            pl.col("classification").first().alias("exact_classification"),
            pl.col("emergent_model_id").first(),
            pl.col("n_models").first(),
            pl.col("described").first().alias("exact_evidence"),
        )
    )
    continuous = (
        emergence.filter(pl.col("kind") == "continuous")
        .sort("metric")
        .group_by(SERIES, maintain_order=True)
        .agg(
            pl.col("metric").filter(pl.col("classification") == EMERGENT).alias("emergent_list"),
            pl.col("metric").filter(pl.col("classification") == SMOOTH).alias("smooth_list"),
            pl.col("metric")
            .filter(~pl.col("classification").is_in([EMERGENT, SMOOTH]))
            .alias("undecided_list"),
            pl.col("described").alias("continuous_evidence"),
        )
    )
    joined = exact.join(continuous, on=SERIES, how="left", nulls_equal=True).with_columns(
        pl.col("emergent_list", "smooth_list", "undecided_list", "continuous_evidence").fill_null(
            []
        )
    )
    emergent_exact = pl.col("exact_classification") == EMERGENT
    emergent_continuous = pl.col("emergent_list").list.len() > 0
    smooth_continuous = pl.col("smooth_list").list.len() > 0
    verdict = (
        pl.when(emergent_exact & emergent_continuous)
        .then(pl.lit("persists"))
        .when(emergent_exact & smooth_continuous)
        .then(pl.lit("metric_artefact"))
        .otherwise(pl.lit("undetermined"))
    )
    why = (
        pl.when(emergent_exact & emergent_continuous)
        .then(pl.lit("emergent under exact match and under a continuous metric"))
        .when(emergent_exact & smooth_continuous)
        .then(pl.lit("emergent under exact match only; smooth under a continuous metric"))
        .when(emergent_exact)
        .then(pl.lit("emergent under exact match; no continuous metric the detector can judge"))
        .otherwise(pl.format("not emergent under {} ({})", "exact_metric", "exact_classification"))
    )
    return joined.select(
        *SERIES,
        "exact_metric",
        "exact_classification",
        emergent_exact.alias("emergent_exact"),
        emergent_continuous.alias("emergent_continuous"),
        pl.col("emergent_list").list.join(", ").alias("continuous_emergent"),
        pl.col("smooth_list").list.join(", ").alias("continuous_smooth"),
        pl.col("undecided_list").list.join(", ").alias("continuous_undecided"),
        verdict.alias("verdict"),
        pl.format(
            "{}. {}; {}",
            why,
            "exact_evidence",
            pl.col("continuous_evidence").list.join("; "),
        ).alias("evidence"),
        pl.col("n_models").cast(pl.Int64),
        "emergent_model_id",
    ).sort(SERIES, nulls_last=True)


def verdicts_from_warehouse(con) -> pl.DataFrame:
    """The verdicts of every series with re-scored metrics in the warehouse (size axis only)."""
    from marts.rescore import chance_levels, per_example

    columns = ", ".join([*INPUT_COLUMNS, "rescored_from_run"])
    results = con.execute(
        f"SELECT {columns} FROM results_with_scale WHERE final_checkpoint IS NOT FALSE"
    ).pl()
    if results.filter(pl.col("rescored_from_run").is_not_null()).height == 0:
        return pl.DataFrame()
    return compute_verdicts(detector_input(results, chance_levels(per_example(con))))


def masking_points(con, verdicts: pl.DataFrame) -> pl.DataFrame:
    """Per verdict series: each model's value under the discrete metric and every re-scored one."""
    if verdicts.height == 0:
        return pl.DataFrame()
    series = verdicts.select(*SERIES, "exact_metric", "verdict")
    results = con.execute(
        """SELECT task_id, family, shots, origin, metric, model_id, value, unit, train_flops,
                  params, rescored_from_run
           FROM results_with_scale
           WHERE final_checkpoint IS NOT FALSE AND prompting = 'standard'"""
    ).pl()
    joined = results.join(series, on=SERIES, nulls_equal=True)
    picked = joined.filter(
        (pl.col("metric") == pl.col("exact_metric")) | pl.col("rescored_from_run").is_not_null()
    )
    all_flops = pl.col("train_flops").is_not_null().all().over(SERIES)
    return picked.with_columns(
        pl.when(all_flops).then(pl.col("train_flops")).otherwise(pl.col("params")).alias("x"),
        pl.when(all_flops)
        .then(pl.lit("training FLOPs"))
        .otherwise(pl.lit("parameters"))
        .alias("x_title"),
        pl.when(pl.col("metric") == pl.col("exact_metric"))
        .then(0)
        .otherwise(1)
        .alias("panel_order"),
    ).filter(pl.col("x").is_not_null())
