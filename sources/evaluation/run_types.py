"""The engine's public types: what an evaluation is asked (EvalConfig) and what it returns.

Torch-free and model-free (polars only), so that the CLI, the Dagster assets and the run-output
writers can name them without importing the engine's model code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from sources.evaluation.cache import cache_key
from sources.evaluation.tokenization import TOKENIZATIONS
from sources.evaluation.warehouse_columns import table_schema
from sources.metric_registry import computed_by, metric, unit_of

ENGINE_VERSION = "0.1.0"


CITATION = f"emergence-lake engine {ENGINE_VERSION}"


# Columns and types of warehouse/schema.sql (read from it), in its order.
EXAMPLES_SCHEMA: dict[str, pl.DataType] = table_schema("eval_examples")


RESULTS_SCHEMA: dict[str, pl.DataType] = table_schema("results")


# The engine's metrics and their units, from the metric registry (sources/metrics.yaml).
METRIC_UNITS = {name: unit_of(name) for name in computed_by("engine")}


SUPPORTED_TASK_METRICS = ("exact_str_match", "multiple_choice_grade", "bleu")


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
        for name in self.metrics or ():
            metric(name)  # an unknown metric is refused here, with the registry's message

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
