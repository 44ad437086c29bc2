"""Pandera (polars backend) schemas of the staged tables: the warehouse contract, checked in Python.

The column lists match warehouse/schema.sql; `tests/test_schemas.py` keeps the two in step.
Ranges are "plausible for a language model", wide enough for anything published so far and
narrow enough to catch a value typed in the wrong unit (billions for a count, percent for a
fraction).
"""

from __future__ import annotations

import pandera.polars as pa

from sources.metric_registry import all_metrics, units

PROMPTING_METHODS = ["standard", "chain_of_thought"]
UNITS = units()  # the metric registry's units (sources/metrics.yaml)
METRICS = sorted(all_metrics())
ORIGINS = ["literature", "obsscaling", "fresh", "lmeval", "lab"]
MODEL_ORIGINS = ["literature", "obsscaling", "registry", "lmeval", "lab"]
# counted_6nd: 6 x parameters x tokens, both counted from what the lab trained (sources/lab)
FLOPS_BASES = [
    "published",
    "printed_by_wei",
    "estimated_6nd",
    "hardware_estimate",
    "missing",
    "counted_6nd",
]

# Plausible ranges (inclusive). A 1M-parameter model is the smallest anyone plots; 10T the largest.
PARAMS_RANGE = (1e5, 1e13)
TOKENS_RANGE = (1e8, 1e15)
FLOPS_RANGE = (1e14, 1e28)

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/+\-]*$"
CITATION_MIN_LENGTH = 4


class ModelsSchema(pa.DataFrameModel):
    model_id: str = pa.Field(unique=True, str_matches=ID_PATTERN)
    family: str = pa.Field(str_length={"min_value": 1})
    label: str = pa.Field(str_length={"min_value": 1})
    params: float = pa.Field(
        nullable=True, in_range={"min_value": PARAMS_RANGE[0], "max_value": PARAMS_RANGE[1]}
    )
    train_tokens: float = pa.Field(
        nullable=True, in_range={"min_value": TOKENS_RANGE[0], "max_value": TOKENS_RANGE[1]}
    )
    train_flops: float = pa.Field(
        nullable=True, in_range={"min_value": FLOPS_RANGE[0], "max_value": FLOPS_RANGE[1]}
    )
    flops_basis: str = pa.Field(isin=FLOPS_BASES)
    flops_printed_by_wei: float = pa.Field(
        nullable=True, in_range={"min_value": FLOPS_RANGE[0], "max_value": FLOPS_RANGE[1]}
    )
    flops_6nd: float = pa.Field(nullable=True)
    flops_6nd_ratio: float = pa.Field(nullable=True, gt=0)
    flops_consistent: bool = pa.Field(nullable=True)
    weights: str = pa.Field(nullable=True)
    revision: str = pa.Field(nullable=True)
    origin: str = pa.Field(isin=MODEL_ORIGINS)
    source: str = pa.Field(str_length={"min_value": CITATION_MIN_LENGTH})
    note: str = pa.Field(nullable=True)

    class Config:
        strict = True


class TasksSchema(pa.DataFrameModel):
    task_id: str = pa.Field(unique=True, str_matches=ID_PATTERN)
    name: str = pa.Field(str_length={"min_value": 1})
    suite: str = pa.Field(str_length={"min_value": 1})
    figure_panel: str = pa.Field(nullable=True, str_matches=r"^Fig[23][A-H]$")
    preferred_metric: str = pa.Field(str_length={"min_value": 1})
    variant_of: str = pa.Field(nullable=True)
    description: str = pa.Field(str_length={"min_value": 1})
    source: str = pa.Field(str_length={"min_value": CITATION_MIN_LENGTH})

    class Config:
        strict = True


class TaskMetricsSchema(pa.DataFrameModel):
    task_id: str
    metric: str = pa.Field(isin=METRICS)  # known to the metric registry
    unit: str = pa.Field(isin=UNITS)
    higher_is_better: bool
    random_level: float = pa.Field(nullable=True)
    random_source: str = pa.Field(str_length={"min_value": CITATION_MIN_LENGTH})

    class Config:
        strict = True
        unique = ["task_id", "metric"]


