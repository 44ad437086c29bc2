"""`emergence` and the charts follow a finished evaluation, whatever the other registry partitions do.

Drives FOLLOWS_UPSTREAM (assets/automation.py) through Dagster's own evaluator on an ephemeral
instance: materialisations are reported, runs are created with their planned materialisations
(so a partition is "in progress" or "failed" exactly as a real run makes it), nothing executes.
"""

from __future__ import annotations

import dagster as dg
import pytest

from assets.definitions import defs
from assets.evaluations import EVALUATION_JOB, registry_partitions

LAKE_TABLES = ("models", "tasks", "task_metrics", "results", "table1")
CHARTS = ("chart_fig2a_3_digit_addition", "chart_gallery")


def _requested(result) -> set[str]:
    return {r.key.to_user_string() for r in result.results if r.true_subset.size}


def _materialise(instance: dg.DagsterInstance, *keys: str, partition: str | None = None) -> None:
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def _evaluation_run(instance: dg.DagsterInstance, partition: str) -> dg.DagsterRun:
    """A run of `evaluate_model` for one partition, created (with its planned materialisations)
    but not executed: the partition is in progress until the run is reported finished."""
    job = defs.resolve_job_def(EVALUATION_JOB)
    return instance.create_run_for_job(
        job,
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": partition},
        asset_selection={dg.AssetKey("fresh_evaluation"), dg.AssetKey("fresh_results")},
    )


@pytest.fixture
def lake() -> dg.DagsterInstance:
    """As if `make run` had run: warehouse, emergence and charts materialised; three registry
    partitions, none evaluated."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(registry_partitions.name, ["a", "b", "c"])
    _materialise(instance, *LAKE_TABLES, "emergence", "chart_table1", *CHARTS)
    return instance


def test_a_fresh_instance_starts_no_work():
    """`make dev` on a new clone: nothing materialised, so the automation requests nothing."""
    instance = dg.DagsterInstance.ephemeral()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert _requested(result) == set()


def test_one_finished_partition_is_followed_although_others_are_missing_or_failed(lake):
    first = dg.evaluate_automation_conditions(defs=defs, instance=lake)
    assert _requested(first) == set()  # nothing new: nothing requested

    failed = _evaluation_run(lake, "c")
    lake.report_run_failed(failed)  # c failed, b was never run
    only_failed = dg.evaluate_automation_conditions(defs=defs, instance=lake, cursor=first.cursor)
    assert _requested(only_failed) == set()  # a failure brings nothing new to follow
    _materialise(lake, "fresh_evaluation", "fresh_results", partition="a")
    after = dg.evaluate_automation_conditions(defs=defs, instance=lake, cursor=only_failed.cursor)
    # emergence and, in the same run after it, the charts that read it; no evaluation
    assert {"emergence", "chart_table1", *CHARTS} <= _requested(after)
    assert not {"fresh_evaluation", "fresh_results"} & _requested(after)

    # that run done: nothing is asked for again
    _materialise(lake, "emergence", "chart_table1", *CHARTS)
    done = dg.evaluate_automation_conditions(defs=defs, instance=lake, cursor=after.cursor)
    assert _requested(done) == set()


def test_nothing_new_requests_nothing(lake):
    first = dg.evaluate_automation_conditions(defs=defs, instance=lake)
    again = dg.evaluate_automation_conditions(defs=defs, instance=lake, cursor=first.cursor)
    assert _requested(first) == _requested(again) == set()


def test_not_requested_while_a_partition_is_in_progress(lake):
    first = dg.evaluate_automation_conditions(defs=defs, instance=lake)
    running = _evaluation_run(lake, "b")
    _materialise(lake, "fresh_evaluation", "fresh_results", partition="a")
    during = dg.evaluate_automation_conditions(defs=defs, instance=lake, cursor=first.cursor)
    assert "emergence" not in _requested(during)

    lake.report_run_failed(running)  # b ends (here: fails); a's new rows are still to follow
    after = dg.evaluate_automation_conditions(defs=defs, instance=lake, cursor=during.cursor)
    assert "emergence" in _requested(after)
