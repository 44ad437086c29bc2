"""lm-evaluation-harness results: the Pythia authors' pinned evals and the drop-in folder.

`lmeval_files` reads and checks every file (sources/lmeval.py) and hands its frames to
`staged_lake`, whose blocking checks gate the warehouse as for every other source;
`lmeval_examples` writes the v0.4 per-sample logs once the warehouse tables are written.
"""

from dataclasses import dataclass

import dagster as dg

from assets.metadata import table_metadata
from assets.resources import Warehouse
from assets.warehouse import WRITER_POOL
from checks.validation import Problem, ValidationError
from sources.lmeval import (
    COMMIT,
    LmEvalTables,
    catalogue_only,
    dropin_dir,
    read_dropin,
    read_lmeval,
    read_pinned,
)
from sources.remote import ChecksumMismatch, RemoteUnavailable
from warehouse.store import ensure_schema, replace_rows, transaction


@dataclass(frozen=True)
class LmEvalFetch:
    """The source's frames, or why there are none: unavailable (only the task catalogue; the
    warehouse keeps its lm-eval rows) or problems (the warehouse is not written)."""

    tables: LmEvalTables | None
    unavailable_reason: str | None = None
    problems: tuple[Problem, ...] = ()


@dg.asset(
    group_name="raw",
    description=(
        f"lm-evaluation-harness results JSON: the Pythia authors' evals/ at {COMMIT[:7]} (Pythia "
        "standard/deduped × checkpoints, OPT, BLOOM; each file verified against "
        "sources/pinned/pythia_evals.sha256, read from EMERGENCE_MIRROR when set) and any lm-eval "
        "output dropped into sources/lm_eval_results/ ($EMERGENCE_LMEVAL). Task names mapped by "
        "sources/lmeval_tasks.yaml, model scale from sources/suites.yaml."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            "lmeval_available",
            asset="lmeval_files",
            description="The pinned Pythia evals could be had and match their pinned sha256.",
        )
    ],
    code_version="1",
)
def lmeval_files(context: dg.AssetExecutionContext):
    try:
        files = read_pinned() + read_dropin()
        fetched = LmEvalFetch(read_lmeval(files))
    except (RemoteUnavailable, ChecksumMismatch) as error:
        context.log.error(str(error))
        fetched = LmEvalFetch(catalogue_only(), unavailable_reason=str(error))
    except ValidationError as error:
        fetched = LmEvalFetch(None, problems=tuple(error.problems))
    tables = fetched.tables
    yield dg.Output(
        fetched,
        metadata={
            "files": tables.files if tables else 0,
            "results_rows": tables.results.height if tables else 0,
            "examples_rows": tables.examples.height if tables else 0,
            "problems": len(fetched.problems),
            "dropin_folder": str(dropin_dir()),
        },
    )
    yield dg.AssetCheckResult(
        check_name="lmeval_available",
        passed=fetched.unavailable_reason is None,
        severity=dg.AssetCheckSeverity.ERROR,
        description=fetched.unavailable_reason or "verified",
        metadata={
            "what_to_do": "set EMERGENCE_MIRROR to a mirror directory (e.g. ../shared/mirror) or go "
            "online; a checksum mismatch means the upstream bytes changed. lm-eval rows already "
            "in the warehouse are kept."
        },
    )


@dg.asset(
    group_name="warehouse",
    deps=["results"],
    description="lm-evaluation-harness v0.4 per-sample logs: prediction, correctness and the gold answer's log-likelihood per example, to re-score a result later.",
    metadata=table_metadata("lmeval_examples"),
    kinds={"duckdb"},
    pool=WRITER_POOL,
    code_version="1",
)
def lmeval_examples(warehouse: Warehouse, lmeval_files: LmEvalFetch) -> dg.MaterializeResult:
    if lmeval_files.tables is None or not lmeval_files.tables.complete:
        return dg.MaterializeResult(metadata={"written": False})  # previous rows kept
    frame = lmeval_files.tables.examples
    with warehouse.get_connection() as con:
        ensure_schema(con)
        with transaction(con):
            replace_rows(con, "lmeval_examples", frame)
    return dg.MaterializeResult(metadata={"dagster/row_count": frame.height, "written": True})


LMEVAL_ASSETS = [lmeval_files, lmeval_examples]
