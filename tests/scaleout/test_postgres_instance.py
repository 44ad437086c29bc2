"""The Dagster instance on PostgreSQL, chosen by EMERGENCE_DAGSTER_YAML: a real server, the `lake`
job and one evaluation partition run against it; runs, materialisations and the sensor cursor are
read back from the database itself, not through Dagster."""

from __future__ import annotations

import json
import logging

import pytest
from dagster._daemon.sensor import execute_sensor_iteration
from dagster._serdes import deserialize_value

from assets.definitions import defs
from assets.evaluations import EVALUATION_JOB, registry_partitions
from tests.scaleout.conftest import registry_yaml
from tests.scaleout.workspace import lake_workspace, repository

pytestmark = pytest.mark.scaleout


def _query(db_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg2

    con = psycopg2.connect(db_url)
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        con.close()


def test_lake_and_an_evaluation_are_stored_in_postgres(
    lake_on_postgres, tiny_models, tmp_path, monkeypatch
):
    instance, db_url = lake_on_postgres.instance, lake_on_postgres.db_url
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    assert lake_on_postgres.lake.success
    registry = tmp_path / "models.yaml"
    registry.write_text(registry_yaml({"tiny-a": tiny_models[0]}, limit=6))
    monkeypatch.setenv("EMERGENCE_REGISTRY", str(registry))

    instance.add_dynamic_partitions(registry_partitions.name, ["tiny-a"])
    evaluation = defs.resolve_job_def(EVALUATION_JOB).execute_in_process(
        instance=instance, partition_key="tiny-a"
    )
    assert evaluation.success

    # One sensor tick as the daemon does it: the cursor lands in the schedule storage.
    with lake_workspace(instance) as workspace:
        instance.start_sensor(repository(workspace).get_sensor("new_models"))
        list(execute_sensor_iteration(workspace, logging.getLogger("test"), None, None))

    runs = dict(_query(db_url, "SELECT run_id, status FROM runs"))
    assert runs[lake_on_postgres.lake.run_id] == "SUCCESS"
    assert runs[evaluation.run_id] == "SUCCESS"
    # The tick's run request for tiny-a (the by-hand run carries no revision tag), queued there.
    assert "QUEUED" in [status for run_id, status in runs.items() if run_id != evaluation.run_id]
    materialised = {
        (json.loads(key)[0], partition)
        for key, partition in _query(
            db_url,
            "SELECT asset_key, partition FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'",
        )
    }
    assert {
        ("results", None),
        ("emergence", None),
        ("fresh_evaluation", "tiny-a"),
        ("fresh_results", "tiny-a"),
    } <= materialised
    (state_body,) = [
        body
        for (body,) in _query(db_url, "SELECT instigator_body FROM instigators")
        if '"new_models"' in body
    ]
    cursor = deserialize_value(state_body).instigator_data.cursor  # the row, decoded by serdes
    assert "tiny-a" in cursor  # the sensor recorded the model it saw evaluated
    assert _query(db_url, "SELECT count(*) FROM job_ticks")[0][0] >= 1
