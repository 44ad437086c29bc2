"""Prediction backtests: could the emergence have been predicted from the smaller models?"""

from datetime import date

import dagster as dg
import polars as pl

from assets.automation import FOLLOWS_UPSTREAM
from assets.metadata import table_metadata
from assets.raw import RemoteFetch
from assets.resources import Warehouse
from assets.warehouse import WRITER_POOL
from marts.backtests import (
    PREDICTION_COLUMNS,
    backtest_summary,
    backtests,
    pc_scores,
    predictions,
)
from marts.emergent_scale import INPUT_COLUMNS, STANDARD, emergence_points
from marts.forecasts import FORECAST_KEY, GRADE_SQL, new_forecasts
from marts.forecasts import forecasts as make_forecasts
from warehouse.store import ensure_schema, read_frame, replace_rows, transaction

GROUP = "emergence"


@dg.asset(
    group_name=GROUP,
    deps=["emergence"],
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "Backtests of four ways to predict the larger models of every series from the smaller half: "
        "a line in log-scale, a sigmoid with its floor at the random level, ObsScaling's sigmoid "
        "over principal components of standard benchmarks, and the best value so far (no skill). "
        "Tables `predictions` (every model, every method, with a band) and `backtests` (held-out "
        "mean absolute error and the implied emergent model vs the observed one)."
    ),
    metadata=table_metadata("backtests"),
    kinds={"duckdb", "numpy"},
    pool=WRITER_POOL,
    code_version="1",
)
def prediction_backtests(
    context: dg.AssetExecutionContext, warehouse: Warehouse, obsscaling_files: RemoteFetch
) -> dg.MaterializeResult:
    scores = None
    if obsscaling_files.paths is not None and "benchmark" in obsscaling_files.paths:
        scores = pc_scores(obsscaling_files.paths["benchmark"])
    else:
        context.log.warning(
            "ObsScaling's benchmark file is unavailable: no obsscaling_pc backtests"
        )
    with warehouse.get_connection() as con:
        ensure_schema(con)
        # Backtests fit standard-prompting series only (marts/backtests.py `split`), whose points
        # read no other prompt's rows: the other rows are not read at all.
        results = read_frame(
            con,
            f"SELECT {', '.join(INPUT_COLUMNS)} FROM results_with_scale "
            "WHERE final_checkpoint IS NOT FALSE AND prompting = ?",
            [STANDARD],
        )
        emergence = read_frame(con, "SELECT * FROM emergence")
        predicted = predictions(emergence_points(results), scores)
        table = backtests(predicted, emergence)
        with transaction(con):
            replace_rows(con, "predictions", predicted.select(PREDICTION_COLUMNS))
            replace_rows(con, "backtests", table)
    summary = backtest_summary(table)
    context.log.info(f"backtests: {summary.to_dicts()}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.height,
            "predictions": predicted.height,
            **{
                f"mae_{row['method']}": float(row["mae"])
                for row in summary.iter_rows(named=True)
                if row["mae"] is not None
            },
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=["emergence"],
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "Pre-registered forecasts: for every registry model not yet evaluated, each method's "
        "prediction on its tasks from the smaller models of its family, stored once with the date "
        "it was made; when the model's fresh results arrive, the forecast is graded (observed, "
        "abs_error, graded_on)."
    ),
    metadata=table_metadata("forecasts"),
    kinds={"duckdb", "numpy"},
    pool=WRITER_POOL,
    code_version="1",
)
def forecasts(
    context: dg.AssetExecutionContext, warehouse: Warehouse, model_registry: pl.DataFrame
) -> dg.MaterializeResult:
    today = date.today()
    # A forecast reads only the series of the registry's families (a series and its baseline
    # prompt share the family): at a million result rows, a few thousand rows instead of all.
    families = sorted(model_registry["family"].drop_nulls().unique().to_list())
    with warehouse.get_connection() as con:
        ensure_schema(con)
        results = read_frame(
            con,
            f"SELECT {', '.join(INPUT_COLUMNS)} FROM results_with_scale "
            "WHERE final_checkpoint IS NOT FALSE AND list_contains(?::VARCHAR[], family)",
            [families],
        )
        evaluated = set(
            read_frame(con, "SELECT DISTINCT model_id FROM results WHERE origin = 'fresh'")[
                "model_id"
            ].to_list()
        )
        models = read_frame(con, "SELECT model_id, params, train_flops FROM models")
        stored = read_frame(con, f"SELECT {', '.join(FORECAST_KEY)} FROM forecasts")
        made = make_forecasts(emergence_points(results), model_registry, models, evaluated, today)
        fresh = new_forecasts(made, stored)
        with transaction(con):
            replace_rows(con, "forecasts", fresh, where="FALSE")  # append: never replace
            con.execute(GRADE_SQL, [today])
        counts = con.execute("SELECT count(*), count(observed) FROM forecasts").fetchone()
    context.log.info(f"forecasts: {fresh.height} new, {counts[0]} stored, {counts[1]} graded")
    return dg.MaterializeResult(
        metadata={"new": fresh.height, "stored": counts[0], "graded": counts[1]}
    )
