"""Evaluation throughput with 1 vs 2 Celery workers on the same partitions (README, "Past one
machine" -> Honest limits).

Starts PostgreSQL and Redis on 127.0.0.1 (as tests/scaleout does), builds PARTITIONS untrained
tiny GPT-2s (different seeds, so no evaluation is a cache hit), then, for 1 and for 2 workers, on a
fresh instance and data folder each: launches one `evaluate_model` run per partition through the
Celery run launcher and measures wall time from launch to the last run's end. Prints both
throughputs and their ratio. CPU-bound here (the models run on the CPU); with a GPU per worker the
ratio is what more GPUs buy.

    EMERGENCE_MIRROR=../shared/mirror .venv/bin/python benchmarks/bench_workers.py \
        --warehouse data/emergence.duckdb   # after one `make run` (evaluations need task_metrics)

Needs the `scaleout` extra and Debian's postgresql and redis-server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets.evaluations import registry_partitions  # noqa: E402
from assets.instance import lake_instance  # noqa: E402
from tests.scaleout import servers  # noqa: E402
from tests.scaleout.celery_runs import (  # noqa: E402
    celery_workers,
    launch_evaluations,
    wait_for_runs,
    wait_for_workers,
)
from tests.scaleout.conftest import build_tiny_models, registry_yaml, sqlalchemy_url  # noqa: E402


def measure(
    workers: int,
    models: dict[str, Path],
    limit: int,
    pg: str,
    redis: str,
    warehouse: Path,
    root: Path,
) -> float:
    """Seconds from launching every partition's run to the end of the last one."""
    data = root / f"workers-{workers}"
    data.mkdir(parents=True)
    shutil.copy(warehouse, data / "emergence.duckdb")
    (root / f"models-{workers}.yaml").write_text(registry_yaml(models, limit))
    db = servers.create_database(pg, f"bench_{workers}")
    os.environ.update(
        EMERGENCE_DAGSTER_YAML="deploy/celery/dagster.yaml",
        EMERGENCE_DAGSTER_PG_URL=sqlalchemy_url(db),
        EMERGENCE_CELERY_BROKER=f"{redis}/{2 * workers}",
        EMERGENCE_CELERY_BACKEND=f"{redis}/{2 * workers + 1}",
        EMERGENCE_DATA=str(data),
        DAGSTER_HOME=str(data / "dagster"),
        EMERGENCE_REGISTRY=str(root / f"models-{workers}.yaml"),
        EMERGENCE_DEVICE="cpu",
    )
    instance = lake_instance()
    try:
        instance.event_log_storage.set_concurrency_slots("gpu", workers)
        instance.event_log_storage.set_concurrency_slots("duckdb_writer", 1)
        instance.add_dynamic_partitions(registry_partitions.name, list(models))
        with celery_workers(workers, root / f"logs-{workers}"):
            wait_for_workers(instance, workers)
            started = time.perf_counter()
            run_ids = launch_evaluations(instance, list(models))
            wait_for_runs(instance, run_ids, timeout=1200)
            seconds = time.perf_counter() - started
        failed = [r for r in run_ids if instance.get_run_by_id(r).status.value != "SUCCESS"]
        if failed:
            raise SystemExit(f"{len(failed)} run(s) failed with {workers} worker(s): {failed}")
    finally:
        instance.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, default=Path("data/emergence.duckdb"))
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--limit", type=int, default=40, help="examples per partition")
    args = parser.parse_args()
    mirror = os.environ.get("EMERGENCE_MIRROR")
    if not mirror or not args.warehouse.is_file():
        raise SystemExit("set EMERGENCE_MIRROR and pass --warehouse (a warehouse from `make run`)")
    root = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    paths = build_tiny_models(root / "models", args.partitions, Path(mirror))
    models = {f"tiny-{i}": p for i, p in enumerate(paths)}
    with servers.postgres_server() as pg, servers.redis_server() as redis:
        seconds = {
            n: measure(n, models, args.limit, pg, redis, args.warehouse, root) for n in (1, 2)
        }
    shutil.rmtree(root, ignore_errors=True)
    examples = args.partitions * args.limit
    for n, s in seconds.items():
        print(
            f"{n} worker(s): {args.partitions} partitions x {args.limit} examples in {s:.1f} s = {examples / s:.2f} examples/s"
        )
    print(f"2 vs 1 workers: {seconds[1] / seconds[2]:.2f}x the throughput ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
