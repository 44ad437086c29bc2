"""Overall progress of one model's evaluation: examples done / total across every task, with an ETA.

The engine reports progress per task and stage (`progress(stage, done, total)`); a run over seven
tasks (one of them composite, with its own subtasks) needs one figure for the whole run, so the
total is counted before the first task starts. Examples answered from the cache count as done
but not towards the speed, so the ETA is not flattered by cache hits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

ProgressCallback = Callable[[str, int, int], None]


def count_examples(task_ids: Sequence[str], limit: int | None, seed: int = 0) -> dict[str, int]:
    """Examples each task will evaluate (composite tasks: the sum over their subtasks)."""
    from sources.bigbench import load_task
    from sources.evaluation.engine import select_examples

    counts = {}
    for task_id in task_ids:
        task = load_task(task_id)
        leaves = [load_task(sub) for sub in task.subtask_ids] if task.is_composite else [task]
        counts[task_id] = sum(len(select_examples(leaf, limit, seed)) for leaf in leaves)
    return counts


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


class OverallProgress:
    """Feeds the engine's per-task callbacks into one running count, logged every `step`."""

    def __init__(
        self,
        label: str,
        totals: dict[str, int],
        log: Callable[[str], None],
        *,
        step: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.totals, self.log, self.clock = label, totals, log, clock
        self.total = sum(totals.values())
        self.step = max(1, int(self.total * step))
        self.completed = 0  # examples of finished tasks
        self.task_id: str | None = None
        self.leaf_base = self.leaf_done = 0
        self.leaf_total: int | None = None
        self.scored = 0  # examples scored by the model in this run (not from the cache)
        self.started: float | None = None  # first scoring callback
        self.next_log = 0

    @property
    def done(self) -> int:
        in_task = self.leaf_base + self.leaf_done
        if self.task_id is not None:
            in_task = min(in_task, self.totals.get(self.task_id, in_task))
        return self.completed + in_task

    def callback(self, task_id: str) -> ProgressCallback:
        """The `progress` argument for evaluating `task_id`."""
        self.task_id, self.leaf_base, self.leaf_done, self.leaf_total = task_id, 0, 0, None

        def progress(stage: str, done: int, total: int) -> None:
            if stage != "score":  # decoding the examples scoring could not settle: same examples
                return
            if self.started is None:
                self.started = self.clock()
            if done == 0 and self.leaf_total is not None:  # the next subtask of a composite task
                self.leaf_base += self.leaf_total
                self.leaf_done = 0
            if done == 0:
                self.leaf_total = total
            self.scored += max(0, done - self.leaf_done)
            self.leaf_done = done
            if self.done >= self.next_log:
                self.log(self.line())
                self.next_log = self.done + self.step

        return progress

    def task_done(self, task_id: str) -> None:
        self.completed += self.totals.get(task_id, 0)
        self.task_id, self.leaf_base, self.leaf_done, self.leaf_total = None, 0, 0, None
        self.log(self.line(finished=task_id))
        self.next_log = self.done + self.step

    def line(self, finished: str | None = None) -> str:
        done, total = self.done, self.total
        percent = 100.0 * done / total if total else 100.0
        text = f"{self.label}: {done:,}/{total:,} examples ({percent:.0f}%) across {len(self.totals)} task{'s' if len(self.totals) != 1 else ''}"
        text += f"; finished {finished}" if finished else f"; now {self.task_id}"
        elapsed = self.clock() - self.started if self.started is not None else 0.0
        if self.scored and elapsed > 0:
            rate = self.scored / elapsed
            text += f"; {rate:.1f} examples/s, ETA {_duration((total - done) / rate)}"
        elif done < total:
            text += "; ETA after the first batch"
        return text
