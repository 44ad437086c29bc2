"""How sure is the emergent scale? The rule of marts/emergent_scale.py, rerun on resampled curves.

Each point of a series is a proportion measured on n examples (n from the paper or the
evaluation; `ASSUMED_N` when unknown). A replicate redraws every point as Binomial(n, p̂)/n, and
the baseline prompt's value too where the reference is a measured prompt (chain of thought vs
standard). For a 0/1 score per example, this *is* the bootstrap over examples: the mean of n
examples drawn with replacement from `eval_examples` is distributed exactly as Binomial(n, p̂)/n,
so series with per-example rows need no second code path. Units without a binomial model (BLEU,
perplexity) get a normal draw with sd = margin / Z.

On every replicate the same rule runs (first model from which all larger are above reference +
margin, then the trend test), vectorised with numpy over series × replicates × models, series
grouped by their number of models so that the arrays are dense. Per series that gives:

- `p_first` per model: the share of replicates in which that model is the first that stays above
  (table `emergence_first_model`, only the models that are first in some replicate: one row per
  point of a million-row lake was 830,000 rows, most of them zeros, and 3 s of writing);
- `p_emergent`, `p_smooth`, `p_never`: the share of replicates in each classification;
- `confidence`: the share that agrees with the point classification; `cannot_tell` when it is
  below `CONFIDENCE`;
- `scale_low` / `scale_high`: the 5%-95% range of the emergent model's scale over the replicates
  that call the series emergent (on the series' axis, FLOPs or parameters);
- the changepoint columns of marts/changepoint.py, fitted to the same replicates;
- `replicates`: how many replicates the row's shares and ranges rest on.

How many replicates: sequential stopping. Exact binomial draws cost 60-150 ns each (numpy's
BTPE and inversion; torch's sampler is no faster), so 400 replicates of every point of the
million-row benchmark lake (about 850,000 binomial points) are over 30 s of draws alone, the
whole lake's budget (issue 8). What the replicates decide is `cannot_tell`: is the share agreeing
with the point classification above or below CONFIDENCE? So replicates come in rounds of `ROUND`,
and after each round a series stops once the Wilson score interval of its confidence (Z_STOP =
2.576, 99% two-sided) lies wholly on one side of CONFIDENCE; otherwise it goes on, up to
`REPLICATES` (400, the fixed count before). A series that stops after the first round had all 32
replicates agree with its classification (31 of 32 is not enough) or at most 19 agree. If the true confidence
were on the other side of 0.8, each look would stop a series on the wrong side with probability
below 0.5% (one-sided), below 6.5% over all 13 looks (a loose union bound); series near 0.8 run
to 400. Monte-Carlo standard error of a share after R replicates: ≤ √(0.25/R), 0.088 at 32,
0.025 at 400; `replicates` says R for every row, and the 5%-95% ranges of a series that stopped
early rest on its R draws. On the 1M-row benchmark lake the mean is 67 replicates per series
(69,925 of 105,191 resampled series stop at 32, 4,280 run to 400).

Seeded (`SEED`), each chunk of series its own generator, series ordered by their key (not by
`series_id`, which an unordered group-by assigns): the same warehouse gives the same numbers,
whatever the threads. Memory stays flat: replicates are
drawn for chunks of series of about CHUNK_CELLS replicate × model cells, and only per-series
counts (classes, histograms of the first model above and of the changepoint) outlive a chunk —
the 5%-95% ranges are quantiles of positions, read off those histograms.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from marts.changepoint import HingeBasis, first_rising, hinge_basis
from marts.emergent_scale import ASSUMED_N, MIN_MODELS, SERIES_KEY, STANDARD, Z

REPLICATES = 400  # at most, per series
ROUND = 32  # replicates per round; a decided series stops after a round
Z_STOP = 2.576  # Wilson interval of the confidence (99%) that must exclude CONFIDENCE
SEED = 2206_07682  # Wei et al.'s arXiv number
CONFIDENCE = 0.8  # below: the lake says "cannot tell"
BAND = (0.05, 0.95)
# Replicates are drawn for chunks of series of about this many replicate × series × model cells
# (8 MB per float64 array), so memory stays flat however many series a bucket holds.
CHUNK_CELLS = 1_000_000
# Chunks run on this many threads: numpy's samplers and array operations release the GIL, and
# each chunk has its own generator, so the numbers do not depend on the threads.
THREADS = 2
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
    "replicates",
]


def classify(
    excess: np.ndarray, margin: np.ndarray, lx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The rule on (S, n, R) arrays, models on axis 1: classification code and k (S, R).

    k is the first model that stays above; k == n: never above. `margin` and `lx` are (S, n).
    One pass per model over (S, R) slices (n is small), the trend through models 0..k−1 as
    running sums kept where k says: no (S, n, R) temporaries.
    """
    s, n, r = excess.shape
    k = np.zeros((s, r), np.intp)
    for j in range(n):
        np.putmask(k, excess[:, j] <= margin[:, j, None], j + 1)
    lxc = lx - lx.mean(1, keepdims=True)  # the slope and the prediction do not move with a shift
    prefix = np.zeros((s, n + 1))
    prefix_sq = np.zeros((s, n + 1))
    np.cumsum(lxc, 1, out=prefix[:, 1:])
    np.cumsum(lxc * lxc, 1, out=prefix_sq[:, 1:])
    sy, sxy = np.zeros((s, r)), np.zeros((s, r))
    run_y, run_xy = np.zeros((s, r)), np.zeros((s, r))
    e1 = excess[:, n - 1].copy()  # the excess of the first model that stays above
    for j in range(n - 1):
        ej = excess[:, j]
        run_y += ej
        run_xy += lxc[:, j, None] * ej
        last = k == j + 1
        np.copyto(sy, run_y, where=last)
        np.copyto(sxy, run_xy, where=last)
        np.copyto(e1, ej, where=k == j)
    at = np.minimum(k, n - 1)
    sx, sxx = np.take_along_axis(prefix, k, 1), np.take_along_axis(prefix_sq, k, 1)
    count = np.maximum(k, 1)
    mean_x, mean_y = sx / count, sy / count
    var, cov = sxx - sx * mean_x, sxy - sx * mean_y
    flat = var <= 1e-12 * np.maximum(sxx, 1.0)  # one model, or models of one scale
    slope = np.where(flat, 0.0, cov / np.where(flat, 1.0, var))
    m1, x1 = np.take_along_axis(margin, at, 1), np.take_along_axis(lxc, at, 1)
    predicted = np.where(k == 1, excess[:, 0], mean_y + slope * (x1 - mean_x))
    never = k == n
    emergent = ~never & (k > 0) & (e1 - predicted > m1)
    code = np.where(never, NEVER, np.where(emergent, EMERGENT, SMOOTH))
    return code, k


