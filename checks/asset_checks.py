"""The validation rules as Dagster asset checks.

Blocking checks on `staged_lake` gate the warehouse: if one fails, `warehouse_tables` does not
run and the warehouse keeps its previous contents. Each failed check's description is the
problem lines themselves (file, row, column, found, expected), so `make run` and the UI show
what to fix; its metadata lists more of them.
"""

import dagster as dg

from assets.raw import RemoteFetch
from checks.rules import FLOPS_6ND_FACTOR, flops_flags
from checks.validation import Problem, problem_lines
from sources.staging import StagedLake

MAX_IN_METADATA = 200  # the UI's list goes further than the terminal's


def _result(
    problems: list[Problem], *, passed_text: str, severity=dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    """The description IS the problem lines (one per line, capped with "… and N more"): `make
    run` prints a failed check's description as it is, so the terminal shows what to fix."""
    if not problems:
        return dg.AssetCheckResult(
            passed=True, severity=severity, description=passed_text, metadata={"problems": 0}
        )
    listed = problem_lines(problems, limit=MAX_IN_METADATA)
    return dg.AssetCheckResult(
        passed=False,
        severity=severity,
        description="\n".join(problem_lines(problems)),
        metadata={
            "problems": len(problems),
            "details": dg.MetadataValue.md("\n".join(f"- {line}" for line in listed)),
        },
    )


@dg.asset_check(
    asset="staged_lake",
    blocking=True,
    description="Every cell has the documented type, range and required provenance (pandera schemas, polars backend); keys are unique; source files parse.",
)
def schemas_hold(staged_lake: StagedLake) -> dg.AssetCheckResult:
    return _result(
        staged_lake.problems_of("schema", "parse"), passed_text="all tables match their schemas"
    )


@dg.asset_check(
    asset="staged_lake",
    blocking=True,
    description="Every result's model is a known model and its task/metric a declared task metric.",
)
def references_known(staged_lake: StagedLake) -> dg.AssetCheckResult:
    return _result(
        staged_lake.problems_of("references"),
        passed_text="every result names a known model, task and metric",
    )


@dg.asset_check(
    asset="staged_lake",
    blocking=True,
    description="Values are in their metric's declared unit (fraction converted to percent) and within its range.",
)
def units_and_ranges(staged_lake: StagedLake) -> dg.AssetCheckResult:
    return _result(
        staged_lake.problems_of("units"),
        passed_text="every value is in its metric's unit and range",
    )


@dg.asset_check(
    asset="staged_lake",
    blocking=True,
    description="Task catalogue, random levels, Table 1 links and FLOPs bases are consistent.",
)
def catalogue_consistent(staged_lake: StagedLake) -> dg.AssetCheckResult:
    return _result(staged_lake.problems_of("catalogue"), passed_text="catalogue is consistent")


@dg.asset_check(
    asset="staged_lake",
    blocking=False,
    description=f"Stated training FLOPs within a factor {FLOPS_6ND_FACTOR:g} of 6·N·D where tokens are known (a warning: flagged models are kept, with flops_consistent = false).",
)
def flops_match_6nd(staged_lake: StagedLake) -> dg.AssetCheckResult:
    return _result(
        flops_flags(staged_lake.models),
        passed_text="all checkable FLOPs agree with 6·N·D",
        severity=dg.AssetCheckSeverity.WARN,
    )


@dg.asset_check(
    asset="obsscaling_files",
    blocking=False,
    description="The ObsScaling files could be had (cache, EMERGENCE_MIRROR or network) and match their pinned sha256.",
)
def obsscaling_available(obsscaling_files: RemoteFetch) -> dg.AssetCheckResult:
    if obsscaling_files.paths is not None:
        return dg.AssetCheckResult(passed=True, description="verified")
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=obsscaling_files.unavailable_reason,
        metadata={
            "what_to_do": "set EMERGENCE_MIRROR to a mirror directory (e.g. ../shared/mirror) or go online; ObsScaling rows already in the warehouse are kept"
        },
    )


ASSET_CHECKS = [
    schemas_hold,
    references_known,
    units_and_ranges,
    catalogue_consistent,
    flops_match_6nd,
    obsscaling_available,
]
