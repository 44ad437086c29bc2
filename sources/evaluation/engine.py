"""`evaluate`: one model on one BIG-bench task, to rows of the warehouse's `eval_examples` and `results`.

Per example the engine needs, from the model: the log-probability of the target, the options'
log-probabilities (multiple choice) and the greedy answer (generative metrics). It gets them with
as little model work as it can prove exact:

1. *One encoding per context.* Each context is encoded once and every continuation (targets and
   options) is scored in the same forward pass, behind it (scoring.score_packed; a KV-cache
   variant for models that refuse custom attention masks).
2. *Greedy answers from the teacher-forced pass.* The scoring pass gives, at every target
   position, the argmax token and the gap between the two largest logits. Greedy decoding's first
   tokens are known as long as they coincide with the target: they are the target tokens up to the
   first position where the argmax differs, plus that argmax. These known tokens are replayed
   through the same `GreedyJudge.step` the decoding loop uses; when the judge finishes (EOS, the
   token limit, or an answer that no continuation can change, see answers.py) the answer is exactly
   greedy generation's. Requirements, else the example falls back to decoding: the scoring context
   is token for token the generation context, and each argmax used beats the runner-up by at least
   `tie_margin` logits (so floating-point differences between a full pass and incremental decoding
   cannot flip it).
3. *Decoding only what is left*, batched, with each row stopped as soon as its answer is fixed
   (decoding.greedy_decode).
4. *A result cache* keyed by weights revision, task file hash and config (cache.py): a hit returns
   the stored rows without loading the model.

Batches are packed by a token budget, longest first; results are scattered back to input order.
Finished batches are checkpointed (checkpoint.py), so a killed run resumes where it stopped.

The pieces live in their own modules: public types (run_types.py), request planning and truncation
(planning.py), the fast path (fast_path.py), warehouse row shaping (rows.py); this module runs
them against a model. Its public names are re-exported here, as before the split.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import polars as pl

from sources.bigbench import GENERATIVE_METRICS, MULTIPLE_CHOICE_METRICS, BigBenchTask, load_task
from sources.evaluation import metrics as metric_fns
from sources.evaluation.answer_end import answer_end_ids
from sources.evaluation.answers import AnswerRule
from sources.evaluation.cache import CachedRun, ResultCache, cache_key
from sources.evaluation.checkpoint import (
    DECODE,
    SCORE,
    BatchWork,
    Checkpoint,
    ExampleOutcome,
    Restored,
)
from sources.evaluation.fast_path import FastPath
from sources.evaluation.model import LoadedModel, ModelSpec, resolve_revision
from sources.evaluation.planning import (
    MAX_AUTO_NEW_TOKENS,
    default_max_new_tokens,
    plan_example,
    select_examples,
    selected_metrics,
)
from sources.evaluation.prompts import build_prompts
from sources.evaluation.rows import Computed, combine_subtasks, examples_frame, results_frame
from sources.evaluation.run_types import (
    CITATION,
    ENGINE_VERSION,
    EXAMPLES_SCHEMA,
    METRIC_UNITS,
    RESULTS_SCHEMA,
    SUPPORTED_TASK_METRICS,
    EvalConfig,
    EvaluationRun,
    EvaluationStats,
    ProgressCallback,
)
from sources.evaluation.tokenization import PromptTokenizer
from sources.evaluation.warehouse_columns import conform

__all__ = [
    "CITATION",
    "DEFAULT_TOKEN_BUDGET",
    "ENGINE_VERSION",
    "EXAMPLES_SCHEMA",
    "MAX_AUTO_NEW_TOKENS",
    "METRIC_UNITS",
    "RESULTS_SCHEMA",
    "SUPPORTED_TASK_METRICS",
    "EvalConfig",
    "EvaluationRun",
    "EvaluationStats",
    "LazyModel",
    "default_max_new_tokens",
    "evaluate",
    "select_examples",
    "selected_metrics",
]

DEFAULT_TOKEN_BUDGET = {"cpu": 1024, "cuda": 32768}


class LazyModel:
    """A model loaded on first use only, so cache hits never load it; pass one to several
    `evaluate` calls (``model=``) and the model is loaded at most once for all of them."""

    def __init__(
        self,
        spec: ModelSpec,
        device: str | None = None,
        dtype: str | None = None,
        loaded: LoadedModel | None = None,
    ):
        if loaded is not None:
            device, dtype = loaded.device, loaded.dtype
        else:
            device, dtype = _resolve_device_dtype(device, dtype)
        self.spec, self.loaded, self.device, self.dtype = spec, loaded, device, dtype
        self.load_seconds = 0.0

    def get(self) -> LoadedModel:
        if self.loaded is None:
            from sources.evaluation.model import load_model

            start = time.perf_counter()
            self.loaded = load_model(self.spec, device=self.device, dtype=self.dtype)
            self.load_seconds = time.perf_counter() - start
        return self.loaded


def evaluate(
    spec: ModelSpec,
    task_id: str,
    shots: int = 2,
    limit: int | None = None,
    *,
    seed: int = 0,
    tokenization: str = "bigbench",
    stop_sequences: Sequence[str] = (),
    max_new_tokens: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    token_budget: int | None = None,
    use_cache: bool = True,
    model: LoadedModel | LazyModel | None = None,
    progress: ProgressCallback | None = None,
    show_progress: bool = False,
    fast_path: bool = True,
    share_context: bool = True,
    tie_margin: float | None = None,
    metrics: Sequence[str] | None = None,
) -> EvaluationRun:
    """Evaluate `spec` on a BIG-bench task (``task`` or ``task/subtask``), `shots`-shot.

    `limit` evaluates a seeded random subset of that many examples (the same subset for every
    model). A composite task (``arithmetic``) evaluates each subtask and adds rows for the parent
    with the unweighted mean over subtasks (BIG-bench's aggregate). `model` reuses an already
    loaded model, or a `LazyModel` shared by several calls (several tasks, at most one load). `metrics` restricts the task's metrics to compute
    (e.g. only ``exact_str_match``: no option scoring); the continuous metrics are always there.
    `progress(stage, done, total)` reports progress;
    `show_progress` draws tqdm bars. `fast_path`, `share_context` and `tie_margin` change speed,
    never results; they exist for tests and benchmarks.
    """
    started = time.perf_counter()
    task = load_task(task_id)  # an unknown task fails before any model work
    handle = model if isinstance(model, LazyModel) else LazyModel(spec, device, dtype, loaded=model)
    device, dtype = handle.device, handle.dtype
    loads_before = handle.load_seconds
    config = EvalConfig(
        shots=shots,
        limit=limit,
        seed=seed,
        tokenization=tokenization,
        stop_sequences=tuple(stop_sequences),
        max_new_tokens=max_new_tokens,
        dtype=dtype,
        metrics=tuple(metrics) if metrics is not None else None,
    )
    for leaf in [load_task(sub) for sub in task.subtask_ids] if task.is_composite else [task]:
        selected_metrics(leaf, config)  # unknown metrics fail before any model work
    revision = handle.loaded.revision if handle.loaded is not None else resolve_revision(spec)
    options = _RunOptions(
        device=device,
        token_budget=token_budget
        or DEFAULT_TOKEN_BUDGET["cuda" if device.startswith("cuda") else "cpu"],
        use_cache=use_cache,
        fast_path=fast_path,
        share_context=share_context,
        tie_margin=tie_margin if tie_margin is not None else (1e-3 if dtype == "float32" else 0.5),
        progress=progress,
        show_progress=show_progress,
    )
    if task.is_composite:
        runs = [
            _evaluate_leaf(spec, load_task(sub), config, revision, handle, options)
            for sub in task.subtask_ids
        ]
        run = combine_subtasks(task, spec, config, revision, runs)
    else:
        run = _evaluate_leaf(spec, task, config, revision, handle, options)
    run.stats.wall_seconds = time.perf_counter() - started
    run.stats.load_seconds = handle.load_seconds - loads_before
    return run


def _resolve_device_dtype(device: str | None, dtype: str | None) -> tuple[str, str]:
    from sources.evaluation.model import default_device, default_dtype

    device = device or default_device()
    return device, dtype or default_dtype(device)


@dataclass
class _RunOptions:
    device: str
    token_budget: int
    use_cache: bool
    fast_path: bool
    share_context: bool
    tie_margin: float
    progress: ProgressCallback | None
    show_progress: bool


def _evaluate_leaf(
    spec: ModelSpec,
    task: BigBenchTask,
    config: EvalConfig,
    revision: str,
    handle: LazyModel,
    options: _RunOptions,
) -> EvaluationRun:
    key = cache_key(
        {
            "engine": ENGINE_VERSION,
            "model_revision": revision,
            "task_id": task.task_id,
            "task_file_sha256": task.task_file_sha256,
            "config": config.as_dict(),
        }
    )
    run_id = key[:16]
    cache = ResultCache()
    if options.use_cache:
        cached = cache.get(key)
        if cached is not None:
            known = {f.name for f in fields(EvaluationStats)}
            stored = {k: v for k, v in cached.meta["stats"].items() if k in known}
            stats = EvaluationStats(**{**stored, "cache_hit": True})
            examples = cached.examples.with_columns(pl.lit(spec.model_id).alias("model_id"))
            if cached.flags is not None and "truncated" not in examples.columns:
                examples = examples.join(
                    cached.flags.select("example_idx", "truncated"), on="example_idx", how="left"
                )
            examples = conform(examples, "eval_examples")
            results = conform(
                cached.results.with_columns(
                    pl.lit(spec.model_id).alias("model_id"),
                    pl.lit(spec.weights).alias("source_file"),
                ),
                "results",
            )
            return EvaluationRun(
                run_id,
                spec.model_id,
                revision,
                task.task_id,
                config,
                examples,
                results,
                stats,
                flags=cached.flags,
            )

    # Finished batches survive a crash; the flat reference scorer (a test switch) keeps none.
    checkpoint = (
        cache.checkpoint(
            key,
            {
                "engine": ENGINE_VERSION,
                "model_revision": revision,
                "task_id": task.task_id,
                "task_file_sha256": task.task_file_sha256,
                "config_hash": config.config_hash,
            },
        )
        if options.use_cache and options.share_context
        else None
    )
    loaded = handle.get()
    eval_started = time.perf_counter()
    computed = _compute(task, config, loaded, options, checkpoint)
    examples = examples_frame(run_id, spec.model_id, task, config, computed)
    results = results_frame(run_id, spec, task, config, revision, computed)
    flags = pl.DataFrame(
        {
            "task_id": [task.task_id] * len(computed.prompts),
            "example_idx": [p.example_idx for p in computed.prompts],
            "truncated": computed.truncated,
        },
        schema={"task_id": pl.String(), "example_idx": pl.Int64(), "truncated": pl.Boolean()},
    )
    eval_seconds = time.perf_counter() - eval_started
    n = len(computed.prompts)
    n_computed = n - computed.n_restored
    stats = EvaluationStats(
        n_examples=n,
        cache_hit=False,
        wall_seconds=eval_seconds,
        load_seconds=0.0,
        eval_seconds=eval_seconds,
        examples_per_second=n_computed / eval_seconds if eval_seconds > 0 else math.inf,
        tokens_processed=computed.tokens,
        tokens_per_second=computed.tokens / eval_seconds if eval_seconds > 0 else math.inf,
        forward_passes=computed.forward_passes,
        n_fast_path=computed.n_fast_path,
        n_generated=computed.n_generated,
        n_truncated=computed.n_truncated,
        device=loaded.device,
        metrics_not_computed=[m for m in task.metrics if m not in selected_metrics(task, config)],
        n_params=loaded.n_params,
        n_restored=computed.n_restored,
        batches_restored=computed.batches_restored,
        tokens_restored=computed.tokens_restored,
    )
    if options.use_cache:
        cache.put(
            key,
            CachedRun(
                examples=examples,
                results=results,
                meta={
                    "run_id": run_id,
                    "engine_version": ENGINE_VERSION,
                    "model_revision": revision,
                    "weights": spec.weights,
                    "task_id": task.task_id,
                    "task_file_sha256": task.task_file_sha256,
                    "config": config.as_dict(),
                    "stats": stats.as_dict(),
                    "created_unix": time.time(),
                },
                flags=flags,
            ),
        )
    if checkpoint is not None:
        checkpoint.remove()  # merged into the cache entry just written
    return EvaluationRun(
        run_id, spec.model_id, revision, task.task_id, config, examples, results, stats, flags
    )


def _compute(
    task: BigBenchTask,
    config: EvalConfig,
    loaded: LoadedModel,
    options: _RunOptions,
    checkpoint: Checkpoint | None = None,
) -> Computed:
    # Heavy modules (torch) are imported here, when there is model work to do.
    from sources.evaluation.decoding import Resume, continue_greedy, greedy_decode
    from sources.evaluation.greedy import GreedyJudge
    from sources.evaluation.scoring import (
        WorkCounter,
        packed_scoring_works,
        score_flat,
        score_kv_cache,
        score_packed,
    )

    indices = select_examples(task, config.limit, config.seed)
    prompts = build_prompts(task, config.shots, seed=config.seed, indices=indices)
    chosen_metrics = selected_metrics(task, config)
    generative = any(m in GENERATIVE_METRICS for m in chosen_metrics)
    multiple_choice = any(m in MULTIPLE_CHOICE_METRICS for m in chosen_metrics)
    tokenizer = PromptTokenizer(loaded.tokenizer, config.tokenization)  # type: ignore[arg-type]
    max_new = config.max_new_tokens or default_max_new_tokens(task, tokenizer)
    rule = AnswerRule(task.output_regex, task.stop_string, config.stop_sequences)
    # Tokens that end the answer right after the target (eval_examples.end_logprob): generative only.
    end_ids = (
        answer_end_ids(
            rule,
            tokenizer.decode_many([[i] for i in range(len(loaded.tokenizer))]),  # type: ignore[arg-type]
            loaded.eos_token_ids,
        )
        if generative
        else []
    )
    judge = GreedyJudge(
        rule=rule,
        decode_many=tokenizer.decode_many,
        eos_token_ids=frozenset(loaded.eos_token_ids),
        max_new_tokens=max_new,
    )
    # All tokenization in a few batched calls.
    texts = [p.text for p in prompts]
    scoring = tokenizer.scoring_ids_many(
        texts, [list(p.targets[:1]) + (list(p.choices) if multiple_choice else []) for p in prompts]
    )
    generation = tokenizer.generation_ids_many(texts) if generative else [[] for _ in prompts]
    alone = (
        tokenizer.encode_plain_many([t for p in prompts for t in p.targets]) if generative else []
    )
    plans, truncated, cursor = [], [], 0
    for prompt, (context, scored), generation_ids in zip(prompts, scoring, generation, strict=True):
        targets_alone = alone[cursor : cursor + len(prompt.targets)] if generative else []
        cursor += len(prompt.targets) if generative else 0
        plan, was_cut = plan_example(
            context,
            scored,
            generation_ids,
            targets_alone,
            generative,
            options.fast_path,
            loaded.max_length,
            max_new,
        )
        plans.append(plan)
        truncated.append(was_cut)
    requests = [plan.request for plan in plans]

    n = len(prompts)
    counter = WorkCounter()
    restored = checkpoint.load() if checkpoint is not None else Restored()
    outcomes: list[ExampleOutcome | None] = [None] * n
    fast = FastPath(plans, judge, options.tie_margin)
    answers = fast.answers  # settled by the fast path, then by decoding
    from_scratch: list[int] = []
    work = _WorkSoFar()

    def outcome_of(i: int, scores_i: list) -> ExampleOutcome:
        plan = plans[i]
        target_score = scores_i[plan.target_row]
        choices = [
            scores_i[row].logprob if scores_i[row].token_logprobs else -math.inf
            for row in plan.choice_rows
        ]
        return ExampleOutcome(
            target_logprob=target_score.logprob,
            target_tokens=len(target_score.token_logprobs),
            target_token_logprobs=list(target_score.token_logprobs),
            end_logprob=target_score.end_logprob,
            choice_logprobs=choices if plan.choice_rows else None,
            answer=answers[i],
            pending_decode=generative and answers[i] is None,
        )

    def settle(indices_in_batch: list[int], batch_scores: list, shared: Any) -> None:
        """Generative tasks: settle greedy answers while this batch's KV cache is alive."""
        resumable, scratch = fast.settle_batch(indices_in_batch, batch_scores, shared is not None)
        from_scratch.extend(scratch)
        if resumable:
            resumes = [
                Resume(b, row, r.visible, r.feed_token, r.state) for b, _, row, r in resumable
            ]
            continue_greedy(loaded, shared, resumes, judge, counter)
            work.n_resumed += len(resumes)
            for (_, i, _, _), resume in zip(resumable, resumes, strict=True):
                answers[i] = resume.state.answer

    def after_batch(indices_in_batch: list[int], batch_scores: list, shared: Any) -> None:
        if generative:
            settle(indices_in_batch, batch_scores, shared)
        batch_outcomes = []
        for b, i in enumerate(indices_in_batch):
            outcomes[i] = outcome_of(i, batch_scores[b])
            batch_outcomes.append(outcomes[i])
        if checkpoint is not None:
            checkpoint.write_batch(
                SCORE,
                work.score_batches,
                indices_in_batch,
                work.delta(counter, fast.n_fast),
                outcomes=batch_outcomes,
            )

    def skip_scored(batch: list[int]) -> bool:
        work.score_batches += 1
        done = all(i in restored.scored for i in batch)
        if done:
            work.batches_restored += 1
            work.n_restored += len(batch)
        return done

    if options.share_context and loaded.packed_scoring is None:
        loaded.packed_scoring = packed_scoring_works(loaded)
    scorer = score_packed if loaded.packed_scoring else score_kv_cache
    with _Progress("score", len(requests), options) as tick:
        if options.share_context:
            scorer(
                loaded,
                requests,
                options.token_budget,
                counter,
                tick,
                after_batch=after_batch,
                skip=skip_scored if checkpoint is not None else None,
                end_ids=end_ids,
            )
        else:
            scores = score_flat(
                loaded, requests, options.token_budget, counter, tick, end_ids=end_ids
            )
            for i in range(n):
                if generative:
                    fast.replay(i, scores[i])
                    if answers[i] is None:
                        from_scratch.append(i)
                outcomes[i] = outcome_of(i, scores[i])
    for i, outcome in enumerate(outcomes):
        if outcome is None:  # restored from the checkpoint of an interrupted run
            outcome = outcomes[i] = restored.scored[i]
            answers[i] = outcome.answer
            if outcome.pending_decode:
                from_scratch.append(i)

    def skip_decoded(batch: list[int]) -> bool:
        work.decode_batches += 1
        done = all(from_scratch[k] in restored.decoded for k in batch)
        work.batches_restored += done
        return done

    def after_decode(batch: list[int], states: list) -> None:
        if checkpoint is not None:
            checkpoint.write_batch(
                DECODE,
                work.decode_batches,
                [from_scratch[k] for k in batch],
                work.delta(counter, fast.n_fast),
                answers=[state.answer for state in states],
            )

    if from_scratch:
        from_scratch.sort()
        with _Progress("generate", len(from_scratch), options) as tick:
            states = greedy_decode(
                loaded,
                [plans[i].generation_ids for i in from_scratch],
                judge,
                options.token_budget,
                counter,
                tick,
                skip=skip_decoded if checkpoint is not None else None,
                after_batch=after_decode,
            )
        for i, state in zip(from_scratch, states, strict=True):
            answers[i] = state.answer if state is not None else restored.decoded[i]
    generated_answers = [a if a is not None else "" for a in answers] if generative else None
    target_logprobs = [o.target_logprob for o in outcomes if o is not None]
    target_tokens = [o.target_tokens for o in outcomes if o is not None]
    choice_logprobs = [o.choice_logprobs for o in outcomes if o is not None]
    target_token_logprobs = [o.target_token_logprobs for o in outcomes if o is not None]
    end_logprobs = [o.end_logprob for o in outcomes if o is not None]
    assert len(target_logprobs) == n, "every example has an outcome"

    mc_grades: list[float] | None = None
    if multiple_choice:
        mc_grades = [
            metric_fns.multiple_choice_grade(lps or [], p.choice_scores)
            for lps, p in zip(choice_logprobs, prompts, strict=True)
        ]
    if generated_answers is not None:
        predictions = generated_answers
        correct = [
            metric_fns.exact_str_match(a, p.targets)
            for a, p in zip(predictions, prompts, strict=True)
        ]
    else:
        chosen = [metric_fns.chosen_option(lps or []) for lps in choice_logprobs]
        predictions = [p.choices[c] for p, c in zip(prompts, chosen, strict=True)]
        correct = [
            p.choice_scores[c] == max(p.choice_scores) for p, c in zip(prompts, chosen, strict=True)
        ]
    return Computed(
        config=config,
        prompts=prompts,
        predictions=predictions,
        correct=correct,
        target_logprobs=target_logprobs,
        target_tokens=target_tokens,
        target_token_logprobs=target_token_logprobs,
        end_logprobs=end_logprobs,
        choice_logprobs=choice_logprobs,
        mc_grades=mc_grades,
        generated_answers=generated_answers,
        tokens=counter.tokens,
        forward_passes=counter.forward_passes,
        n_fast_path=fast.n_fast + restored.work.n_fast_path,
        n_generated=work.n_resumed + restored.work.n_generated + len(from_scratch),
        n_truncated=sum(truncated),
        truncated=truncated,
        n_restored=work.n_restored,
        batches_restored=work.batches_restored,
        tokens_restored=restored.work.tokens if work.batches_restored else 0,
    )


@dataclass
class _WorkSoFar:
    """Counters of one `_compute` call, and the per-batch deltas its checkpoint records."""

    n_resumed: int = 0
    score_batches: int = 0
    decode_batches: int = 0
    batches_restored: int = 0
    n_restored: int = 0
    _last: tuple[int, int, int, int] = (0, 0, 0, 0)

    def delta(self, counter: Any, n_fast: int) -> BatchWork:
        now = (counter.tokens, counter.forward_passes, n_fast, self.n_resumed)
        before, self._last = self._last, now
        return BatchWork(*(a - b for a, b in zip(now, before, strict=True)))


class _Progress:
    """tqdm bar and/or callback for one stage; a context manager yielding tick(n_done)."""

    def __init__(self, stage: str, total: int, options: _RunOptions) -> None:
        self.stage, self.total, self.options = stage, total, options
        self.done = 0
        self.bar = None

    def __enter__(self) -> Callable[[int], None]:
        if self.options.show_progress:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc=self.stage, unit="ex", leave=False)
        if self.options.progress:
            self.options.progress(self.stage, 0, self.total)
        return self.tick

    def tick(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        if self.bar is not None:
            self.bar.update(n)
        if self.options.progress:
            self.options.progress(self.stage, self.done, self.total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
