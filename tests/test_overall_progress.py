"""One progress figure across every task of an evaluation, fed by the engine's per-task callbacks."""

from __future__ import annotations

from sources.overall_progress import OverallProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_counts_across_tasks_subtasks_and_cache_hits_with_an_eta():
    clock, lines = Clock(), []
    # "arith" is composite: two subtasks of 50 examples; "cached" is answered from the cache
    progress = OverallProgress(
        "m", {"cached": 100, "arith": 100, "qa": 200}, lines.append, step=0.25, clock=clock
    )

    progress.callback("cached")  # a cache hit calls nothing back
    progress.task_done("cached")
    assert progress.done == 100
    assert (
        lines[-1]
        == "m: 100/400 examples (25%) across 3 tasks; finished cached; ETA after the first batch"
    )

    tick = progress.callback("arith")
    tick("score", 0, 50)
    clock.now += 10
    tick("score", 50, 50)
    tick("generate", 0, 7)  # decoding part of the same examples: not counted again
    tick("generate", 7, 7)
    tick("score", 0, 50)  # second subtask
    clock.now += 10
    tick("score", 50, 50)
    assert progress.done == 200
    progress.task_done("arith")
    # 100 examples scored in 20 s (the cached 100 do not count towards the speed): 200 left = 40 s
    assert (
        lines[-1]
        == "m: 200/400 examples (50%) across 3 tasks; finished arith; 5.0 examples/s, ETA 40s"
    )

    tick = progress.callback("qa")
    tick("score", 0, 200)
    clock.now += 20
    tick("score", 100, 200)
    assert lines[-1] == "m: 300/400 examples (75%) across 3 tasks; now qa; 5.0 examples/s, ETA 20s"
    tick("score", 200, 200)
    progress.task_done("qa")
    assert progress.done == progress.total == 400
    assert lines[-1].startswith("m: 400/400 examples (100%) across 3 tasks; finished qa")


def test_logs_in_steps_not_on_every_batch():
    lines: list[str] = []
    progress = OverallProgress("m", {"t": 1000}, lines.append, step=0.1, clock=Clock())
    tick = progress.callback("t")
    tick("score", 0, 1000)
    for done in range(10, 1001, 10):  # 100 batches
        tick("score", done, 1000)
    progress.task_done("t")
    assert 10 <= len(lines) <= 13
