"""Running a job in this process without keeping every step's output in memory until it ends.

`JobDefinition.execute_in_process` keeps each step's return value in a dict, so that a test can
ask the result for it afterwards. The lake never asks, and its outputs are large: at a million
result rows the curated tables (~0.5 GB), the staged lake, and the Arrow files memory-mapped
under them all stayed resident to the end of the run, ~1 GB of the 2.7 GB peak (issue 8,
benchmarks/README.md). With capture off, a value lives until its IO manager has stored it and its
step has ended; consumers load it from storage, as they do under any other executor.

Dagster exposes no switch for this: its own `execute_in_process` passes
`output_capturing_enabled=True` to `core_execute_in_process`, a private function. We run the
public method with that one argument turned off. Should a Dagster upgrade rename either, the
run still goes ahead with capture on (more memory, same result) and says so in a warning.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

FLAG = "output_capturing_enabled"


@contextmanager
def _capture_off() -> Iterator[bool]:
    """While inside, `execute_in_process` keeps no output values; yields whether that holds."""
    try:
        from dagster._core.execution import execute_in_process as module

        original = module.core_execute_in_process
        patchable = FLAG in inspect.signature(original).parameters
    except (ImportError, AttributeError):
        patchable = False
    if not patchable:
        warnings.warn(
            f"this Dagster ({dg.__version__}) has no {FLAG} switch where expected: step outputs "
            "stay in memory until the run ends",
            stacklevel=3,
        )
        yield False
        return

    def uncaptured(*args: Any, **kwargs: Any):
        return original(*args, **{**kwargs, FLAG: False})

    module.core_execute_in_process = uncaptured
    try:
        yield True
    finally:
        module.core_execute_in_process = original


def execute_uncaptured(job: dg.JobDefinition, **kwargs: Any) -> dg.ExecuteInProcessResult:
    """`job.execute_in_process(**kwargs)`, keeping no step's output value after it is stored.

    The result has every event, run and step status; `output_for_node` / `output_value` have
    nothing to return.
    """
    with _capture_off():
        return job.execute_in_process(**kwargs)
