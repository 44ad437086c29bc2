"""The lake runner frees each step's output once stored (assets/uncaptured_run.py, issue 8)."""

from __future__ import annotations

import gc
import weakref

import dagster as dg
import pytest

from assets import uncaptured_run
from assets.uncaptured_run import execute_uncaptured


class Payload:
    """Stands in for a large output; a weak reference tells whether anything still holds it."""


def _job_and_refs():
    refs: list[weakref.ref] = []

    @dg.asset(io_manager_key="mem")
    def big() -> Payload:
        payload = Payload()
        refs.append(weakref.ref(payload))
        return payload

    @dg.asset(io_manager_key="mem")
    def small(big: Payload) -> int:
        return 1

    class ForgetfulIOManager(dg.IOManager):
        """Stores a marker, not the value (as the lake's IO managers write files)."""

        def handle_output(self, context, obj):
            pass

        def load_input(self, context):
            return Payload()

    defs = dg.Definitions(
        assets=[big, small],
        jobs=[dg.define_asset_job("both", selection="*")],
        resources={"mem": ForgetfulIOManager()},
    )
    return defs.resolve_job_def("both"), refs


def test_plain_execute_in_process_keeps_outputs():
    """The reason for the module: Dagster's own call holds every output to the end."""
    job, refs = _job_and_refs()
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    gc.collect()
    assert result.success and refs[0]() is not None


def test_uncaptured_run_frees_outputs_and_keeps_events():
    job, refs = _job_and_refs()
    result = execute_uncaptured(job, instance=dg.DagsterInstance.ephemeral())
    gc.collect()
    assert result.success
    assert refs[0]() is None
    steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert steps == {"big", "small"}
    # the patch is undone after the call
    assert job.execute_in_process(instance=dg.DagsterInstance.ephemeral()).success
    from dagster._core.execution import execute_in_process as module

    assert module.core_execute_in_process.__name__ == "core_execute_in_process"


def test_without_the_switch_it_warns_and_runs_as_before(monkeypatch):
    monkeypatch.setattr(uncaptured_run, "FLAG", "no_such_argument")
    job, refs = _job_and_refs()
    with pytest.warns(UserWarning, match="step outputs stay in memory"):
        result = execute_uncaptured(job, instance=dg.DagsterInstance.ephemeral())
    assert result.success
