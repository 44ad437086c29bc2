"""FROZEN reference: marts/emergent_scale.py as it was before vectorisation (commit debedc4).

Kept only so that tests/test_emergence_equivalence.py can check the vectorised detector gives the
same `emergence` table. Do not import it from the lake. Edit it only to apply a deliberate rule
change that the lake's detector also makes, each marked `DELIBERATE (issue ...)` below:

1. (issue 10 point 4) against a random level in percent the margin is at least MIN_RISE_POINTS.
2. (issue 7 point 7) a `smooth` series carries no emergent model, crossing or band.
3. (issue 10) augmented prompting falls back to the standard series of the same task, family,
   metric and origin with the nearest shots (ties: the larger) when none has the same shots; the
   shots used are the new `baseline_shots` column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

Z = 2.0
ASSUMED_N = 1000
MIN_MARGIN = 1.0  # percentage points (or BLEU points)
MIN_MODELS = 3
MIN_RISE_POINTS = 3.0  # DELIBERATE (issue 10 point 4)
AGREEMENT_PARAMS_TOLERANCE = 0.15  # computed and reported emergent models agree within 15% in size
SERIES_KEY = ["task_id", "family", "shots", "prompting", "metric", "origin"]
METHOD = (  # DELIBERATE: the text names the changed rules
    f"first model from which all larger are above reference + max({Z:g}·binomial SE, "
    f"{MIN_RISE_POINTS:g} pt over a random level in percent, {MIN_MARGIN:g} otherwise); "
    f"n = {ASSUMED_N} when unknown; emergent if the smaller models are not above and the jump beats "
    "their log-linear trend by more than the margin; smooth series carry no emergent model"
)

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
    "baseline_shots",  # DELIBERATE (issue 10): which standard series was the baseline
]


@dataclass(frozen=True)
class Point:
    model_id: str
    flops: float | None
    params: float | None
    value: float
    reference: float
    margin: float


def binomial_margin(level_percent: float, n: int | None) -> float:
    """Z standard errors of a proportion at `level_percent`, in percentage points."""
    p = min(max(level_percent / 100.0, 0.0), 1.0)
    se = math.sqrt(p * (1 - p) / (n or ASSUMED_N)) * 100.0
    return max(Z * se, MIN_RISE_POINTS)  # DELIBERATE (issue 10 point 4): was MIN_MARGIN


def difference_margin(a_percent: float, b_percent: float, n: int | None) -> float:
    """Z standard errors of the difference of two independent proportions, in points."""
    pa, pb = (min(max(v / 100.0, 0.0), 1.0) for v in (a_percent, b_percent))
    se = math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / (n or ASSUMED_N)) * 100.0
    return max(Z * se, MIN_MARGIN)


def breakthroughness(values: list[float]) -> float | None:
    """BIG-bench's B for a curve ordered by scale; None for fewer than 2 points or a flat line."""
    if len(values) < 2:
        return None
    steps = sorted((b - a) ** 2 for a, b in zip(values, values[1:], strict=False))
    middle = len(steps) // 2
    median = steps[middle] if len(steps) % 2 else (steps[middle - 1] + steps[middle]) / 2
    if median == 0:
        return None
    arg_max = max(range(len(values)), key=values.__getitem__)
    arg_min = min(range(len(values)), key=values.__getitem__)
    sign = 1.0 if arg_max > arg_min else -1.0
    return sign * (max(values) - min(values)) / math.sqrt(median)


def _log_linear_prediction(xs: list[float], ys: list[float], x: float) -> float:
    """Least-squares line of y on log10(x), evaluated at x (flat when one point)."""
    if len(xs) == 1:
        return ys[0]
    lx = [math.log10(v) for v in xs]
    mean_x, mean_y = sum(lx) / len(lx), sum(ys) / len(ys)
    var = sum((v - mean_x) ** 2 for v in lx)
    slope = (
        0.0
        if var == 0
        else sum((a - mean_x) * (b - mean_y) for a, b in zip(lx, ys, strict=True)) / var
    )
    return mean_y + slope * (math.log10(x) - mean_x)


