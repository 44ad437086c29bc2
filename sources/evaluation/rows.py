"""Warehouse row shaping: an evaluation's per-example outcomes as `eval_examples` and `results` rows.

The frames take their columns and types from warehouse/schema.sql (warehouse_columns.conform), so
they always match the tables they are written to.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sources.bigbench import BigBenchTask
from sources.evaluation import metrics as metric_fns
from sources.evaluation.cache import cache_key
from sources.evaluation.model import ModelSpec
from sources.evaluation.planning import selected_metrics
from sources.evaluation.prompts import Prompt
from sources.evaluation.run_types import (
    CITATION,
    METRIC_UNITS,
    EvalConfig,
    EvaluationRun,
    EvaluationStats,
)
from sources.evaluation.warehouse_columns import conform


@dataclass
class Computed:
    """What one leaf task's evaluation produced, per example and in total: what the rows need."""

    config: EvalConfig
    prompts: list[Prompt]
    predictions: list[str]
    correct: list[bool]
    target_logprobs: list[float]
    target_tokens: list[int]
    target_token_logprobs: list[list[float] | None]
    end_logprobs: list[float | None]
    choice_logprobs: list[list[float] | None]
    mc_grades: list[float] | None
    generated_answers: list[str] | None
    tokens: int
    forward_passes: int
    n_fast_path: int
    n_generated: int
    n_truncated: int
    truncated: list[bool]
    n_restored: int
    batches_restored: int
    tokens_restored: int


def examples_frame(
    run_id: str, model_id: str, task: BigBenchTask, config: EvalConfig, c: Computed
) -> pl.DataFrame:
    n = len(c.prompts)
    return pl.DataFrame(
        {
            "run_id": [run_id] * n,
            "model_id": [model_id] * n,
            "task_id": [task.task_id] * n,
            "shots": [config.shots] * n,
            "example_idx": [p.example_idx for p in c.prompts],
            "prompt_hash": [p.prompt_hash for p in c.prompts],
            "target": [p.targets[0] for p in c.prompts],
            "prediction": c.predictions,
            "correct": c.correct,
            "target_logprob": c.target_logprobs,
            "target_tokens": c.target_tokens,
            "choice_logprobs": c.choice_logprobs,
            # eval_examples.truncated: the context was cut to fit the model's window.
            "truncated": c.truncated,
            # What re-scoring without the model needs (marts/rescore.py).
            "target_token_logprobs": c.target_token_logprobs,
            "end_logprob": c.end_logprobs,
            "choice_scores": [list(p.choice_scores) or None for p in c.prompts],
        },
        schema_overrides={
            "choice_logprobs": pl.List(pl.Float64()),
            "target_token_logprobs": pl.List(pl.Float64()),
            "end_logprob": pl.Float64(),
            "choice_scores": pl.List(pl.Float64()),
        },
    ).pipe(conform, "eval_examples")


def metric_values(task: BigBenchTask, c: Computed) -> dict[str, float]:
    values: dict[str, float] = {}
    for metric in selected_metrics(task, c.config):
        if metric == "exact_str_match" and c.generated_answers is not None:
            hits = [
                metric_fns.exact_str_match(a, p.targets)
                for a, p in zip(c.generated_answers, c.prompts, strict=True)
            ]
            values[metric] = 100.0 * sum(hits) / len(hits)
        elif metric == "multiple_choice_grade" and c.mc_grades is not None:
            values[metric] = 100.0 * sum(c.mc_grades) / len(c.mc_grades)
        elif metric == "bleu" and c.generated_answers is not None:
            values[metric] = metric_fns.corpus_bleu(
                c.generated_answers, [p.targets for p in c.prompts]
            )
    values["target_logprob"] = metric_fns.mean_target_logprob(c.target_logprobs)
    values["target_cross_entropy"] = metric_fns.target_cross_entropy(
        c.target_logprobs, c.target_tokens
    )
    return values


