"""The `new_models` sensor ticked the way the daemon ticks it, for the registry and hub tests."""

from __future__ import annotations

import dagster as dg

from assets.definitions import defs
from assets.evaluations import EVALUATION_JOB, new_models


class Sensor:
    """Ticks the sensor the way the daemon does: same instance, cursor carried over."""

    def __init__(self, instance: dg.DagsterInstance | None = None):
        self.instance = instance or dg.DagsterInstance.ephemeral()
        self.cursor = None

    def tick(self):
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = new_models(context)
        self.cursor = context.cursor
        for request in getattr(result, "dynamic_partitions_requests", None) or []:
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, request.partition_keys
            )
        return result

    def launch(self, request: dg.RunRequest, status=dg.DagsterRunStatus.STARTED) -> dg.DagsterRun:
        """The run the daemon would create for `request`, in `status` (not executed)."""
        return self.instance.create_run_for_job(
            defs.resolve_job_def(EVALUATION_JOB),
            status=status,
            tags={**request.tags, "dagster/partition": request.partition_key},
        )

    def succeed(self, result) -> None:
        """The runs the daemon would launch for `result`, reported successful (not executed)."""
        for request in result.run_requests:
            self.launch(request, dg.DagsterRunStatus.SUCCESS)
