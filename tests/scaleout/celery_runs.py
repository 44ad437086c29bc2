"""Evaluation partitions run by Celery workers (deploy/celery/): start workers, launch one run per
partition through the instance's run launcher, wait, and read step times back from the event log.

Plain functions (no pytest), shared by tests/scaleout/test_celery_workers.py and
benchmarks/bench_workers.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository

from assets.definitions import defs
from assets.evaluations import EVALUATION_JOB
from sources.paths import PROJECT_ROOT

WORKER_CONFIG = PROJECT_ROOT / "deploy" / "celery" / "celery.yaml"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _path_with_celery() -> str:
    """PATH with the folder of the `celery` command (`dagster-celery worker start` runs it)."""
    import celery

    folders = [Path(sys.executable).parent, Path(celery.__file__).resolve().parents[1] / "bin"]
    return os.pathsep.join([*(str(f) for f in folders if f.is_dir()), os.environ.get("PATH", "")])


@contextmanager
def celery_workers(count: int, log_dir: Path) -> Iterator[list[Path]]:
    """`count` workers, one task at a time each (`--pool solo`: one evaluation per GPU);
    they read DAGSTER_HOME, EMERGENCE_* and the broker from this process's environment."""
    env = {**os.environ, "PATH": _path_with_celery()}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    log_dir.mkdir(parents=True, exist_ok=True)
    workers, logs = [], []
    for index in range(count):
        log = log_dir / f"worker{index}.log"
        logs.append(log)
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from dagster_celery.cli import main; main()",
                    "worker",
                    "start",
                    "-A",
                    "dagster_celery.app",
                    "-y",
                    str(WORKER_CONFIG),
                    "-q",
                    "dagster",
                    "-n",
                    f"worker{index}",
                    "--",
                    "--pool",
                    "solo",
                    f"--logfile={log}",
                ],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # stop each worker and its celery child together
            )
        )
    try:
        yield logs
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


def wait_for_workers(instance: dg.DagsterInstance, count: int, timeout: float = 90) -> None:
    app = instance.run_launcher.celery
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=1.0)) >= count:
            return
    raise TimeoutError(f"{count} Celery workers did not answer within {timeout} s")


def launch_evaluations(instance: dg.DagsterInstance, partitions: list[str]) -> list[str]:
    """One `evaluate_model` run per partition, handed to the run launcher (a Celery task each),
    as the daemon does for the runs the `new_models` sensor requests."""
    origin = (
        ReconstructableRepository.for_module(
            "assets.definitions", "defs", working_directory=str(PROJECT_ROOT)
        )
        .get_reconstructable_job(EVALUATION_JOB)
        .get_python_origin()
    )
    job = defs.resolve_job_def(EVALUATION_JOB)
    run_ids = []
    for partition in partitions:
        run = instance.create_run_for_job(
            job_def=job, job_code_origin=origin, tags={"dagster/partition": partition}
        )
        instance.launch_run(run.run_id, workspace=None)
        run_ids.append(run.run_id)
    return run_ids


def wait_for_runs(instance: dg.DagsterInstance, run_ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(instance.get_run_by_id(r).status in FINISHED for r in run_ids):
            return
        time.sleep(0.5)
    states = {r[:8]: instance.get_run_by_id(r).status.value for r in run_ids}
    raise TimeoutError(f"runs not finished after {timeout} s: {states}")


@dataclass(frozen=True)
class StepSpan:
    run_id: str
    step: str
    start: float
    end: float


def step_spans(instance: dg.DagsterInstance, run_ids: list[str]) -> list[StepSpan]:
    """Start and end time of every step, from the events the workers wrote to the instance."""
    spans = []
    ends = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    for run_id in run_ids:
        starts: dict[str, float] = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[event.step_key] = entry.timestamp
            elif event.event_type in ends:
                spans.append(
                    StepSpan(run_id, event.step_key, starts[event.step_key], entry.timestamp)
                )
    return spans


def most_at_once(spans: list[StepSpan]) -> int:
    """The largest number of these steps running at the same moment."""
    edges = sorted([(s.start, 1) for s in spans] + [(s.end, -1) for s in spans])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak
