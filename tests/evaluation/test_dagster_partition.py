"""A registry model evaluated through Dagster, end to end: partition -> warehouse -> emergence.

Uses the trained tiny model of conftest.py as a "local directory" registry entry, so the run goes
through the same registry, loading, engine and warehouse code as a Hugging Face model would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.definitions import defs
from assets.evaluations import EVALUATION_JOB, registry_partitions

pytestmark = pytest.mark.slow

TASK = "arithmetic/3_digit_addition"
CHARTS = ("chart_fig2a_3_digit_addition", "chart_gallery")


def _registry(path: Path, entries: str) -> None:
    path.write_text("models:\n" + entries)


def _run(instance: dg.DagsterInstance, partition: str, config: dict | None = None):
    """The sensor's job, as the daemon would launch it (run config overrides the registry)."""
    job = defs.resolve_job_def(EVALUATION_JOB)
    return job.execute_in_process(
        instance=instance,
        partition_key=partition,
        run_config={"ops": {"fresh_evaluation": {"config": config or {}}}},
        raise_on_error=False,
    )


def _log_lines(instance: dg.DagsterInstance, result) -> list[str]:
    """What `context.log` wrote during the run (the Dagster log a user reads)."""
    return [e.user_message for e in instance.all_logs(result.run_id) if e.dagster_event is None]


@pytest.fixture
def warehouse(lake_run, lake_env: Path) -> Path:
    lake_env.mkdir(parents=True, exist_ok=True)
    db = lake_env / "emergence.duckdb"
    shutil.copy(lake_run["data"] / "emergence.duckdb", db)
    return db


def test_registry_model_is_evaluated_into_the_warehouse(
    warehouse, trained_model_dir, tmp_path, monkeypatch
):
    registry = tmp_path / "models.yaml"
    _registry(
        registry,
        f"  - {{id: tiny-gpt2, family: Tiny, weights: '{trained_model_dir}', train_tokens: 1.0e+9, "
        f"tasks: ['{TASK}'], limit: 8, shots: 2, dtype: float32, device: cpu, "
        "source: built in the test}\n",
    )
    monkeypatch.setenv("EMERGENCE_REGISTRY", str(registry))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(registry_partitions.name, ["tiny-gpt2"])
    for upstream in ("models", "tasks", "task_metrics", "results", "table1", "emergence", *CHARTS):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(upstream)
        )  # as if `make run` had run
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert _requested(first) == set()  # nothing new: automation asks for nothing

    result = _run(instance, "tiny-gpt2")  # tasks, limit, shots, dtype, device: the entry's

    assert result.success and result.dagster_run.job_name == "evaluate_model"
    lines = _log_lines(instance, result)
    assert "tiny-gpt2 @ main: 8 examples across 1 task, 2-shot, on cpu (float32)" in lines
    assert any(line.startswith("tiny-gpt2: 8/8 examples (100%) across 1 task;") for line in lines)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        metrics = dict(
            con.sql(
                "SELECT metric, value FROM results WHERE model_id = 'tiny-gpt2' AND origin = 'fresh'"
            ).fetchall()
        )
        examples = con.sql(
            "SELECT count(*) FROM eval_examples WHERE model_id = 'tiny-gpt2'"
        ).fetchone()[0]
        model = con.sql(
            "SELECT origin, params, train_flops, flops_basis FROM models WHERE model_id = 'tiny-gpt2'"
        ).fetchone()
        literature = con.sql("SELECT count(*) FROM results WHERE origin = 'literature'").fetchone()[
            0
        ]
    assert {"exact_str_match", "target_logprob", "target_cross_entropy"} <= set(metrics)
    assert examples == 8
    assert model[0] == "registry" and model[1] and model[1] > 1e4
    assert model[3] == "estimated_6nd" and model[2] == pytest.approx(6 * model[1] * 1e9)
    assert literature > 100  # the rest of the warehouse is untouched
    # the finished evaluation makes the emergence asset (then the charts) due
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert "emergence" in _requested(after)

    # run config overrides the entry: 4 examples, and a second task
    again = _run(
        instance, "tiny-gpt2", {"limit": 4, "tasks": [TASK, "arithmetic/2_digit_addition"]}
    )
    assert again.success
    lines = _log_lines(instance, again)
    assert any(line.startswith("tiny-gpt2 @ main: 8 examples across 2 tasks") for line in lines)


def _requested(result) -> set[str]:
    return {r.key.to_user_string() for r in result.results if r.true_subset.size}


def test_a_model_that_cannot_be_loaded_fails_only_its_partition(warehouse, tmp_path, monkeypatch):
    registry = tmp_path / "models.yaml"
    broken = tmp_path / "broken-model"  # a model folder (the registry checks that) without weights
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    _registry(registry, f"  - {{id: ghost, family: Ghost, weights: '{broken}', source: test}}\n")
    monkeypatch.setenv("EMERGENCE_REGISTRY", str(registry))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(registry_partitions.name, ["ghost"])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        before = con.sql("SELECT count(*) FROM results").fetchone()[0]

    result = _run(instance, "ghost")

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error.message)
    assert "ghost" in message and "broken-model" in message and "no weight files" in message
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM results").fetchone()[0] == before
