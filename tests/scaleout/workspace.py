"""The code location loaded in this process, as the daemon and the webserver see it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

from sources.paths import PROJECT_ROOT

LOCATION = "emergence_lake"


@contextmanager
def lake_workspace(instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="assets.definitions", working_directory=str(PROJECT_ROOT)),
        location_name=LOCATION,
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as context:
        yield context


def repository(context: WorkspaceProcessContext):
    location = context.create_request_context().get_code_location(LOCATION)
    (repo,) = location.get_repositories().values()
    return repo
