"""Emergent-scale detection: synthetic series with known answers, then the paper's own cases."""

from __future__ import annotations

import math

import polars as pl
import pytest

from marts.emergent_scale import (
    ASSUMED_N,
    MIN_RISE_POINTS,
    Point,
    binomial_margin,
    breakthroughness,
    compute_emergence,
    detect,
)
from sources.literature import read_literature
from sources.staging import stage_lake


def series(
    values: list[float], reference: float = 25.0, margin: float = 2.0, flops: bool = True
) -> list[Point]:
    return [
        Point(f"m{i}", 10.0 ** (20 + i) if flops else None, 10.0 ** (8 + i), v, reference, margin)
        for i, v in enumerate(values)
    ]


def test_jump_after_flat_random_is_emergent_at_first_model_that_stays_above():
    out = detect(series([25.0, 24.5, 25.5, 40.0, 55.0]))
    assert out["classification"] == "emergent"
    assert out["emergent_model_id"] == "m3"
    assert out["band_low_flops"] == pytest.approx(1e22) and out["band_high_flops"] == pytest.approx(
        1e23
    )
    # the crossing of reference + margin (27) lies inside the band, on the log axis
    assert 1e22 < out["crossing_flops"] < 1e23
    t = (27.0 - 25.5) / (40.0 - 25.5)
    assert math.isclose(math.log10(out["crossing_flops"]), 22 + t, rel_tol=1e-9)


def test_steady_rise_predicted_by_trend_is_smooth():
    out = detect(series([20.0, 24.0, 28.0, 32.0, 36.0], reference=25.0))
    assert out["classification"] == "smooth"


def test_above_random_from_the_smallest_model_is_smooth_not_emergent():
    out = detect(series([40.0, 50.0, 60.0]))
    assert out["classification"] == "smooth"
    assert "emergent_model_id" not in out  # a smooth series has no emergent scale (issue 7)
    assert "crossing_flops" not in out


def test_never_above_random_and_dip_at_largest():
    assert detect(series([25.0, 25.5, 24.0]))["classification"] == "never_above_random"
    out = detect(series([25.0, 40.0, 24.0]))
    assert out["classification"] == "never_above_random"
    assert "some smaller one was" in out["note"]


def test_too_few_points():
    assert detect(series([25.0, 60.0]))["classification"] == "too_few_points"


def test_params_axis_when_a_model_lacks_flops():
    points = series([25.0, 25.0, 60.0])
    points[0] = Point("m0", None, 1e8, 25.0, 25.0, 2.0)
    out = detect(points)
    assert out["scale_axis"] == "params"
    assert out["classification"] == "emergent"
    assert out["crossing_flops"] is not None  # both neighbours have FLOPs
    assert 1e9 < out["crossing_params"] < 1e10


def test_lower_is_better_metrics_flip_direction():
    out = detect(series([50.0, 50.0, 20.0], reference=50.0), higher_is_better=False)
    assert out["classification"] == "emergent"


def test_binomial_margin_uses_n_and_floor():
    assert math.isclose(binomial_margin(50.0, 100), 2 * math.sqrt(0.25 / 100) * 100)
    assert math.isclose(binomial_margin(50.0, None), 2 * math.sqrt(0.25 / ASSUMED_N) * 100)
    assert binomial_margin(0.0, 10_000) == MIN_RISE_POINTS


def test_breakthroughness_matches_bigbench_definition():
    # y = [0, 0, 0, 10]: I(y) = +10, squared steps [0, 0, 100], median 0 -> undefined
    assert breakthroughness([0.0, 0.0, 0.0, 10.0]) is None
    # y = [0, 1, 2, 12]: I = 12, steps^2 = [1, 1, 100], median 1 -> B = 12
    assert breakthroughness([0.0, 1.0, 2.0, 12.0]) == pytest.approx(12.0)
    # decreasing curve: negative sign
    assert breakthroughness([12.0, 2.0, 1.0, 0.0]) == pytest.approx(-12.0)


def _literature_results() -> pl.DataFrame:
    staged = stage_lake(read_literature())
    return staged.results_with_scale()


@pytest.fixture(scope="module")
def literature_emergence() -> pl.DataFrame:
    return compute_emergence(_literature_results(), stage_lake(read_literature()).table("table1"))


@pytest.mark.parametrize(
    ("task_id", "family", "shots", "prompting", "expected_model"),
    [
        ("mmlu", "GPT-3", 5, "standard", "gpt3-175b"),  # Table 1 row 3: 175B
        ("gsm8k", "LaMDA", 8, "chain_of_thought", "lamda-68b"),  # Table 1 row 14: 68B
        ("wic", "PaLM", 1, "standard", "palm-540b"),  # Table 1 row 9: 540B
    ],
)
def test_curated_curves_reproduce_table1(
    literature_emergence, task_id, family, shots, prompting, expected_model
):
    row = literature_emergence.filter(
        (pl.col("task_id") == task_id)
        & (pl.col("family") == family)
        & (pl.col("shots") == shots)
        & (pl.col("prompting") == prompting)
        & (pl.col("metric") == "accuracy")
    ).row(0, named=True)
    assert row["classification"] == "emergent"
    assert row["emergent_model_id"] == expected_model
    assert row["agrees_with_reported"] is True
    assert row["reported_params"] is not None


