"""`make run`: materialise the whole lake in one process and say where the results are.

Runs the `lake` job on the instance in DAGSTER_HOME (so the run shows in `make dev`'s UI), then
prints the warehouse path, the charts gallery and any failed checks. Exits non-zero when a step or
an ERROR-severity check failed, after everything that could build has built.
"""

import sys
import time

import dagster as dg

from assets.definitions import defs
from sources.paths import charts_dir, duckdb_path


def main() -> int:
    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    job = defs.resolve_job_def("lake")
    # The console shows warnings and errors only; every event is in the run's log in the UI.
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(instance=instance, run_config=quiet, raise_on_error=False)
    elapsed = time.perf_counter() - started
    failed_checks = [
        evaluation
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
        and not (evaluation := event.event_specific_data).passed
    ]
    failed_steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    print()
    print(
        f"lake run {result.run_id[:8]}: {'succeeded' if result.success else 'FAILED'} in {elapsed:.1f} s"
    )
    print(f"  warehouse: {duckdb_path()}")
    print(f"  charts:    {charts_dir() / 'index.html'}")
    for step in failed_steps:
        print(f"  failed step: {step}")
    for evaluation in failed_checks:
        print(
            f"  failed check ({evaluation.severity.value}): {evaluation.asset_check_key.name} "
            f"on {evaluation.asset_check_key.asset_key.to_user_string()}: {evaluation.description}"
        )
    errors = [e for e in failed_checks if e.severity == dg.AssetCheckSeverity.ERROR]
    return 0 if result.success and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
