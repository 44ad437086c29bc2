"""evaluate(): warehouse-shaped rows, the result cache, composite tasks, progress."""

from __future__ import annotations

import math
import re

import polars as pl
import pytest

from sources.bigbench import load_task
from sources.evaluation import model as model_module
from sources.evaluation.engine import CITATION, EXAMPLES_SCHEMA, RESULTS_SCHEMA, evaluate
from sources.evaluation.model import ModelSpec, load_model
from sources.paths import PROJECT_ROOT

from .conftest import TRAINED_TASK

pytestmark = pytest.mark.slow


def _schema_columns(table: str) -> list[str]:
    sql = (PROJECT_ROOT / "warehouse" / "schema.sql").read_text()
    body = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\);", sql, re.S).group(1)
    columns = []
    for line in body.splitlines():
        line = line.strip()
        if line and not line.startswith(("--", "PRIMARY KEY")):
            columns.append(line.split()[0])
    return columns


def test_frames_have_exactly_the_warehouse_columns(trained_model_dir) -> None:
    run = evaluate(ModelSpec("trained", str(trained_model_dir)), TRAINED_TASK, shots=0, limit=20)
    assert run.examples.columns == _schema_columns("eval_examples") == list(EXAMPLES_SCHEMA)
    assert run.results.columns == _schema_columns("results") == list(RESULTS_SCHEMA)
    assert dict(run.examples.schema) == EXAMPLES_SCHEMA
    assert dict(run.results.schema) == RESULTS_SCHEMA
    # Spot checks against schema.sql's SQL types, independent of the engine's parser.
    assert run.examples.schema["choice_logprobs"] == pl.List(pl.Float64)  # DOUBLE[]
    # INTEGER columns are Int64: the pandera contract (checks/schemas.py), DuckDB narrows on insert
    assert run.examples.schema["shots"] == pl.Int64 and run.results.schema["value"] == pl.Float64
    assert run.results.schema["in_wei_figure"] == pl.Boolean


def test_result_rows_follow_the_examples(trained_model_dir) -> None:
    spec = ModelSpec("trained", str(trained_model_dir))
    run = evaluate(spec, TRAINED_TASK, shots=0, limit=50)
    examples, results = run.examples, run.results
    assert examples.height == 50 and examples["example_idx"].n_unique() == 50
    values = run.metric_values
    assert set(values) == {
        "exact_str_match",
        "multiple_choice_grade",
        "target_logprob",
        "target_cross_entropy",
    }
    assert values["exact_str_match"] == pytest.approx(100 * examples["correct"].mean())
    assert values["target_logprob"] == pytest.approx(examples["target_logprob"].mean())
    assert values["target_cross_entropy"] == pytest.approx(
        -examples["target_logprob"].sum() / examples["target_tokens"].sum()
    )
    units = dict(zip(results["metric"], results["unit"], strict=True))
    assert units == {
        "exact_str_match": "percent",
        "multiple_choice_grade": "percent",
        "target_logprob": "nats",
        "target_cross_entropy": "nats_per_token",
    }
    row = results.row(0, named=True)
    assert (
        row["origin"] == "fresh" and row["prompting"] == "standard" and row["setting"] == "0-shot"
    )
    assert row["citation"] == CITATION and row["in_wei_figure"] is False
    assert row["location"] == f"run {run.run_id} config {run.config_hash}"
    assert row["source_file"] == spec.weights and row["n_examples"] == 50
    task = load_task(TRAINED_TASK)
    assert examples["choice_logprobs"].list.len().to_list() == [
        len(task.examples[i].choices) for i in examples["example_idx"]
    ]
    for lps, prediction, target in examples.select(
        "choice_logprobs", "prediction", "target"
    ).iter_rows():
        assert all(lp <= 0 for lp in lps)  # log-probabilities of options, in nats
        assert target and isinstance(prediction, str)


def test_multiple_choice_only_task_predicts_the_chosen_option(random_llama_dir) -> None:
    run = evaluate(ModelSpec("llama", str(random_llama_dir)), "parsinlu_qa", shots=1, limit=15)
    assert set(run.metric_values) == {
        "multiple_choice_grade",
        "target_logprob",
        "target_cross_entropy",
    }
    for row in run.examples.iter_rows(named=True):
        lps = row["choice_logprobs"]
        assert not math.isnan(row["target_logprob"])
        assert row["target_logprob"] in lps  # the target is the best option, scored as one


