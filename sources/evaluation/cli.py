"""The ``emergence`` command: ``emergence eval`` runs the same `evaluate` the Dagster asset runs.

    emergence eval --model PATH_OR_ID --task TASK[/SUBTASK] [--task ...|a,b] [--shots K]
                   [--limit N] [--json] [--output-path DIR] [--revision R] [...]
    emergence tasks
    emergence list models|tasks|series [--task T] [--model M] [--family F] [--origin O] [...]
    emergence show --task T --family F [--metric M] [--shots K] [--origin O]
    emergence export results|examples --out FILE [--format csv|parquet|json|jsonl] [filters]
    emergence rescore [--json] [--no-tokenizer]

list/show/export read the warehouse read-only (warehouse_queries.py). Errors a person can fix (a
model that cannot be loaded, an unknown task, a missing mirror or warehouse, a checksum mismatch,
an empty selection, a bad option) print one line on stderr and exit with status 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine imports polars and more: keep `emergence tasks` light
    from sources.evaluation.engine import EvaluationRun, LazyModel
    from sources.evaluation.model import ModelSpec

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emergence", description="Emergence lake tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("eval", help="evaluate a model on a BIG-bench task")
    run.add_argument("--model", required=True, help="Hugging Face hub id or local model directory")
    run.add_argument(
        "--task",
        required=True,
        action="append",
        help="task id: TASK or TASK/SUBTASK (see `emergence tasks`); repeatable, or a comma list",
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
    run.add_argument(
        "--output-path",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/results.json and DIR/samples_<task>.jsonl (prompts, answers, scores)",
    )

    commands.add_parser("tasks", help="list the BIG-bench task ids that can be evaluated")

    listing = commands.add_parser("list", help="models, tasks or series in the warehouse")
    listing.add_argument("what", choices=("models", "tasks", "series"))
    _selection_arguments(listing)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    show = commands.add_parser("show", help="one series: its points and its emergence row")
    _selection_arguments(show)
    show.add_argument("--json", action="store_true", help="print one JSON object")

    export = commands.add_parser("export", help="write results or per-example rows to a file")
    export.add_argument("what", choices=("results", "examples"))
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="file to write")
    export.add_argument(
        "--format",
        choices=("csv", "parquet", "json", "jsonl"),
        default=None,
        help="default: from the file name's suffix",
    )
    _selection_arguments(export)

    rescore = commands.add_parser(
        "rescore",
        help="compute the continuous metrics from stored eval_examples (no model) into results",
    )
    rescore.add_argument("--json", action="store_true", help="print one JSON object")
    rescore.add_argument(
        "--no-tokenizer",
        action="store_true",
        help="edit distance in characters, without loading the models' tokenizers",
    )
    return parser


def _selection_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, help_text in (
        ("--task", "task id"),
        ("--model", "model id"),
        ("--family", "model family, as in the models table (e.g. Pythia, GPT-3)"),
        ("--origin", "literature, obsscaling or fresh"),
        ("--metric", "metric, e.g. exact_str_match"),
        ("--prompting", "standard or chain_of_thought"),
    ):
        parser.add_argument(flag, action="append", default=[], help=f"{help_text}; repeatable")
    parser.add_argument("--shots", action="append", type=int, default=[], help="repeatable")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "tasks":
        from sources.bigbench import list_task_ids

        print("\n".join(list_task_ids()))
        return 0
    if args.command in ("list", "show", "export"):
        return _lake(args)
    if args.command == "rescore":
        return _rescore(args)
    return _eval(args)


def _rescore(args: argparse.Namespace) -> int:
    """Re-score stored examples into the warehouse (a write session: published on success)."""
    from checks.validation import ValidationError
    from marts.rescore import load_tokenizer, rescore_into
    from sources.paths import duckdb_path
    from warehouse.store import WarehouseBusy, connect

    path = duckdb_path()
    if not path.is_file():
        print(f"emergence rescore: no warehouse at {path}: run `make run` first", file=sys.stderr)
        return EXIT_USAGE
    try:
        with connect(path) as con:
            rows = rescore_into(con, None if args.no_tokenizer else load_tokenizer)
    except (WarehouseBusy, ValidationError) as error:
        print(f"emergence rescore: {error}", file=sys.stderr)
        return EXIT_USAGE
    counts = rows.group_by("metric", maintain_order=True).len().sort("metric")
    runs = rows["rescored_from_run"].n_unique()
    if args.json:
        print(json.dumps({"runs": runs, "rows": rows.height, "metrics": dict(counts.iter_rows())}))
    else:
        print(f"re-scored {runs} evaluation run(s) into {rows.height} results rows ({path})")
        for metric, n in counts.iter_rows():
            print(f"  {metric:<28} {n} row(s)")
    return 0


def _lake(args: argparse.Namespace) -> int:
    """list / show / export: read-only questions to the warehouse."""
    import duckdb
    import polars as pl

    from sources.evaluation.warehouse_queries import (
        LakeQueryError,
        Selection,
        connect,
        export,
        list_table,
        show_series,
    )

    selection = Selection(
        tasks=args.task,
        models=args.model,
        families=args.family,
        origins=args.origin,
        metrics=args.metric,
        shots=args.shots,
        prompting=args.prompting,
    )
    try:
        if args.command == "show" and not (args.task and args.family):
            raise LakeQueryError("show needs --task and --family (see `emergence list series`)")
        con = connect()
        try:
            if args.command == "list":
                frame = list_table(con, args.what, selection)
                if args.json:
                    print(frame.write_ndjson(), end="")
                else:
                    _print_table(frame)
            elif args.command == "show":
                row, points = show_series(con, selection)
                if args.json:
                    report = {
                        "emergence": {k: _json_number(v) for k, v in row.items()},
                        "points": [
                            {k: _json_number(v) for k, v in point.items()}
                            for point in points.to_dicts()
                        ],
                    }
                    print(json.dumps(report, sort_keys=True))
                else:
                    print(f"series   {_series_label(row)}")
                    for key, value in row.items():
                        if value is not None and key not in _SERIES_KEY:
                            print(f"  {key:<22} {value}")
                    _print_table(points)
            else:
                rows = export(con, args.what, selection, args.out, args.format)
                print(f"wrote {rows} {args.what} rows to {args.out}")
        finally:
            con.close()
    except LakeQueryError as error:
        print(f"emergence {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (pl.exceptions.PolarsError, OSError, duckdb.Error) as error:
        # e.g. a warehouse written before a table existed, or an unwritable --out
        print(f"emergence {args.command}: {error}".splitlines()[0], file=sys.stderr)
        return EXIT_USAGE
    return 0


_SERIES_KEY = ("task_id", "family", "shots", "prompting", "metric", "origin")


def _series_label(row: dict) -> str:
    return " ".join(f"{key}={row[key]}" for key in _SERIES_KEY)


def _print_table(frame: object) -> None:
    import polars as pl

    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=200,
        fmt_str_lengths=60,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
    ):
        print(frame)


def _task_ids(values: list[str]) -> list[str]:
    """--task a --task b,c -> [a, b, c] (first occurrence order, no repeats)."""
    ids = [t.strip() for value in values for t in value.split(",") if t.strip()]
    return list(dict.fromkeys(ids))


def _eval(args: argparse.Namespace) -> int:
    from sources.bigbench import TaskFormatError, load_task
    from sources.evaluation.engine import LazyModel
    from sources.evaluation.model import ModelLoadError, ModelSpec
    from sources.remote import ChecksumMismatch, RemoteUnavailable

    spec = ModelSpec(
        model_id=args.model_id or args.model,
        weights=args.model,
        revision=args.revision,
        trust_remote_code=args.trust_remote_code,
    )
    task_ids = _task_ids(args.task)
    try:
        if not task_ids:
            raise ValueError("--task: name at least one task (see `emergence tasks`)")
        for task_id in task_ids:
            load_task(task_id)  # every task is checked before any model work
        model = LazyModel(spec, args.device, args.dtype)  # loaded once, for the first task
        runs = [_evaluate_one(spec, task_id, args, model) for task_id in task_ids]
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

    written: list[Path] = []
    if args.output_path is not None:
        from sources.evaluation.run_outputs import write_run_outputs

        invocation = {
            "model": args.model,
            "model_id": spec.model_id,
            "tasks": task_ids,
            "device": runs[0].stats.device,
        }
        try:
            written = write_run_outputs(args.output_path, runs, invocation)
        except OSError as error:
            print(f"emergence eval: cannot write {args.output_path}: {error}", file=sys.stderr)
            return EXIT_USAGE
    for run in runs:
        _report(spec, run, args)
    if written and not args.json:
        print(f"wrote    {', '.join(str(p) for p in written)}")
    return 0


def _evaluate_one(
    spec: ModelSpec, task_id: str, args: argparse.Namespace, model: LazyModel
) -> EvaluationRun:
    from sources.evaluation.engine import evaluate

    return evaluate(
        spec,
        task_id,
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
        model=model,
    )


def _report(spec: ModelSpec, run: EvaluationRun, args: argparse.Namespace) -> None:
    """One task's summary: a JSON line with --json, else a few lines of text."""
    from sources.evaluation.engine import METRIC_UNITS

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
        return
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
    if stats.n_truncated:
        print(
            f"TRUNCATED {stats.n_truncated} of {stats.n_examples} prompts: context cut from the "
            "left to fit the model's context window (per example: --output-path samples)"
        )
    if stats.batches_restored:
        print(
            f"resumed  {stats.n_restored} examples ({stats.batches_restored} batches) restored "
            "from the checkpoint of an interrupted run"
        )


def _unescape(text: str) -> str:
    r"""'\n' and '\t' typed on a command line become a newline and a tab; nothing else changes."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


def _json_number(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