def _log_interpolate(x0: float | None, x1: float | None, t: float) -> float | None:
    if x0 is None or x1 is None or x0 <= 0 or x1 <= 0:
        return None
    return 10 ** (math.log10(x0) + t * (math.log10(x1) - math.log10(x0)))


def detect(points: list[Point], *, higher_is_better: bool = True) -> dict:
    """Classify one series ordered by scale (see module docstring); returns emergence columns."""
    sign = 1.0 if higher_is_better else -1.0
    axis = "train_flops" if all(p.flops is not None for p in points) else "params"
    usable = [p for p in points if (p.flops if axis == "train_flops" else p.params) is not None]
    usable.sort(key=lambda p: p.flops if axis == "train_flops" else p.params)
    out: dict = {"n_models": len(usable), "scale_axis": axis}
    excess = [sign * (p.value - p.reference) for p in usable]
    out["breakthroughness"] = breakthroughness(excess)
    dropped = len(points) - len(usable)
    notes = [f"{dropped} model(s) without a known scale left out"] if dropped else []
    if len(usable) < MIN_MODELS:
        out.update(
            classification="too_few_points",
            note="; ".join(
                notes + [f"{len(usable)} model(s) with a known scale; need {MIN_MODELS}"]
            ),
        )
        return out
    above = [e > p.margin for e, p in zip(excess, usable, strict=True)]
    out["margin"] = max(p.margin for p in usable)
    if not above[-1]:
        note = "the largest model is not above the reference" + (
            " (some smaller one was)" if any(above) else ""
        )
        out.update(classification="never_above_random", note="; ".join(notes + [note]))
        return out
    k = len(above)
    while k > 0 and above[k - 1]:
        k -= 1
    emergent = usable[k]
    scale = dict(
        emergent_model_id=emergent.model_id,
        emergent_flops=emergent.flops,
        emergent_params=emergent.params,
    )
    if k == 0:
        out.update(
            classification="smooth",
            note="; ".join(notes + ["above the reference at every scale observed"]),
        )
        return out
    before = usable[k - 1]
    x_of = (lambda p: p.flops) if axis == "train_flops" else (lambda p: p.params)
    smaller = usable[:k]
    predicted = _log_linear_prediction([x_of(p) for p in smaller], excess[:k], x_of(emergent))
    out["trend_prediction"] = predicted * sign + emergent.reference
    threshold_lo, threshold_hi = before.margin, emergent.margin
    e0, e1 = excess[k - 1], excess[k]
    t = 1.0
    if e1 != e0:
        t = min(max(((threshold_lo + threshold_hi) / 2 - e0) / (e1 - e0), 0.0), 1.0)
    scale.update(
        crossing_flops=_log_interpolate(before.flops, emergent.flops, t),
        crossing_params=_log_interpolate(before.params, emergent.params, t),
        band_low_flops=before.flops,
        band_high_flops=emergent.flops,
        band_low_params=before.params,
        band_high_params=emergent.params,
    )
    jump = excess[k] - predicted
    if jump > emergent.margin:
        trend_note = (
            "trend flat (one smaller model)"
            if k == 1
            else f"trend of {k} smaller models predicts {predicted:+.1f}"
        )
        out.update(scale)  # DELIBERATE (issue 7 point 7): only an emergent series has a scale
        out.update(
            classification="emergent",
            note="; ".join(notes + [trend_note + f", observed {excess[k]:+.1f} vs reference"]),
        )
    else:
        out.update(
            classification="smooth",
            note="; ".join(
                notes
                + [
                    f"the log-linear trend of the smaller models predicts this value within the margin ({jump:+.1f})"
                ]
            ),
        )
    return out


