"""Which registry models the `new_models` sensor requests now: attempts, backoff, runs in flight.

Dagster-free: the sensor passes the registry, its cursor, the runs it found and the time. A model
counts as evaluated when a run at its current revision *succeeded*; a failed or cancelled run is
retried after a backoff (10 min, then 20 min), at most MAX_ATTEMPTS runs per revision; nothing is
requested while any run for the model is in flight, or while a run just requested has not
started yet.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Literal

IN_FLIGHT = frozenset({"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING", "MANAGED"})
FAILED = frozenset({"FAILURE", "CANCELED"})
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 600.0  # after the first failed run; doubles after each further one
LAUNCH_GRACE_SECONDS = 300.0  # a requested run that has not appeared by then counts as lost

State = Literal["evaluated", "running", "requested", "waiting", "gave_up", "request"]


@dataclass(frozen=True)
class RunSeen:
    """One run of a model's partition, as the instance reports it."""

    revision: str | None  # the registry revision the sensor tagged it with; None = started by hand
    status: str  # DagsterRunStatus value
    ended: float | None = None  # unix time the run ended


@dataclass(frozen=True)
class Attempts:
    """The sensor's memory of one model (its cursor entry)."""

    revision: str
    requested: int = 0  # runs requested at this revision
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
    model_id: str, revision: str, memory: Attempts | None, runs: list[RunSeen], now: float
) -> Decision:
    """What to do about one registry model at `now`."""
    memory = memory if memory is not None and memory.revision == revision else Attempts(revision)
    mine = [r for r in runs if r.revision == revision]
    if memory.evaluated or any(r.status == "SUCCESS" for r in mine):
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


def plan(
    registry: list[tuple[str, str]],
    cursor: dict[str, Attempts],
    runs: dict[str, list[RunSeen]],
    now: float,
) -> tuple[list[Decision], dict[str, Attempts]]:
    """One decision per registry (model id, revision); the new cursor (registry models only)."""
    decisions = [
        decide(model_id, revision, cursor.get(model_id), runs.get(model_id, []), now)
        for model_id, revision in registry
    ]
    return decisions, {d.model_id: d.attempts for d in decisions}


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _clock(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


def summary(decisions: list[Decision]) -> str:
    """The truth in one line, e.g. '5 registry models: 3 evaluated, 1 running, pythia-12b-deduped
    failed twice — retry after 12:40'."""
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
        f"{d.model_id} failed {_times(d.attempts.requested)}, given up (bump its revision to retry)"
        for d in by_state.get("gave_up", [])
    ]
    if "request" in by_state:
        parts.append("requesting " + ", ".join(d.model_id for d in by_state["request"]))
    return f"{len(decisions)} registry models: " + (", ".join(parts) or "nothing to do")


def cursor_from_json(data: dict) -> dict[str, Attempts]:
    """Cursor entries; anything unreadable (e.g. an older cursor format) is forgotten."""
    cursor = {}
    for model_id, entry in data.items():
        if isinstance(entry, dict):
            try:
                cursor[model_id] = Attempts(**entry)
            except TypeError:
                continue
    return cursor


def cursor_to_json(cursor: dict[str, Attempts]) -> dict:
    return {model_id: asdict(entry) for model_id, entry in sorted(cursor.items())}
