"""Which evaluations the `new_models` sensor requests now: attempts, backoff, runs in flight.

Dagster-free: the sensor passes its targets (partition, commit: sources/evaluation_targets.py),
its cursor, the runs it found and the time. A partition counts as evaluated at a commit when a run
at that commit *succeeded*, and the cursor remembers every commit evaluated, so the same
(model, commit) is never requested again, even after the run history is gone; a failed or
cancelled run is retried after a backoff (10 min, then 20 min), at most MAX_ATTEMPTS runs per
commit; nothing is requested while any run for the partition is in flight, or while a run just
requested has not started yet.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Literal

from sources.evaluation_targets import split_partition

IN_FLIGHT = frozenset({"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING", "MANAGED"})
FAILED = frozenset({"FAILURE", "CANCELED"})
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 600.0  # after the first failed run; doubles after each further one
LAUNCH_GRACE_SECONDS = 300.0  # a requested run that has not appeared by then counts as lost

State = Literal["evaluated", "running", "requested", "waiting", "gave_up", "request"]


@dataclass(frozen=True)
class RunSeen:
    """One run of a model's partition, as the instance reports it."""

    revision: str | None  # the commit the sensor tagged it with; None = started by hand
    status: str  # DagsterRunStatus value
    ended: float | None = None  # unix time the run ended


@dataclass(frozen=True)
class Attempts:
    """The sensor's memory of one partition at its current commit (its cursor entry)."""

    revision: str  # the commit
    requested: int = 0  # runs requested at this commit
    last_request: float = 0.0
    evaluated: bool = False


@dataclass(frozen=True)
class Decision:
    model_id: str
    revision: str
    state: State
    attempts: Attempts
    retry_at: float | None = None


def decide(
    model_id: str,
    revision: str,
    memory: Attempts | None,
    runs: list[RunSeen],
    now: float,
    evaluated_before: bool = False,
) -> Decision:
    """What to do about one partition (`model_id`) at one commit (`revision`) at `now`."""
    memory = memory if memory is not None and memory.revision == revision else Attempts(revision)
    mine = [r for r in runs if r.revision == revision]
    if evaluated_before or memory.evaluated or any(r.status == "SUCCESS" for r in mine):
        return Decision(model_id, revision, "evaluated", replace(memory, evaluated=True))
    if any(r.status in IN_FLIGHT for r in runs):
        return Decision(model_id, revision, "running", memory)
    not_started = memory.requested - len(mine)
    if not_started > 0 and now - memory.last_request < LAUNCH_GRACE_SECONDS:
        return Decision(model_id, revision, "requested", memory)
    if memory.requested >= MAX_ATTEMPTS:
        return Decision(model_id, revision, "gave_up", memory)
    if memory.requested > 0:
        last_failure = max(
            [r.ended for r in mine if r.status in FAILED and r.ended] + [memory.last_request]
        )
        retry_at = last_failure + BACKOFF_SECONDS * 2 ** (memory.requested - 1)
        if now < retry_at:
            return Decision(model_id, revision, "waiting", memory, retry_at)
    requested = replace(memory, requested=memory.requested + 1, last_request=now)
    return Decision(model_id, revision, "request", requested)


@dataclass(frozen=True)
class Memory:
    """The whole cursor: attempts at each partition's current commit, and every commit evaluated."""

    attempts: dict[str, Attempts]
    evaluated: dict[str, tuple[str, ...]]


EVALUATED_KEPT = 200  # commits remembered per partition


def plan(
    targets: list[tuple[str, str]],
    memory: Memory,
    runs: dict[str, list[RunSeen]],
    now: float,
) -> tuple[list[Decision], Memory]:
    """One decision per target (partition, commit); the new memory."""
    decisions = [
        decide(
            key,
            commit,
            memory.attempts.get(key),
            runs.get(key, []),
            now,
            commit in memory.evaluated.get(key, ()),
        )
        for key, commit in targets
    ]
    evaluated = dict(memory.evaluated)
    for d in decisions:
        if d.state == "evaluated" and d.revision not in evaluated.get(d.model_id, ()):
            evaluated[d.model_id] = (*evaluated.get(d.model_id, ()), d.revision)[-EVALUATED_KEPT:]
    return decisions, Memory({d.model_id: d.attempts for d in decisions}, evaluated)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _clock(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


def summary(decisions: list[Decision], problems: dict[str, str] | None = None) -> str:
    """The truth in one line, e.g. '5 registry models: 3 evaluated, 1 running, pythia-12b-deduped
    failed twice — retry after 12:40'; checkpoints are counted apart, and every model the hub
    could not resolve is named with why."""
    by_state: dict[str, list[Decision]] = {}
    for d in decisions:
        by_state.setdefault(d.state, []).append(d)
    parts = [
        f"{len(by_state[state])} {words}"
        for state, words in [
            ("evaluated", "evaluated"),
            ("running", "running"),
            ("requested", "requested (run not started yet)"),
        ]
        if state in by_state
    ]
    parts += [
        f"{d.model_id} failed {_times(d.attempts.requested)} — retry after {_clock(d.retry_at)}"
        for d in by_state.get("waiting", [])
        if d.retry_at is not None
    ]
    parts += [
        f"{d.model_id} failed {_times(d.attempts.requested)}, given up (a new commit retries)"
        for d in by_state.get("gave_up", [])
    ]
    if "request" in by_state:
        parts.append("requesting " + ", ".join(d.model_id for d in by_state["request"]))
    problems = problems or {}
    parts += [f"{model_id} not requested: {why}" for model_id, why in sorted(problems.items())]
    models = {split_partition(d.model_id)[0] for d in decisions} | set(problems)
    checkpoints = sum(1 for d in decisions if split_partition(d.model_id)[1])
    head = f"{len(models)} registry model{'s' if len(models) != 1 else ''}"
    head += f" + {checkpoints} checkpoint{'s' if checkpoints != 1 else ''}" if checkpoints else ""
    return f"{head}: " + (", ".join(parts) or "nothing to do")


def cursor_from_json(data: dict) -> Memory:
    """The sensor's memory; anything unreadable (e.g. an older cursor format) is forgotten."""
    attempts = {}
    for key, entry in (data.get("attempts") or {}).items():
        if isinstance(entry, dict):
            try:
                attempts[key] = Attempts(**entry)
            except TypeError:
                continue
    evaluated = {
        key: tuple(str(c) for c in commits)
        for key, commits in (data.get("evaluated") or {}).items()
        if isinstance(commits, list)
    }
    return Memory(attempts, evaluated)


def cursor_to_json(memory: Memory) -> dict:
    return {
        "attempts": {key: asdict(entry) for key, entry in sorted(memory.attempts.items())},
        "evaluated": {key: list(commits) for key, commits in sorted(memory.evaluated.items())},
    }
