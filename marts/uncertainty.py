"""How sure is the emergent scale? The rule of marts/emergent_scale.py, rerun on resampled curves.

Each point of a series is a proportion measured on n examples (n from the paper or the
evaluation; `ASSUMED_N` when unknown). A replicate redraws every point as Binomial(n, p̂)/n, and
the baseline prompt's value too where the reference is a measured prompt (chain of thought vs
standard). For a 0/1 score per example, this *is* the bootstrap over examples: the mean of n
examples drawn with replacement from `eval_examples` is distributed exactly as Binomial(n, p̂)/n,
so series with per-example rows need no second code path. Units without a binomial model (BLEU,
perplexity) get a normal draw with sd = margin / Z.

On every replicate the same rule runs (first model from which all larger are above reference +
margin, then the trend test), vectorised with numpy over replicates × series × models, series
grouped by their number of models so that the arrays are dense. Per series that gives:

- `p_first` per model: the share of replicates in which that model is the first that stays above;
- `p_emergent`, `p_smooth`, `p_never`: the share of replicates in each classification;
- `confidence`: the share that agrees with the point classification; `cannot_tell` when it is
  below `CONFIDENCE`;
- `scale_low` / `scale_high`: the 5%-95% range of the emergent model's scale over the replicates
  that call the series emergent (on the series' axis, FLOPs or parameters);
- the changepoint columns of marts/changepoint.py, fitted to the same replicates.

Seeded (`SEED`): the same warehouse gives the same numbers.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from marts.changepoint import best_break, breakpoints
from marts.emergent_scale import ASSUMED_N, MIN_MODELS, SERIES_KEY, STANDARD, Z

REPLICATES = 400
SEED = 2206_07682  # Wei et al.'s arXiv number
CONFIDENCE = 0.8  # below: the lake says "cannot tell"
BAND = (0.05, 0.95)
# Replicates are drawn in chunks of about this many replicate × series × model cells (32 MB per
# float64 array), so memory stays flat however many series a bucket holds.
CHUNK_CELLS = 4_000_000
NEVER, SMOOTH, EMERGENT = 0, 1, 2
CLASS_NAMES = {NEVER: "never_above_random", SMOOTH: "smooth", EMERGENT: "emergent"}

UNCERTAINTY_COLUMNS = [
    "p_emergent",
    "p_smooth",
    "p_never",
    "p_emergent_model",
    "confidence",
    "cannot_tell",
    "scale_low",
    "scale_high",
    "changepoint_model_id",
    "changepoint_scale",
    "changepoint_low",
    "changepoint_high",
    "changepoint_steps_from_rule",
]


def classify(
    excess: np.ndarray, margin: np.ndarray, lx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The rule on (..., S, n) arrays: classification code and k (first model that stays above).

    `excess` may carry leading replicate axes; `margin` and `lx` are (S, n). k == n: never above.
    """
    n = excess.shape[-1]
    idx = np.arange(n)
    above = excess > margin
    k = np.where(~above, idx, -1).max(axis=-1) + 1
    never = k == n
    smaller = idx < k[..., None]
    count = np.maximum(k, 1)
    lxb = np.broadcast_to(lx, excess.shape)
    sx = np.where(smaller, lxb, 0.0).sum(-1)
    sy = np.where(smaller, excess, 0.0).sum(-1)
    mean_x, mean_y = sx / count, sy / count
    dx = np.where(smaller, lxb - mean_x[..., None], 0.0)
    dy = np.where(smaller, excess - mean_y[..., None], 0.0)
    var, cov = (dx * dx).sum(-1), (dx * dy).sum(-1)
    slope = np.where(var == 0, 0.0, cov / np.where(var == 0, 1.0, var))
    at = np.minimum(k, n - 1)[..., None]
    e1 = np.take_along_axis(excess, at, -1)[..., 0]
    m1 = np.take_along_axis(np.broadcast_to(margin, excess.shape), at, -1)[..., 0]
    x1 = np.take_along_axis(lxb, at, -1)[..., 0]
    predicted = np.where(k == 1, excess[..., 0], mean_y + slope * (x1 - mean_x))
    emergent = ~never & (k > 0) & (e1 - predicted > m1)
    code = np.where(never, NEVER, np.where(emergent, EMERGENT, SMOOTH))
    return code, k


