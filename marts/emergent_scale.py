"""Where an ability emerges: Wei et al.'s informal definition made precise.

A *series* is one task × model family × setting (shots, prompting) × metric × origin, its models
ordered by scale. For each series:

1. **Reference level.** The metric's random-chance level; for augmented prompting (chain of
   thought, ...) the baseline prompt's value for the same model, so the series becomes
   "method minus baseline" against 0 (Wei et al. Figure 3: where the method starts to win).
2. **Above the reference** means more than a margin above it: `Z` binomial standard errors,
   `Z * sqrt(p(1 - p) / n)` with p the reference level as a fraction and n the number of examples
   (for a difference of two accuracies the two variances add, each at its observed value). When
   n is unknown the lake assumes `ASSUMED_N` examples; the margin is never below `MIN_MARGIN`
   points (a generation task with chance 0 is not "above random" at 0.1%).
3. **Emergent scale** = the smallest model from which every larger model is above the reference:
   reported as that model (FLOPs and parameters) and as the interpolated crossing of
   reference + margin on the log-scale axis between it and the model before it (the band).
4. **Classification.** `too_few_points` (< MIN_MODELS models), `no_baseline` (no reference),
   `never_above_random` (the largest model is not above), `smooth` (the smallest model is
   already above, or the jump is what a straight-line trend in log-scale of the smaller models
   predicts), else `emergent`: the smaller models were not above the reference and the emergent
   model beats the trend extrapolated from them by more than the margin.
5. **Breakthroughness** (Srivastava et al. 2022, BIG-bench, Appendix B):
   B = I(y) / sqrt(median((y[i+1] - y[i])^2)), I(y) = sign(argmax y - argmin y) * (max y - min y).

The scale axis is training FLOPs when every model of the series has them, else parameters.

Every step is a polars expression over all series at once (group-bys, joins and window
functions keyed by a series id), so the cost grows linearly with the number of result rows; a
million rows take seconds (benchmarks/bench_lake.py). `detect`, `binomial_margin` and
`breakthroughness` run the same expressions on one series, for tests and for readers.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

Z = 2.0
ASSUMED_N = 1000
MIN_MARGIN = 1.0  # BLEU points, perplexity: units without a binomial SE
MIN_MODELS = 3
# On a percent scale a model counts as above only when it is at least this many points above: a
# binomial SE at a zero floor is 0, and 1-2 points of exact match (Pythia 160M at 2.45% on 2-digit
# multiplication, XGLM 7.5B at 1.55%) are 5 SEs above 0 at n = 1000 yet no sign that the ability
# is there (issue 10 point 4; marts/uncertainty.py gives their probabilities).
MIN_RISE_POINTS = 3.0
AGREEMENT_PARAMS_TOLERANCE = 0.15  # computed and reported emergent models agree within 15% in size
SERIES_KEY = ["task_id", "family", "shots", "prompting", "metric", "origin"]
BASELINE_KEY = ["task_id", "family", "shots", "metric", "origin"]  # a series without its prompting
# When no standard series has the method's shots (ObsScaling: GSM8K standard is 5-shot, chain of
# thought 8- and 0-shot), the baseline is the standard series of the same task, family, metric and
# origin with the nearest shot count (ties: the larger); `baseline_shots` records which.
FALLBACK_KEY = ["task_id", "family", "metric", "origin"]
STANDARD = "standard"
METHOD = (
    f"first model from which all larger are above reference + max({Z:g}·binomial SE, "
    f"{MIN_RISE_POINTS:g} pt over a random level in percent, {MIN_MARGIN:g} otherwise); "
    f"n = {ASSUMED_N} when unknown; emergent if the smaller models are not above and the jump beats "
    "their log-linear trend by more than the margin; smooth series carry no emergent model"
)
# The only columns of `results_with_scale` the detector reads (the emergence asset selects these).
INPUT_COLUMNS = [
    *SERIES_KEY,
    "model_id",
    "value",
    "unit",
    "n_examples",
    "train_flops",
    "params",
    "random_level",
    "higher_is_better",
]

EMERGENCE_COLUMNS = [
    "task_id",
    "family",
    "shots",
    "prompting",
    "baseline_prompting",
    "metric",
    "origin",
    "n_models",
    "scale_axis",
    "random_level",
    "margin",
    "classification",
    "emergent_model_id",
    "emergent_flops",
    "emergent_params",
    "crossing_flops",
    "crossing_params",
    "band_low_flops",
    "band_high_flops",
    "band_low_params",
    "band_high_params",
    "trend_prediction",
    "breakthroughness",
    "reported_flops",
    "reported_params",
    "agrees_with_reported",
    "method",
    "note",
    "baseline_shots",
]


@dataclass(frozen=True)
class Point:
    model_id: str
    flops: float | None
    params: float | None
    value: float
    reference: float
    margin: float


def _examples(n: pl.Expr) -> pl.Expr:
    """n, or ASSUMED_N when the paper does not say."""
    return pl.when(n.is_null() | (n == 0)).then(ASSUMED_N).otherwise(n).cast(pl.Float64)


def _variance(level_percent: pl.Expr) -> pl.Expr:
    p = (level_percent / 100.0).clip(0.0, 1.0)
    return p * (1 - p)


def binomial_margin_expr(level_percent: pl.Expr, n: pl.Expr) -> pl.Expr:
    """Z standard errors of a proportion at `level_percent`, in points, at least MIN_RISE_POINTS."""
    se = (_variance(level_percent) / _examples(n)).sqrt() * 100.0
    return pl.max_horizontal(Z * se, pl.lit(MIN_RISE_POINTS))


def difference_margin_expr(a_percent: pl.Expr, b_percent: pl.Expr, n: pl.Expr) -> pl.Expr:
    """Z standard errors of the difference of two independent proportions, at least MIN_MARGIN.

    No MIN_RISE_POINTS here: both prompts are measured, so the variance is never 0 (LaMDA's chain
    of thought beats its standard prompt by 2.5 points at 68B, where Wei et al. see it emerge).
    """
    se = ((_variance(a_percent) + _variance(b_percent)) / _examples(n)).sqrt() * 100.0
    return pl.max_horizontal(Z * se, pl.lit(MIN_MARGIN))


def binomial_margin(level_percent: float, n: int | None) -> float:
    return pl.select(
        binomial_margin_expr(pl.lit(level_percent, pl.Float64), pl.lit(n, pl.Int64))
    ).item()


def difference_margin(a_percent: float, b_percent: float, n: int | None) -> float:
    return pl.select(
        difference_margin_expr(
            pl.lit(a_percent, pl.Float64), pl.lit(b_percent, pl.Float64), pl.lit(n, pl.Int64)
        )
    ).item()


def _breakthroughness(curves: pl.DataFrame) -> pl.DataFrame:
    """BIG-bench's B per series_id; `curves` (series_id, i, excess) sorted by series_id, then i.

    Window columns first, then plain aggregations: polars runs those on its fast group-by path.
    """
    y, by = pl.col("excess"), "series_id"
    per_series = (
        curves.with_columns(
            pl.when(pl.col("i") > 0).then((y - y.shift(1)) ** 2).alias("step2"),
            pl.when(y == y.max().over(by)).then(pl.col("i")).alias("at_max"),
            pl.when(y == y.min().over(by)).then(pl.col("i")).alias("at_min"),
        )
        .group_by(by)
        .agg(
            pl.len().alias("n"),
            pl.col("step2").median().alias("median"),
            pl.col("at_max").min(),
            pl.col("at_min").min(),
            y.max().alias("y_max"),
            y.min().alias("y_min"),
        )
    )
    sign = pl.when(pl.col("at_max") > pl.col("at_min")).then(1.0).otherwise(-1.0)
    return per_series.select(
        by,
        pl.when((pl.col("n") >= 2) & (pl.col("median") != 0))
        .then(sign * (pl.col("y_max") - pl.col("y_min")) / pl.col("median").sqrt())
        .alias("breakthroughness"),
    )


def breakthroughness(values: list[float]) -> float | None:
    """BIG-bench's B for a curve ordered by scale; None for fewer than 2 points or a flat line."""
    curve = pl.DataFrame(
        {"series_id": [0] * len(values), "i": range(len(values)), "excess": values},
        schema={"series_id": pl.UInt32, "i": pl.Int64, "excess": pl.Float64},
    )
    result = _breakthroughness(curve)
    return result["breakthroughness"][0] if result.height else None


