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
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import polars as pl

from sources.bigbench import GENERATIVE_METRICS, MULTIPLE_CHOICE_METRICS, BigBenchTask, load_task
from sources.evaluation import metrics as metric_fns
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
from sources.evaluation.model import LoadedModel, ModelSpec, resolve_revision
from sources.evaluation.prompts import Prompt, build_prompts, example_rng
from sources.evaluation.tokenization import TOKENIZATIONS, PromptTokenizer
from sources.evaluation.warehouse_columns import conform, table_schema

ENGINE_VERSION = "0.1.0"
CITATION = f"emergence-lake engine {ENGINE_VERSION}"

# Columns and types of warehouse/schema.sql (read from it), in its order.
EXAMPLES_SCHEMA: dict[str, pl.DataType] = table_schema("eval_examples")
RESULTS_SCHEMA: dict[str, pl.DataType] = table_schema("results")
METRIC_UNITS = {
    "exact_str_match": "percent",
    "multiple_choice_grade": "percent",
    "bleu": "bleu",
    "target_logprob": "nats",
    "target_cross_entropy": "nats_per_token",
}
SUPPORTED_TASK_METRICS = ("exact_str_match", "multiple_choice_grade", "bleu")
DEFAULT_TOKEN_BUDGET = {"cpu": 1024, "cuda": 32768}
MAX_AUTO_NEW_TOKENS = 256

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EvalConfig:
    """Everything that can change an evaluation's results (and so enters the cache key)."""

    shots: int = 2
    limit: int | None = None
    seed: int = 0
    tokenization: str = "bigbench"
    stop_sequences: tuple[str, ...] = ()
    max_new_tokens: int | None = None  # None: 2 x the longest target in tokens + 8, at most 256
    dtype: str = "float32"
    metrics: tuple[str, ...] | None = None  # None: every metric of the task the engine computes

    def __post_init__(self) -> None:
        if self.shots < 0:
            raise ValueError(f"shots must be >= 0, got {self.shots}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if self.tokenization not in TOKENIZATIONS:
            raise ValueError(
                f"tokenization must be one of {TOKENIZATIONS}, got {self.tokenization!r}"
            )
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if any(not s for s in self.stop_sequences):
            raise ValueError("stop sequences must be non-empty strings")
        if self.metrics is not None and not self.metrics:
            raise ValueError("metrics: name at least one metric, or pass None for all")

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["stop_sequences"] = list(self.stop_sequences)
        if self.metrics is None:
            del values["metrics"]  # keeps cache keys of runs made before the option existed
        else:
            values["metrics"] = sorted(self.metrics)
        return values

    @property
    def config_hash(self) -> str:
        return cache_key({"engine": ENGINE_VERSION, **self.as_dict()})[:12]


@dataclass
class EvaluationStats:
    """How the results were obtained. On a cache hit, everything but `cache_hit` and
    `wall_seconds` describes the computation that produced the cached rows."""

    n_examples: int
    cache_hit: bool
    wall_seconds: float  # this call, end to end
    load_seconds: float  # loading the model (0 when given a loaded model)
    eval_seconds: float  # prompts, scoring, decoding and metrics; model loading excluded
    examples_per_second: float
    tokens_processed: int  # tokens run through the model, padding excluded
    tokens_per_second: float
    forward_passes: int
    n_fast_path: int  # generative examples answered from the teacher-forced pass
    n_generated: int  # generative examples that needed decoding
    n_truncated: int  # contexts cut from the left to fit the model (per example: `run.flags`)
    device: str
    metrics_not_computed: list[str] = field(default_factory=list)
    n_params: int | None = None  # parameters of the evaluated model (embeddings included)
    # Resuming an interrupted run (checkpoint.py): examples and batches restored, not recomputed,
    # and the tokens those batches had cost. tokens_processed counts only this call's work.
    n_restored: int = 0
    batches_restored: int = 0
    tokens_restored: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvaluationRun:
    run_id: str
    model_id: str
    model_revision: str
    task_id: str
    config: EvalConfig
    examples: pl.DataFrame  # columns of eval_examples
    results: pl.DataFrame  # columns of results
    stats: EvaluationStats
    # Per example (task_id, example_idx, truncated): facts the warehouse has no column for; None
    # for a cache entry written before they were recorded.
    flags: pl.DataFrame | None = None

    @property
    def config_hash(self) -> str:
        return self.config.config_hash

    @property
    def metric_values(self) -> dict[str, float]:
        """{metric: value} for this task's own rows (the parent's rows for composite tasks)."""
        own = self.results.filter(pl.col("task_id") == self.task_id)
        return dict(zip(own["metric"].to_list(), own["value"].to_list(), strict=True))


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
        run = _combine(task, spec, config, revision, runs)
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


def selected_metrics(task: BigBenchTask, config: EvalConfig) -> tuple[str, ...]:
    """The task metrics this evaluation computes: the requested ones, else every supported one."""
    if config.metrics is None:
        return tuple(m for m in task.metrics if m in SUPPORTED_TASK_METRICS)
    wrong = [m for m in config.metrics if m not in task.metrics or m not in SUPPORTED_TASK_METRICS]
    if wrong:
        supported = [m for m in task.metrics if m in SUPPORTED_TASK_METRICS]
        raise ValueError(
            f"{task.task_id}: cannot compute {wrong}; this task's metrics: {supported}"
        )
    return tuple(m for m in task.metrics if m in config.metrics)


def select_examples(task: BigBenchTask, limit: int | None, seed: int) -> list[int]:
    """All example indices, or a seeded random subset of `limit` of them (sorted)."""
    count = len(task.examples)
    if limit is None or limit >= count:
        return list(range(count))
    return sorted(example_rng(seed, task.task_id, -1, "limit").sample(range(count), limit))


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
            examples = conform(
                cached.examples.with_columns(pl.lit(spec.model_id).alias("model_id")),
                "eval_examples",
            )
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
    examples = _examples_frame(run_id, spec.model_id, task, config, computed)
    results = _results_frame(run_id, spec, task, config, revision, computed)
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


@dataclass
class _Computed:
    config: EvalConfig
    prompts: list[Prompt]
    predictions: list[str]
    correct: list[bool]
    target_logprobs: list[float]
    target_tokens: list[int]
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


@dataclass
class _ExamplePlan:
    """Which continuation rows of one example's scoring request serve which purpose."""

    request: Any  # ScoringRequest
    target_row: int  # scored for target_logprob (the first target, tokenized per convention)
    choice_rows: list[int]  # one per option, in file order
    greedy_rows: list[int]  # one per target: generation tail + the target's own tokens
    tail: int  # tokens of the generation context that follow the scoring context
    generation_ids: list[int]


def _plan_example(
    context: list[int],
    scored: list[list[int]],
    generation_ids: list[int],
    targets_alone: list[list[int]],
    generative: bool,
    fast_path: bool,
    max_length: int,
    max_new: int,
) -> tuple[_ExamplePlan, bool]:
    """Token rows for one example (deduplicated), and whether its context had to be cut.

    `scored`: the first target then the options, tokenized by the scoring convention;
    `targets_alone`: every target tokenized on its own (what greedy decoding must produce).
    """
    from sources.evaluation.scoring import ScoringRequest

    aligned = generative and fast_path and generation_ids[: len(context)] == context
    tail = generation_ids[len(context) :] if aligned else []
    greedy = [tail + ids for ids in targets_alone] if aligned else []
    greedy = [row for row in greedy if row]

    # Cut contexts from the left to fit the model: room for the longest row, or for the
    # generation tail plus the new tokens.
    longest_row = max((len(r) for r in scored + greedy), default=0)
    room = max_length - max(longest_row, len(tail) + max_new if generative else 0)
    cut = max(0, len(context) - max(room, 1))
    context = context[cut:]
    if generative:
        generation_ids = generation_ids[cut:] if aligned else generation_ids
        overflow = len(generation_ids) + max_new - max_length
        if not aligned and overflow > 0:
            generation_ids = generation_ids[overflow:]

    rows: dict[tuple[int, ...], int] = {}

    def row_of(tokens: list[int]) -> int:
        return rows.setdefault(tuple(tokens), len(rows))

    target_row = row_of(scored[0])
    choice_rows = [row_of(tokens) for tokens in scored[1:]]
    greedy_rows = [row_of(tokens) for tokens in greedy]
    request = ScoringRequest(tuple(context), tuple(rows))
    plan = _ExamplePlan(request, target_row, choice_rows, greedy_rows, len(tail), generation_ids)
    return plan, cut > 0


def _compute(
    task: BigBenchTask,
    config: EvalConfig,
    loaded: LoadedModel,
    options: _RunOptions,
    checkpoint: Checkpoint | None = None,
) -> _Computed:
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
    judge = GreedyJudge(
        rule=AnswerRule(task.output_regex, task.stop_string, config.stop_sequences),
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
        plan, was_cut = _plan_example(
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
    answers: list[str | None] = [None] * n
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
            choice_logprobs=choices if plan.choice_rows else None,
            answer=answers[i],
            pending_decode=generative and answers[i] is None,
        )

    def replay(i: int, scores_i: list) -> tuple[int, _Replay] | None:
        """Settle example i from its teacher-forced rows, or return where to resume decoding."""
        plan = plans[i]
        best: tuple[int, _Replay] | None = None
        for row in plan.greedy_rows:
            result = _replay_known_greedy_prefix(
                judge,
                plan.request.context_ids,
                plan.request.continuations[row],
                plan.tail,
                scores_i[row],
                options.tie_margin,
            )
            if result.state.finished:
                answers[i] = result.state.answer
                work.n_fast += 1
                return None
            if best is None or len(result.state.ids) > len(best[1].state.ids):
                best = (row, result)
        return best

    def settle(indices_in_batch: list[int], batch_scores: list, shared: Any) -> None:
        """Generative tasks: settle greedy answers while this batch's KV cache is alive."""
        resumes, resumed = [], []
        for b, i in enumerate(indices_in_batch):
            best = replay(i, batch_scores[b])
            if answers[i] is not None:
                continue
            if best is None or shared is None:
                from_scratch.append(i)
                continue
            row, result = best
            resumes.append(Resume(b, row, result.visible, result.feed_token, result.state))
            resumed.append(i)
        if resumes:
            continue_greedy(loaded, shared, resumes, judge, counter)
            work.n_resumed += len(resumes)
            for i, resume in zip(resumed, resumes, strict=True):
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
                work.delta(counter),
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
            )
        else:
            scores = score_flat(loaded, requests, options.token_budget, counter, tick)
            for i in range(n):
                if generative:
                    replay(i, scores[i])
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
                work.delta(counter),
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
    return _Computed(
        config=config,
        prompts=prompts,
        predictions=predictions,
        correct=correct,
        target_logprobs=target_logprobs,
        target_tokens=target_tokens,
        choice_logprobs=choice_logprobs,
        mc_grades=mc_grades,
        generated_answers=generated_answers,
        tokens=counter.tokens,
        forward_passes=counter.forward_passes,
        n_fast_path=work.n_fast + restored.work.n_fast_path,
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

    n_fast: int = 0
    n_resumed: int = 0
    score_batches: int = 0
    decode_batches: int = 0
    batches_restored: int = 0
    n_restored: int = 0
    _last: tuple[int, int, int, int] = (0, 0, 0, 0)

    def delta(self, counter: Any) -> BatchWork:
        now = (counter.tokens, counter.forward_passes, self.n_fast, self.n_resumed)
        before, self._last = self._last, now
        return BatchWork(*(a - b for a, b in zip(now, before, strict=True)))


@dataclass
class _Replay:
    state: Any  # GreedyState after the known tokens
    visible: int  # context + row tokens that are greedy's prefix (to resume decoding from)
    feed_token: int  # the token decoding processes next, at logical position `visible`


def _replay_known_greedy_prefix(
    judge: Any,
    context: tuple[int, ...],
    row: tuple[int, ...],
    skip: int,
    score: Any,
    tie_margin: float,
) -> _Replay:
    """Replay the greedy tokens the teacher-forced pass already determines.

    `row` is the generation tail (the first `skip` tokens: the rest of the generation context)
    followed by a target's own tokens. At row position i the pass gives the argmax after
    ``context + row[:i]``; for i >= skip that is greedy's token for as long as greedy has
    reproduced ``row[skip:i]``. Each known token goes through the judge. The replay stops at the
    first argmax that differs from the row (later positions are conditioned on the row, not on
    greedy's token): decoding resumes by feeding that token. At an argmax whose margin is below
    `tie_margin` it stops before using it: decoding recomputes that position by re-feeding the
    token before it.
    """
    state = judge.new_state()
    for position in range(skip, len(score.greedy_ids)):
        token = score.greedy_ids[position]
        if score.greedy_margins[position] < tie_margin:
            if position == 0:
                return _Replay(state, len(context) - 1, context[-1])
            return _Replay(state, len(context) + position - 1, row[position - 1])
        if judge.step(state, token):
            return _Replay(state, -1, -1)
        if position < len(row) and token != row[position]:
            return _Replay(state, len(context) + position, token)
    return _Replay(state, len(context) + len(row), score.greedy_ids[-1])


def default_max_new_tokens(task: BigBenchTask, tokenizer: PromptTokenizer) -> int:
    """Generation limit when none is given: room for twice the longest target, plus 8 tokens."""
    targets = sorted({t for e in task.examples for t in e.targets})
    if not targets:
        return 32
    encoded = tokenizer.tokenizer(targets, add_special_tokens=False)["input_ids"]
    longest = max(len(ids) for ids in encoded)
    return min(MAX_AUTO_NEW_TOKENS, 2 * longest + 8)


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


def _examples_frame(
    run_id: str, model_id: str, task: BigBenchTask, config: EvalConfig, c: _Computed
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
        },
        schema_overrides={"choice_logprobs": pl.List(pl.Float64())},
    ).pipe(conform, "eval_examples")


def _metric_values(task: BigBenchTask, c: _Computed) -> dict[str, float]:
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


def _result_rows(
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


def _results_frame(
    run_id: str,
    spec: ModelSpec,
    task: BigBenchTask,
    config: EvalConfig,
    revision: str,
    c: _Computed,
) -> pl.DataFrame:
    note = f"weights revision {revision}"
    values = _metric_values(task, c)
    return _result_rows(spec, task.task_id, config, run_id, values, len(c.prompts), note)


def _combine(
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
    parent = _result_rows(
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
