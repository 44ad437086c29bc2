"""Re-scoring at scale: N synthetic examples in the eval_examples layout -> seconds.

Builds an in-memory warehouse (warehouse/schema.sql) with `--examples` rows (default 1M) spread
over `--runs` evaluation runs: half generative (1-4 digit targets, per-token log-probabilities,
an end log-probability, an answer that is right, one digit off, or another number), half multiple
choice (4 options with target scores). Then times `marts.rescore.rescore` (every re-scored metric,
character edit distance: no tokenizer) and the transactional write, on `--threads` threads
(DuckDB and polars; the default 2 matches the shared 2-core machine). Prints one JSON line.

    .venv/bin/python benchmarks/bench_rescore.py --examples 1000000 --threads 2

Issue 10's budget: 1M examples in under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def build(con, n: int, runs: int) -> None:
    """Synthetic runs and examples, generated inside DuckDB (deterministic: hash-based)."""
    per_run = n // runs
    con.execute(
        "INSERT INTO models (model_id, family, label, flops_basis, origin, source) "
        "SELECT 'm' || i, 'Synthetic', 'm' || i, 'missing', 'registry', 'bench' FROM range(?) t(i)",
        [runs],
    )
    con.execute(
        """INSERT INTO results (model_id, task_id, shots, prompting, setting, metric, value, unit,
               origin, citation, location, source_file, in_wei_figure)
           SELECT 'm' || i, CASE WHEN i % 2 = 0 THEN 'gen' ELSE 'mc' END, 0, 'standard', '0-shot',
                  'exact_str_match', 50, 'percent', 'fresh', 'emergence-lake engine 0.1.0',
                  'run r' || i || ' config c', 'bench', false
           FROM range(?) t(i)""",
        [runs],
    )
    con.execute(
        """INSERT INTO eval_examples BY NAME
           WITH base AS (
               SELECT i, i // ? AS run, hash(i) AS h FROM range(?) t(i)
           ), shaped AS (
               SELECT *, run % 2 = 0 AS gen, CAST(1 + h % 4 AS BIGINT) AS n_tokens,
                      CAST(h % 10000 AS VARCHAR) AS target,
                      -0.05 - (h % 97) / 40.0 AS lp_token
               FROM base
           )
           SELECT 'r' || run AS run_id, 'm' || run AS model_id,
                  CASE WHEN gen THEN 'gen' ELSE 'mc' END AS task_id, 0 AS shots,
                  i AS example_idx, 'h' || h AS prompt_hash, target,
                  CASE WHEN h % 3 = 0 THEN target WHEN h % 3 = 1 THEN target || '1'
                       ELSE CAST(h % 977 AS VARCHAR) END AS prediction,
                  h % 3 = 0 AS correct,
                  lp_token * n_tokens AS target_logprob, n_tokens AS target_tokens,
                  CASE WHEN gen THEN NULL ELSE
                      [lp_token, -1.0 - (h % 5) / 3.0, -2.0, -0.5 - (h % 7) / 5.0] END
                      AS choice_logprobs,
                  list_transform(range(n_tokens), k -> lp_token) AS target_token_logprobs,
                  CASE WHEN gen THEN -0.1 - (h % 13) / 10.0 END AS end_logprob,
                  CASE WHEN gen THEN NULL ELSE [1.0, 0.0, 0.0, 0.0] END AS choice_scores,
                  false AS truncated
           FROM shaped""",
        [per_run, per_run * runs],
    )


def main() -> None:
    args = _parse()
    os.environ["POLARS_MAX_THREADS"] = str(args.threads)  # before polars is imported
    import duckdb

    from marts.rescore import rescore, write_rescored
    from warehouse.store import ensure_schema, transaction

    con = duckdb.connect()
    con.execute(f"SET threads = {int(args.threads)}")
    ensure_schema(con)
    started = time.perf_counter()
    build(con, args.examples, args.runs)
    built = time.perf_counter() - started
    n = con.execute("SELECT count(*) FROM eval_examples").fetchone()[0]
    started = time.perf_counter()
    rows = rescore(con, tokenizer_loader=None)
    computed = time.perf_counter() - started
    started = time.perf_counter()
    with transaction(con):
        write_rescored(con, rows)
    written = time.perf_counter() - started
    print(
        json.dumps(
            {
                "examples": n,
                "runs": args.runs,
                "threads": args.threads,
                "build_seconds": round(built, 2),
                "rescore_seconds": round(computed, 2),
                "write_seconds": round(written, 3),
                "total_seconds": round(computed + written, 2),
                "result_rows": rows.height,
                "budget_seconds": 30,
            }
        )
    )


if __name__ == "__main__":
    main()