def test_chain_of_thought_is_compared_with_standard_prompting(literature_emergence):
    row = literature_emergence.filter(
        (pl.col("task_id") == "gsm8k")
        & (pl.col("family") == "LaMDA")
        & (pl.col("prompting") == "chain_of_thought")
    ).row(0, named=True)
    assert row["baseline_prompting"] == "standard"
    assert row["random_level"] is None
    assert row["scale_axis"] == "params"  # LaMDA 422M and 2B have no published FLOPs


def test_a_single_published_point_is_too_few(literature_emergence):
    rows = literature_emergence.filter(
        (pl.col("task_id") == "mmlu") & (pl.col("family") == "Gopher")
    )
    assert rows["classification"].to_list() == ["too_few_points"]
    assert rows["agrees_with_reported"].to_list() == [None]


def test_no_results_give_an_empty_table_with_every_column(literature_emergence):
    empty = compute_emergence(_literature_results().head(0))
    assert empty.height == 0
    assert empty.schema == literature_emergence.schema


def test_each_series_is_detected_as_if_alone(literature_emergence):
    """All series at once give the same rows as each series computed on its own."""
    results = _literature_results()
    for key in [("mmlu", "GPT-3"), ("gsm8k", "LaMDA"), ("wic", "PaLM")]:
        alone = compute_emergence(
            results.filter((pl.col("task_id") == key[0]) & (pl.col("family") == key[1]))
        )
        together = literature_emergence.filter(
            (pl.col("task_id") == key[0]) & (pl.col("family") == key[1])
        ).drop("reported_flops", "reported_params", "agrees_with_reported")
        assert alone.drop("reported_flops", "reported_params", "agrees_with_reported").equals(
            together
        )


def _frame(rows: list[dict]) -> pl.DataFrame:
    """INPUT_COLUMNS rows: defaults for one percent-scale series with chance 0."""
    base = {
        "task_id": "t",
        "family": "F",
        "shots": 2,
        "prompting": "standard",
        "metric": "exact_str_match",
        "origin": "obsscaling",
        "unit": "percent",
        "n_examples": None,
        "train_flops": None,
        "random_level": 0.0,
        "higher_is_better": True,
    }
    return pl.DataFrame(
        [{**base, **r} for r in rows],
        schema_overrides={"n_examples": pl.Int64, "train_flops": pl.Float64, "shots": pl.Int64},
    )


def test_one_or_two_points_over_a_zero_floor_do_not_make_a_model_emergent():
    """Pythia on 2-digit multiplication (ObsScaling): 160M at 2.45% is not where it emerges."""
    values = [0.7, 2.45, 2.55, 3.0, 4.85, 17.3, 17.8, 18.6]
    sizes = [70e6, 160e6, 410e6, 1e9, 1.4e9, 2.8e9, 6.9e9, 12e9]
    rows = [
        {"model_id": f"pythia-{i}", "value": v, "params": p, "train_flops": 6 * p * 300e9}
        for i, (v, p) in enumerate(zip(values, sizes, strict=True))
    ]
    row = compute_emergence(_frame(rows)).row(0, named=True)
    assert row["margin"] == 3.0
    assert row["emergent_model_id"] in {None, "pythia-4", "pythia-5"}
    assert row["emergent_model_id"] != "pythia-1"
    # XGLM: 0.2, 0.85, 0.25, 1.55 never leaves the floor
    xglm = [
        {"model_id": f"x{i}", "value": v, "params": 1e9 * (i + 1)}
        for i, v in enumerate([0.2, 0.85, 0.25, 1.55])
    ]
    assert (
        compute_emergence(_frame(xglm)).row(0, named=True)["classification"] == "never_above_random"
    )


def test_chain_of_thought_falls_back_to_the_nearest_standard_shots():
    """ObsScaling GSM8K: standard is 5-shot, chain of thought 8-shot and 0-shot."""
    sizes = [1e9, 7e9, 13e9, 70e9]
    standard = [5.0, 6.0, 7.0, 8.0]
    cot = [5.0, 6.5, 15.0, 30.0]
    rows = [
        {"model_id": f"m{i}", "params": p, "value": v, "shots": 5}
        for i, (p, v) in enumerate(zip(sizes, standard, strict=True))
    ] + [
        {"model_id": f"m{i}", "params": p, "value": v, "shots": s, "prompting": "chain_of_thought"}
        for s in (0, 8)
        for i, (p, v) in enumerate(zip(sizes, cot, strict=True))
    ]
    out = compute_emergence(_frame(rows)).filter(pl.col("prompting") == "chain_of_thought")
    assert out["baseline_shots"].to_list() == [5, 5]
    assert out["classification"].to_list() == ["emergent", "emergent"]
    assert out["emergent_model_id"].to_list() == ["m2", "m2"]
    # a standard series with the same shots wins over the nearer fallback
    same = _frame([*rows, *({**r, "shots": 8} for r in rows if r["shots"] == 5)])
    eight = compute_emergence(same).filter(
        (pl.col("prompting") == "chain_of_thought") & (pl.col("shots") == 8)
    )
    assert eight["baseline_shots"].to_list() == [8]
