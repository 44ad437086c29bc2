"""Fresh evaluations of causal LMs on BIG-bench tasks (the lake's evaluation engine).

Importing this package does not import torch or transformers (Dagster loads definitions without
them); the modules that need them (scoring, decoding, toy_models) are imported when evaluating.

    from sources.evaluation import ModelSpec, evaluate
    run = evaluate(ModelSpec("pythia-70m", "EleutherAI/pythia-70m"), "arithmetic/3_digit_addition")
    run.results, run.examples, run.stats
"""

from sources.evaluation.engine import (
    ENGINE_VERSION,
    EXAMPLES_SCHEMA,
    RESULTS_SCHEMA,
    EvalConfig,
    EvaluationRun,
    EvaluationStats,
    LazyModel,
    evaluate,
)
from sources.evaluation.model import (
    LoadedModel,
    ModelLoadError,
    ModelSpec,
    load_model,
    resolve_revision,
)

__all__ = [
    "ENGINE_VERSION",
    "EXAMPLES_SCHEMA",
    "RESULTS_SCHEMA",
    "EvalConfig",
    "EvaluationRun",
    "EvaluationStats",
    "LazyModel",
    "LoadedModel",
    "ModelLoadError",
    "ModelSpec",
    "evaluate",
    "load_model",
    "resolve_revision",
]
