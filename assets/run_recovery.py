"""A crashed run never blocks the next one.

A run killed with kill -9 stays STARTED and keeps the `duckdb_writer` slot its writing step had
claimed, so the next run's writer would wait for it forever. Dagster's run monitoring cannot see
such a run: the default run launcher has no health check, and `make run` (execute_in_process)
goes through no launcher at all. Dagster does record each run's process id (the engine event
"Executing steps in process (pid: N)", or the launcher's "Started process ... (pid: N)"), and
`make run` also tags its runs with its pid from the start. So when `make run` or `make dev`
starts, runs whose processes are all gone are marked failed and their pool slots freed.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

PID_TAG = "emergence/pid"

_LIVE = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def process_start_time(pid: int) -> float | None:
    """When process `pid` started (Unix time, Linux /proc), or None when no live process has it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (command)"; fields[0] is field 3
    if fields[0] in ("Z", "X"):  # a zombie has finished; only its exit status is left
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def process_alive(pid: int, *, seen_at: float) -> bool:
    """Whether the process recorded as `pid` at time `seen_at` still runs (not a reused pid)."""
    if Path("/proc/self/stat").exists():
        started = process_start_time(pid)
        return started is not None and started <= seen_at + 1.0
    try:  # no /proc: a live pid is the best we know
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recorded_pids(instance: dg.DagsterInstance, record: dg.RunRecord) -> list[tuple[int, float]]:
    """(pid, when it was recorded) of every process the run said it ran in."""
    run = record.dagster_run
    pids = []
    if run.tags.get(PID_TAG, "").isdigit():
        pids.append((int(run.tags[PID_TAG]), record.create_timestamp.timestamp()))
    events = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=50
    ).records
    for event in events:
        metadata = event.event_log_entry.dagster_event.event_specific_data.metadata or {}
        pid = getattr(metadata.get("pid"), "value", None)
        if pid is not None and str(pid).isdigit():
            pids.append((int(pid), event.event_log_entry.timestamp))
    return pids


def _held_pools(instance: dg.DagsterInstance) -> dict[str, list[str]]:
    """run id -> the pools it holds a slot in."""
    storage = instance.event_log_storage
    held: dict[str, list[str]] = {}
    if not storage.supports_global_concurrency_limits:
        return held
    for pool in sorted(storage.get_concurrency_keys()):
        for slot in storage.get_concurrency_info(pool).claimed_slots:
            held.setdefault(slot.run_id, []).append(pool)
    return held


def clear_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark runs whose processes are gone failed, free their slots; one line for each."""
    lines = []
    held = _held_pools(instance)
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=_LIVE)):
        pids = recorded_pids(instance, record)
        if not pids or any(process_alive(pid, seen_at=at) for pid, at in pids):
            continue  # running, or nothing to judge by (left to Dagster's run monitoring)
        run = record.dagster_run
        listed = ", ".join(sorted({str(pid) for pid, _ in pids}))
        instance.report_run_failed(run, f"its process (pid {listed}) is gone: killed or crashed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        pools = held.pop(run.run_id, [])
        freed = f", freed its {' and '.join(pools)} slot" if pools else ""
        lines.append(
            f"run {run.run_id[:8]} had crashed (pid {listed} gone): marked it failed{freed}"
        )
    for run_id, pools in held.items():  # slots still held by runs that have ended
        record = instance.get_run_record_by_id(run_id)
        if record is None or record.dagster_run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            lines.append(f"run {run_id[:8]} had ended holding {' and '.join(pools)}: freed it")
    return lines


def pool_holders(instance: dg.DagsterInstance, pool: str) -> list[str]:
    """'run 1a2b3c4d (step emergence)' for each live slot of `pool`: who a waiting step waits for."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    return [
        f"run {slot.run_id[:8]} (step {slot.step_key})"
        for slot in storage.get_concurrency_info(pool).claimed_slots
    ]