def result_rows(
    spec: ModelSpec,
    task_id: str,
    config: EvalConfig,
    run_id: str,
    values: dict[str, float],
    n_examples: int,
    note: str,
) -> pl.DataFrame:
    rows = [
        {
            "model_id": spec.model_id,
            "task_id": task_id,
            "shots": config.shots,
            "prompting": "standard",
            "setting": f"{config.shots}-shot",
            "metric": metric,
            "value": float(value),
            "unit": METRIC_UNITS[metric],
            "n_examples": n_examples,
            "origin": "fresh",
            "citation": CITATION,
            "location": f"run {run_id} config {config.config_hash}",
            "source_file": spec.weights,
            "in_wei_figure": False,
            "note": note,
        }
        for metric, value in values.items()
    ]
    return conform(pl.DataFrame(rows, infer_schema_length=None), "results")


def results_frame(
    run_id: str,
    spec: ModelSpec,
    task: BigBenchTask,
    config: EvalConfig,
    revision: str,
    c: Computed,
) -> pl.DataFrame:
    note = f"weights revision {revision}"
    values = metric_values(task, c)
    return result_rows(spec, task.task_id, config, run_id, values, len(c.prompts), note)


def combine_subtasks(
    task: BigBenchTask,
    spec: ModelSpec,
    config: EvalConfig,
    revision: str,
    runs: list[EvaluationRun],
) -> EvaluationRun:
    """A parent task's run: subtask rows plus parent rows (unweighted mean over subtasks)."""
    run_id = cache_key({"parent": task.task_id, "runs": [r.run_id for r in runs]})[:16]
    sub_results = pl.concat([r.results for r in runs])
    means = (
        sub_results.group_by("metric", maintain_order=True)
        .agg(pl.col("value").mean(), pl.col("n_examples").sum(), pl.len().alias("n_subtasks"))
        .filter(pl.col("n_subtasks") == len(runs))
    )
    note = f"weights revision {revision}; unweighted mean over {len(runs)} subtasks (BIG-bench aggregate)"
    parent = result_rows(
        spec,
        task.task_id,
        config,
        run_id,
        dict(zip(means["metric"].to_list(), means["value"].to_list(), strict=True)),
        0,
        note,
    ).with_columns(pl.Series("n_examples", means["n_examples"].to_list(), dtype=pl.Int64()))
    stats = EvaluationStats(
        n_examples=sum(r.stats.n_examples for r in runs),
        cache_hit=all(r.stats.cache_hit for r in runs),
        wall_seconds=0.0,
        load_seconds=0.0,
        eval_seconds=sum(r.stats.eval_seconds for r in runs),
        examples_per_second=0.0,
        tokens_processed=sum(r.stats.tokens_processed for r in runs),
        tokens_per_second=0.0,
        forward_passes=sum(r.stats.forward_passes for r in runs),
        n_fast_path=sum(r.stats.n_fast_path for r in runs),
        n_generated=sum(r.stats.n_generated for r in runs),
        n_truncated=sum(r.stats.n_truncated for r in runs),
        device=runs[0].stats.device,
        metrics_not_computed=sorted({m for r in runs for m in r.stats.metrics_not_computed}),
        n_params=next((r.stats.n_params for r in runs if r.stats.n_params), None),
        n_restored=sum(r.stats.n_restored for r in runs),
        batches_restored=sum(r.stats.batches_restored for r in runs),
        tokens_restored=sum(r.stats.tokens_restored for r in runs),
    )
    if stats.eval_seconds > 0:
        stats.examples_per_second = stats.n_examples / stats.eval_seconds
        stats.tokens_per_second = stats.tokens_processed / stats.eval_seconds
    return EvaluationRun(
        run_id=run_id,
        model_id=spec.model_id,
        model_revision=revision,
        task_id=task.task_id,
        config=config,
        examples=pl.concat([r.examples for r in runs]),
        results=pl.concat([sub_results, parent]),
        stats=stats,
        flags=None
        if any(r.flags is None for r in runs)
        else pl.concat([r.flags for r in runs if r.flags is not None]),
    )
