"""Uncertainty of the emergent scale (binomial resamples) and the changepoint fit beside the rule."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from marts.changepoint import hinge_breakpoints
from marts.emergent_scale import SERIES_KEY, compute_emergence, emergence_points
from marts.uncertainty import CLASS_NAMES, UNCERTAINTY_COLUMNS, add_uncertainty, resample
from sources.literature import read_literature
from sources.staging import stage_lake
from tests.test_emergent_scale import _frame, _literature_results


def _series(values, sizes, n=None, **extra) -> pl.DataFrame:
    return _frame(
        [
            {"model_id": f"m{i}", "value": v, "params": p, "n_examples": n, **extra}
            for i, (v, p) in enumerate(zip(values, sizes, strict=True))
        ]
    )


SIZES = [1e8, 3e8, 1e9, 3e9, 1e10, 3e10]


def _with_uncertainty(results: pl.DataFrame, **kw) -> tuple[pl.DataFrame, pl.DataFrame]:
    return add_uncertainty(compute_emergence(results), emergence_points(results), **kw)


def test_numpy_rule_agrees_with_the_detector_on_the_curated_data():
    """The resampler's copy of the rule, run on the unresampled values, gives the lake's verdicts."""
    results = _literature_results()
    emergence = compute_emergence(results, stage_lake(read_literature()).table("table1"))
    points = emergence_points(results)
    per_series, _ = resample(points, replicates=5)
    keys = points.select(*SERIES_KEY, "series_id").unique("series_id")
    joined = emergence.join(per_series.join(keys, on="series_id"), on=SERIES_KEY, nulls_equal=True)
    assert joined.height > 40
    names = joined["point_code"].replace_strict(CLASS_NAMES, return_dtype=pl.String)
    assert (names == joined["classification"]).all()


def test_a_clear_jump_on_many_examples_is_certain():
    out, first = _with_uncertainty(_series([0.0, 0.5, 0.2, 40.0, 60.0, 70.0], SIZES, n=2000))
    row = out.row(0, named=True)
    assert row["classification"] == "emergent" and row["emergent_model_id"] == "m3"
    assert row["confidence"] == 1.0 and row["p_emergent_model"] == 1.0 and not row["cannot_tell"]
    assert row["scale_low"] == row["scale_high"] == pytest.approx(3e9)
    assert row["changepoint_model_id"] == "m3" and row["changepoint_steps_from_rule"] == 0
    assert first.filter(pl.col("model_id") == "m3")["p_first"].item() == 1.0
    assert first["p_first"].sum() == pytest.approx(1.0)


def test_a_marginal_rise_on_few_examples_cannot_be_told():
    """One answer in 30 right at the largest size: over the 3-point floor, but the resamples disagree."""
    out, _ = _with_uncertainty(_series([0.0, 0.0, 0.0, 0.0, 0.0, 3.4], SIZES, n=30))
    row = out.row(0, named=True)
    assert row["classification"] == "emergent"
    assert row["confidence"] < 0.8 and row["cannot_tell"]
    assert 0.0 < row["p_never"] < 1.0


def test_the_first_model_above_is_spread_when_the_rise_is_small():
    out, first = _with_uncertainty(_series([0.0, 0.0, 0.0, 0.0, 3.4, 6.7], SIZES, n=30))
    row = out.row(0, named=True)
    assert row["emergent_model_id"] == "m4"
    assert row["p_emergent_model"] < 0.8
    assert (first["p_first"] > 0.05).sum() >= 2  # m4 and m5 share it
    assert row["scale_low"] < row["scale_high"]


def test_resampling_is_seeded():
    results = _series([0.0, 1.0, 2.0, 6.0, 9.0, 30.0], SIZES, n=100)
    a, _ = _with_uncertainty(results, seed=1)
    b, _ = _with_uncertainty(results, seed=1)
    c, _ = _with_uncertainty(results, seed=2)
    assert a.equals(b)
    assert not a.select(UNCERTAINTY_COLUMNS).equals(c.select(UNCERTAINTY_COLUMNS))


def test_series_without_enough_models_get_no_uncertainty():
    out, first = _with_uncertainty(_series([0.0, 50.0], SIZES[:2], n=100))
    assert out["classification"].to_list() == ["too_few_points"]
    assert out.select(UNCERTAINTY_COLUMNS).null_count().row(0) == (1,) * len(UNCERTAINTY_COLUMNS)
    assert first.height == 0


def test_hinge_finds_the_break_and_none_on_a_falling_curve():
    lx = np.log10(np.array([SIZES, SIZES]))
    excess = np.array([[0.0, 0.1, 0.0, 0.2, 20.0, 40.0], [9.0, 8.0, 7.0, 6.0, 5.0, 4.0]])
    replicates = excess + np.random.default_rng(0).normal(0, 0.5, size=(50, *excess.shape))
    fit = hinge_breakpoints(excess, replicates, lx)
    assert fit.first_rising.tolist() == [4, -1]
    assert fit.low[0] == fit.high[0] == pytest.approx(10.0)
    assert np.isnan(fit.low[1])


def test_the_same_results_in_any_row_order_give_the_same_uncertainty():
    """Replicate draws are tied to series in a fixed order, not the order rows arrive in (a
    DuckLake and a DuckDB file return the same table in different orders)."""
    results = _literature_results()
    shuffled = results.sample(fraction=1.0, shuffle=True, seed=7)
    columns = [*SERIES_KEY, *UNCERTAINTY_COLUMNS]
    a, first_a = _with_uncertainty(results, replicates=50)
    b, first_b = _with_uncertainty(shuffled, replicates=50)
    assert (
        a.select(columns)
        .sort(SERIES_KEY, nulls_last=True)
        .equals(b.select(columns).sort(SERIES_KEY, nulls_last=True))
    )
    assert first_a.equals(first_b)
