"""Warehouse layer: the staged lake written to DuckDB, all tables in one transaction."""

import dagster as dg

from assets.metadata import table_metadata
from assets.resources import Warehouse
from checks.validation import ValidationError, raise_if_any
from sources.staging import StagedLake
from warehouse.store import ensure_schema, replace_rows, table_counts, transaction

GROUP = "warehouse"
WRITER_POOL = "duckdb_writer"  # DuckDB allows one writer: every writing step shares this pool

TABLE_DESCRIPTIONS = {
    "models": "One row per model: family, parameters, training tokens and FLOPs with their basis (published, printed by Wei, 6·N·D estimate, missing) and the 6·N·D consistency flag.",
    "tasks": "The task catalogue: suite, the paper's figure panel, preferred metric, and the paper's task where this one is a close variant.",
    "task_metrics": "Each task's metrics with their ONE unit, direction and random-chance level (with its source, or why it is unknown).",
    "results": "Long format: one row per model x task x setting x prompting x metric, value in the metric's unit, origin (literature | obsscaling | fresh) and provenance (citation + table/section, or evaluation run).",
    "table1": "Wei et al. (2022) Table 1 as printed: 23 emergent abilities with reported scale (the 'Many BIG-Bench tasks' row kept, is_numeric = false) and the lake's curve for each where it has one.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            group_name=GROUP,
            description=description,
            deps=["staged_lake"],
            metadata=table_metadata(name),
            kinds={"duckdb"},
        )
        for name, description in TABLE_DESCRIPTIONS.items()
    ],
    ins={"staged_lake": dg.AssetIn()},
    pool=WRITER_POOL,
)
def warehouse_tables(
    context: dg.AssetExecutionContext, warehouse: Warehouse, staged_lake: StagedLake
):
    """Replace the staged sources' rows in one transaction; fresh evaluation rows are kept."""
    try:
        raise_if_any(list(staged_lake.problems))  # defence in depth: the blocking checks run first
    except ValidationError as error:
        raise dg.Failure(description=str(error)) from error
    origins = list(staged_lake.origins)  # the sources present; absent ones keep their rows
    with warehouse.get_connection() as con:
        ensure_schema(con)
        with transaction(con):
            for name in ("tasks", "task_metrics", "table1"):
                replace_rows(con, name, staged_lake.table(name))
            for name in ("models", "results"):
                replace_rows(
                    con,
                    name,
                    staged_lake.table(name),
                    where="origin IN (SELECT unnest(?))",
                    params=[origins],
                )
        counts = table_counts(con)
    if "obsscaling" not in origins:
        context.log.warning(
            "ObsScaling unavailable: its rows already in the warehouse were kept as they were."
        )
    for name in TABLE_DESCRIPTIONS:
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={"dagster/row_count": counts[name], "replaced_origins": ", ".join(origins)},
        )
