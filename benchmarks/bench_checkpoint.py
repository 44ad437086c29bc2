"""What checkpointing finished batches costs an evaluation (sources/evaluation/checkpoint.py).

    EMERGENCE_MIRROR=../shared/mirror .venv/bin/python benchmarks/bench_checkpoint.py

Builds an untrained GPT-2 (4 layers, width 256: batches take milliseconds on a CPU, so the
per-batch file write weighs as much as it ever will), then evaluates the same examples with the
result cache and its checkpoints on (a fresh data directory each time) and off, and prints the
time spent inside `Checkpoint.write_batch` against the evaluation time. bench_eval.py (the speed
comparison with lm-eval) runs with the cache off, so its figures exclude this cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="arithmetic/2_digit_addition")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--token-budget", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("EMERGENCE_DEVICE", "cpu")

    import torch

    from sources.bigbench import load_task
    from sources.evaluation import checkpoint as checkpoint_module
    from sources.evaluation import toy_models
    from sources.evaluation.engine import evaluate
    from sources.evaluation.model import ModelSpec, load_model

    work = Path(tempfile.mkdtemp(prefix="bench-checkpoint-"))
    os.environ["EMERGENCE_DATA"] = str(work / "data")
    texts = [e.input + " " + " ".join(e.targets) for e in load_task(args.task).examples[:500]]
    tokenizer = toy_models.build_tokenizer(texts, vocab_size=1000)
    model = toy_models.build_model(
        "gpt2", len(tokenizer), layers=4, width=256, eos_token_id=tokenizer.eos_token_id
    )
    spec = ModelSpec("toy", str(toy_models.save(model, tokenizer, work / "model")))
    loaded = load_model(spec)

    writes: list[float] = []
    real_write = checkpoint_module.Checkpoint.write_batch

    def timed_write(self, *a, **k):  # noqa: ANN001, ANN002, ANN003
        start = time.perf_counter()
        real_write(self, *a, **k)
        writes.append(time.perf_counter() - start)

    checkpoint_module.Checkpoint.write_batch = timed_write
    options = {"shots": 2, "limit": args.limit, "token_budget": args.token_budget, "model": loaded}
    evaluate(spec, args.task, **{**options, "limit": 4}, use_cache=False)  # warm-up
    on, off, shares = [], [], []
    for repeat in range(args.repeats):
        os.environ["EMERGENCE_DATA"] = str(work / f"data-{repeat}")  # no cache hit, no checkpoint
        writes.clear()
        run = evaluate(spec, args.task, **options, use_cache=True)
        on.append(run.stats.eval_seconds)
        shares.append(sum(writes) / run.stats.eval_seconds)
        batches = len(writes)
        off.append(evaluate(spec, args.task, **options, use_cache=False).stats.eval_seconds)
    print(
        f"{args.task}, {args.limit} examples, token budget {args.token_budget}, "
        f"{torch.get_num_threads()} torch threads, {batches} checkpointed batches per run"
    )
    print(f"eval with checkpoints    median {statistics.median(on):.3f} s  (runs {on})")
    print(f"eval without (no cache)  median {statistics.median(off):.3f} s  (runs {off})")
    print(
        f"time inside write_batch: median {100 * statistics.median(shares):.2f}% of the eval "
        f"({1000 * sum(writes) / max(1, len(writes)):.2f} ms per batch in the last run)"
    )


if __name__ == "__main__":
    main()
