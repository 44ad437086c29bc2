"""The uncertainty and backtest computations at scale: sequential stopping, histogram quantiles,
thread-independent draws, and sigmoid curves shared by series on one scale ladder."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import marts.uncertainty as uncertainty
from marts.backtests import sigmoid
from marts.emergent_scale import SERIES_KEY, compute_emergence, emergence_points
from marts.uncertainty import (
    REPLICATES,
    ROUND,
    _decided,
    _histogram_quantiles,
    add_uncertainty,
    resample,
)
from tests.test_emergence_uncertainty import SIZES, _series


def test_the_stopping_rule_needs_every_first_round_replicate_to_agree():
    """Wilson interval (z = 2.576) off 0.8: after one round of 32, 32 agreeing (or at most 19)
    decides; 31 does not."""
    agree = np.arange(ROUND + 1)
    decided = _decided(agree, np.full(ROUND + 1, ROUND))
    assert agree[decided].tolist() == [*range(20), ROUND]
    assert not _decided(np.array([320]), np.array([400]))[0]  # a share of 0.8 is never decided


def test_a_clear_series_stops_early_and_a_marginal_one_runs_on():
    clear = _series([0.0, 0.5, 0.2, 40.0, 60.0, 70.0], SIZES, n=2000)
    marginal = _series([0.0, 0.0, 0.0, 0.0, 0.0, 3.4], SIZES, n=30).with_columns(
        pl.lit("G").alias("family")
    )
    per_series, _ = resample(emergence_points(pl.concat([clear, marginal])))
    counts = dict(zip(per_series["confidence"] == 1.0, per_series["replicates"], strict=True))
    assert counts[True] == ROUND  # every replicate agreed: decided after one round
    assert ROUND < counts[False] <= REPLICATES
    assert per_series["replicates"].max() <= REPLICATES


def test_replicates_cap_is_respected_below_one_round():
    per_series, _ = resample(
        emergence_points(_series([0, 0, 0, 0, 0, 3.4], SIZES, n=30)), replicates=5
    )
    assert per_series["replicates"].to_list() == [5]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quantiles_from_histograms_are_numpys(seed):
    rng = np.random.default_rng(seed)
    values = np.sort(rng.uniform(8, 12, (50, 7)), 1)
    values[:5, 2] = values[:5, 1]  # two models of one scale
    counts = rng.integers(0, 4, (50, 7)) * (rng.random((50, 7)) < 0.6)
    counts[0] = 0  # an empty sample
    low, high = _histogram_quantiles(counts, values)
    for row in range(50):
        sample = np.repeat(values[row], counts[row])
        if sample.size == 0:
            assert np.isnan(low[row]) and np.isnan(high[row])
        else:
            assert low[row] == pytest.approx(np.quantile(sample, 0.05), abs=1e-12)
            assert high[row] == pytest.approx(np.quantile(sample, 0.95), abs=1e-12)


def test_the_numbers_do_not_depend_on_the_threads(monkeypatch):
    rows = [
        _series([0.0, v, 2 * v, 6.0, 9.0, 30.0], SIZES, n=100).with_columns(
            pl.lit(f"F{i}").alias("family")
        )
        for i, v in enumerate(np.linspace(0.5, 3.0, 12))
    ]
    points = emergence_points(pl.concat(rows))
    monkeypatch.setattr(uncertainty, "CHUNK_CELLS", 4 * ROUND * 6)  # several chunks
    two, first_two = resample(points)
    monkeypatch.setattr(uncertainty, "THREADS", 1)
    one, first_one = resample(points)
    assert two.equals(one) and first_two.equals(first_one)


def test_sigmoid_fits_each_series_as_if_alone():
    """Series on one scale ladder share the grid of curves; each fit is still its own."""
    rng = np.random.default_rng(0)
    ladder = np.log10(np.array(SIZES))
    lx = np.stack([ladder, ladder, ladder + 0.5, ladder])
    y = rng.uniform(0, 100, lx.shape)
    fit = np.zeros(lx.shape, bool)
    fit[:, :3] = True
    fit[3, 3] = True  # the same scales, another fit set
    floor = np.array([25.0, 0.0, 25.0, 25.0])
    together, spread = sigmoid(lx, y, fit, floor)
    for row in range(len(lx)):
        alone, alone_spread = sigmoid(
            lx[row : row + 1], y[row : row + 1], fit[row : row + 1], floor[row : row + 1]
        )
        np.testing.assert_array_equal(together[row], alone[0])
        assert spread[row, 0] == alone_spread[0, 0]


def test_the_numbers_do_not_depend_on_the_series_ids():
    """`series_id` comes from an unordered group-by: renumbering the series changes nothing."""
    rows = [
        _series([0.0, v, 2 * v, 6.0, 9.0, 30.0], SIZES, n=100).with_columns(
            pl.lit(f"F{i}").alias("family")
        )
        for i, v in enumerate(np.linspace(0.5, 3.0, 8))
    ]
    points = emergence_points(pl.concat(rows))
    renumbered = points.with_columns((100 - pl.col("series_id")).cast(pl.UInt32).alias("series_id"))
    a, first_a = add_uncertainty(compute_emergence(pl.concat(rows)), points)
    b, first_b = add_uncertainty(compute_emergence(pl.concat(rows)), renumbered)
    assert a.sort(SERIES_KEY).equals(b.sort(SERIES_KEY))
    assert first_a.equals(first_b)
