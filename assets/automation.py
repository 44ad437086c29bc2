"""When the marts follow their inputs: one automation condition for every downstream asset.

Dagster's `eager()` waits until *every* partition of every upstream asset exists, so one failed or
not-yet-evaluated registry model would stop `emergence` and the charts from ever following a
finished evaluation. `FOLLOWS_UPSTREAM` is `eager()` without that wait: a new materialisation of
any upstream partition makes the asset due (still never while an upstream run is in progress).
"""

import dagster as dg

FOLLOWS_UPSTREAM = dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
)

emergence_automation = dg.AutomationConditionSensorDefinition(
    "emergence_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Follows finished work only: when a registry evaluation (or `make run`) has written the "
        "warehouse, requests `emergence` and then the charts (FOLLOWS_UPSTREAM in "
        "assets/automation.py). It never starts an evaluation or a source download."
    ),
)
