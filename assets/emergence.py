"""Emergence layer: the emergent scale of every task x family x setting x metric, from the warehouse."""

import dagster as dg

from assets.automation import FOLLOWS_UPSTREAM
from assets.metadata import table_metadata
from assets.resources import Warehouse
from assets.warehouse import WRITER_POOL
from marts.emergent_scale import INPUT_COLUMNS, METHOD, emergence_and_points
from marts.uncertainty import add_uncertainty
from warehouse.store import ensure_schema, read_frame, replace_rows, transaction

GROUP = "emergence"


@dg.asset(
    group_name=GROUP,
    deps=["results", "models", "task_metrics", "table1", "fresh_results", "lab_results"],
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "Per task x family x setting x metric x origin: emergent / smooth / never above random / "
        "too few points / no baseline; the emergent scale as the first model that stays above random "
        "and as an interpolated log-scale crossing (FLOPs and parameters) with its band; "
        "breakthroughness; and Wei et al. Table 1's reported scale beside it with an agreement flag; "
        "from up to 400 binomial resamples (sequential stopping), the probability of each classification, a band for the emergent "
        "scale and a changepoint (hinge) fit with its interval (table emergence_first_model: the "
        "probability that each model is the first that stays above, where it is in some resample). "
        f"Method: {METHOD}."
    ),
    metadata=table_metadata("emergence"),
    kinds={"duckdb", "polars"},
    pool=WRITER_POOL,
    code_version="3",  # issue 8: sequential stopping (replicates column), sparse first-model table
)
def emergence(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        ensure_schema(con)
        # Only the columns the detector reads (every column of a million rows set the peak memory
        # in issue 8), and the size axis holds released models only, never an intermediate
        # training checkpoint (lm-eval); re-scored metrics are judged in `verdicts`, per metric.
        columns = ", ".join(INPUT_COLUMNS)
        results = read_frame(
            con,
            f"SELECT {columns} FROM results_with_scale"
            " WHERE final_checkpoint IS NOT FALSE AND rescored_from_run IS NULL",
        )
        table1 = read_frame(con, "SELECT * FROM table1")
        frame, first_model = add_uncertainty(*emergence_and_points(results, table1))
        with transaction(con):
            replace_rows(con, "emergence", frame)
            replace_rows(con, "emergence_first_model", first_model)
    counts = frame["classification"].value_counts().sort("classification")
    agreements = frame.filter(frame["reported_params"].is_not_null())
    context.log.info(f"emergence: {dict(counts.iter_rows())}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            **{f"n_{row[0]}": row[1] for row in counts.iter_rows()},
            "table1_comparisons": dg.MetadataValue.md(
                _markdown_table(
                    agreements.select(
                        "task_id",
                        "family",
                        "classification",
                        "emergent_model_id",
                        "reported_params",
                        "agrees_with_reported",
                    )
                )
            ),
        }
    )


def _markdown_table(frame) -> str:
    if frame.height == 0:
        return "none"
    header = (
        "| "
        + " | ".join(frame.columns)
        + " |\n| "
        + " | ".join("---" for _ in frame.columns)
        + " |\n"
    )
    rows = (
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
        for row in frame.iter_rows()
    )
    return header + "\n".join(rows)
