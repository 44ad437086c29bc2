"""`python -m sources.lab [LADDER]` (`make lab`): train, evaluate and store a whole ladder, then
print the lake's emergence rows for it, write its charts and say how long it all took.

Sizes already trained with the same size hash, and evaluations already in the engine's cache,
are cache hits. Options: `--sizes s1,s2` (a subset), `--jobs N` (sizes trained and evaluated at
once, each in its own process on the ladder's thread count; default 2, one per core of the
reference machine), `--no-charts`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import polars as pl

from checks.validation import ValidationError
from sources.lab.config import ladder_path, read_ladder
from sources.lab.ladder import lab_emergence, ladder_file_label, model_row, write_size
from sources.lab.workers import run_sizes
from sources.paths import duckdb_path
from warehouse.store import connect, ensure_schema, replace_rows, transaction


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sources.lab", description=__doc__)
    parser.add_argument("ladder", nargs="?", default="default", help="name or path of a ladder")
    parser.add_argument("--sizes", default="", help="comma-separated subset of sizes")
    parser.add_argument("--jobs", type=int, default=2, help="sizes trained at once (processes)")
    parser.add_argument("--no-charts", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        config = read_ladder(args.ladder)
    except ValidationError as error:
        print(error, file=sys.stderr)
        return 1
    sizes = [s for s in args.sizes.split(",") if s] or config.size_names
    label = ladder_file_label(ladder_path(args.ladder))
    print(f"ladder {config.name}: family {config.family}, sizes {sizes}")
    with connect(duckdb_path()) as con:
        ensure_schema(con)
        catalogue = con.execute("SELECT count(*) FROM task_metrics").fetchone()[0]
    if not catalogue:
        print("the warehouse has no task catalogue yet: run `make run` first", file=sys.stderr)
        return 1
    manifests = []
    for manifest, results, examples in run_sizes(config, sizes, args.jobs):
        if not manifests:
            print(f"corpus overlap check: {manifest['overlap']}")
        with connect(duckdb_path()) as con:  # held only while writing: training takes minutes
            counts = write_size(con, model_row(config, manifest, label), results, examples)
        print(
            f"{manifest['model_id']}: {manifest['params']:,} parameters, "
            f"{manifest['tokens_seen']:,} tokens, trained in {manifest['train_seconds']:.0f} s "
            f"(cache hit: {manifest['cache_hit']}), written {counts}",
            flush=True,
        )
        manifests.append(manifest)
    manifests.sort(key=lambda m: m["params"])
    with connect(duckdb_path()) as con:
        emergence = lab_emergence(con, config.family)
        with transaction(con):
            replace_rows(con, "emergence", emergence, where="family = ?", params=[config.family])
        results = con.execute(
            "SELECT * FROM results_with_scale WHERE family = ?", [config.family]
        ).pl()
        if not args.no_charts:
            from marts.lab_charts import published_curves

            published = published_curves(con, list(config.evaluation.tasks))
    with pl.Config(tbl_rows=40, tbl_cols=8, fmt_str_lengths=40, tbl_width_chars=160):
        print(
            emergence.select(
                "task_id",
                "shots",
                "metric",
                "classification",
                "emergent_model_id",
                "emergent_flops",
                "breakthroughness",
            )
        )
    if not args.no_charts:
        from marts.lab_charts import write_lab_charts

        paths = write_lab_charts(results, manifests, config.family, published)
        print(f"charts: {sorted(str(p) for p in paths)}")
    load = os.getloadavg()
    print(
        f"lab ladder {config.name}: {len(sizes)} sizes trained + evaluated in "
        f"{time.perf_counter() - started:.1f} s (load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