class ResultsSchema(pa.DataFrameModel):
    model_id: str
    task_id: str
    shots: int = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 1000})
    prompting: str = pa.Field(isin=PROMPTING_METHODS)
    setting: str = pa.Field(str_length={"min_value": 1})
    metric: str = pa.Field(isin=METRICS)  # known to the metric registry
    value: float
    unit: str = pa.Field(isin=UNITS)
    n_examples: int = pa.Field(nullable=True, ge=1)
    origin: str = pa.Field(isin=ORIGINS)
    citation: str = pa.Field(str_length={"min_value": CITATION_MIN_LENGTH})
    location: str = pa.Field(str_length={"min_value": 2})
    source_file: str = pa.Field(str_length={"min_value": 1})
    in_wei_figure: bool
    trust: str = pa.Field(nullable=True)
    note: str = pa.Field(nullable=True)
    # lm-eval checkpoints and provenance (sources/lmeval.py); optional: other sources leave them out
    value_stderr: float | None = pa.Field(nullable=True, ge=0)
    checkpoint_step: int | None = pa.Field(nullable=True, ge=0)
    tokens_seen: float | None = pa.Field(nullable=True, ge=0)
    checkpoint_flops: float | None = pa.Field(nullable=True, ge=0)
    checkpoint_flops_basis: str | None = pa.Field(
        nullable=True, isin=["estimated_6nd", "counted_6nd"]
    )
    final_checkpoint: bool | None = pa.Field(nullable=True)
    source_commit: str | None = pa.Field(nullable=True, str_matches=r"^[0-9a-f]{40}$")
    source_sha256: str | None = pa.Field(nullable=True, str_matches=r"^[0-9a-f]{64}$")
    rescored_from_run: str | None = pa.Field(nullable=True, str_length={"min_value": 1})

    class Config:
        strict = True
        unique = ["model_id", "task_id", "setting", "prompting", "metric", "citation"]


class Table1Schema(pa.DataFrameModel):
    row_order: int = pa.Field(unique=True, ge=1)
    prompting_kind: str = pa.Field(isin=["few-shot", "augmented"])
    ability: str = pa.Field(str_length={"min_value": 1})
    is_numeric: bool
    reported_flops: float = pa.Field(
        nullable=True, in_range={"min_value": FLOPS_RANGE[0], "max_value": FLOPS_RANGE[1]}
    )
    reported_params: float = pa.Field(
        nullable=True, in_range={"min_value": PARAMS_RANGE[0], "max_value": PARAMS_RANGE[1]}
    )
    family: str
    reference: str
    task_id: str = pa.Field(nullable=True)
    shots: int = pa.Field(nullable=True, ge=0)
    prompting: str = pa.Field(nullable=True, isin=PROMPTING_METHODS)
    metric: str = pa.Field(nullable=True)
    source: str = pa.Field(str_length={"min_value": CITATION_MIN_LENGTH})
    note: str = pa.Field(nullable=True)

    class Config:
        strict = True


class EvalExamplesSchema(pa.DataFrameModel):
    run_id: str
    model_id: str
    task_id: str
    shots: int = pa.Field(ge=0)
    example_idx: int = pa.Field(ge=0)
    prompt_hash: str = pa.Field(str_length={"min_value": 8})
    target: str
    prediction: str
    correct: bool
    target_logprob: float = pa.Field(le=0)
    target_tokens: int = pa.Field(ge=1)
    end_logprob: float | None = pa.Field(nullable=True, le=0)

    class Config:
        strict = False  # choice_logprobs is a list column; checked by type in DuckDB
        unique = ["run_id", "task_id", "example_idx"]


class LmEvalExamplesSchema(pa.DataFrameModel):
    model_id: str
    task_id: str
    shots: int = pa.Field(nullable=True, ge=0)
    checkpoint_step: int = pa.Field(nullable=True, ge=0)
    example_idx: int = pa.Field(ge=0)
    prompt_hash: str = pa.Field(nullable=True)
    target: str = pa.Field(nullable=True)
    prediction: str = pa.Field(nullable=True)
    correct: bool = pa.Field(nullable=True)
    target_logprob: float = pa.Field(nullable=True, le=0)
    results_file: str
    source_file: str
    source_row: int = pa.Field(ge=1)
    source_sha256: str = pa.Field(str_matches=r"^[0-9a-f]{64}$")

    class Config:
        strict = False  # choice_logprobs is a list column; checked by type in DuckDB
        unique = ["results_file", "task_id", "example_idx"]


SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "models": ModelsSchema,
    "tasks": TasksSchema,
    "task_metrics": TaskMetricsSchema,
    "results": ResultsSchema,
    "table1": Table1Schema,
    "eval_examples": EvalExamplesSchema,
    "lmeval_examples": LmEvalExamplesSchema,
}
