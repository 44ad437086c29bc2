"""Where the engine's CPU time goes on the benchmark's generative case, and what a fused GELU would save.

Runs the engine on `--task` (2-shot, `--limit` examples, newline stop, exact match only) with the
benchmark's model under cProfile and prints the most expensive operations; then times the same
evaluation with the model's GPT-2 "new GELU" modules swapped for PyTorch's fused tanh-GELU
(``transformers.activations.PytorchGELUTanh``), alternating, and reports whether the predictions and
target log-probabilities stay the same. The engine itself never swaps modules: this only measures.

    EMERGENCE_MIRROR=../shared/mirror .venv/bin/python benchmarks/profile_gen.py
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sources.evaluation.engine import evaluate  # noqa: E402
from sources.evaluation.model import ModelSpec, load_model  # noqa: E402
from sources.paths import data_dir  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None, help="default: data/bench/gpt2-20m")
    parser.add_argument("--task", default="arithmetic/2_digit_addition")
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model_dir = args.model_dir or data_dir() / "bench" / "gpt2-20m"
    if not (model_dir / "config.json").exists():
        raise SystemExit(f"{model_dir}: no model; run benchmarks/bench_eval.py once to build it")

    from transformers.activations import NewGELUActivation, PytorchGELUTanh

    loaded = load_model(ModelSpec("bench-gpt2-20m", str(model_dir)), device="cpu", dtype="float32")
    options = dict(
        shots=2,
        limit=args.limit,
        tokenization="lm_eval",
        model=loaded,
        use_cache=False,
        metrics=["exact_str_match"],
        stop_sequences=["\n"],
    )
    evaluate(loaded.spec, args.task, **{**options, "limit": 4})  # warm-up

    profiler = cProfile.Profile()
    profiler.enable()
    evaluate(loaded.spec, args.task, **options)
    profiler.disable()
    print(f"engine on {args.task}, {args.limit} examples, under cProfile (internal time):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)

    stock = {
        name: module
        for name, module in loaded.model.named_modules()
        if isinstance(module, NewGELUActivation)
    }
    if not stock:
        print("the model has no NewGELUActivation modules; nothing to compare")
        return 0

    def use_fused(fused: bool) -> None:
        for name, module in stock.items():
            parent, _, attribute = name.rpartition(".")
            setattr(
                loaded.model.get_submodule(parent),
                attribute,
                PytorchGELUTanh() if fused else module,
            )

    seconds: dict[bool, list[float]] = {False: [], True: []}
    runs = {}
    for _ in range(args.repeats):
        for fused in (False, True):
            use_fused(fused)
            started = time.perf_counter()
            runs[fused] = evaluate(loaded.spec, args.task, **options)
            seconds[fused].append(time.perf_counter() - started)
    use_fused(False)
    stock_run, fused_run = runs[False].examples, runs[True].examples
    same = stock_run["prediction"].to_list() == fused_run["prediction"].to_list()
    gap = (stock_run["target_logprob"] - fused_run["target_logprob"]).abs().max()
    best_stock, best_fused = min(seconds[False]), min(seconds[True])
    print(
        f"stock GELU {best_stock:.2f} s, fused GELU {best_fused:.2f} s (best of {args.repeats}): "
        f"{100 * (1 - best_fused / best_stock):.1f} % less time; same predictions: {same}; "
        f"max |target log-prob difference| {gap:.2e} nats"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
