"""`emergence eval --output-path DIR`: the run's config, aggregates and per-example samples as files.

Why files beside the warehouse: as with lm-evaluation-harness's ``--output_path --log_samples``
and HELM's per-instance outputs, a reader must be able to trace any number back to the prompts and
answers behind it without a database, and re-score the samples later. The warehouse's
`eval_examples` keeps the prompt's hash, not its text; the samples carry the text (rebuilt from the
task file, shots and seed, exactly as the engine built it) and whether the context had to be cut
from the left to fit the model's context window (no warehouse column holds that yet).

    DIR/results.json             config, metric values per task, units, stats
    DIR/samples_<task>.jsonl     one line per example (``/`` in a task id becomes ``__``)

JSON has no infinity: an option no tokenization could score (log-probability -inf) is null in the
samples, and "-inf" in results.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl

from sources.bigbench import load_task
from sources.evaluation.engine import ENGINE_VERSION, METRIC_UNITS, EvaluationRun, select_examples
from sources.evaluation.prompts import build_prompts


def samples_file_name(task_id: str) -> str:
    return f"samples_{task_id.replace('/', '__')}.jsonl"


def prompt_texts(run: EvaluationRun) -> pl.DataFrame:
    """(task_id, example_idx, prompt, targets, choices) of every example of `run`."""
    task = load_task(run.task_id)
    leaves = [load_task(sub) for sub in task.subtask_ids] if task.is_composite else [task]
    rows = []
    for leaf in leaves:
        indices = select_examples(leaf, run.config.limit, run.config.seed)
        for prompt in build_prompts(leaf, run.config.shots, seed=run.config.seed, indices=indices):
            rows.append(
                {
                    "task_id": leaf.task_id,
                    "example_idx": prompt.example_idx,
                    "prompt": prompt.text,
                    "targets": list(prompt.targets),
                    "choices": list(prompt.choices),
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "task_id": pl.String(),
            "example_idx": pl.Int64(),
            "prompt": pl.String(),
            "targets": pl.List(pl.String()),
            "choices": pl.List(pl.String()),
        },
    )


def samples(run: EvaluationRun) -> pl.DataFrame:
    """Per example: the warehouse row, the prompt text and the truncation flag (null if unknown)."""
    frame = run.examples.drop("model_id", "run_id").join(
        prompt_texts(run), on=["task_id", "example_idx"], how="left", validate="1:1"
    )
    if run.flags is not None:
        frame = frame.join(run.flags, on=["task_id", "example_idx"], how="left", validate="1:1")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Boolean()).alias("truncated"))
    return frame


def write_run_outputs(
    directory: Path, runs: list[EvaluationRun], invocation: dict[str, Any]
) -> list[Path]:
    """Write results.json and one samples file per task; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for run in runs:
        path = directory / samples_file_name(run.task_id)
        samples(run).write_ndjson(path)
        written.append(path)
    first = runs[0]
    report = {
        "config": {
            **invocation,
            "engine_version": ENGINE_VERSION,
            "model_revision": first.model_revision,
            **first.config.as_dict(),
        },
        "results": {
            task_id: {metric: _finite(value) for metric, value in values.items()}
            for task_id, values in _values_by_task(runs).items()
        },
        "units": {metric: METRIC_UNITS[metric] for run in runs for metric in run.metric_values},
        "tasks": {
            run.task_id: {
                "run_id": run.run_id,
                "config_hash": run.config_hash,
                "n_examples": run.stats.n_examples,
                "n_truncated": run.stats.n_truncated,
                "samples": samples_file_name(run.task_id),
                "stats": {k: _finite(v) for k, v in run.stats.as_dict().items()},
            }
            for run in runs
        },
    }
    path = directory / "results.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return [path, *written]


def _values_by_task(runs: list[EvaluationRun]) -> dict[str, dict[str, float]]:
    """Metric values of every task in the runs, subtasks of a composite task included."""
    values: dict[str, dict[str, float]] = {}
    for run in runs:
        for row in run.results.iter_rows(named=True):
            values.setdefault(row["task_id"], {})[row["metric"]] = row["value"]
    return values


def _finite(value: Any) -> Any:
    """JSON has no infinity or NaN: they are written as strings ("-inf") or null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value
