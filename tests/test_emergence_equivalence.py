"""The vectorised detector gives the same `emergence` table as the per-series code it replaced.

The old code is kept, frozen, in tests/reference_emergent_scale.py (not stored output: a frozen
implementation lets this test compare on any input, including the generated set below, which
covers every classification, both scale axes, lower-is-better metrics, unstated shot counts,
chain of thought with and without a baseline, models without a scale and duplicate reports).
Floats may differ only by summation-order noise.

Deliberate rule changes since (issue 7 point 7, issue 10 points 4 and 5) were applied to both, each
marked `DELIBERATE` in the reference: the margin floor over a random level, no scale on a smooth
series, the baseline-shots fallback. The columns added beside the rule (uncertainty,
changepoint) are not the rule's and are tested in tests/test_emergence_uncertainty.py.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.synthetic_lake import write_synthetic_literature
from marts.emergent_scale import INPUT_COLUMNS, SERIES_KEY, compute_emergence
from sources.literature import read_literature
from sources.paths import LITERATURE_DIR
from sources.staging import stage_lake
from tests import reference_emergent_scale as frozen


def _results_with_scale(directory: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The `results_with_scale` view's columns, built from a staged folder (no warehouse)."""
    staged = stage_lake(read_literature(directory))
    results = staged.results_with_scale()
    return results, staged.table("table1")


def _assert_same_emergence(results: pl.DataFrame, table1: pl.DataFrame) -> pl.DataFrame:
    expected = frozen.compute_emergence(results, table1).sort(SERIES_KEY, nulls_last=True)
    actual = compute_emergence(results.select(INPUT_COLUMNS), table1).sort(
        SERIES_KEY, nulls_last=True
    )
    assert_frame_equal(actual, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
    return actual


def test_same_emergence_on_the_embedded_defaults():
    results, table1 = _results_with_scale(LITERATURE_DIR)
    actual = _assert_same_emergence(results, table1)
    assert actual.height > 40
    assert {"emergent", "smooth", "too_few_points", "no_baseline"} <= set(actual["classification"])


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame]:
    directory = tmp_path_factory.mktemp("synthetic") / "literature"
    write_synthetic_literature(directory, 16_000, seed=3)
    return _results_with_scale(directory)


def test_same_emergence_on_a_generated_set(generated):
    results, table1 = generated
    actual = _assert_same_emergence(results, table1)
    notes = actual["note"].drop_nulls()
    # the generated set reaches every branch of the detector
    assert set(actual["classification"]) == {
        "emergent",
        "smooth",
        "never_above_random",
        "too_few_points",
        "no_baseline",
    }
    assert set(actual["scale_axis"]) == {"train_flops", "params"}
    assert notes.str.contains("without a known scale left out").any()
    assert notes.str.contains("trend flat").any() and notes.str.contains("predicts").any()
    assert actual.filter(pl.col("shots").is_null() & (pl.col("prompting") != "standard")).height
    # the baseline-shots fallback is reached, and smooth series carry no scale
    fallback = actual.filter(~pl.col("baseline_shots").eq_missing(pl.col("shots")))
    assert fallback.filter(pl.col("baseline_shots").is_not_null()).height
    assert actual.filter(pl.col("classification") == "smooth")[
        "emergent_model_id"
    ].null_count() == (actual.filter(pl.col("classification") == "smooth").height)


def test_same_emergence_without_any_standard_series(generated):
    """No standard prompt at all for a family: `no_baseline`, in both implementations."""
    results, table1 = generated
    augmented = results.filter(pl.col("prompting") != "standard").row(0, named=True)
    same_family = (pl.col("task_id") == augmented["task_id"]) & (
        pl.col("family") == augmented["family"]
    )
    without = results.filter(~(same_family & (pl.col("prompting") == "standard")))
    actual = _assert_same_emergence(without, table1)
    notes = actual.filter(same_family & (pl.col("prompting") != "standard"))["note"]
    assert notes.str.contains("no standard-prompting series").all()


def test_a_changed_value_changes_the_result(generated):
    """The comparison can fail: move one emergent series' emergent model to chance."""
    results, table1 = generated
    row = (
        compute_emergence(results, table1)
        .filter((pl.col("classification") == "emergent") & (pl.col("prompting") == "standard"))
        .row(0, named=True)
    )
    hit = (pl.col("model_id") == row["emergent_model_id"]) & (pl.col("task_id") == row["task_id"])
    for column in ("metric", "prompting"):
        hit &= pl.col(column) == row[column]
    hit &= pl.col("shots").eq_missing(row["shots"])
    changed = results.with_columns(
        pl.when(hit).then(pl.col("random_level")).otherwise(pl.col("value")).alias("value")
    )
    after = compute_emergence(changed, table1).filter(
        (pl.col("task_id") == row["task_id"])
        & (pl.col("family") == row["family"])
        & (pl.col("metric") == row["metric"])
        & (pl.col("prompting") == "standard")
        & pl.col("shots").eq_missing(row["shots"])
    )
    assert after["emergent_model_id"].to_list() != [row["emergent_model_id"]]
    _assert_same_emergence(changed, table1)
