"""The ``emergence`` command: ``emergence eval`` runs the same `evaluate` the Dagster asset runs.

    emergence eval --model PATH_OR_ID --task TASK[/SUBTASK] [--shots K] [--limit N] [--json]
                   [--revision R] [--trust-remote-code] [...]
    emergence tasks

Errors a person can fix (a model that cannot be loaded, an unknown task, a missing mirror, a
checksum mismatch, a bad option) print one line on stderr and exit with status 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emergence", description="Emergence lake tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("eval", help="evaluate a model on a BIG-bench task")
    run.add_argument("--model", required=True, help="Hugging Face hub id or local model directory")
    run.add_argument(
        "--task", required=True, help="task id: TASK or TASK/SUBTASK (see `emergence tasks`)"
    )
    run.add_argument("--shots", type=int, default=2, help="in-context examples (default 2)")
    run.add_argument(
        "--limit", type=int, default=None, help="evaluate a seeded random subset of N examples"
    )
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--revision", default=None, help="hub branch, tag or commit")
    run.add_argument(
        "--trust-remote-code", action="store_true", help="allow the model's own code to run"
    )
    run.add_argument(
        "--model-id", default=None, help="the lake's id for the model (default: --model)"
    )
    run.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)"
    )
    run.add_argument(
        "--dtype", default=None, help="float32, bfloat16, float16 (default: float32 on CPU)"
    )
    run.add_argument("--seed", type=int, default=0, help="seed for shots, choice order and --limit")
    run.add_argument(
        "--tokenization",
        choices=("bigbench", "lm_eval"),
        default="bigbench",
        help="target/context token boundary convention (default: bigbench)",
    )
    run.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="extra stop sequence, cut before (lm-eval 'until'); repeatable; \\n is a newline",
    )
    run.add_argument(
        "--max-new-tokens", type=int, default=None, help="generation limit (default: auto)"
    )
    run.add_argument(
        "--metric",
        action="append",
        default=None,
        metavar="NAME",
        help="compute only this task metric (repeatable; default: all the task's metrics)",
    )
    run.add_argument("--token-budget", type=int, default=None, help="padded tokens per batch")
    run.add_argument(
        "--no-cache", action="store_true", help="ignore and do not write the result cache"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    commands.add_parser("tasks", help="list the BIG-bench task ids that can be evaluated")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "tasks":
        from sources.bigbench import list_task_ids

        print("\n".join(list_task_ids()))
        return 0
    return _eval(args)


def _eval(args: argparse.Namespace) -> int:
    from sources.bigbench import TaskFormatError
    from sources.evaluation.engine import METRIC_UNITS, evaluate
    from sources.evaluation.model import ModelLoadError, ModelSpec
    from sources.remote import ChecksumMismatch, RemoteUnavailable

    spec = ModelSpec(
        model_id=args.model_id or args.model,
        weights=args.model,
        revision=args.revision,
        trust_remote_code=args.trust_remote_code,
    )
    try:
        run = evaluate(
            spec,
            args.task,
            shots=args.shots,
            limit=args.limit,
            seed=args.seed,
            tokenization=args.tokenization,
            stop_sequences=[_unescape(s) for s in args.stop],
            max_new_tokens=args.max_new_tokens,
            device=args.device,
            dtype=args.dtype,
            token_budget=args.token_budget,
            use_cache=not args.no_cache,
            show_progress=not args.quiet,
            metrics=args.metric,
        )
    except (
        ModelLoadError,
        RemoteUnavailable,
        ChecksumMismatch,
        TaskFormatError,
        ValueError,
    ) as error:
        print(f"emergence eval: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyError as error:  # unknown task id
        print(f"emergence eval: {error.args[0] if error.args else error}", file=sys.stderr)
        return EXIT_USAGE

    metrics = run.metric_values
    stats = run.stats
    if args.json:
        print(
            json.dumps(
                {
                    "model_id": spec.model_id,
                    "weights": spec.weights,
                    "revision": run.model_revision,
                    "task_id": run.task_id,
                    "shots": args.shots,
                    "n_examples": stats.n_examples,
                    "run_id": run.run_id,
                    "config_hash": run.config_hash,
                    "metrics": {k: _json_number(v) for k, v in metrics.items()},
                    "units": {k: METRIC_UNITS[k] for k in metrics},
                    "stats": {k: _json_number(v) for k, v in stats.as_dict().items()},
                },
                sort_keys=True,
            )
        )
        return 0
    print(f"model    {spec.weights}  (revision {run.model_revision})")
    hit = "  [cache hit]" if stats.cache_hit else ""
    print(
        f"task     {run.task_id}, {args.shots}-shot, {stats.n_examples} examples  "
        f"(run {run.run_id}, config {run.config_hash}){hit}"
    )
    for metric, value in metrics.items():
        print(f"  {metric:<24} {value:10.3f} {METRIC_UNITS[metric]}")
    print(
        f"speed    {stats.examples_per_second:.1f} examples/s, {stats.tokens_per_second:.0f} tokens/s "
        f"(eval {stats.eval_seconds:.2f} s, model load {stats.load_seconds:.2f} s; "
        f"{stats.n_fast_path} answered from the scoring pass, {stats.n_generated} decoded)"
    )
    return 0


def _unescape(text: str) -> str:
    r"""'\n' and '\t' typed on a command line become a newline and a tab; nothing else changes."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


def _json_number(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
