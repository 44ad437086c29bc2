"""Pre-registered forecasts: made once, never replaced, graded when fresh results arrive."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from marts.emergent_scale import emergence_points
from marts.forecasts import FORECAST_COLUMNS, GRADE_SQL, forecasts, new_forecasts
from tests.test_emergent_scale import _frame
from warehouse.store import ensure_schema

SIZES = [10.0 ** (8 + i / 2) for i in range(5)]


def _registry(model_id: str, weights: str, params: float | None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [model_id],
            "family": ["F"],
            "weights": [weights],
            "params": [params],
            "train_flops": [None],
            "tasks": [["t"]],
            "shots": [2],
        },
        schema_overrides={"train_flops": pl.Float64, "params": pl.Float64},
    )


def _points() -> pl.DataFrame:
    rows = [
        {"model_id": f"hub/m{i}", "value": 10.0 * (i + 1), "params": p} for i, p in enumerate(SIZES)
    ]
    return emergence_points(_frame(rows))


MODELS = pl.DataFrame({"model_id": ["hub/m4"], "params": [SIZES[4]], "train_flops": [None]})


def test_forecast_uses_only_smaller_models_and_the_hub_ids_scale():
    """The registry entry gives no size: it comes from the models row of its hub id (m4)."""
    made = forecasts(
        _points(), _registry("fresh-m4", "hub/m4", None), MODELS, set(), date(2026, 12, 1)
    )
    assert made.columns == FORECAST_COLUMNS
    line = made.filter(pl.col("method") == "log_linear").row(0, named=True)
    assert line["n_fit"] == 4 and line["scale"] == SIZES[4]
    assert abs(line["predicted"] - 50.0) < 1e-9  # the line through 10..40, one step on
    best = made.filter(pl.col("method") == "best_so_far").row(0, named=True)
    assert best["predicted"] == 40.0  # never saw m4's own 50
    # an evaluated model gets no forecast; one without any known size neither
    assert (
        forecasts(
            _points(), _registry("fresh-m4", "hub/m4", None), MODELS, {"fresh-m4"}, date.today()
        ).height
        == 0
    )
    assert (
        forecasts(
            _points(), _registry("x", "hub/unknown", None), MODELS, set(), date.today()
        ).height
        == 0
    )


def test_a_stored_forecast_is_never_replaced_and_is_graded_on_evaluation():
    made = forecasts(
        _points(), _registry("fresh-m4", "hub/m4", None), MODELS, set(), date(2026, 12, 1)
    )
    con = duckdb.connect()
    ensure_schema(con)
    con.register("made", made.to_arrow())
    con.execute("INSERT INTO forecasts BY NAME SELECT * FROM made")
    stored = con.execute("SELECT * FROM forecasts").pl()
    later = made.with_columns(
        pl.lit(date(2027, 1, 1)).alias("made_on"), pl.lit(99.0).alias("predicted")
    )
    assert new_forecasts(later, stored).height == 0
    con.execute(
        "INSERT INTO results (model_id, task_id, shots, prompting, setting, metric, value, unit, "
        "origin, citation, location, source_file, in_wei_figure) VALUES ('fresh-m4', 't', 2, "
        "'standard', '2-shot', 'exact_str_match', 47.0, 'percent', 'fresh', 'engine', 'run 1', "
        "'run 1', false)"
    )
    con.execute(GRADE_SQL, [date(2026, 12, 5)])
    graded = con.execute(
        "SELECT method, observed, abs_error, graded_on FROM forecasts ORDER BY method"
    ).fetchall()
    assert [g[1] for g in graded] == [47.0] * 3
    assert dict((g[0], g[2]) for g in graded)["best_so_far"] == 7.0
    assert {g[3] for g in graded} == {date(2026, 12, 5)}
