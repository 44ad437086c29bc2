"""`make run`: materialise the whole lake in one process and say what happened.

Runs the `lake` job on the lake's instance ($EMERGENCE_DATA/dagster, so the run shows in
`make dev`'s UI). First clears runs that crashed (their pool slots would block this one), then
prints one line per step as it starts and, at the end, an honest summary: the headline says
"succeeded" only when the exit status is 0; failed checks list their problems (file, row,
column, found, expected) indented under them; a failed step shows its message, not Dagster's
stack trace (that stays in the run's log in the UI). When nothing the lake reads or writes has
changed since the last successful run, it says so and stops (assets/run_fingerprint.py).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from assets import run_fingerprint
from assets.instance import lake_instance
from assets.run_recovery import PID_TAG, clear_dead_runs, pool_holders
from assets.uncaptured_run import execute_uncaptured
from sources.paths import charts_dir, duckdb_path

INDENT = "      "
SHOWN_SKIPPED = 3
# Stated once in the summary, so not as they happen.
SUMMARISED = {
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_SKIPPED,
    dg.DagsterEventType.RUN_FAILURE,
}


class TerminalHandler(logging.Handler):
    """Progress on the terminal: a line per step start, warnings, and who a waiting step waits for.

    Failures are left out here: the summary states them once, without stack traces.
    """

    def __init__(self, started: float, holders: Callable[[str], list[str]], out=None):
        super().__init__(logging.DEBUG)
        self.started = started
        self.holders = holders
        self.out = out or sys.stdout

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", {}) or {}
        event = meta.get("dagster_event")
        kind = event.event_type if event is not None else None
        step = meta.get("step_key") or ""
        line = None
        if kind == dg.DagsterEventType.STEP_START:
            line = f"  {time.perf_counter() - self.started:5.1f} s  {step}"
        elif kind == dg.DagsterEventType.ENGINE_EVENT:
            pool = (event.event_specific_data.metadata or {}).get("pool")
            if pool is not None and event.message.startswith("Step blocked"):
                pool = getattr(pool, "value", str(pool))
                who = ", ".join(self.holders(pool)) or "another run"
                line = f"  {step} waits for the {pool} pool, held by {who}"
        elif record.levelno >= logging.WARNING and kind not in SUMMARISED:
            text = (meta.get("orig_message") or record.getMessage()).strip()
            if text.startswith("Dependencies for step"):
                return  # the summary lists the steps that did not run
            line = f"  warning ({step or 'run'}): {text.splitlines()[0] if text else ''}"
        if line:
            print(line, file=self.out, flush=True)


def terminal_logger(handler: logging.Handler) -> dg.LoggerDefinition:
    @dg.logger(description="make run's terminal: progress and warnings, no stack traces")
    def _terminal(_init_context) -> logging.Logger:
        logger = logging.getLogger(f"emergence_lake.terminal.{id(handler)}")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.handlers = [handler]
        return logger

    return _terminal


@dataclass
class RunSummary:
    """What the run did, read from its events: enough for the summary and the exit status."""

    run_id: str
    run_failed: bool = False
    failed_steps: dict[str, str] = field(default_factory=dict)  # step -> message
    skipped_steps: list[str] = field(default_factory=list)  # planned, never started
    failed_checks: list = field(default_factory=list)  # AssetCheckEvaluation

    @classmethod
    def of(cls, result: dg.ExecuteInProcessResult, planned: list[str]) -> RunSummary:
        summary = cls(result.run_id, run_failed=not result.success)
        started = set()
        for event in result.all_events:
            kind = event.event_type
            if kind == dg.DagsterEventType.STEP_START:
                started.add(event.step_key)
            elif kind == dg.DagsterEventType.STEP_FAILURE:
                failure = event.event_specific_data
                if not _is_blocking_check_failure(failure):  # the failed check says it all
                    summary.failed_steps[event.step_key] = failure_message(failure)
            elif (
                kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION
                and not event.event_specific_data.passed
            ):
                summary.failed_checks.append(event.event_specific_data)
        summary.skipped_steps = [step for step in planned if step not in started]
        summary.failed_checks.sort(key=lambda c: c.severity != dg.AssetCheckSeverity.ERROR)
        return summary

    @property
    def errors(self) -> list:
        return [c for c in self.failed_checks if c.severity == dg.AssetCheckSeverity.ERROR]

    @property
    def exit_code(self) -> int:
        return 1 if self.run_failed or self.failed_steps or self.errors else 0

    def headline(self, elapsed: float) -> str:
        """The first line; "succeeded" exactly when the exit status is 0."""
        head = f"lake run {self.run_id[:8]}"
        if self.exit_code == 0:
            return f"{head}: succeeded in {elapsed:.1f} s"
        unavailable = [c for c in self.errors if c.asset_check_key.name.endswith("_available")]
        if (
            not self.failed_steps
            and not self.skipped_steps
            and unavailable
            and unavailable == self.errors
        ):
            names = ", ".join(
                f"{c.asset_check_key.asset_key.to_user_string()} ({c.asset_check_key.name} failed)"
                for c in unavailable
            )
            return (
                f"{head}: INCOMPLETE in {elapsed:.1f} s: unavailable: {names}; "
                "the rest built, and their rows already in the warehouse were kept"
            )
        parts = []
        if self.failed_steps:
            parts.append(f"{len(self.failed_steps)} step(s) failed")
        if self.errors:
            parts.append(f"{len(self.errors)} check(s) failed")
        if self.skipped_steps:
            parts.append(f"{len(self.skipped_steps)} step(s) not run")
        return f"{head}: FAILED in {elapsed:.1f} s: {', '.join(parts)}"

    def lines(self, elapsed: float) -> list[str]:
        lines = [self.headline(elapsed)]
        lines.append(f"  warehouse: {duckdb_path()}")
        lines.append(f"  charts:    {charts_dir() / 'index.html'}")
        for step, message in self.failed_steps.items():
            first, *rest = message.splitlines() or [""]
            lines.append(f"  failed step {step}: {first}")
            lines.extend(f"{INDENT}{line}" for line in rest)
        for check in self.failed_checks:
            key = check.asset_check_key
            lines.append(
                f"  failed check ({check.severity.value}): {key.name} on "
                f"{key.asset_key.to_user_string()}:"
            )
            lines.extend(f"{INDENT}{line}" for line in problem_lines(check))
        if self.skipped_steps:
            shown = ", ".join(self.skipped_steps[:SHOWN_SKIPPED])
            more = len(self.skipped_steps) - SHOWN_SKIPPED
            lines.append(
                f"  not run, as what they need failed: {shown}"
                + (f" and {more} more" if more > 0 else "")
                + "; the warehouse keeps its previous contents"
            )
        return lines


def problem_lines(check) -> list[str]:
    """The check's description, one problem a line; from its `details` while it only counts them."""
    lines = (check.description or "").splitlines()
    details = check.metadata.get("details")
    if details is not None and len(lines) <= 1:
        listed = [d.removeprefix("- ").strip() for d in str(details.value).splitlines()]
        listed = [d for d in listed if d and d not in lines]
        return lines + listed
    return lines


