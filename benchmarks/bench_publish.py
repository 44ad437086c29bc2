"""What publishing the warehouse costs: a write session (copy, work, checkpoint, fsync, rename)
against the same work done in place, on a warehouse with N result rows (default 1M).

    .venv/bin/python benchmarks/bench_publish.py [--rows 1000000] [--repeat 3]

Prints the file size, the copy alone, and the median time of a small write (one model's rows
replaced, as `fresh_results` does) in place and through a write session.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from warehouse.store import connect, ensure_schema

SMALL_WRITE = (
    "DELETE FROM results WHERE model_id = 'model-7'; "
    "INSERT INTO results BY NAME SELECT 'model-7' AS model_id, 'task-' || (range % 50) AS task_id, "
    "2 AS shots, 'standard' AS prompting, 'fresh ' || range AS setting, 'accuracy' AS metric, "
    "random() * 100 AS value, 'percent' AS unit, 'fresh' AS origin, 'bench' AS citation, "
    "'run bench' AS location, 'bench' AS source_file, false AS in_wei_figure FROM range(1000)"
)


def build(path: Path, rows: int) -> None:
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)
        con.execute(
            "INSERT INTO results BY NAME SELECT 'model-' || (range % 1000) AS model_id, "
            "'task-' || (range // 1000 % 200) AS task_id, range % 6 AS shots, "
            "'standard' AS prompting, 'setting ' || (range // 200000) AS setting, "
            "'accuracy' AS metric, random() * 100 AS value, 'percent' AS unit, "
            "'literature' AS origin, 'Paper ' || (range % 37) || ' et al. 2022' AS citation, "
            "'Table ' || (range % 9) AS location, 'results/paper_' || (range % 37) || '.csv' "
            "AS source_file, range % 3 = 0 AS in_wei_figure, 'high' AS trust, NULL AS note "
            "FROM range(?)",
            [rows],
        )


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "emergence.duckdb"
        build(db, args.rows)
        size_mb = db.stat().st_size / 1e6
        copies, in_place, published = [], [], []
        for _ in range(args.repeat):
            copies.append(timed(lambda: shutil.copyfile(db, db.with_suffix(".copy"))))
            db.with_suffix(".copy").unlink()

            def direct() -> None:
                with duckdb.connect(str(db)) as con:
                    con.execute(SMALL_WRITE)

            def session() -> None:
                with connect(db) as con:
                    con.execute(SMALL_WRITE)

            in_place.append(timed(direct))
            published.append(timed(session))
        copy, plain, publish = (statistics.median(t) for t in (copies, in_place, published))
        print(f"warehouse: {args.rows:,} result rows, {size_mb:.0f} MB")
        print(f"copy of the file:                    {copy:.2f} s")
        print(f"small write in place (old):          {plain:.2f} s")
        print(f"small write as a write session (new): {publish:.2f} s  (+{publish - plain:.2f} s)")


if __name__ == "__main__":
    main()
