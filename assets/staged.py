"""Staged layer: every source in the lake's long format, with every validation problem attached.

The blocking asset checks in checks/asset_checks.py read `problems` and stop the warehouse write.
"""

import dagster as dg

from assets.frames_io import FRAMES_IO_MANAGER
from assets.lmeval import LmEvalFetch
from assets.raw import RemoteFetch
from checks.validation import ValidationError
from sources.literature import LiteratureTables
from sources.obsscaling_post_training import read_obsscaling_with_post_training
from sources.staging import StagedLake, stage_lake

GROUP = "staged"


@dg.asset(
    group_name=GROUP,
    description=(
        "Models, tasks, metrics, results and Table 1 from every available source, normalised to one "
        "long format (one row per model x task x setting x metric, value in the metric's declared "
        "unit, provenance on every row) and checked against the pandera schemas and cross-table "
        "rules. Problems are reported by the blocking checks below, naming file, row and column."
    ),
    code_version="1",
    io_manager_key=FRAMES_IO_MANAGER,  # Arrow IPC, memory-mapped by the checks (assets/frames_io.py)
)
def staged_lake(
    context: dg.AssetExecutionContext,
    literature_files: LiteratureTables,
    obsscaling_files: RemoteFetch,
    lmeval_files: LmEvalFetch,
) -> StagedLake:
    obsscaling = None
    parse_problems = []
    if obsscaling_files.paths is not None:
        try:
            obsscaling = read_obsscaling_with_post_training(obsscaling_files.paths)
        except ValidationError as error:
            parse_problems = error.problems
    # a bad lm-eval file blocks the warehouse like a bad cell in any other source
    parse_problems = [*parse_problems, *lmeval_files.problems]
    staged = stage_lake(
        literature_files,
        obsscaling,
        lmeval_files.tables,
        parse_problems=parse_problems,
        strict=False,
    )
    context.add_output_metadata(
        {
            **{f"rows_{k}": v for k, v in staged.row_counts().items()},
            "problems": len(staged.problems),
            "sources": "literature"
            + (", obsscaling" if obsscaling is not None else " (obsscaling unavailable)"),
        }
    )
    return staged