def _is_blocking_check_failure(failure) -> bool:
    return failure.error is not None and failure.error.cls_name == "DagsterAssetCheckFailedError"


def failure_message(failure) -> str:
    """A failed step's own message: a Failure's description, else the user error without stack."""
    if failure.user_failure_data is not None and failure.user_failure_data.description:
        return failure.user_failure_data.description
    error = failure.error
    while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause  # Dagster's wrapper -> the exception the asset raised
    if error is None:
        return "failed (see the run's log in the UI)"
    return f"{error.message.strip()}\n(the traceback is in the run's log: `make dev`, Runs)"


def main() -> int:
    started = time.perf_counter()
    if not run_fingerprint.forced() and (last := run_fingerprint.unchanged_since()) is not None:
        print(
            f"lake unchanged since run {last['run_id'][:8]} ({last['finished']}): nothing to do "
            f"in {time.perf_counter() - started:.1f} s; {run_fingerprint.FORCE_VARIABLE}=1 runs "
            "it anyway"
        )
        print(f"  warehouse: {duckdb_path()}")
        print(f"  charts:    {charts_dir() / 'index.html'}")
        return 0
    run_fingerprint.forget()
    inputs = run_fingerprint.inputs_fingerprint()
    instance = lake_instance()
    for line in clear_dead_runs(instance):
        print(line, flush=True)
    run_id = str(uuid.uuid4())  # known before the run starts: its first line names it
    print(f"lake run {run_id[:8]} (instance {instance.root_directory})", flush=True)
    handler = TerminalHandler(started, lambda pool: pool_holders(instance, pool))
    job = lake_job().with_logger_defs({"console": terminal_logger(handler)})
    result = execute_uncaptured(  # outputs freed once stored (assets/uncaptured_run.py)
        job,
        instance=instance,
        run_config={"loggers": {"console": {}}},  # loggers not named here fall back to Dagster's
        run_id=run_id,
        tags={PID_TAG: str(os.getpid())},
        raise_on_error=False,
    )
    plan = instance.get_execution_plan_snapshot(result.dagster_run.execution_plan_snapshot_id)
    summary = RunSummary.of(result, plan.step_keys_to_execute)
    print()
    for line in summary.lines(time.perf_counter() - started):
        print(line)
    if summary.exit_code == 0:
        run_fingerprint.remember(run_id, inputs, time.strftime("%Y-%m-%d %H:%M:%S"))
    return summary.exit_code


def lake_job() -> dg.JobDefinition:
    from assets.definitions import defs  # loads every asset: after the instance is set up

    return defs.resolve_job_def("lake")


if __name__ == "__main__":
    sys.exit(main())
