"""Claims layer: is emergence real? Re-scored continuous metrics, verdicts and masking charts.

Thin asset bodies; the logic is in marts/rescore.py, marts/verdicts.py and marts/masking_chart.py.
"""

import dagster as dg
import duckdb
import polars as pl

from assets.automation import FOLLOWS_UPSTREAM
from assets.metadata import table_metadata
from assets.resources import Warehouse
from assets.warehouse import WRITER_POOL
from marts.chart_files import inputs_hash, write_chart
from marts.masking_chart import chart_stem, masking_chart
from marts.rescore import (
    RESCORED_METRICS,
    rescore,
    rescore_into,
    same_rows,
    write_rescored,
)
from marts.verdicts import masking_points, verdicts_from_warehouse
from sources.paths import charts_dir
from warehouse.store import ensure_schema, read_frame, replace_rows, transaction

GROUP = "claims"


@dg.asset(
    group_name=GROUP,
    deps=["results", "models", "fresh_results"],
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "Continuous metrics re-scored from stored eval_examples without loading a model "
        f"({', '.join(RESCORED_METRICS)}), written to results with rescored_from_run = the "
        "evaluation run they come from (marts/rescore.py)."
    ),
    kinds={"duckdb", "polars"},
    pool=WRITER_POOL,
    code_version="1",
)
def rescored_metrics(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    # Computed on a read-only connection; a write session (a copy of the warehouse, published on
    # exit) only when the rows differ from those stored: nothing to write costs nothing. Writers
    # share the duckdb_writer pool, so nothing changes the examples between the read and the write.
    try:
        with warehouse.get_connection(read_only=True) as con:
            rows = rescore(con)
            unchanged = same_rows(con, "results", "rescored_from_run IS NOT NULL", rows)
    except duckdb.Error:  # a warehouse from before the re-scoring columns: the write adds them
        rows, unchanged = None, False
    if not unchanged:
        with warehouse.get_connection() as con:
            if rows is None:
                rows = rescore_into(con)
            else:
                ensure_schema(con)
                with transaction(con):
                    write_rescored(con, rows)
    counts = rows.group_by("metric").len().sort("metric")
    context.log.info(f"rescored: {dict(counts.iter_rows())}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows.height,
            "written": not unchanged,
            "runs": rows["rescored_from_run"].n_unique(),
            **{f"n_{metric}": n for metric, n in counts.iter_rows()},
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=["rescored_metrics", "task_metrics"],
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "Per task x family x shots x origin with per-example data: emergent under exact match, "
        "under the continuous metrics, and the verdict persists | metric_artefact | undetermined "
        "with its evidence (marts/verdicts.py)."
    ),
    metadata=table_metadata("verdicts"),
    kinds={"duckdb", "polars"},
    pool=WRITER_POOL,
    code_version="1",
)
def verdicts(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.get_connection(read_only=True) as con:
        frame = verdicts_from_warehouse(con)
        unchanged = same_rows(con, "verdicts", "TRUE", frame)
    if not unchanged:
        with warehouse.get_connection() as con:
            ensure_schema(con)
            with transaction(con):
                replace_rows(con, "verdicts", frame)
    counts = dict(frame["verdict"].value_counts().iter_rows()) if frame.height else {}
    context.log.info(f"verdicts: {counts}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "written": not unchanged,
            **{f"n_{k}": v for k, v in counts.items()},
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=["verdicts"],
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "One 'masking' chart per series with a verdict: exact match and the continuous metrics "
        "against scale, one panel per metric over a shared x axis (data/charts/masking_*.html)."
    ),
    kinds={"altair"},
)
def masking_charts(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.get_connection(read_only=True) as con:
        frame = read_frame(con, "SELECT * FROM verdicts")
        points = masking_points(con, frame)
    written = []
    for row in frame.to_dicts():
        key = (row["task_id"], row["family"], row["shots"], row["origin"])
        series = points.filter(
            (pl.col("task_id") == key[0])
            & (pl.col("family") == key[1])
            & pl.col("shots").eq_missing(key[2])
            & (pl.col("origin") == key[3])
        )
        if series.height == 0:
            continue
        title = f"{row['task_id']}: {row['family']} ({row['origin']}, {row['shots']}-shot)"
        subtitle = f"Verdict: {row['verdict']}. {row['evidence']}"
        x_title = series["x_title"][0]
        files = write_chart(
            lambda s=series, t=title, st=subtitle, x=x_title: masking_chart(s, t, st, x),
            charts_dir(),
            chart_stem(*key),
            key=inputs_hash(series, title, subtitle),
        )
        written.append(files)
    return dg.MaterializeResult(
        metadata={
            "charts": len(written),
            "rendered": sum(f["rendered"] for f in written),
            "files": dg.MetadataValue.md("\n".join(f"- {f['html']}" for f in written) or "none"),
        }
    )


CLAIMS_ASSETS = [rescored_metrics, verdicts, masking_charts]
