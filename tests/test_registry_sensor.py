"""The `new_models` sensor: what it requests, when it retries, what it says.

Runs are created on an ephemeral instance (and reported failed, cancelled or succeeded) exactly as
the sensor would find them; nothing is executed, and the sensor's clock is moved forward instead
of waiting for the backoff. The hub is a stand-in here (every repo has branches `main` and `v2`
at fixed commits); tests/hub/ runs the sensor against a real hub server.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import dagster as dg
import pytest

import assets.evaluations as evaluations
import sources.evaluation_targets as evaluation_targets
from assets.definitions import defs
from assets.evaluation_attempts import BACKOFF_SECONDS, MAX_ATTEMPTS
from assets.evaluations import EVALUATION_JOB, new_models
from sources.hub import RepoRefs
from tests.sensor_harness import Sensor

ENTRY = "  - {{id: tiny-{name}, family: Tiny, weights: EleutherAI/tiny-{name}, revision: {rev}, train_tokens: 1.0e+9, source: test registry}}\n"


def write_registry(path: Path, entries: list[tuple[str, str]]) -> None:
    path.write_text("models:\n" + "".join(ENTRY.format(name=n, rev=r) for n, r in entries))


def sha(revision: str) -> str:
    """The stand-in hub's commit for a branch."""
    return hashlib.sha1(revision.encode()).hexdigest()


@pytest.fixture
def registry_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "models.yaml"
    monkeypatch.setenv("EMERGENCE_REGISTRY", str(path))
    monkeypatch.setattr(
        evaluation_targets,
        "list_refs",
        lambda repo_id: RepoRefs(repo_id, {b: sha(b) for b in ("main", "v2")}, {}),
    )
    return path


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The sensor's clock: now[0], moved by the test."""
    now = [time.time()]
    monkeypatch.setattr(evaluations, "clock", lambda: now[0])
    return now


def requests(result) -> list[tuple[str, str]]:
    if isinstance(result, dg.SkipReason):
        return []
    return [(r.partition_key, r.run_key) for r in result.run_requests]


def test_sensor_lifecycle_requested_failed_retried_succeeded_recorded(registry_file, clock):
    write_registry(registry_file, [("a", "main")])
    sensor = Sensor(dg.DagsterInstance.ephemeral())

    first = sensor.tick()
    assert requests(first) == [("tiny-a", f"tiny-a@{sha('main')}#1")]
    assert first.dynamic_partitions_requests[0].partition_keys == ["tiny-a"]
    request = first.run_requests[0]
    assert request.tags["emergence/revision"] == sha("main")  # the commit, not the branch

    # requested, run not created yet: not requested twice
    pending = sensor.tick()
    assert requests(pending) == []
    assert "1 requested (run not started yet)" in pending.skip_message

    run = sensor.launch(request)
    assert "1 running" in sensor.tick().skip_message

    sensor.instance.report_run_failed(run)
    waiting = sensor.tick()
    assert requests(waiting) == []
    retry_at = time.strftime(
        "%H:%M",
        time.localtime(sensor.instance.get_run_record_by_id(run.run_id).end_time + BACKOFF_SECONDS),
    )
    assert f"tiny-a failed once — retry after {retry_at}" in waiting.skip_message

    clock[0] += BACKOFF_SECONDS - 60  # before the backoff ends: still waiting
    assert requests(sensor.tick()) == []
    clock[0] += 120
    retry = sensor.tick()
    assert requests(retry) == [("tiny-a", f"tiny-a@{sha('main')}#2")]
    assert retry.dynamic_partitions_requests == []  # its partition exists already

    second = sensor.launch(retry.run_requests[0], status=dg.DagsterRunStatus.SUCCESS)
    done = sensor.tick()
    assert requests(done) == [] and "1 evaluated" in done.skip_message
    assert json.loads(sensor.cursor)["evaluated"]["tiny-a"] == [sha("main")]
    assert second.tags["emergence/attempt"] == "2"

    clock[0] += 10 * BACKOFF_SECONDS  # nothing more, ever, at this revision
    assert requests(sensor.tick()) == []


