"""A crashed lake run never blocks the next one: `python -m assets.run_lake` killed with SIGKILL
at several points, then run again, finishes and leaves the new state; and a stale STARTED run
with a dead pid and a held pool slot is cleared with one line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import dagster as dg
import duckdb
import pytest

from assets.instance import lake_instance
from assets.run_recovery import PID_TAG, clear_dead_runs
from sources.paths import LITERATURE_DIR, PROJECT_ROOT
from warehouse.store import staging_dir

PALM_8B_MMLU = (
    "SELECT value FROM results WHERE model_id = 'palm-8b' AND task_id = 'mmlu' "
    "AND origin = 'literature'"
)


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_a_stale_started_run_with_a_dead_pid_is_failed_and_its_slot_freed(data_dir, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(data_dir / "dagster"))  # restored after the test
    instance = lake_instance()
    storage = instance.event_log_storage
    dead = dg.DagsterRun(
        job_name="lake", status=dg.DagsterRunStatus.STARTED, tags={PID_TAG: str(_dead_pid())}
    )
    alive = dg.DagsterRun(
        job_name="lake", status=dg.DagsterRunStatus.STARTED, tags={PID_TAG: str(os.getpid())}
    )
    instance.add_run(dead)
    instance.add_run(alive)
    storage.initialize_concurrency_limit_to_default("duckdb_writer")
    assert storage.claim_concurrency_slot(
        "duckdb_writer", dead.run_id, "warehouse_tables"
    ).is_claimed
    assert not storage.claim_concurrency_slot("duckdb_writer", alive.run_id, "emergence").is_claimed

    lines = clear_dead_runs(instance)

    assert lines == [
        f"run {dead.run_id[:8]} had crashed (pid {dead.tags[PID_TAG]} gone): marked it failed, "
        "freed its duckdb_writer slot"
    ]
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
    assert storage.claim_concurrency_slot("duckdb_writer", alive.run_id, "emergence").is_claimed
    assert clear_dead_runs(instance) == []  # nothing left to clear; the live run is not touched


class LakeRun:
    """`python -m assets.run_lake` as `make run` starts it, reading its terminal line by line."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assets.run_lake"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []

    def kill_when(self, ready, timeout: float = 240) -> None:
        """SIGKILL as soon as `ready(line)` holds for a line it printed (or polled between lines)."""
        os.set_blocking(self.process.stdout.fileno(), False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line:
                self.lines.append(line.rstrip("\n"))
            if ready(line):
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=30)
                return
            if self.process.poll() is not None:
                pytest.fail("the run ended before the kill point:\n" + "\n".join(self.lines))
            if not line:
                time.sleep(0.005)
        pytest.fail("kill point not reached:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 300) -> int:
        out, _ = self.process.communicate(timeout=timeout)
        self.lines.extend(out.splitlines())
        return self.process.returncode


@pytest.mark.slow
def test_kill_9_at_several_points_then_make_run_finishes_with_the_new_state(
    lake_run, tmp_path, monkeypatch
):
    data = tmp_path / "data"
    data.mkdir()
    db = data / "emergence.duckdb"
    shutil.copy(lake_run["data"] / "emergence.duckdb", db)  # the old state
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql(PALM_8B_MMLU).fetchone()[0] == 25.3
    literature = tmp_path / "literature"  # the new state: one value changed
    shutil.copytree(LITERATURE_DIR, literature)
    palm = literature / "results" / "chowdhery2022_palm.csv"
    palm.write_text(palm.read_text().replace(",25.3,", ",26.3,", 1))
    env = {
        **os.environ,
        "EMERGENCE_DATA": str(data),
        "EMERGENCE_LITERATURE": str(literature),
        "EMERGENCE_MIRROR": str(lake_run["mirror"]),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    env.pop("EMERGENCE_DUCKDB", None)
    env.pop("DAGSTER_HOME", None)  # the default: the instance under EMERGENCE_DATA

    def value() -> float:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.sql(PALM_8B_MMLU).fetchone()[0]

    kill_points = {
        "the warehouse step started": lambda line: line.strip().endswith("s  warehouse_tables"),
        "mid-write": lambda line: staging_dir(db).exists(),
        "after the write": lambda line: line.strip().endswith("s  emergence"),
    }
    for n, (point, ready) in enumerate(kill_points.items()):
        run = LakeRun(env)
        run.kill_when(ready)
        if n:  # every run after a crash clears the crashed one, in one line, and goes on
            assert any("had crashed" in line for line in run.lines), (point, run.lines)
        assert value() in (25.3, 26.3), point  # old or new, never torn
        if point == "mid-write":
            assert staging_dir(db).exists()  # the killed writer's leftovers
        if point == "after the write":
            assert value() == 26.3

    final = LakeRun(env)
    assert final.finish() == 0, "\n".join(final.lines)
    cleared = [line for line in final.lines if "had crashed" in line]
    assert len(cleared) == 1 and "freed its duckdb_writer slot" in cleared[0], final.lines
    assert any(line.startswith("lake run ") and ": succeeded in " in line for line in final.lines)
    assert value() == 26.3
    assert not staging_dir(db).exists()
    assert not list(data.glob("*.wal"))
