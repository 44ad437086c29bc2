"""`python -m sources.lab.probe`: one size of a ladder with a changed recipe, trained and scored
0-shot at every kept checkpoint, nothing written to the warehouse: how the default recipe was
found (README "The emergence lab"), and the cheap way to try another before a whole ladder.

    python -m sources.lab.probe --architecture gpt2 --layers 2 --width 64 --heads 4 \\
        --tokens 3e6 --learning-rate 3e-3

Prints, per checkpoint, exact match and per-token cross-entropy on the ladder's first task, the
probability of each answer digit (which digit is still unlearned), and the training time.
Weights go under `$EMERGENCE_DATA/lab/` like any ladder's (a repeated probe is a cache hit).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import polars as pl

from sources.lab.config import SizeSpec, read_ladder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sources.lab.probe", description=__doc__)
    parser.add_argument("--ladder", default="default", help="the ladder whose recipe is changed")
    parser.add_argument("--architecture", choices=["gpt2", "llama"])
    parser.add_argument("--layers", type=int, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--heads", type=int, required=True)
    parser.add_argument("--tokens", type=float, required=True, help="a fixed token budget")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--checkpoints", default="0.25,0.5,1.0")
    parser.add_argument("--digits-weights", help="e.g. 0.2,0.8: one-digit and two-digit sums")
    args = parser.parse_args(argv)

    from sources.evaluation import ModelSpec, evaluate
    from sources.lab.ladder import train

    config = read_ladder(args.ladder)
    training = {"token_budget": "fixed", "tokens": int(args.tokens)}
    training["checkpoints"] = tuple(float(f) for f in args.checkpoints.split(","))
    if args.learning_rate:
        training["learning_rate"] = args.learning_rate
    data = {}
    if args.digits_weights:
        data = {
            "digits": (1, 2),
            "digits_weights": tuple(float(w) for w in args.digits_weights.split(",")),
            "exclude_tasks": tuple(
                t for t in config.data.exclude_tasks if t != "arithmetic/1_digit_addition"
            ),
        }
    size = SizeSpec(name="probe", layers=args.layers, width=args.width, heads=args.heads)
    config = config.model_copy(
        update={
            "architecture": args.architecture or config.architecture,
            "sizes": (size,),
            "training": config.training.model_copy(update=training),
            "data": config.data.model_copy(update=data),
        }
    )
    started = time.perf_counter()
    manifest = train(config, "probe", show_progress=False)
    load = os.getloadavg()[0]
    task_id = config.evaluation.tasks[0]
    for checkpoint in manifest["checkpoints"]:
        run = evaluate(
            ModelSpec(manifest["model_id"], checkpoint["weights"]),
            task_id,
            shots=0,
            limit=config.evaluation.limit,
            show_progress=False,
        )
        three = run.examples.filter(pl.col("target_tokens") == 3)
        digits = [three["target_token_logprobs"].list.get(i).exp().mean() for i in range(3)]
        print(
            f"{checkpoint['tokens_seen']:>11,} tokens: exact match "
            f"{run.metric_values['exact_str_match']:.1f} %, cross-entropy "
            f"{run.metric_values['target_cross_entropy']:.3f} nats/token, "
            f"p(answer digit 1, 2, 3) {', '.join(f'{p:.2f}' for p in digits)}"
        )
    print(
        f"{config.architecture} {args.layers}x{args.width}: {manifest['params']:,} parameters, "
        f"trained in {manifest['train_seconds']:.0f} s (cache hit: {manifest['cache_hit']}; "
        f"{time.perf_counter() - started:.0f} s in all; load average {load:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
