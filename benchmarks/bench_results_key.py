"""What the results key costs a warehouse write: declared PRIMARY KEY vs checked on write.

    .venv/bin/python benchmarks/bench_results_key.py [--rows 1000000]

Each variant runs in a child process of its own (so its peak RSS is its own): a fresh DuckDB
file with the lake's schema, N result rows (as warehouse_tables writes them: an Arrow frame
inserted BY NAME in one transaction), then CHECKPOINT. Variants:

    declared  schema.sql plus `ALTER TABLE results ADD PRIMARY KEY (...)` (the schema before)
    none      the insert alone, no key at all (the floor)
    checked   `replace_rows` as the lake calls it: warehouse/store.py's `check_key`, then insert

Prints wall seconds, CPU seconds (user + system) and peak RSS of each child.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VARIANTS = ("declared", "none", "checked")


def results_frame(rows: int):
    """N distinct result rows with the shape of generated literature (text keys, provenance)."""
    import duckdb

    return duckdb.sql(
        f"""
        SELECT 'family-' || (range % 97) || '-model-' || (range % 1013) AS model_id,
               'suite/task_' || (range // 1013 % 400) AS task_id,
               (range % 4)::INTEGER AS shots,
               CASE WHEN range % 5 = 0 THEN 'chain_of_thought' ELSE 'standard' END AS prompting,
               (range % 4) || '-shot, variant ' || (range // 405200) AS setting,
               'exact_str_match' AS metric, random() * 100 AS value, 'percent' AS unit,
               NULL::INTEGER AS n_examples, 'literature' AS origin,
               'Synthetic et al. (2022), paper ' || (range % 61) AS citation,
               'Table ' || (range % 9) AS location,
               'results/paper_' || (range % 61) || '.csv' AS source_file,
               range % 3 = 0 AS in_wei_figure, 'high' AS trust, NULL::VARCHAR AS note
        FROM range({int(rows)})
        """
    ).pl()


def child(variant: str, rows: int) -> None:
    import duckdb
    import polars as pl

    from warehouse.store import CHECKED_KEYS, ensure_schema, replace_rows, transaction

    frame = results_frame(rows)
    with tempfile.TemporaryDirectory() as folder:
        con = duckdb.connect(str(Path(folder) / "w.duckdb"))
        ensure_schema(con)
        if variant == "declared":
            con.execute(
                f"ALTER TABLE results ADD PRIMARY KEY ({', '.join(CHECKED_KEYS['results'])})"
            )
        before = os.times()
        started = time.perf_counter()
        with transaction(con):
            if variant == "checked":
                replace_rows(con, "results", frame)
            else:
                # handed over as replace_rows does (string views, no copy): only the key differs
                con.register("_incoming", frame.to_arrow(compat_level=pl.CompatLevel.newest()))
                con.execute("INSERT INTO results BY NAME SELECT * FROM _incoming")
        con.execute("CHECKPOINT")
        after = os.times()
        wall = time.perf_counter() - started
        cpu = after.user + after.system - before.user - before.system
        count = con.execute("SELECT count(*) FROM results").fetchone()[0]
        con.close()
    print(f"{wall:.2f} {cpu:.2f} {count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.variant:
        child(args.variant, args.rows)
        return
    print(f"{args.rows:,} result rows, load average {os.getloadavg()[0]:.1f}")
    for variant in VARIANTS:
        process = subprocess.Popen(
            [sys.executable, __file__, "--variant", variant, "--rows", str(args.rows)],
            stdout=subprocess.PIPE,
            text=True,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall, cpu, count = process.stdout.read().split()
        process.stdout.close()
        print(
            f"  {variant:<9} insert + commit + checkpoint: {float(wall):6.2f} s wall, "
            f"{float(cpu):6.2f} s CPU; child peak RSS {usage.ru_maxrss / 1024:6.0f} MB "
            f"({int(count):,} rows){'' if status == 0 else '  FAILED'}"
        )


if __name__ == "__main__":
    main()
