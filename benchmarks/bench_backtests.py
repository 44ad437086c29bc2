"""Time the issue-10 marts on the lake's own warehouse and on generated inputs.

    EMERGENCE_MIRROR=../shared/mirror .venv/bin/python benchmarks/bench_backtests.py [--rows 100000]

Reads `results_with_scale` from data/emergence.duckdb (run `make run` first), then builds a
generated lake of `--rows` result rows (benchmarks/synthetic_lake.py) and prints, for each, the
wall and CPU seconds of: the rule (compute_emergence), the resampled uncertainty + changepoint
(add_uncertainty: sequential stopping, up to REPLICATES per series), and the backtests (predictions + backtests).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from marts.backtests import backtests, pc_scores, predictions
from marts.emergent_scale import INPUT_COLUMNS, compute_emergence, emergence_points
from marts.uncertainty import REPLICATES, add_uncertainty
from sources.obsscaling import fetch_obsscaling
from sources.paths import duckdb_path


def _timed(label: str, call):
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    print(
        f"  {label:<34} {time.perf_counter() - wall:6.2f} s wall {time.process_time() - cpu:6.2f} s CPU"
    )
    return out


def run(results: pl.DataFrame, scores: pl.DataFrame | None, name: str) -> None:
    print(f"{name}: {results.height:,} result rows")
    emergence = _timed("rule (compute_emergence)", lambda: compute_emergence(results))
    points = _timed("points (emergence_points)", lambda: emergence_points(results))
    with_uncertainty, _ = _timed(
        f"uncertainty + changepoint (R<={REPLICATES})", lambda: add_uncertainty(emergence, points)
    )
    predicted = _timed("backtest predictions (4 methods)", lambda: predictions(points, scores))
    table = _timed("backtests table", lambda: backtests(predicted, emergence))
    print(
        f"  {emergence.height:,} series, {with_uncertainty['confidence'].count():,} resampled, "
        f"{table.height:,} backtests; replicates per resampled series: mean "
        f"{with_uncertainty['replicates'].mean():.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    scores = pc_scores(fetch_obsscaling()["benchmark"])
    with duckdb.connect(str(duckdb_path()), read_only=True) as con:
        lake = con.execute(
            f"SELECT {', '.join(INPUT_COLUMNS)} FROM results_with_scale WHERE final_checkpoint IS NOT FALSE"
        ).pl()
    run(lake, scores, "the lake's warehouse")
    from benchmarks.synthetic_lake import write_synthetic_literature
    from sources.literature import read_literature
    from sources.staging import stage_lake

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "literature"
        write_synthetic_literature(directory, args.rows, seed=3)
        staged = stage_lake(read_literature(directory))
        results = staged.results_with_scale().select(INPUT_COLUMNS)
    run(results, None, "generated")


if __name__ == "__main__":
    main()