def _signed_one_decimal(values: pl.Series) -> pl.Series:
    """`f"{v:+.1f}"` for the notes: Python's own correctly rounded formatting, one value per series."""
    return pl.Series(
        [None if v is None else f"{v:+.1f}" for v in values.to_list()], dtype=pl.String
    )


def _log_interpolate(x0: pl.Expr, x1: pl.Expr, t: pl.Expr) -> pl.Expr:
    ok = (x0 > 0) & (x1 > 0)
    return pl.when(ok).then(pl.lit(10.0).pow(x0.log10() + t * (x1.log10() - x0.log10())))


def _detect(usable: pl.DataFrame, axis: pl.DataFrame, series: pl.DataFrame) -> pl.DataFrame:
    """Detection columns for every row of `series` (series_id, sign) from its points ordered by
    scale (`usable`, `axis`: `_ordered_by_scale`)."""
    stats = _series_summary(usable)
    usable = usable.join(stats.select("series_id", "k"), on="series_id")
    emergent, before = _around_emergence(usable)
    frame = (
        series.select("series_id", "sign")
        .join(axis, on="series_id", how="left")
        .join(stats, on="series_id", how="left")
        .join(emergent, on="series_id", how="left")
        .join(before, on="series_id", how="left")
        .join(_trend_of_smaller_models(usable), on="series_id", how="left")
        .with_columns(
            pl.col("n_models").fill_null(0),
            pl.col("n_points").fill_null(0),
            pl.when(pl.col("all_flops").fill_null(True))
            .then(pl.lit("train_flops"))
            .otherwise(pl.lit("params"))
            .alias("scale_axis"),
        )
    )
    return _verdict(frame)


