"""The `new_models` sensor against a real hub server: a new push to `main` and a new checkpoint
branch are each evaluated once; a hub that is down skips the tick; checkpoints land on the
training-progress axis of the warehouse."""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from assets.definitions import defs
from assets.evaluations import EVALUATION_JOB, REVISION_TAG, registry_partitions
from tests.hub.conftest import ORG, write_registry
from tests.sensor_harness import Sensor

pytestmark = pytest.mark.slow

TOKENS_PER_STEP = 2_097_152.0


def requested(result) -> list[tuple[str, str]]:
    if isinstance(result, dg.SkipReason):
        return []
    return [(r.partition_key, r.tags[REVISION_TAG]) for r in result.run_requests]


@pytest.fixture(scope="module")
def checkpoints(hub_server, tiny_model_files) -> dict[str, str]:
    """A repo with main and three checkpoint branches: branch -> commit."""
    commits = {"main": hub_server.create("pythia-like", tiny_model_files)}
    for step in (1000, 2000, 3000):
        commits[f"step{step}"] = hub_server.branch("pythia-like", f"step{step}", f"step {step}")
    return commits


def test_a_new_push_to_main_is_requested_exactly_once(
    lake_on_hub, hub_server, tiny_model_files, tmp_path
):
    first_commit = hub_server.create("moving", tiny_model_files)
    write_registry(tmp_path / "models.yaml", f"id: moving, weights: {ORG}/moving")
    sensor = Sensor()
    first = sensor.tick()
    assert requested(first) == [("moving", first_commit)]
    sensor.succeed(first)
    assert requested(sensor.tick()) == []  # the registry text did not change, nor the commit

    pushed = hub_server.commit("moving", "new weights", {"README.md": "retrained\n"})

    second = sensor.tick()
    assert requested(second) == [("moving", pushed)]
    assert requested(sensor.tick()) == []  # requested, not started: not asked twice
    sensor.succeed(second)
    assert requested(sensor.tick()) == []


def test_checkpoint_branches_become_partitions_and_a_new_one_one_run(
    lake_on_hub, hub_server, checkpoints, tmp_path
):
    write_registry(
        tmp_path / "models.yaml",
        f"id: ckpt, weights: {ORG}/pythia-like, revisions: 'step*', tokens_per_step: {TOKENS_PER_STEP}",
    )
    sensor = Sensor()
    first = sensor.tick()
    assert requested(first) == [
        ("ckpt", checkpoints["main"]),
        ("ckpt@step1000", checkpoints["step1000"]),
        ("ckpt@step2000", checkpoints["step2000"]),
        ("ckpt@step3000", checkpoints["step3000"]),
    ]
    sensor.succeed(first)
    done = sensor.tick()
    assert (
        requested(done) == []
        and "1 registry model + 3 checkpoints: 4 evaluated" in done.skip_message
    )

    step4000 = hub_server.branch("pythia-like", "step4000", "step 4000")
    partitions_before = set(sensor.instance.get_dynamic_partitions(registry_partitions.name))

    new = sensor.tick()

    assert requested(new) == [("ckpt@step4000", step4000)]
    added = (
        set(sensor.instance.get_dynamic_partitions(registry_partitions.name)) - partitions_before
    )
    assert added == {"ckpt@step4000"}


def test_a_hub_that_is_down_skips_the_tick_and_requests_nothing(lake_on_hub, monkeypatch, tmp_path):
    write_registry(tmp_path / "models.yaml", f"id: tiny, weights: {ORG}/tiny-gpt2")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    sensor = Sensor()
    result = sensor.tick()
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message.startswith("hub http://127.0.0.1:9 unreachable (")
    assert "nothing requested" in result.skip_message
    assert sensor.instance.get_runs() == []


def test_a_repo_missing_on_the_hub_is_named_and_the_others_go_ahead(
    lake_on_hub, hub_server, checkpoints, tmp_path
):
    write_registry(
        tmp_path / "models.yaml",
        f"id: gone, weights: {ORG}/deleted-repo",
        f"id: here, weights: {ORG}/pythia-like",
    )
    result = Sensor().tick()
    assert requested(result) == [("here", checkpoints["main"])]
    assert requested(Sensor().tick()) == [("here", checkpoints["main"])]  # a fresh cursor
    skip = Sensor()
    skip.succeed(skip.tick())
    message = skip.tick().skip_message
    assert f"gone not requested: {ORG}/deleted-repo: no such model repository" in message


def test_a_checkpoint_lands_on_the_training_axis_with_its_commit(
    lake_on_hub, lake_run, hub_server, checkpoints, tmp_path
):
    lake_on_hub.mkdir(parents=True, exist_ok=True)
    shutil.copy(lake_run["data"] / "emergence.duckdb", lake_on_hub / "emergence.duckdb")
    write_registry(
        tmp_path / "models.yaml",
        f"id: ckpt, weights: {ORG}/pythia-like, revisions: [step2000], tokens_per_step: {TOKENS_PER_STEP}",
    )
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(registry_partitions.name, ["ckpt", "ckpt@step2000"])
    job = defs.resolve_job_def(EVALUATION_JOB)
    for partition in ("ckpt", "ckpt@step2000"):
        result = job.execute_in_process(
            instance=instance, partition_key=partition, raise_on_error=False
        )
        assert result.success, partition

    with duckdb.connect(str(lake_on_hub / "emergence.duckdb"), read_only=True) as con:
        rows = con.sql(
            "SELECT setting, checkpoint_step, tokens_seen, final_checkpoint, source_commit, "
            "checkpoint_flops_basis FROM results WHERE model_id = 'ckpt' AND metric = 'exact_str_match' "
            "ORDER BY checkpoint_step NULLS LAST"
        ).fetchall()
        examples = con.sql("SELECT count(*) FROM eval_examples WHERE model_id = 'ckpt'").fetchone()[
            0
        ]
        revision = con.sql("SELECT revision FROM models WHERE model_id = 'ckpt'").fetchone()[0]
    assert rows == [
        (
            "0-shot, step 2000",
            2000,
            2000 * TOKENS_PER_STEP,
            False,
            checkpoints["step2000"],
            "estimated_6nd",
        ),
        ("0-shot", None, None, None, checkpoints["main"], None),
    ]
    assert examples == 8  # both evaluations' examples kept (4 each)
    assert revision == checkpoints["main"]  # the released model's commit, not the checkpoint's
