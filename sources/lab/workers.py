"""Train and evaluate ladder sizes in parallel worker processes (`make lab` on several cores).

Each worker is a fresh (spawned) process that trains and evaluates one size at a time on the
ladder's fixed thread count, so the weights are the ones a single process would produce (the
determinism test compares the hashes). Sizes are handed out largest first, so the long ones
start early and the small ones fill the gaps. The parent writes to the warehouse: only one
process ever holds it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

import polars as pl

from sources.lab.config import LadderConfig


def train_and_evaluate(config: LadderConfig, size: str) -> tuple[dict, pl.DataFrame, pl.DataFrame]:
    """One size: trained (or a cache hit) and every kept checkpoint evaluated."""
    import torch

    from sources.lab.ladder import evaluate_size, train

    if config.device == "cpu":
        torch.set_num_threads(config.threads)
    manifest = train(config, size, show_progress=False)
    results, examples = evaluate_size(config, manifest)
    return manifest, results, examples


def largest_first(config: LadderConfig, sizes: list[str]) -> list[str]:
    """Sizes by decreasing layers x width² (the parameters outside the embeddings)."""
    return sorted(sizes, key=lambda name: -config.size(name).layers * config.size(name).width ** 2)


def run_sizes(
    config: LadderConfig, sizes: list[str], jobs: int
) -> Iterator[tuple[dict, pl.DataFrame, pl.DataFrame]]:
    """(manifest, results, examples) per size as each finishes, `jobs` sizes at a time."""
    from sources.lab.ladder import prepare

    prepare(config)  # the tokenizer is built and saved once, before the workers read it
    if jobs <= 1:
        for size in sizes:
            yield train_and_evaluate(config, size)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [
            pool.submit(train_and_evaluate, config, size) for size in largest_first(config, sizes)
        ]
        for future in as_completed(futures):
            yield future.result()