def _ordered_by_scale(
    points: pl.DataFrame, series: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Points with a scale on their series' axis, sorted by it: position i, excess, above.

    Also each series' axis (FLOPs when every point has them) and its number of points.
    """
    points = points.join(series.select("series_id", "sign"), on="series_id")
    axis = points.group_by("series_id").agg(
        pl.col("flops").is_not_null().all().alias("all_flops"), pl.len().alias("n_points")
    )
    usable = (
        points.join(axis, on="series_id")
        .with_columns(
            pl.when(pl.col("all_flops"))
            .then(pl.col("flops"))
            .otherwise(pl.col("params"))
            .alias("x")
        )
        .filter(pl.col("x").is_not_null())
        .sort("series_id", "x", pl.col("model_id").cast(pl.String))
        .with_row_index("row")
        .with_columns(
            (pl.col("row") - pl.col("row").min().over("series_id")).cast(pl.Int64).alias("i"),
            (pl.col("sign") * (pl.col("value") - pl.col("reference"))).alias("excess"),
        )
        .with_columns((pl.col("excess") > pl.col("margin")).alias("above"))
        .with_columns(pl.when(~pl.col("above")).then(pl.col("i")).alias("i_not_above"))
    )
    return usable, axis


def _series_summary(usable: pl.DataFrame) -> pl.DataFrame:
    """Per series: models, the last one not above (k = where the final run above starts), B."""
    stats = (
        usable.group_by("series_id")
        .agg(
            pl.len().alias("n_models"),
            pl.col("i_not_above").max().alias("last_not_above"),
            pl.col("above").max().alias("any_above"),
            pl.col("margin").max().alias("margin"),
        )
        .join(_breakthroughness(usable), on="series_id")
    )
    stats = stats.with_columns(
        pl.when(pl.col("last_not_above").is_null())
        .then(0)
        .otherwise(pl.col("last_not_above") + 1)
        .alias("k")
    )
    return stats


def _around_emergence(usable: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The emergent model (position k) and the one before it (k - 1), one row per series."""
    at = usable.select(
        "series_id",
        "i",
        "k",
        "model_id",
        "flops",
        "params",
        "x",
        "excess",
        "margin",
        "reference",
    )
    emergent = at.filter(pl.col("i") == pl.col("k")).select(
        "series_id",
        pl.col("model_id").alias("emergent_model_id"),
        pl.col("flops").alias("emergent_flops"),
        pl.col("params").alias("emergent_params"),
        pl.col("x").alias("x1"),
        pl.col("excess").alias("e1"),
        pl.col("margin").alias("m1"),
        pl.col("reference").alias("reference1"),
    )
    before = at.filter(pl.col("i") == pl.col("k") - 1).select(
        "series_id",
        pl.col("flops").alias("band_low_flops"),
        pl.col("params").alias("band_low_params"),
        pl.col("excess").alias("e0"),
        pl.col("margin").alias("m0"),
    )
    return emergent, before


def _trend_of_smaller_models(usable: pl.DataFrame) -> pl.DataFrame:
    """Least squares of excess on log10(scale) over the models before the emergent one."""
    dx = pl.col("lx") - pl.col("lx").mean().over("series_id")
    dy = pl.col("excess") - pl.col("excess").mean().over("series_id")
    return (
        usable.filter(pl.col("i") < pl.col("k"))
        .with_columns(pl.col("x").log10().alias("lx"))
        .with_columns((dx**2).alias("dx2"), (dx * dy).alias("dxdy"))
        .group_by("series_id")
        .agg(
            pl.col("lx").mean().alias("mean_lx"),
            pl.col("excess").mean().alias("mean_y"),
            pl.col("excess").first().alias("first_y"),
            pl.col("dx2").sum().alias("var"),
            pl.col("dxdy").sum().alias("cov"),
        )
    )


def _verdict(frame: pl.DataFrame) -> pl.DataFrame:
    """Classification, crossing, band, trend and note from the per-series columns."""
    slope = pl.when(pl.col("var") == 0).then(0.0).otherwise(pl.col("cov") / pl.col("var"))
    predicted = (
        pl.when(pl.col("k") == 1)
        .then(pl.col("first_y"))
        .otherwise(pl.col("mean_y") + slope * (pl.col("x1").log10() - pl.col("mean_lx")))
    )
    frame = frame.with_columns(predicted.alias("predicted")).with_columns(
        (pl.col("e1") - pl.col("predicted")).alias("jump"),
        pl.when(pl.col("e1") != pl.col("e0"))
        .then(
            (
                ((pl.col("m0") + pl.col("m1")) / 2 - pl.col("e0")) / (pl.col("e1") - pl.col("e0"))
            ).clip(0.0, 1.0)
        )
        .otherwise(1.0)
        .alias("t"),
    )
    too_few = pl.col("n_models") < MIN_MODELS
    never = (pl.col("last_not_above") == pl.col("n_models") - 1).fill_null(False)
    at_smallest = pl.col("k") == 0
    classification = (
        pl.when(too_few)
        .then(pl.lit("too_few_points"))
        .when(never)
        .then(pl.lit("never_above_random"))
        .when(at_smallest)
        .then(pl.lit("smooth"))
        .when(pl.col("jump") > pl.col("m1"))
        .then(pl.lit("emergent"))
        .otherwise(pl.lit("smooth"))
    )
    frame = frame.with_columns(classification.alias("classification"))
    predicted_text = _signed_one_decimal(frame["predicted"])
    frame = frame.with_columns(
        predicted_text.alias("predicted_text"),
        _signed_one_decimal(frame["e1"]).alias("e1_text"),
        _signed_one_decimal(frame["jump"]).alias("jump_text"),
    )
    dropped = pl.col("n_points") - pl.col("n_models")
    left_out = pl.when(dropped > 0).then(
        pl.format("{} model(s) without a known scale left out", dropped)
    )
    verdict = (
        pl.when(too_few)
        .then(pl.format("{} model(s) with a known scale; need {}", "n_models", pl.lit(MIN_MODELS)))
        .when(never)
        .then(
            pl.when(pl.col("any_above"))
            .then(pl.lit("the largest model is not above the reference (some smaller one was)"))
            .otherwise(pl.lit("the largest model is not above the reference"))
        )
        .when(at_smallest)
        .then(pl.lit("above the reference at every scale observed"))
        .when(pl.col("classification") == "emergent")
        .then(
            pl.concat_str(
                pl.when(pl.col("k") == 1)
                .then(pl.lit("trend flat (one smaller model)"))
                .otherwise(
                    pl.format("trend of {} smaller models predicts {}", "k", "predicted_text")
                ),
                pl.format(", observed {} vs reference", "e1_text"),
            )
        )
        .otherwise(
            pl.format(
                "the log-linear trend of the smaller models predicts this value within the margin ({})",
                "jump_text",
            )
        )
    )
    has_emergent = pl.col("classification") == "emergent"  # smooth: no emergent scale (issue 7)
    has_band = has_emergent
    return frame.select(
        "series_id",
        "n_models",
        "scale_axis",
        pl.when(~too_few).then(pl.col("margin")).alias("margin"),
        "classification",
        *(
            pl.when(has_emergent).then(pl.col(c)).alias(c)
            for c in ("emergent_model_id", "emergent_flops", "emergent_params")
        ),
        pl.when(has_band)
        .then(_log_interpolate(pl.col("band_low_flops"), pl.col("emergent_flops"), pl.col("t")))
        .alias("crossing_flops"),
        pl.when(has_band)
        .then(_log_interpolate(pl.col("band_low_params"), pl.col("emergent_params"), pl.col("t")))
        .alias("crossing_params"),
        pl.when(has_band).then(pl.col("band_low_flops")).alias("band_low_flops"),
        pl.when(has_band).then(pl.col("emergent_flops")).alias("band_high_flops"),
        pl.when(has_band).then(pl.col("band_low_params")).alias("band_low_params"),
        pl.when(has_band).then(pl.col("emergent_params")).alias("band_high_params"),
        pl.when(~too_few & ~never & ~at_smallest)
        .then(pl.col("predicted") * pl.col("sign") + pl.col("reference1"))
        .alias("trend_prediction"),
        "breakthroughness",
        pl.concat_str(left_out, verdict, separator="; ", ignore_nulls=True).alias("note"),
    )


def detect(points: list[Point], *, higher_is_better: bool = True) -> dict:
    """Classify one series (see module docstring); returns its emergence columns."""
    frame = pl.DataFrame(
        [{"series_id": 0, **p.__dict__} for p in points],
        schema={
            "series_id": pl.UInt32,
            "model_id": pl.String,
            "flops": pl.Float64,
            "params": pl.Float64,
            "value": pl.Float64,
            "reference": pl.Float64,
            "margin": pl.Float64,
        },
    )
    series = pl.DataFrame(
        {"series_id": [0], "sign": [1.0 if higher_is_better else -1.0]},
        schema={"series_id": pl.UInt32, "sign": pl.Float64},
    )
    row = _detect(*_ordered_by_scale(frame, series), series).drop("series_id").row(0, named=True)
    return {k: v for k, v in row.items() if v is not None}


def _deduplicated(results: pl.DataFrame) -> pl.DataFrame:
    """A model reported by several papers in one series counts once, at the mean of their values."""
    return results.group_by([*SERIES_KEY, "model_id"]).agg(
        pl.col("value").mean(),
        pl.col("unit").first(),
        pl.col("n_examples").min(),
        pl.col("train_flops").first(),
        pl.col("params").first(),
        pl.col("random_level").first(),
        pl.col("higher_is_better").first(),
    )


def _points(deduped: pl.DataFrame, series: pl.DataFrame) -> pl.DataFrame:
    """Each model's value against its reference: random level, or the baseline prompt's value."""
    standard = deduped.filter(pl.col("prompting") == STANDARD)
    against_random = (
        standard.filter(pl.col("random_level").is_not_null())
        .with_columns(
            pl.col("random_level").alias("reference"),
            pl.when(pl.col("unit") == "percent")
            .then(binomial_margin_expr(pl.col("random_level"), pl.col("n_examples")))
            .otherwise(pl.lit(MIN_MARGIN))
            .alias("margin"),
        )
        .join(series.select(*SERIES_KEY, "series_id"), on=SERIES_KEY, nulls_equal=True)
    )
    baseline = standard.select(
        *FALLBACK_KEY,
        pl.col("shots").alias("baseline_shots"),
        "model_id",
        pl.col("value").alias("reference"),
    )
    against_baseline = (
        deduped.filter(pl.col("prompting") != STANDARD)
        .join(
            series.select(*SERIES_KEY, "series_id", "baseline_shots"),
            on=SERIES_KEY,
            nulls_equal=True,
        )
        .join(baseline, on=[*FALLBACK_KEY, "baseline_shots", "model_id"], nulls_equal=True)
        .with_columns(
            difference_margin_expr(
                pl.col("value"), pl.col("reference"), pl.col("n_examples")
            ).alias("margin")
        )
    )
    columns = [
        "series_id",
        "model_id",
        pl.col("train_flops").alias("flops"),
        "params",
        "value",
        "reference",
        "margin",
        "n_examples",
        "unit",
    ]
    return pl.concat([against_random.select(columns), against_baseline.select(columns)])


def _baseline_shots(series: pl.DataFrame) -> pl.DataFrame:
    """Per augmented-prompting series: the shots of its standard baseline (see FALLBACK_KEY)."""
    standard = series.filter(pl.col("prompting") == STANDARD).select(
        *FALLBACK_KEY, pl.col("shots").alias("baseline_shots")
    )
    candidates = series.filter(pl.col("prompting") != STANDARD).join(
        standard, on=FALLBACK_KEY, nulls_equal=True
    )
    return (
        candidates.with_columns(
            (~pl.col("shots").eq_missing(pl.col("baseline_shots"))).alias("other_shots"),
            (pl.col("shots") - pl.col("baseline_shots")).abs().alias("distance"),
        )
        .sort(
            "series_id",
            "other_shots",
            "distance",
            "baseline_shots",
            descending=[False, False, False, True],
            nulls_last=True,
        )
        .group_by("series_id", maintain_order=True)
        .first()
        .select("series_id", "baseline_shots", pl.lit(True).alias("has_baseline"))
    )


def _series(results: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Deduplicated rows and one row per series: its id, reference, baseline shots and sign."""
    # Text keys as categories: the group-bys and joins below hash integers, not strings (half
    # the time at a million rows); the output casts them back to text.
    text_keys = [c for c in (*SERIES_KEY, "model_id") if results.schema[c] == pl.String]
    deduped = _deduplicated(
        results.select(INPUT_COLUMNS).with_columns(pl.col(text_keys).cast(pl.Categorical))
    )
    series = (
        deduped.group_by(SERIES_KEY)
        .agg(
            pl.len().alias("n_rows"),
            pl.col("random_level").first(),
            pl.col("higher_is_better").first(),
        )
        # numbered in key order, not group-by order: the uncertainty's seeded draws follow
        # series_id, so the same results in any row order must give the same numbering
        .sort(pl.col(SERIES_KEY).cast(pl.String), nulls_last=True)
        .with_row_index("series_id")
    )
    with_baseline = _baseline_shots(series)
    is_standard = pl.col("prompting") == STANDARD
    series = series.join(with_baseline, on="series_id", how="left").with_columns(
        pl.when(is_standard)
        .then(pl.col("random_level").is_not_null())
        .otherwise(pl.col("has_baseline").fill_null(False))
        .alias("has_reference"),
        pl.when(pl.col("higher_is_better").fill_null(True)).then(1.0).otherwise(-1.0).alias("sign"),
    )
    return deduped, series


def emergence_points(results: pl.DataFrame) -> pl.DataFrame:
    """The points the rule reads, per series with a reference: SERIES_KEY, model_id, position i
    (by scale), x (the series' axis), value, reference, excess, margin, n_examples, unit, sign.

    For marts/uncertainty.py and marts/backtests.py: they resample or refit exactly these.
    """
    return emergence_and_points(results, None, detect=False)[1]


def _public_points(usable: pl.DataFrame, referenced: pl.DataFrame) -> pl.DataFrame:
    """`emergence_points`' columns from the ordered points, keys back as text."""
    return usable.join(referenced.select("series_id", *SERIES_KEY), on="series_id").select(
        *(pl.col(c).cast(pl.String) if c != "shots" else pl.col(c) for c in SERIES_KEY),
        "series_id",
        pl.col("model_id").cast(pl.String),
        "i",
        "x",
        "flops",
        "params",
        "value",
        "reference",
        "excess",
        "margin",
        "n_examples",
        "unit",
        "sign",
    )


def compute_emergence(results: pl.DataFrame, table1: pl.DataFrame | None = None) -> pl.DataFrame:
    """Emergence rows for every series in `results` (the `results_with_scale` view's columns).

    `results` needs INPUT_COLUMNS (others are ignored). A model reported by several papers in one
    series counts once, at the mean of their values.
    """
    return emergence_and_points(results, table1, points=False)[0]


def emergence_and_points(
    results: pl.DataFrame,
    table1: pl.DataFrame | None = None,
    *,
    detect: bool = True,
    points: bool = True,
) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """`compute_emergence(results, table1)` and `emergence_points(results)` from one
    deduplication and one ordering of the points (the emergence step needs both: at a million
    rows each costs about a second). What is not asked for (`detect`, `points`) is None."""
    deduped, series = _series(results)
    referenced = series.filter(pl.col("has_reference"))
    # Points of referenced series only: a series without a reference has none to detect from.
    usable, axis = _ordered_by_scale(_points(deduped, referenced), referenced)
    points = _public_points(usable, referenced) if points else None
    if not detect:
        return None, points
    is_standard = pl.col("prompting") == STANDARD
    detected = _detect(usable, axis, referenced)
    no_baseline_note = (
        pl.when(is_standard)
        .then(
            pl.lit(
                "no random level is known for this metric and there is no baseline prompt to compare with"
            )
        )
        .otherwise(pl.lit("no standard-prompting series to compare with"))
    )
    frame = pl.concat(
        [
            referenced.select(*SERIES_KEY, "series_id", "random_level", "baseline_shots").join(
                detected, on="series_id"
            ),
            series.filter(~pl.col("has_reference")).select(
                *SERIES_KEY,
                "series_id",
                "random_level",
                pl.col("n_rows").alias("n_models"),
                pl.lit("train_flops").alias("scale_axis"),
                pl.lit("no_baseline").alias("classification"),
                no_baseline_note.alias("note"),
            ),
        ],
        how="diagonal_relaxed",
    ).with_columns(
        pl.when(is_standard).then(pl.col("random_level")).alias("random_level"),
        pl.when(~is_standard).then(pl.lit(STANDARD)).alias("baseline_prompting"),
        pl.lit(METHOD).alias("method"),
    )
    frame = frame.with_columns(
        [
            pl.col(c).cast(dtype) if c in frame.columns else pl.lit(None, dtype).alias(c)
            for c, dtype in _schema().items()
        ]
    )
    frame = _compare_with_table1(frame, table1)
    frame = frame.select(EMERGENCE_COLUMNS).sort(
        ["task_id", "family", "metric", "prompting", "origin", "shots"], nulls_last=True
    )
    return frame, points


def _schema() -> dict[str, pl.DataType]:
    floats = {
        "random_level",
        "margin",
        "emergent_flops",
        "emergent_params",
        "crossing_flops",
        "crossing_params",
        "band_low_flops",
        "band_high_flops",
        "band_low_params",
        "band_high_params",
        "trend_prediction",
        "breakthroughness",
        "reported_flops",
        "reported_params",
    }
    ints = {"shots", "n_models", "baseline_shots"}
    schema: dict[str, pl.DataType] = {}
    for column in EMERGENCE_COLUMNS:
        if column in floats:
            schema[column] = pl.Float64
        elif column in ints:
            schema[column] = pl.Int64
        elif column == "agrees_with_reported":
            schema[column] = pl.Boolean
        else:
            schema[column] = pl.String
    return schema


def _compare_with_table1(frame: pl.DataFrame, table1: pl.DataFrame | None) -> pl.DataFrame:
    """Attach Wei et al.'s reported scale where Table 1 links this series, and whether they agree."""
    frame = frame.drop("reported_flops", "reported_params", "agrees_with_reported")
    if table1 is None or table1.height == 0:
        return frame.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("reported_flops"),
            pl.lit(None, dtype=pl.Float64).alias("reported_params"),
            pl.lit(None, dtype=pl.Boolean).alias("agrees_with_reported"),
        )
    linked = (
        table1.filter(pl.col("task_id").is_not_null() & pl.col("is_numeric"))
        .select(
            "task_id", "family", "shots", "prompting", "metric", "reported_flops", "reported_params"
        )
        .unique(subset=["task_id", "family", "shots", "prompting", "metric"], keep="first")
        .with_columns(pl.lit("literature").alias("origin"))
    )
    joined = frame.join(
        linked,
        on=["task_id", "family", "shots", "prompting", "metric", "origin"],
        how="left",
        nulls_equal=True,
    )
    agrees = (
        pl.when(pl.col("reported_params").is_null())
        .then(None)
        .when(pl.col("emergent_params").is_null())
        .then(False)
        .otherwise(
            ((pl.col("emergent_params") / pl.col("reported_params")) - 1).abs()
            <= AGREEMENT_PARAMS_TOLERANCE
        )
    )
    return joined.with_columns(
        pl.when(pl.col("classification") == "emergent")
        .then(agrees)
        .when(
            pl.col("classification").is_in(["smooth", "never_above_random"])
            & pl.col("reported_params").is_not_null()
        )
        .then(False)
        .otherwise(None)
        .alias("agrees_with_reported")
    )