def _series_points(series: pl.DataFrame, baseline: pl.DataFrame | None) -> list[Point]:
    points = []
    base = {}
    if baseline is not None:
        base = {r["model_id"]: r for r in baseline.iter_rows(named=True)}
    for row in series.iter_rows(named=True):
        n = row["n_examples"]
        if baseline is not None:
            b = base.get(row["model_id"])
            if b is None:
                continue
            reference = b["value"]
            margin = difference_margin(row["value"], b["value"], n)
        else:
            reference = row["random_level"]
            margin = (
                binomial_margin(reference, n) if row["unit"] == "percent" else max(MIN_MARGIN, 0.0)
            )
        points.append(
            Point(
                row["model_id"], row["train_flops"], row["params"], row["value"], reference, margin
            )
        )
    return points


def compute_emergence(results: pl.DataFrame, table1: pl.DataFrame | None = None) -> pl.DataFrame:
    """Emergence rows for every series in `results` (the `results_with_scale` view's columns).

    `results` needs: task_id, family, shots, prompting, metric, origin, model_id, value, unit,
    n_examples, train_flops, params, random_level, higher_is_better. A model reported by several
    papers in one series counts once, at the mean of their values.
    """
    deduped = results.group_by([*SERIES_KEY, "model_id"]).agg(
        pl.col("value").mean(),
        pl.col("unit").first(),
        pl.col("n_examples").min(),
        pl.col("train_flops").first(),
        pl.col("params").first(),
        pl.col("random_level").first(),
        pl.col("higher_is_better").first(),
    )
    rows = []
    for key, series in deduped.group_by(SERIES_KEY, maintain_order=False):
        task_id, family, shots, prompting, metric, origin = key
        baseline = None
        baseline_prompting = None
        baseline_shots = None
        if prompting != "standard":
            standard = deduped.filter(
                (pl.col("task_id") == task_id)
                & (pl.col("family") == family)
                & (pl.col("metric") == metric)
                & (pl.col("origin") == origin)
                & (pl.col("prompting") == "standard")
            )
            # DELIBERATE (issue 10): the same shots, else the nearest (ties: the larger)
            available = set(standard["shots"].to_list())
            if shots in available:
                baseline_shots = shots
            elif shots is not None and available - {None}:
                baseline_shots = min(available - {None}, key=lambda s: (abs(s - shots), -s))
            elif available:
                baseline_shots = max(available - {None}) if available - {None} else None
            baseline = standard.filter(pl.col("shots").eq_missing(baseline_shots))
            baseline_prompting = "standard"
        random_level = series["random_level"][0]
        base_row = dict(
            zip(SERIES_KEY, key, strict=True),
            baseline_prompting=baseline_prompting,
            random_level=random_level if baseline is None else None,
            method=METHOD,
            baseline_shots=baseline_shots if baseline is not None and baseline.height else None,
        )
        if baseline is None and random_level is None:
            rows.append(
                {
                    **base_row,
                    "n_models": series.height,
                    "scale_axis": "train_flops",
                    "classification": "no_baseline",
                    "note": "no random level is known for this metric and there is no baseline prompt to compare with",
                }
            )
            continue
        if baseline is not None and baseline.height == 0:
            rows.append(
                {
                    **base_row,
                    "n_models": series.height,
                    "scale_axis": "train_flops",
                    "classification": "no_baseline",
                    "note": "no standard-prompting series to compare with",
                }
            )
            continue
        points = _series_points(series, baseline)
        higher = (
            bool(series["higher_is_better"][0])
            if series["higher_is_better"][0] is not None
            else True
        )
        rows.append({**base_row, **detect(points, higher_is_better=higher)})
    frame = (
        pl.DataFrame(rows, schema=_schema(), strict=False)
        if rows
        else pl.DataFrame(schema=_schema())
    )
    frame = _compare_with_table1(frame, table1)
    return frame.select(EMERGENCE_COLUMNS).sort(
        ["task_id", "family", "metric", "prompting", "origin"], nulls_last=True
    )


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
