"""How long the lm-eval source takes, step by step, on the pinned Pythia evals (643 JSONs).

    EMERGENCE_MIRROR=../shared/mirror .venv/bin/python benchmarks/bench_lmeval.py

Prints wall and CPU seconds per step: fetch + sha256 check (first from the mirror, then from the
cache), parsing every file, staging (schemas and rules over the whole lake) and the warehouse write
(into an empty warehouse, then replacing the same rows, as every later `make run` does). Runs in a
temporary EMERGENCE_DATA, so the project's data/ is untouched.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def timed(label: str, step: Callable[[], object]) -> object:
    wall, cpu = time.perf_counter(), time.process_time()
    value = step()
    print(
        f"{label:<52} {time.perf_counter() - wall:6.2f} s wall {time.process_time() - cpu:6.2f} s CPU"
    )
    return value


def main() -> None:
    os.environ["EMERGENCE_DATA"] = tempfile.mkdtemp(prefix="bench_lmeval_")
    from sources.literature import read_literature
    from sources.lmeval import read_lmeval, read_pinned
    from sources.obsscaling import fetch_obsscaling, read_obsscaling
    from sources.staging import stage_lake
    from warehouse.store import connect, ensure_schema, replace_rows, transaction

    files = timed("fetch + verify 643 files (mirror -> cache)", read_pinned)
    files = timed("fetch + verify 643 files (from the cache)", read_pinned)
    print(f"  {len(files)} files, {sum(len(f.data) for f in files) / 1e6:.1f} MB")
    tables = timed("parse every file (read_lmeval)", lambda: read_lmeval(files))
    print(f"  {tables.results.height} result rows")
    literature = read_literature()
    obsscaling = read_obsscaling(fetch_obsscaling())
    staged = timed(
        "stage the lake (schemas + rules)",
        lambda: stage_lake(literature, obsscaling, tables, strict=False),
    )

    def write() -> None:
        with connect(Path(os.environ["EMERGENCE_DATA"]) / "bench.duckdb") as con:
            ensure_schema(con)
            with transaction(con):
                for name in ("models", "results"):
                    replace_rows(
                        con,
                        name,
                        staged.table(name),
                        where="origin IN (SELECT unnest(?))",
                        params=[list(staged.origins)],
                    )

    timed("write models + results (empty warehouse)", write)
    timed("write models + results (replacing the same rows)", write)

    # (An INSERT OR REPLACE variant was timed here while results declared a PRIMARY KEY; the key
    # is now checked on write instead (warehouse/store.py check_key), so DELETE + INSERT no
    # longer maintains an index, and INSERT OR REPLACE, which needs one, no longer applies.)


if __name__ == "__main__":
    main()
