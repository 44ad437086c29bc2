"""The code location: every asset, check, job, schedule and sensor of the emergence lake.

Nothing here imports torch or transformers: definitions load in a second and the UI starts fast.
"""

import dagster as dg

from assets.automation import emergence_automation
from assets.charts import CHART_ASSETS
from assets.claims import CLAIMS_ASSETS
from assets.emergence import emergence
from assets.evaluations import (
    EVALUATION_ASSETS,
    model_registry,
    new_models,
    registry_job,
    registry_refresh,
)
from assets.frames_io import FRAMES_IO_MANAGER, FramesIOManagerFactory
from assets.lab import LAB_ASSETS, lab_ladder_job, lab_train_job
from assets.lmeval import LMEVAL_ASSETS
from assets.predictions import forecasts, prediction_backtests
from assets.raw import literature_files, obsscaling_files
from assets.resources import Warehouse
from assets.staged import staged_lake
from assets.warehouse import warehouse_tables
from checks.asset_checks import ASSET_CHECKS

LAKE_ASSETS = [
    literature_files,
    obsscaling_files,
    *LMEVAL_ASSETS,
    model_registry,
    staged_lake,
    warehouse_tables,
    emergence,
    prediction_backtests,
    forecasts,
    *CHART_ASSETS,
    *CLAIMS_ASSETS,
]

# The main job: every non-partitioned asset and its checks, in one process (no per-step imports).
lake_job = dg.define_asset_job(
    "lake",
    selection=dg.AssetSelection.assets(*LAKE_ASSETS),
    description="Materialise the whole lake on the embedded defaults: sources -> staged -> warehouse -> emergence -> charts.",
    executor_def=dg.in_process_executor,
)

defs = dg.Definitions(
    assets=[
        *LAKE_ASSETS,
        *[a for a in EVALUATION_ASSETS if a is not model_registry],
        *LAB_ASSETS,
    ],
    asset_checks=ASSET_CHECKS,
    jobs=[lake_job, registry_job, lab_train_job, lab_ladder_job],
    schedules=[registry_refresh],
    sensors=[new_models, emergence_automation],
    resources={"warehouse": Warehouse(), FRAMES_IO_MANAGER: FramesIOManagerFactory()},
    executor=dg.in_process_executor,
)