def test_cancelled_runs_are_retried_then_given_up(registry_file, clock):
    write_registry(registry_file, [("a", "main")])
    sensor = Sensor(dg.DagsterInstance.ephemeral())
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = sensor.tick()
        assert requests(result) == [("tiny-a", f"tiny-a@{sha('main')}#{attempt}")]
        sensor.instance.report_run_canceled(sensor.launch(result.run_requests[0]))
        clock[0] += BACKOFF_SECONDS * 2**attempt + 1
    given_up = sensor.tick()
    assert requests(given_up) == []
    assert "tiny-a failed 3 times, given up (a new commit retries)" in given_up.skip_message

    write_registry(registry_file, [("a", "v2")])  # a new revision (so a new commit) starts over
    assert requests(sensor.tick()) == [("tiny-a", f"tiny-a@{sha('v2')}#1")]


def test_a_run_started_by_hand_blocks_requests_until_it_ends(registry_file, clock):
    write_registry(registry_file, [("a", "main"), ("b", "main")])
    sensor = Sensor(dg.DagsterInstance.ephemeral())
    by_hand = sensor.instance.create_run_for_job(
        defs.resolve_job_def(EVALUATION_JOB),
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": "tiny-a"},
    )
    result = sensor.tick()
    assert requests(result) == [("tiny-b", f"tiny-b@{sha('main')}#1")]
    sensor.launch(result.run_requests[0])
    assert sensor.tick().skip_message == "2 registry models: 2 running"

    sensor.instance.report_run_failed(by_hand)  # not ours, not at a known revision: request a
    assert requests(sensor.tick()) == [("tiny-a", f"tiny-a@{sha('main')}#1")]


def test_new_and_bumped_entries_are_requested_once(registry_file, clock):
    write_registry(registry_file, [("a", "main")])
    sensor = Sensor(dg.DagsterInstance.ephemeral())
    sensor.launch(sensor.tick().run_requests[0], status=dg.DagsterRunStatus.SUCCESS)
    assert requests(sensor.tick()) == []

    write_registry(registry_file, [("a", "main"), ("b", "main")])
    assert requests(sensor.tick()) == [("tiny-b", f"tiny-b@{sha('main')}#1")]

    write_registry(registry_file, [("a", "v2"), ("b", "main")])
    assert requests(sensor.tick()) == [("tiny-a", f"tiny-a@{sha('v2')}#1")]

    write_registry(registry_file, [("a", "main"), ("b", "main")])  # back: evaluated before
    assert requests(sensor.tick()) == []


def test_the_cursor_alone_prevents_a_second_request_after_a_restart(registry_file, clock):
    write_registry(registry_file, [("a", "main")])
    sensor = Sensor(dg.DagsterInstance.ephemeral())
    sensor.launch(sensor.tick().run_requests[0], status=dg.DagsterRunStatus.SUCCESS)
    assert requests(sensor.tick()) == []
    restarted = Sensor(dg.DagsterInstance.ephemeral())  # no run history at all, only the cursor
    restarted.cursor = sensor.cursor
    assert requests(restarted.tick()) == []
    fresh = Sensor(dg.DagsterInstance.ephemeral())  # without the cursor it would ask again
    assert requests(fresh.tick()) == [("tiny-a", f"tiny-a@{sha('main')}#1")]


def test_invalid_registry_requests_nothing_and_says_why(registry_file):
    registry_file.write_text(
        "models:\n  - {id: x, family: X, weights: org/m, params: -5, source: test}\n"
    )
    result = Sensor(dg.DagsterInstance.ephemeral()).tick()
    assert isinstance(result, dg.SkipReason)
    assert "line 2, field 'params'" in result.skip_message


def test_the_sensor_is_stopped_by_default_and_runs_a_named_job():
    assert new_models.default_status == dg.DefaultSensorStatus.STOPPED
    assert new_models.job_name == EVALUATION_JOB == "evaluate_model"
    assert defs.resolve_job_def(EVALUATION_JOB).partitions_def is not None
    automation = defs.resolve_sensor_def("emergence_automation")
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
