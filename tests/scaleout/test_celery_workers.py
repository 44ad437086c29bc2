"""Evaluation partitions over two Celery workers (deploy/celery/dagster.yaml, Redis broker, one
PostgreSQL instance): each run goes to a free worker; the instance's pools hold across the worker
processes: evaluations at most `gpu` at once, warehouse writes (`duckdb_writer`) never overlap."""

from __future__ import annotations

import shutil

import pytest

from assets.evaluations import registry_partitions
from assets.instance import lake_instance
from tests.scaleout import servers
from tests.scaleout.celery_runs import (
    celery_workers,
    launch_evaluations,
    most_at_once,
    step_spans,
    wait_for_runs,
    wait_for_workers,
)
from tests.scaleout.conftest import registry_yaml, sqlalchemy_url

pytestmark = pytest.mark.scaleout

WORKERS = 2


def test_partitions_spread_over_workers_and_pools_hold_across_them(
    lake_on_postgres, postgres_url, redis_url, tiny_models, tmp_path, monkeypatch
):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(lake_on_postgres.data / "emergence.duckdb", data / "emergence.duckdb")
    models = {f"tiny-{i}": path for i, path in enumerate(tiny_models)}
    registry = tmp_path / "models.yaml"
    registry.write_text(registry_yaml(models, limit=6))
    monkeypatch.setenv("EMERGENCE_DAGSTER_YAML", "deploy/celery/dagster.yaml")
    db_url = servers.create_database(postgres_url, "celery_instance")
    monkeypatch.setenv("EMERGENCE_DAGSTER_PG_URL", sqlalchemy_url(db_url))
    monkeypatch.setenv("EMERGENCE_CELERY_BROKER", f"{redis_url}/0")
    monkeypatch.setenv("EMERGENCE_CELERY_BACKEND", f"{redis_url}/1")
    monkeypatch.setenv("EMERGENCE_DATA", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster"))
    monkeypatch.setenv("EMERGENCE_REGISTRY", str(registry))
    instance = lake_instance()
    try:
        assert type(instance.run_launcher).__name__ == "CeleryRunLauncher"
        # Pool limits set once, before any worker runs (deploy/celery/dagster.yaml says why).
        instance.event_log_storage.set_concurrency_slots("gpu", WORKERS)  # one per GPU
        instance.event_log_storage.set_concurrency_slots("duckdb_writer", 1)
        instance.add_dynamic_partitions(registry_partitions.name, list(models))
        with celery_workers(WORKERS, tmp_path / "logs") as logs:
            wait_for_workers(instance, WORKERS)
            run_ids = launch_evaluations(instance, list(models))
            wait_for_runs(instance, run_ids, timeout=240)
        statuses = [instance.get_run_by_id(r).status.value for r in run_ids]
        assert statuses == ["SUCCESS"] * len(run_ids)

        # Every worker took runs: each worker's log names the Celery tasks it executed.
        task_ids = [instance.get_run_by_id(r).tags["dagster-celery/task_id"] for r in run_ids]
        took = [sum(t in log.read_text() for t in task_ids) for log in logs]
        assert sorted(took) != [0, len(run_ids)] and sum(took) == len(run_ids), took

        spans = step_spans(instance, run_ids)
        evaluations = [s for s in spans if s.step == "fresh_evaluation"]
        writes = [s for s in spans if s.step == "fresh_results"]
        assert len(evaluations) == len(writes) == len(run_ids)
        assert most_at_once(evaluations) == WORKERS  # evaluations ran side by side, `gpu` at most
        assert most_at_once(writes) == 1  # one warehouse writer across all workers
    finally:
        instance.dispose()

    import duckdb

    with duckdb.connect(str(data / "emergence.duckdb"), read_only=True) as con:
        written = con.execute(
            "SELECT DISTINCT model_id FROM results WHERE origin = 'fresh' ORDER BY 1"
        ).fetchall()
    assert [m for (m,) in written] == sorted(models)
