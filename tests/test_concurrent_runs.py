"""A second lake run waits for the warehouse and says whom it waits for, then goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from assets.instance import lake_instance
from assets.run_recovery import PID_TAG
from sources.paths import PROJECT_ROOT


@pytest.mark.slow
def test_a_run_waits_for_the_writer_pool_says_who_holds_it_then_goes_on(
    data_dir, mirror, monkeypatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(data_dir / "dagster"))  # restored after the test
    instance = lake_instance()
    storage = instance.event_log_storage
    writer = dg.DagsterRun(  # a live run (this process) in the middle of its warehouse step
        job_name="lake", status=dg.DagsterRunStatus.STARTED, tags={PID_TAG: str(os.getpid())}
    )
    instance.add_run(writer)
    storage.initialize_concurrency_limit_to_default("duckdb_writer")
    assert storage.claim_concurrency_slot(
        "duckdb_writer", writer.run_id, "warehouse_tables"
    ).is_claimed

    env = {**os.environ, "EMERGENCE_DATA": str(data_dir), "EMERGENCE_MIRROR": str(mirror)}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env.pop("DAGSTER_HOME", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "assets.run_lake"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            assert line, "the run ended:\n" + "".join(lines)
            lines.append(line)
            if "waits for" in line:
                assert line.strip() == (
                    f"warehouse_tables waits for the duckdb_writer pool, held by run "
                    f"{writer.run_id[:8]} (step warehouse_tables)"
                )
                storage.free_concurrency_slot_for_step(writer.run_id, "warehouse_tables")
            if line.strip().endswith("s  warehouse_tables"):
                break
        else:
            pytest.fail("the run never reached its warehouse step:\n" + "".join(lines))
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        instance.dispose()
    waited = [i for i, line in enumerate(lines) if "waits for" in line]
    started = [i for i, line in enumerate(lines) if line.strip().endswith("s  warehouse_tables")]
    assert waited and started and waited[0] < started[0]  # it waited, said why, then went on
    assert not any("had crashed" in line for line in lines)  # a live holder is not "cleared"
