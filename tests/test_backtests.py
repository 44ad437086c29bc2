"""Prediction backtests on series with known answers, and ObsScaling's PC method on a small file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from marts.backtests import (
    BACKTEST_COLUMNS,
    BENCHMARKS,
    PREDICTION_COLUMNS,
    backtest_summary,
    backtests,
    log_linear,
    pc_scores,
    predictions,
    sigmoid,
)
from marts.emergent_scale import compute_emergence, emergence_points
from tests.test_emergent_scale import _frame

SIZES = [10.0 ** (8 + i / 2) for i in range(6)]  # evenly spaced in log10


def _results(values: list[float], family: str = "F", random_level: float = 0.0) -> pl.DataFrame:
    return _frame(
        [
            {
                "model_id": f"{family}{i}",
                "family": family,
                "value": v,
                "params": p,
                "n_examples": 1000,
            }
            for i, (v, p) in enumerate(zip(values, SIZES, strict=True))
        ]
    ).with_columns(pl.lit(random_level).alias("random_level"))


def _backtest(results: pl.DataFrame, scores: pl.DataFrame | None = None):
    predicted = predictions(emergence_points(results), scores)
    return predicted, backtests(predicted, compute_emergence(results))


def test_a_straight_line_is_predicted_exactly_by_the_line():
    predicted, table = _backtest(_results([10.0, 20.0, 30.0, 40.0, 50.0, 60.0]))
    assert set(predicted.columns) >= set(PREDICTION_COLUMNS)
    assert table.columns == BACKTEST_COLUMNS
    line = table.filter(pl.col("method") == "log_linear").row(0, named=True)
    assert line["n_fit"] == 3 and line["n_held_out"] == 3
    assert line["mae"] == pytest.approx(0.0, abs=1e-9)
    best = table.filter(pl.col("method") == "best_so_far").row(0, named=True)
    assert best["mae"] == pytest.approx(np.mean([10.0, 20.0, 30.0]))  # stuck at 30


def test_an_emergent_jump_is_missed_by_extrapolation():
    """Flat at chance below the cutoff, then a jump: no method fitted below it sees it coming."""
    predicted, table = _backtest(_results([0.2, 0.1, 0.3, 0.2, 40.0, 70.0]))
    assert (
        compute_emergence(_results([0.2, 0.1, 0.3, 0.2, 40.0, 70.0]))["classification"][0]
        == "emergent"
    )
    for row in table.iter_rows(named=True):
        if row["method"] == "obsscaling_pc":
            continue
        assert row["observed_emergent_model_id"] == "F4" and row["observed_emergence_held_out"]
        assert row["predicted_emergent_model_id"] is None  # predicts no emergence at all
        assert row["mae"] > 30
    held = predicted.filter(pl.col("held_out") & (pl.col("method") == "log_linear"))
    assert (held["band_high"] < held["observed"]).any()  # the jump is outside the line's band


def test_sigmoid_keeps_its_floor_at_the_random_level():
    lx = np.log10(np.array([SIZES]))
    y = np.array([[25.0, 25.0, 30.0, 45.0, 60.0, 70.0]])
    fit = np.array([[True, True, True, True, False, False]])
    curve, spread = sigmoid(lx, y, fit, np.array([25.0]))
    assert (curve >= 25.0 - 1e-9).all() and (curve <= 100.0).all()
    assert curve[0, 4] > 45.0  # keeps rising past the cutoff
    line, se = log_linear(lx, y, fit)
    assert (se > 0).all()


def test_pc_method_uses_the_benchmark_file(tmp_path: Path):
    """Scores from a small benchmark file; the PC sigmoid is fitted across families."""
    rng = np.random.default_rng(0)
    models = [f"A{i}" for i in range(6)] + [f"B{i}" for i in range(6)]
    ability = np.r_[np.linspace(-2, 2, 6), np.linspace(-1.5, 2.5, 6)]
    rows = ["Model,Model Family," + ",".join(BENCHMARKS)]
    for model, a in zip(models, ability, strict=True):
        scores = 0.5 + 0.1 * a + rng.normal(0, 0.005, len(BENCHMARKS))
        rows.append(f"{model},{model[0]}," + ",".join(f"{s:.4f}" for s in scores))
    csv = tmp_path / "base_llm_benchmark_eval.csv"
    csv.write_text("\n".join(rows) + "\n")
    scores = pc_scores(csv)
    assert scores.columns == ["model_id", "pc1", "pc2", "pc3"]
    assert np.corrcoef(scores["pc1"].to_numpy(), ability)[0, 1] > 0.99  # sign points up
    values = 100 / (1 + np.exp(-3 * (ability - 1)))
    results = pl.concat(
        [
            _results(list(values[:6]), "A"),
            _results(list(values[6:]), "B"),
        ]
    ).with_columns(pl.col("origin").alias("origin"))
    _, table = _backtest(results, scores)
    pc = table.filter(pl.col("method") == "obsscaling_pc")
    assert pc.height == 2
    line = table.filter(pl.col("method") == "log_linear")
    assert pc["mae"].mean() < line["mae"].mean()


def test_summary_counts_every_method():
    _, table = _backtest(_results([0.2, 0.1, 0.3, 0.2, 40.0, 70.0]))
    summary = backtest_summary(table)
    assert set(summary["method"]) == {"log_linear", "sigmoid", "best_so_far"}
    assert summary["emergent_series"].to_list() == [1, 1, 1]
    assert summary["within_one_step"].to_list() == [0, 0, 0]


def test_series_too_short_or_without_random_level_are_not_backtested():
    short = _results([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).head(3)
    predicted, table = _backtest(short)
    assert predicted.height == 0 and table.height == 0