def classify_points(
    excess: np.ndarray, margin: np.ndarray, lx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`classify` on the measured values themselves: (S, n) arrays, (S,) results."""
    code, k = classify(excess[:, :, None], margin, lx)
    return code[:, 0], k[:, 0]


@dataclass
class _Bucket:
    """Every series with n models, as dense (S, n) arrays."""

    ids: np.ndarray  # (S,) series_id
    models: np.ndarray  # (S, n) model_id
    value: np.ndarray
    reference: np.ndarray
    margin: np.ndarray
    examples: np.ndarray  # int64
    sd: np.ndarray  # normal draws: margin / Z
    lx: np.ndarray  # log10 scale
    sign: np.ndarray
    percent: np.ndarray  # bool: binomial draws
    measured: np.ndarray  # bool: the reference is a measured prompt, drawn too

    @classmethod
    def of(cls, frame: pl.DataFrame, n: int) -> _Bucket:
        def grid(column: str, dtype=np.float64) -> np.ndarray:
            return frame[column].to_numpy().astype(dtype).reshape(-1, n)

        margin = grid("margin")
        return cls(
            ids=frame["series_id"].to_numpy().reshape(-1, n)[:, 0],
            models=frame["model_id"].to_numpy().reshape(-1, n),
            value=grid("value"),
            reference=grid("reference"),
            margin=margin,
            examples=grid("n_examples", np.int64),
            sd=margin / Z,
            lx=np.log10(grid("x")),
            sign=grid("sign"),
            percent=(frame["unit"] == "percent").to_numpy().reshape(-1, n),
            measured=(frame["prompting"] != STANDARD).to_numpy().reshape(-1, n),
        )

    def excess(self) -> np.ndarray:
        return self.sign * (self.value - self.reference)


@dataclass
class _Counts:
    """What outlives a chunk, per series: counts over its replicates."""

    replicates: np.ndarray  # (S,)
    classes: np.ndarray  # (S, 3) NEVER, SMOOTH, EMERGENT
    at_rule_model: np.ndarray  # (S,) emergent at the point classification's emergent model
    first: np.ndarray  # (S, n + 1) first model that stays above (n: never above)
    first_emergent: np.ndarray  # (S, n) the same, over emergent replicates
    rising: np.ndarray  # (S, n) the changepoint's first rising model (none: not counted)

    @classmethod
    def zeros(cls, s: int, n: int) -> _Counts:
        z = lambda *shape: np.zeros(shape, np.int64)  # noqa: E731
        return cls(z(s), z(s, 3), z(s), z(s, n + 1), z(s, n), z(s, n))


def _histogram(rows: np.ndarray, values: np.ndarray, bins: int, s: int) -> np.ndarray:
    """(s, bins) counts of `values` per row index `rows` (both flat; values in 0..bins−1)."""
    return np.bincount(rows * bins + values, minlength=s * bins).reshape(s, bins)


def _draw(
    rng: np.random.Generator,
    center: np.ndarray,
    bucket: _Bucket,
    rows: np.ndarray,
    replicates: int,
    only: np.ndarray | None = None,
) -> np.ndarray:
    """(A, n, R) replicates of the rows' measured values: binomial on a percent scale, normal
    otherwise; drawn only where `only` (elsewhere the value itself). Each point's R draws are
    consecutive, so numpy's binomial sampler keeps its per-(n, p) setup between them."""
    value = center[rows]
    drawn = np.ones(value.shape, bool) if only is None else only[rows]
    binomial = drawn & bucket.percent[rows]
    normal = drawn & ~bucket.percent[rows]
    if binomial.all():  # the common cases: no scatter
        examples = bucket.examples[rows]
        p = np.clip(value / 100.0, 0.0, 1.0)
        counts = rng.binomial(examples[..., None], p[..., None], size=(*value.shape, replicates))
        return counts * (100.0 / examples)[..., None]
    if normal.all():
        noise = rng.standard_normal((*value.shape, replicates))
        return value[..., None] + noise * bucket.sd[rows][..., None]
    out = np.repeat(value[:, :, None], replicates, axis=2)
    if binomial.any():
        examples = bucket.examples[rows][binomial]
        p = np.clip(value[binomial] / 100.0, 0.0, 1.0)
        counts = rng.binomial(examples[:, None], p[:, None], size=(len(p), replicates))
        out[binomial] = counts * (100.0 / examples)[:, None]
    if normal.any():
        noise = rng.standard_normal((int(normal.sum()), replicates))
        out[normal] += noise * bucket.sd[rows][normal][:, None]
    return out


def _decided(agree: np.ndarray, replicates: np.ndarray) -> np.ndarray:
    """Whether the Wilson interval (Z_STOP) of agree / replicates lies wholly off CONFIDENCE."""
    share = agree / replicates
    z2 = Z_STOP * Z_STOP
    scale = 1.0 + z2 / replicates
    centre = (share + z2 / (2 * replicates)) / scale
    half = Z_STOP * np.sqrt(share * (1 - share) / replicates + z2 / (4 * replicates**2)) / scale
    return (centre - half > CONFIDENCE) | (centre + half < CONFIDENCE)


def _resample_chunk(
    rng: np.random.Generator,
    bucket: _Bucket,
    chunk: np.ndarray,
    code: np.ndarray,
    k: np.ndarray,
    replicates: int,
    counts: _Counts,
) -> None:
    """Sequential rounds for the series `chunk` of a bucket; counts are added in place (each
    chunk touches only its own series, so chunks may run in parallel)."""
    n = bucket.lx.shape[1]
    active = chunk
    basis_all = hinge_basis(bucket.lx[chunk])
    local = np.arange(len(chunk))
    done = 0
    while len(active) and done < replicates:
        size = min(ROUND, replicates - done)
        drawn = _draw(rng, bucket.value, bucket, active, size)
        if bucket.measured[active].any():
            drawn -= _draw(rng, bucket.reference, bucket, active, size, only=bucket.measured)
        else:
            drawn -= bucket.reference[active][:, :, None]
        excess = np.multiply(bucket.sign[active][:, :, None], drawn, out=drawn)
        code_r, k_r = classify(excess, bucket.margin[active], bucket.lx[active])
        rising = first_rising(
            excess, HingeBasis(basis_all.centred[local], basis_all.variance[local])
        )
        a = len(active)
        rows = np.repeat(np.arange(a), size)
        emergent = code_r == EMERGENT
        counts.replicates[active] += size
        counts.classes[active] += _histogram(rows, code_r.ravel(), 3, a)
        counts.at_rule_model[active] += (emergent & (k_r == k[active][:, None])).sum(1)
        counts.first[active] += _histogram(rows, k_r.ravel(), n + 1, a)
        counts.first_emergent[active] += _histogram(rows[emergent.ravel()], k_r[emergent], n, a)
        some = rising.ravel() >= 0
        counts.rising[active] += _histogram(rows[some], rising.ravel()[some], n, a)
        done += size
        agree = np.take_along_axis(counts.classes[active], code[active][:, None], 1)[:, 0]
        keep = ~_decided(agree, counts.replicates[active])
        active, local = active[keep], local[keep]


def _histogram_quantiles(counts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BAND quantiles (numpy's 'linear' method) of a sample given as counts (S, n) of the values
    (S, n), non-decreasing along n; NaN where the sample is empty."""
    total = counts.sum(1)
    cumulative = np.cumsum(counts, 1)
    out = []
    for q in BAND:
        h = np.maximum(total - 1, 0) * q
        below = np.floor(h)
        ranks = np.stack([below, np.minimum(below + 1, np.maximum(total - 1, 0))], 1)  # (S, 2)
        at = (cumulative[:, None, :] <= ranks[:, :, None]).sum(-1)  # position of each rank
        at = np.minimum(at, values.shape[1] - 1)
        lo, hi = np.take_along_axis(values, at, 1).T
        out.append(np.where(total > 0, lo + (h - below) * (hi - lo), np.nan))
    return out[0], out[1]


def resample(
    points: pl.DataFrame, *, replicates: int = REPLICATES, seed: int = SEED
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per series the UNCERTAINTY_COLUMNS, and per model `p_first`; from `emergence_points`.

    `replicates`: the most a series gets (sequential stopping, module docstring).
    """
    # Series of one kind side by side (measured reference or not, percent or not), so that most
    # chunks draw one way only: no masks, no scatter. Then by the series key, not `series_id`:
    # the id comes from an unordered group-by and changes from run to run, and the order decides
    # which draws a series gets (with the id, the same warehouse gave other numbers each run).
    points = (
        points.select(
            *SERIES_KEY,
            "series_id",
            "i",
            "model_id",
            "x",
            "value",
            "reference",
            "margin",
            "n_examples",
            "unit",
            "sign",
        )
        .with_columns(
            pl.len().over("series_id").alias("n_models"),
            pl.col("n_examples").fill_null(ASSUMED_N).clip(lower_bound=1),
            (pl.col("prompting") != STANDARD).alias("_measured"),
            (pl.col("unit") == "percent").all().over("series_id").alias("_percent"),
        )
        .sort("_measured", "_percent", *SERIES_KEY, "i", nulls_last=True)
    )
    series_rows, model_rows = [], []
    with ThreadPoolExecutor(THREADS) as pool:
        for (n,), frame in points.filter(pl.col("n_models") >= MIN_MODELS).group_by(
            "n_models", maintain_order=True
        ):
            bucket = _Bucket.of(frame, int(n))
            per_series, per_model = _resample_bucket(bucket, seed, replicates, pool)
            series_rows.append(per_series)
            model_rows.append(per_model)
    per_series = pl.concat(series_rows) if series_rows else _empty_series()
    per_model = (
        pl.concat(model_rows)
        if model_rows
        else pl.DataFrame(schema={"series_id": pl.UInt32, "i": pl.Int64, "p_first": pl.Float64})
    )
    return per_series, per_model


def _resample_bucket(
    bucket: _Bucket, seed: int, replicates: int, pool: ThreadPoolExecutor
) -> tuple[pl.DataFrame, pl.DataFrame]:
    s, n = bucket.lx.shape
    code, k = classify_points(bucket.excess(), bucket.margin, bucket.lx)
    counts = _Counts.zeros(s, n)
    step = max(1, CHUNK_CELLS // (min(ROUND, replicates) * n))

    def run(start: int) -> None:
        # one generator per chunk, seeded by its place: the same draws whatever thread runs it
        rng = np.random.default_rng([seed, n, start])
        chunk = np.arange(start, min(start + step, s))
        _resample_chunk(rng, bucket, chunk, code, k, replicates, counts)

    for _ in pool.map(run, range(0, s, step)):
        pass
    total = counts.replicates
    shares = counts.classes / total[:, None]
    series, position = np.nonzero(counts.first[:, :n])  # models never first: no row
    per_model = pl.DataFrame(
        {
            "series_id": bucket.ids[series].astype(np.uint32),
            "i": position.astype(np.int64),
            "p_first": counts.first[series, position] / total[series],
        }
    )
    low, high = _histogram_quantiles(counts.first_emergent, bucket.lx)
    change_low, change_high = _histogram_quantiles(counts.rising, bucket.lx)
    rising = first_rising(bucket.excess()[:, :, None], hinge_basis(bucket.lx))[:, 0]
    rows = np.arange(s)
    rule_k = np.where(code == EMERGENT, k, -1)
    per_series = pl.DataFrame(
        {
            "series_id": bucket.ids.astype(np.uint32),
            "point_code": code,
            "p_emergent": shares[:, EMERGENT],
            "p_smooth": shares[:, SMOOTH],
            "p_never": shares[:, NEVER],
            "p_emergent_model": counts.at_rule_model / total,
            "confidence": shares[rows, code],
            "scale_low": 10.0**low,
            "scale_high": 10.0**high,
            "changepoint_model_id": pl.Series(
                np.where(rising >= 0, bucket.models[rows, np.maximum(rising, 0)], None).tolist(),
                dtype=pl.String,
            ),
            "changepoint_scale": np.where(
                rising >= 0, 10.0 ** bucket.lx[rows, np.maximum(rising, 0)], np.nan
            ),
            "changepoint_low": 10.0**change_low,
            "changepoint_high": 10.0**change_high,
            "changepoint_steps_from_rule": np.where(
                (rule_k >= 0) & (rising >= 0), rising - rule_k, -999
            ),
            "replicates": total,
        }
    ).with_columns(
        (pl.col("confidence") < CONFIDENCE).alias("cannot_tell"),
        pl.col(pl.Float64).fill_nan(None),
        pl.when(pl.col("changepoint_steps_from_rule") != -999)
        .then(pl.col("changepoint_steps_from_rule"))
        .cast(pl.Int64)
        .alias("changepoint_steps_from_rule"),
    )
    return per_series, per_model


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
            "replicates": pl.Int64,
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