def _draw(rng: np.random.Generator, value, n, percent, sd, replicates: int) -> np.ndarray:
    """Replicates of (S, n) measured values: binomial on a percent scale, normal otherwise."""
    p = np.clip(value / 100.0, 0.0, 1.0)
    binomial = rng.binomial(n.astype(np.int64), p, size=(replicates, *value.shape)) / n * 100.0
    normal = value + rng.standard_normal((replicates, *value.shape)) * sd
    return np.where(percent, binomial, normal)


def resample(
    points: pl.DataFrame, *, replicates: int = REPLICATES, seed: int = SEED
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per series the UNCERTAINTY_COLUMNS, and per model `p_first`; from `emergence_points`."""
    rng = np.random.default_rng(seed)
    points = points.sort("series_id", "i").with_columns(
        pl.len().over("series_id").alias("n_models"),
        pl.col("n_examples").fill_null(ASSUMED_N).clip(lower_bound=1).cast(pl.Float64),
    )
    series_rows, model_rows = [], []
    for (n,), bucket in points.filter(pl.col("n_models") >= MIN_MODELS).group_by(
        "n_models", maintain_order=True
    ):
        series_rows.append(_bucket(bucket, int(n), rng, replicates, model_rows))
    per_series = pl.concat(series_rows) if series_rows else _empty_series()
    per_model = (
        pl.concat(model_rows)
        if model_rows
        else pl.DataFrame(schema={"series_id": pl.UInt32, "i": pl.Int64, "p_first": pl.Float64})
    )
    return per_series, per_model


def _bucket(
    bucket: pl.DataFrame, n: int, rng: np.random.Generator, replicates: int, model_rows: list
) -> pl.DataFrame:
    """Every series with n models: dense (S, n) arrays."""

    def grid(column: str) -> np.ndarray:
        return bucket[column].to_numpy().astype(np.float64).reshape(-1, n)

    ids = bucket["series_id"].to_numpy().reshape(-1, n)[:, 0]
    models = bucket["model_id"].to_numpy().reshape(-1, n)
    value, reference, margin, examples = (
        grid(c) for c in ("value", "reference", "margin", "n_examples")
    )
    lx = np.log10(grid("x"))
    sign = grid("sign")
    percent = (bucket["unit"] == "percent").to_numpy().reshape(-1, n)
    measured = (bucket["prompting"] != STANDARD).to_numpy().reshape(-1, n)
    sd = margin / Z
    excess = sign * (value - reference)
    code, k = classify(excess, margin, lx)
    step = max(1, CHUNK_CELLS // value.size)
    chunks = []
    for start in range(0, replicates, step):
        size = min(step, replicates - start)
        drawn = _draw(rng, value, examples, percent, sd, size)
        drawn_ref = np.where(
            measured, _draw(rng, reference, examples, percent, sd, size), reference
        )
        excess_r = sign * (drawn - drawn_ref)
        chunks.append((*classify(excess_r, margin, lx), best_break(excess_r, lx)))
    code_r, k_r, first_r = (np.concatenate(parts) for parts in zip(*chunks, strict=True))
    emergent_r = code_r == EMERGENT
    # where the first model that stays above is, per model
    # counted per model index: a (replicates, series, models) float temporary took gigabytes
    p_first = np.stack([np.count_nonzero(k_r == j, axis=0) for j in range(n)], axis=1) / len(k_r)
    model_rows.append(
        pl.DataFrame(
            {
                "series_id": np.repeat(ids, n).astype(np.uint32),
                "i": np.tile(np.arange(n), len(ids)).astype(np.int64),
                "p_first": p_first.ravel(),
            }
        )
    )
    at_k = np.take_along_axis(
        np.broadcast_to(lx, k_r.shape + (n,)), np.minimum(k_r, n - 1)[..., None], -1
    )[..., 0]
    low, high = _quantiles(np.where(emergent_r, at_k, np.nan))
    change = breakpoints(best_break(excess, lx), first_r, lx, BAND)
    rule_k = np.where(code == EMERGENT, k, -1)
    return pl.DataFrame(
        {
            "series_id": ids.astype(np.uint32),
            "point_code": code,
            "p_emergent": emergent_r.mean(0),
            "p_smooth": (code_r == SMOOTH).mean(0),
            "p_never": (code_r == NEVER).mean(0),
            "p_emergent_model": (emergent_r & (k_r == k)).mean(0),
            "confidence": (code_r == code).mean(0),
            "scale_low": 10.0**low,
            "scale_high": 10.0**high,
            "changepoint_model_id": pl.Series(
                np.where(
                    change.first_rising >= 0,
                    models[np.arange(len(ids)), np.maximum(change.first_rising, 0)],
                    None,
                ).tolist(),
                dtype=pl.String,
            ),
            "changepoint_scale": np.where(
                change.first_rising >= 0,
                10.0 ** lx[np.arange(len(ids)), np.maximum(change.first_rising, 0)],
                np.nan,
            ),
            "changepoint_low": 10.0**change.low,
            "changepoint_high": 10.0**change.high,
            "changepoint_steps_from_rule": np.where(
                (rule_k >= 0) & (change.first_rising >= 0), change.first_rising - rule_k, -999
            ),
        }
    ).with_columns(
        (pl.col("confidence") < CONFIDENCE).alias("cannot_tell"),
        pl.col(pl.Float64).fill_nan(None),
        pl.when(pl.col("changepoint_steps_from_rule") != -999)
        .then(pl.col("changepoint_steps_from_rule"))
        .cast(pl.Int64)
        .alias("changepoint_steps_from_rule"),
    )


def _quantiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BAND quantiles over the replicate axis, ignoring NaN; NaN where every replicate is NaN."""
    result = np.full((2, values.shape[1]), np.nan)
    some = ~np.isnan(values).all(axis=0)
    if some.any():
        result[:, some] = np.nanquantile(values[:, some], BAND, axis=0)
    return result[0], result[1]


def _empty_series() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "series_id": pl.UInt32,
            "point_code": pl.Int64,
            **{c: pl.Float64 for c in ("p_emergent", "p_smooth", "p_never", "p_emergent_model")},
            "confidence": pl.Float64,
            "scale_low": pl.Float64,
            "scale_high": pl.Float64,
            "changepoint_model_id": pl.String,
            "changepoint_scale": pl.Float64,
            "changepoint_low": pl.Float64,
            "changepoint_high": pl.Float64,
            "changepoint_steps_from_rule": pl.Int64,
            "cannot_tell": pl.Boolean,
        }
    )


def add_uncertainty(
    emergence: pl.DataFrame, points: pl.DataFrame, *, replicates: int = REPLICATES, seed: int = SEED
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`emergence` with UNCERTAINTY_COLUMNS, and the `emergence_first_model` table (p_first)."""
    per_series, per_model = resample(points, replicates=replicates, seed=seed)
    keys = points.select(*SERIES_KEY, "series_id").unique("series_id")
    per_series = per_series.join(keys, on="series_id")
    joined = emergence.join(
        per_series.drop("point_code", "series_id"), on=SERIES_KEY, how="left", nulls_equal=True
    )
    first = (
        per_model.join(
            points.select("series_id", "i", *SERIES_KEY, "model_id", "x"), on=["series_id", "i"]
        )
        .select(
            *SERIES_KEY,
            "model_id",
            pl.col("i").alias("position"),
            pl.col("x").alias("scale"),
            "p_first",
        )
        .sort(*SERIES_KEY, "position", nulls_last=True)
    )
    return joined, first