def test_a_cache_hit_does_not_load_the_model(trained_model_dir, monkeypatch) -> None:
    spec = ModelSpec("trained", str(trained_model_dir))
    first = evaluate(spec, TRAINED_TASK, shots=0, limit=10)
    assert not first.stats.cache_hit

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded on a cache hit")

    monkeypatch.setattr(model_module, "load_model", no_loading)
    second = evaluate(spec, TRAINED_TASK, shots=0, limit=10)
    assert second.stats.cache_hit and second.stats.load_seconds == 0.0
    assert second.examples.equals(first.examples) and second.results.equals(first.results)
    assert second.run_id == first.run_id
    # A different prompt configuration is a different entry: it must load the model.
    with pytest.raises(AssertionError, match="loaded on a cache hit"):
        evaluate(spec, TRAINED_TASK, shots=1, limit=10)


def test_a_shared_lazy_model_loads_once_for_several_tasks(trained_model_dir, monkeypatch) -> None:
    from sources.evaluation import LazyModel

    loads = []
    real_load = model_module.load_model

    def counting_load(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(model_module, "load_model", counting_load)
    spec = ModelSpec("trained", str(trained_model_dir))
    shared = LazyModel(spec)
    first = evaluate(spec, TRAINED_TASK, shots=0, limit=4, model=shared)
    second = evaluate(spec, "arithmetic/1_digit_subtraction", shots=0, limit=4, model=shared)
    assert len(loads) == 1  # one load for both tasks (both cache misses)
    assert first.stats.load_seconds > 0 and second.stats.load_seconds == 0.0
    # all cache hits: a fresh shared handle never loads
    again = LazyModel(spec)
    evaluate(spec, TRAINED_TASK, shots=0, limit=4, model=again)
    assert len(loads) == 1 and again.loaded is None


def test_changed_weights_miss_the_cache(trained_model_dir, tmp_path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_model_dir, copy)
    first = evaluate(ModelSpec("m", str(copy)), TRAINED_TASK, shots=0, limit=5)
    config = copy / "config.json"
    config.write_text(config.read_text().replace('"n_layer": 2', '"n_layer": 1'))
    second = evaluate(ModelSpec("m", str(copy)), TRAINED_TASK, shots=0, limit=5)
    assert not second.stats.cache_hit and second.model_revision != first.model_revision


def test_composite_task_adds_the_mean_over_subtasks(trained_model_dir) -> None:
    loaded = load_model(ModelSpec("trained", str(trained_model_dir)))
    run = evaluate(loaded.spec, "arithmetic", shots=0, limit=2, model=loaded, use_cache=False)
    subtasks = [t for t in run.results["task_id"].unique().to_list() if t != "arithmetic"]
    assert len(subtasks) == 20 and run.examples.height == 2 * 20
    per_subtask = run.results.filter(
        pl.col("task_id") != "arithmetic", pl.col("metric") == "exact_str_match"
    )
    parent = run.results.filter(
        pl.col("task_id") == "arithmetic", pl.col("metric") == "exact_str_match"
    )
    assert parent["value"][0] == pytest.approx(per_subtask["value"].mean())
    assert parent["n_examples"][0] == per_subtask["n_examples"].sum()
    assert run.metric_values["exact_str_match"] == parent["value"][0]


def test_progress_reports_every_stage_to_completion(trained_model_dir) -> None:
    seen: dict[str, tuple[int, int]] = {}
    evaluate(
        ModelSpec("trained", str(trained_model_dir)),
        TRAINED_TASK,
        shots=2,
        limit=12,
        use_cache=False,
        fast_path=False,
        progress=lambda stage, done, total: seen.__setitem__(stage, (done, total)),
    )
    assert seen == {"score": (12, 12), "generate": (12, 12)}


def test_metrics_can_be_restricted_and_unknown_ones_are_refused(trained_model_dir) -> None:
    spec = ModelSpec("trained", str(trained_model_dir))
    run = evaluate(
        spec, TRAINED_TASK, shots=0, limit=10, metrics=["exact_str_match"], use_cache=False
    )
    assert set(run.metric_values) == {"exact_str_match", "target_logprob", "target_cross_entropy"}
    assert run.examples["choice_logprobs"].null_count() == 10  # no option scoring was done
    full = evaluate(spec, TRAINED_TASK, shots=0, limit=10, use_cache=False)
    assert run.examples["prediction"].to_list() == full.examples["prediction"].to_list()
    with pytest.raises(ValueError, match="bleu"):
        evaluate(spec, TRAINED_TASK, shots=0, limit=10, metrics=["bleu"])
