"""Could the emergence have been predicted? Fit the smaller models, predict the larger ones.

Per series with a random level (standard prompting, percent scale, higher is better) and at least
`MIN_FIT` + 1 models: the smaller half (at least `MIN_FIT` models) is the fit set, everything
above its largest scale (the cutoff) is held out. Four methods predict every model of the series:

- `log_linear`: least squares of the value on log10(scale), what "extrapolating the smaller
  models" means in Wei et al.; band = Z prediction standard errors of the line.
- `sigmoid`: floor + (ceiling − floor)·σ(s·(log10 x − m)) with the floor fixed at the random
  level; m and s searched on a grid (m from the smallest fit scale to 3 decades past the cutoff,
  s from 0.3 to 30 per decade), the ceiling in closed form for each (clipped to [floor, 100]);
  band = Z residual standard deviations.
- `obsscaling_pc`: Ruan et al.'s observational scaling: the model's first `N_COMPONENTS`
  principal components of the standard benchmarks (their base_llm_benchmark_eval.csv: MMLU,
  ARC-C, HellaSwag, Winograd, TruthfulQA, GSM8K, XWinograd, HumanEval), then
  floor + (100 − floor)·σ(w·PC + b), fitted (quasi-binomial IRLS) on every model of the same task
  and setting below the cutoff, whatever its family; only where every model of the series has
  scores.
- `best_so_far`: no skill, the best value seen below the cutoff.

Per series and method: the mean absolute error on the held-out models (points), and the emergent
model the prediction implies (the rule's "first model from which all larger are above random +
margin", on the predicted values) against the observed one, in size steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from marts.emergent_scale import SERIES_KEY, STANDARD, Z

MIN_FIT = 3
METHODS = ("log_linear", "sigmoid", "obsscaling_pc", "best_so_far")
N_COMPONENTS = 3
BENCHMARKS = [
    "MMLU",
    "ARC-C",
    "HellaSwag",
    "Winograd",
    "TruthfulQA",
    "GSM8K",
    "XWinograd",
    "HumanEval",
]
MID_GRID = np.linspace(0.0, 1.0, 41)  # share of [smallest fit scale, cutoff + 3 decades]
SLOPE_GRID = np.geomspace(0.3, 30.0, 16)  # per decade of scale
SIGMOID_CHUNK = 512  # series fitted at once: 512 × 41 × 16 × fit points per temporary (~5 MB at 4)

PREDICTION_COLUMNS = [
    *SERIES_KEY,
    "method",
    "model_id",
    "position",
    "scale",
    "cutoff_scale",
    "held_out",
    "observed",
    "predicted",
    "band_low",
    "band_high",
]
BACKTEST_COLUMNS = [
    *SERIES_KEY,
    "method",
    "cutoff_scale",
    "n_fit",
    "n_held_out",
    "mae",
    "predicted_emergent_model_id",
    "observed_emergent_model_id",
    "observed_emergence_held_out",
    "emergence_steps_off",
]


def split(points: pl.DataFrame) -> pl.DataFrame:
    """The backtest points: series against a random level, with the fit / held-out split."""
    return (
        points.filter(
            (pl.col("prompting") == STANDARD) & (pl.col("unit") == "percent") & (pl.col("sign") > 0)
        )
        .with_columns(pl.len().over("series_id").alias("n"))
        .filter(pl.col("n") > MIN_FIT)
        .with_columns(pl.max_horizontal(pl.lit(MIN_FIT), (pl.col("n") + 1) // 2).alias("n_fit"))
        .with_columns((pl.col("i") >= pl.col("n_fit")).alias("held_out"))
        .with_columns(
            pl.col("x").filter(~pl.col("held_out")).max().over("series_id").alias("cutoff_scale"),
            pl.col("x").log10().alias("lx"),
        )
        .sort("series_id", "i")
    )


def _dense(bucket: pl.DataFrame, n: int, column: str) -> np.ndarray:
    return bucket[column].to_numpy().astype(np.float64).reshape(-1, n)


def log_linear(lx: np.ndarray, y: np.ndarray, fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Line through the fit points (S, n masks), evaluated everywhere; and its prediction SE."""
    m = fit.sum(-1, keepdims=True)
    mean_x = np.where(fit, lx, 0).sum(-1, keepdims=True) / m
    mean_y = np.where(fit, y, 0).sum(-1, keepdims=True) / m
    dx = np.where(fit, lx - mean_x, 0)
    sxx = (dx**2).sum(-1, keepdims=True)
    slope = np.where(
        sxx > 0, (dx * (y - mean_y)).sum(-1, keepdims=True) / np.where(sxx > 0, sxx, 1), 0
    )
    predicted = mean_y + slope * (lx - mean_x)
    residual = np.where(fit, y - predicted, 0)
    s2 = (residual**2).sum(-1, keepdims=True) / np.maximum(m - 2, 1)
    se = np.sqrt(s2 * (1 + 1 / m + (lx - mean_x) ** 2 / np.where(sxx > 0, sxx, 1)))
    return predicted, se


