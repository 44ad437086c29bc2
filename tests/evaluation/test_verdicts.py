"""Verdicts on synthetic series built to be each case: persists, metric artefact, undetermined."""

from __future__ import annotations

import polars as pl
import pytest

from marts.verdicts import compute_verdicts, detector_input

FLOPS = [1e18, 1e19, 1e20, 1e21, 1e22, 1e23]
JUMP = [0.0, 0.0, 0.0, 0.0, 30.0, 60.0]  # near random, then sharply above: emergent
RAMP = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]  # above random from the smallest model: smooth


def _rows(task: str, metric: str, values: list[float], *, rescored: bool) -> list[dict]:
    return [
        {
            "task_id": task,
            "family": "Toy",
            "shots": 0,
            "prompting": "standard",
            "metric": metric,
            "origin": "fresh",
            "model_id": f"toy-{i}",
            "value": value,
            "unit": "percent",
            "n_examples": 1000,
            "train_flops": flops,
            "params": flops / 1e12,
            "random_level": None if rescored else 0.0,
            "higher_is_better": True,
            "rescored_from_run": f"run-{task}-{i}" if rescored else None,
        }
        for i, (value, flops) in enumerate(zip(values, FLOPS, strict=True))
    ]


def _results(cases: dict[str, tuple[list[float], list[float]]]) -> pl.DataFrame:
    rows = []
    for task, (exact, continuous) in cases.items():
        rows += _rows(task, "exact_str_match", exact, rescored=False)
        rows += _rows(task, "per_token_probability", continuous, rescored=True)
        rows += _rows(task, "char_edit_distance", [5.0] * 6, rescored=True)  # no chance level
    return pl.DataFrame(rows, infer_schema_length=None)


CHANCE = pl.DataFrame(
    {
        "task_id": ["artefact", "persists", "undetermined"],
        "metric": ["per_token_probability"] * 3,
        "random_level": [0.0] * 3,
    }
)


def test_each_case_gets_its_verdict():
    results = _results(
        {
            "artefact": (JUMP, RAMP),
            "persists": (JUMP, [0.1, 0.2, 0.1, 0.3, 40.0, 70.0]),
            "undetermined": (RAMP, RAMP),
        }
    )
    verdicts = compute_verdicts(detector_input(results, CHANCE))
    by_task = {row["task_id"]: row for row in verdicts.to_dicts()}
    assert by_task["artefact"]["verdict"] == "metric_artefact"
    assert by_task["artefact"]["emergent_exact"] and not by_task["artefact"]["emergent_continuous"]
    assert by_task["artefact"]["continuous_smooth"] == "per_token_probability"
    assert by_task["persists"]["verdict"] == "persists"
    assert by_task["persists"]["continuous_emergent"] == "per_token_probability"
    assert by_task["persists"]["emergent_model_id"] == "toy-4"
    assert by_task["undetermined"]["verdict"] == "undetermined"
    assert "not emergent under exact_str_match (smooth)" in by_task["undetermined"]["evidence"]
    # Edit distance has no chance level: the detector cannot judge it, and says so.
    assert all(r["continuous_undecided"] == "char_edit_distance" for r in by_task.values())
    assert "char_edit_distance: no_baseline" in by_task["artefact"]["evidence"]


def test_emergent_exact_match_without_a_judgeable_continuous_metric_is_undetermined():
    results = _results({"artefact": (JUMP, RAMP)})
    no_chance = CHANCE.filter(pl.col("task_id") == "nothing")  # no reference for the continuous one
    (row,) = compute_verdicts(detector_input(results, no_chance)).to_dicts()
    assert row["verdict"] == "undetermined"
    assert row["evidence"].startswith("emergent under exact match; no continuous metric")


def test_brier_is_judged_on_a_percent_scale():
    """Brier (lower is better, 0..2) becomes 100 x (1 - Brier/2) against its chance level."""
    rows = _rows("mc", "multiple_choice_grade", JUMP, rescored=False)
    rows += _rows("mc", "brier_score", [0.9] * 6, rescored=True)  # worse than chance throughout
    chance = pl.DataFrame({"task_id": ["mc"], "metric": ["brier_score"], "random_level": [0.75]})
    detector_rows = detector_input(pl.DataFrame(rows, infer_schema_length=None), chance)
    brier_rows = detector_rows.filter(pl.col("metric") == "brier_score")
    assert brier_rows["value"].to_list() == pytest.approx([55.0] * 6)
    assert brier_rows["random_level"].to_list() == pytest.approx([62.5] * 6)
    (row,) = compute_verdicts(detector_rows).to_dicts()
    assert row["verdict"] == "undetermined"
    assert row["continuous_undecided"] == "brier_score"  # never above chance