def sigmoid(
    lx: np.ndarray, y: np.ndarray, fit: np.ndarray, floor: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Grid-searched sigmoid with its floor at the random level; residual SD as the spread.

    The grid of curves depends on the scales and the fit set only, which the series of one
    family share (a million-row lake has tens of distinct scale ladders for 40,000 series): the
    curves are computed once per distinct (scales, fit set), then every series of it is fitted
    against them in chunks of SIGMOID_CHUNK series (memory stays flat).
    """
    s, n = lx.shape
    predicted = np.empty((s, n))
    spread = np.empty(s)
    if s == 0:
        return predicted, spread
    ladders, inverse = np.unique(np.c_[lx, fit], axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(ladders) + 1))
    for ladder in range(len(ladders)):
        members = order[bounds[ladder] : bounds[ladder + 1]]
        lx_l, fit_l = lx[members[:1]], fit[members[:1]]
        low = np.where(fit_l, lx_l, np.inf).min(-1)
        high = np.where(fit_l, lx_l, -np.inf).max(-1) + 3.0
        mids = low[:, None] + MID_GRID[None, :] * (high - low)[:, None]  # (1, G)
        z = SLOPE_GRID[None, None, :, None] * (lx_l[:, None, None, :] - mids[:, :, None, None])
        shape = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))  # (1, G, K, n)
        flat_shape = shape.reshape(-1, n)
        fitted = shape[..., fit_l[0]]  # (1, G, K, m): the curves at the fit points
        norm = np.maximum((fitted**2).sum(-1), 1e-12)  # (1, G, K)
        m = fitted.shape[-1]
        for start in range(0, len(members), SIGMOID_CHUNK):
            rows = members[start : start + SIGMOID_CHUNK]
            target = (y[rows][:, fit_l[0]] - floor[rows, None])[:, None, None, :]
            height = (fitted * target).sum(-1) / norm
            height = np.clip(height, 0.0, (100.0 - floor[rows])[:, None, None])
            sse = ((target - height[..., None] * fitted) ** 2).sum(-1)  # (C, G, K)
            best = sse.reshape(len(rows), -1).argmin(-1)
            at = np.arange(len(rows))
            chosen = height.reshape(len(rows), -1)[at, best]
            predicted[rows] = floor[rows, None] + chosen[:, None] * flat_shape[best]
            spread[rows] = np.sqrt(sse.reshape(len(rows), -1)[at, best] / max(m - 1, 1))
    return predicted, np.broadcast_to(spread[:, None], predicted.shape)


def pc_scores(benchmark_csv: Path) -> pl.DataFrame:
    """model_id and its first N_COMPONENTS principal components of the standard benchmarks.

    As ObsScaling: PCA of the raw accuracies (centred, not scaled) over every model with all
    benchmark scores (a model with a missing score gets none: no imputation).
    """
    frame = pl.read_csv(benchmark_csv, infer_schema_length=0).select(
        pl.col("Model").alias("model_id"),
        *(pl.col(b).cast(pl.Float64, strict=False) for b in BENCHMARKS),
    )
    frame = frame.drop_nulls()
    scores = frame.select(BENCHMARKS).to_numpy()
    centred = scores - scores.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = centred @ vt[:N_COMPONENTS].T
    # the sign of a component is arbitrary: make each grow with the mean score
    signs = np.sign(np.corrcoef(np.c_[components, scores.mean(1)].T)[-1, :N_COMPONENTS])
    components *= np.where(signs == 0, 1, signs)
    return frame.select("model_id").with_columns(
        *(pl.Series(f"pc{j + 1}", components[:, j]) for j in range(N_COMPONENTS))
    )


def _logistic_fit(features: np.ndarray, target: np.ndarray, iterations: int = 25) -> np.ndarray:
    """Fractional-response logistic regression (quasi-binomial IRLS) with a small ridge."""
    design = np.c_[np.ones(len(features)), features]
    beta = np.zeros(design.shape[1])
    ridge = 1e-3 * np.eye(design.shape[1])
    ridge[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -30, 30)))
        weight = np.maximum(p * (1 - p), 1e-6)
        gradient = design.T @ (target - p) - ridge @ beta
        hessian = (design * weight[:, None]).T @ design + ridge
        beta = beta + np.linalg.solve(hessian, gradient)
    return beta


def obsscaling_pc(
    all_points: pl.DataFrame, backtest: pl.DataFrame, scores: pl.DataFrame
) -> pl.DataFrame:
    """series_id, i, predicted, spread for every backtest series whose models all have PC scores."""
    pcs = [f"pc{j + 1}" for j in range(N_COMPONENTS)]
    setting = ["task_id", "shots", "prompting", "metric", "origin"]
    scored = all_points.join(scores, on="model_id")
    covered = (
        backtest.join(scores, on="model_id", how="left")
        .group_by("series_id")
        .agg(pl.col("pc1").is_not_null().all().alias("covered"))
        .filter("covered")
    )
    rows = []
    for series in backtest.join(covered, on="series_id", how="semi").partition_by("series_id"):
        first = series.row(0, named=True)
        same = pl.all_horizontal(pl.col(c).eq_missing(first[c]) for c in setting)
        train = scored.filter(same & (pl.col("x") <= first["cutoff_scale"]))
        if train.height < MIN_FIT + N_COMPONENTS:
            continue
        floor = first["reference"]
        target = ((train["value"].to_numpy() - floor) / (100.0 - floor)).clip(0, 1)
        beta = _logistic_fit(train.select(pcs).to_numpy(), target)
        design = lambda frame: np.c_[np.ones(frame.height), frame.select(pcs).to_numpy()]  # noqa: E731
        fitted = floor + (100 - floor) / (1 + np.exp(-design(train) @ beta))
        spread = float(np.sqrt(np.mean((train["value"].to_numpy() - fitted) ** 2)))
        mine = series.join(scores, on="model_id")
        predicted = floor + (100 - floor) / (1 + np.exp(-design(mine) @ beta))
        rows.append(
            pl.DataFrame(
                {
                    "series_id": mine["series_id"],
                    "i": mine["i"],
                    "predicted": predicted,
                    "spread": np.full(mine.height, spread),
                }
            )
        )
    return (
        pl.concat(rows)
        if rows
        else pl.DataFrame(
            schema={
                "series_id": pl.UInt32,
                "i": pl.Int64,
                "predicted": pl.Float64,
                "spread": pl.Float64,
            }
        )
    )


def predictions(points: pl.DataFrame, scores: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every method's prediction for every model of every backtest series (PREDICTION_COLUMNS)."""
    backtest = split(points)
    frames = []
    for (n,), bucket in backtest.group_by("n", maintain_order=True):
        n = int(n)
        lx, y = _dense(bucket, n, "lx"), _dense(bucket, n, "value")
        fit = ~bucket["held_out"].to_numpy().reshape(-1, n)
        floor = _dense(bucket, n, "reference")[:, 0]
        line, line_se = log_linear(lx, y, fit)
        curve, curve_sd = sigmoid(lx, y, fit, floor)
        best = np.broadcast_to(np.where(fit, y, -np.inf).max(-1, keepdims=True), y.shape)
        keys = bucket.select("series_id", "i")
        for method, predicted, spread in (
            ("log_linear", line, line_se),
            ("sigmoid", curve, curve_sd),
            ("best_so_far", best, np.full(y.shape, np.nan)),
        ):
            frames.append(
                keys.with_columns(
                    pl.lit(method).alias("method"),
                    pl.Series("predicted", predicted.ravel()),
                    pl.Series("spread", np.asarray(spread).ravel()),
                )
            )
    if scores is not None and backtest.height:
        frames.append(
            obsscaling_pc(points, backtest, scores).with_columns(
                pl.lit("obsscaling_pc").alias("method")
            )
        )
    if not frames:
        return pl.DataFrame(schema=_prediction_schema())
    predicted = pl.concat(frames, how="diagonal_relaxed").with_columns(
        pl.col("spread").fill_nan(None)
    )
    return (
        predicted.join(backtest, on=["series_id", "i"])
        .select(
            *SERIES_KEY,
            "method",
            "model_id",
            pl.col("i").alias("position"),
            pl.col("x").alias("scale"),
            "cutoff_scale",
            "held_out",
            pl.col("value").alias("observed"),
            "predicted",
            (pl.col("predicted") - Z * pl.col("spread")).alias("band_low"),
            (pl.col("predicted") + Z * pl.col("spread")).alias("band_high"),
            "series_id",
            "reference",
            "margin",
        )
        .sort("series_id", "method", "position")
    )


def _prediction_schema() -> dict[str, pl.DataType]:
    return {
        **{c: pl.String for c in SERIES_KEY},
        "shots": pl.Int64,
        "method": pl.String,
        "model_id": pl.String,
        "position": pl.Int64,
        **{c: pl.Float64 for c in ("scale", "cutoff_scale")},
        "held_out": pl.Boolean,
        **{c: pl.Float64 for c in ("observed", "predicted", "band_low", "band_high")},
        "series_id": pl.UInt32,
        "reference": pl.Float64,
        "margin": pl.Float64,
    }


def _first_staying_above(frame: pl.DataFrame, value: str) -> pl.DataFrame:
    """Per (series_id, method): the position from which every larger model is above the margin."""
    return (
        frame.with_columns(
            pl.when(pl.col(value) - pl.col("reference") <= pl.col("margin"))
            .then(pl.col("position"))
            .alias("not_above"),
            pl.len().over("series_id", "method").alias("n"),
        )
        .group_by("series_id", "method")
        .agg(pl.col("not_above").max(), pl.col("n").first())
        .with_columns(
            pl.when(pl.col("not_above").is_null())
            .then(0)
            .when(pl.col("not_above") < pl.col("n") - 1)
            .then(pl.col("not_above") + 1)
            .alias("k")
        )
        .select("series_id", "method", "k")
    )


def backtests(predicted: pl.DataFrame, emergence: pl.DataFrame) -> pl.DataFrame:
    """Per series and method: held-out MAE and the implied emergent model vs the observed one."""
    if predicted.height == 0:
        return pl.DataFrame(schema={c: pl.Float64 for c in BACKTEST_COLUMNS})
    implied = _first_staying_above(predicted, "predicted")
    positions = predicted.select("series_id", "position", "model_id").unique()
    observed = emergence.filter(pl.col("classification") == "emergent").select(
        *SERIES_KEY, pl.col("emergent_model_id").alias("observed_emergent_model_id")
    )
    per_series = predicted.group_by("series_id", "method").agg(
        *(pl.col(c).first() for c in SERIES_KEY),
        pl.col("cutoff_scale").first(),
        (~pl.col("held_out")).sum().alias("n_fit"),
        pl.col("held_out").sum().alias("n_held_out"),
        (pl.col("predicted") - pl.col("observed"))
        .abs()
        .filter(pl.col("held_out"))
        .mean()
        .alias("mae"),
    )
    return (
        per_series.join(implied, on=["series_id", "method"], how="left")
        .join(
            positions.rename({"position": "k", "model_id": "predicted_emergent_model_id"}),
            on=["series_id", "k"],
            how="left",
        )
        .join(observed, on=SERIES_KEY, how="left", nulls_equal=True)
        .join(
            positions.rename({"position": "observed_k", "model_id": "observed_emergent_model_id"}),
            on=["series_id", "observed_emergent_model_id"],
            how="left",
        )
        .with_columns(
            (pl.col("k") - pl.col("observed_k")).alias("emergence_steps_off"),
            (pl.col("observed_k") >= pl.col("n_fit")).alias("observed_emergence_held_out"),
        )
        .select(BACKTEST_COLUMNS)
        .sort(*SERIES_KEY, "method", nulls_last=True)
    )


def backtest_summary(table: pl.DataFrame) -> pl.DataFrame:
    """Per method over all series: MAE; and, over the series whose observed emergent model was held
    out, how often the method's prediction put it within one size step, and how often nowhere.

    The same numbers as the README's query on the `backtests` table.
    """
    emerged_late = pl.col("observed_emergence_held_out").fill_null(False)
    return (
        table.group_by("method")
        .agg(
            pl.len().alias("series"),
            pl.col("mae").mean().alias("mae"),
            pl.col("mae").median().alias("median_ae"),
            emerged_late.sum().alias("emergent_series"),
            (emerged_late & (pl.col("emergence_steps_off").abs() <= 1))
            .sum()
            .alias("within_one_step"),
            (emerged_late & pl.col("predicted_emergent_model_id").is_null())
            .sum()
            .alias("predicted_none"),
        )
        .sort("mae")
    )


CHART_METHOD = "log_linear"  # drawn on the panels: what "extrapolating the smaller models" means


def panel_predictions(con, panel, points: pl.DataFrame) -> pl.DataFrame:
    """The panel's predicted curves from the cutoff on (CHART_METHOD), named like its series.

    Columns: series, train_flops, params, predicted, band_low, band_high (marts/panel_chart.py
    draws them dashed with a band). Empty when the panel has no backtest series.
    """
    if panel.task_id is None or points.height == 0:
        return pl.DataFrame()
    frame = con.execute(
        """
        SELECT model_id, family, origin, prompting, predicted, band_low, band_high
        FROM predictions
        WHERE task_id = ? AND metric = ? AND shots IS NOT DISTINCT FROM ? AND method = ?
          AND scale >= cutoff_scale
        """,
        [panel.task_id, panel.metric, panel.shots, CHART_METHOD],
    ).pl()
    if frame.height == 0:
        return pl.DataFrame()
    drawn = points.select(
        "model_id", "family", "origin", "prompting", "series", "train_flops", "params"
    )
    return frame.join(drawn, on=["model_id", "family", "origin", "prompting"]).select(
        "series", "train_flops", "params", "predicted", "band_low", "band_high"
    )
