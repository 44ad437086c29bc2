"""Ruan, Maddison & Hashimoto (2024), "Observational Scaling Laws": Figure 2 A-D tasks on ~80 open models.

Two CSVs of github.com/ryoungj/ObsScaling at a pinned commit, each verified by sha256:
`base_llm_benchmark_eval.csv` gives each model's family, size, tokens and FLOPs (the authors'
6·N·D); `base_llm_emergent_capability_eval.csv` gives 2-shot BIG-bench scores as fractions in
[0, 1] (BLEU on 0-100). Both are normalised here into the lake's long format, fractions turned
into percent, with the file and column as provenance on every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from checks.validation import Problem, cast_columns, raise_if_any
from sources.literature import display_path, read_text_csv
from sources.metric_registry import unit_of
from sources.remote import RemoteFile, fetch

COMMIT = "4d6e1e43fd2635d04654aa77d1df9d5266ea0382"
BASE_URL = f"https://raw.githubusercontent.com/ryoungj/ObsScaling/{COMMIT}/eval_results"
CITATION = "Ruan, Maddison & Hashimoto 2024 (ObsScaling)"

BENCHMARK_FILE = RemoteFile(
    f"{BASE_URL}/base_llm_benchmark_eval.csv",
    "511996815735a4c46251dc585dcc525e370d148201f86561e6f927f9df2d0db8",
)
EMERGENT_FILE = RemoteFile(
    f"{BASE_URL}/base_llm_emergent_capability_eval.csv",
    "a156beee73c39b7833c3c53535c473939105512d85e90b0143be7325e516ef7c",
)
REMOTE_FILES = {"benchmark": BENCHMARK_FILE, "emergent": EMERGENT_FILE}

# column in the emergent-capability file -> (task_id, metric, scale factor into the lake's unit)
EMERGENT_COLUMNS: dict[str, tuple[str, str, float]] = {
    "arithmetic_3ds_2_acc": ("arithmetic/3_digit_subtraction", "exact_str_match", 100.0),
    "arithmetic_3da_2_acc": ("arithmetic/3_digit_addition", "exact_str_match", 100.0),
    "arithmetic_2dm_2_acc": ("arithmetic/2_digit_multiplication", "exact_str_match", 100.0),
    "arithmetic_2da_2_acc": ("arithmetic/2_digit_addition", "exact_str_match", 100.0),
    "ipa_transliterate_2_bleu": ("international_phonetic_alphabet_transliterate", "bleu", 1.0),
    "ipa_transliterate_2_exact_match": (
        "international_phonetic_alphabet_transliterate",
        "exact_str_match",
        100.0,
    ),
    "word_unscrambling_2_exact_match": ("word_unscrambling", "exact_str_match", 100.0),
    "parsinlu_qa_2_acc": ("parsinlu_qa", "multiple_choice_grade", 100.0),
}
UNIT_OF_METRIC = {metric: unit_of(metric) for _, metric, _ in EMERGENT_COLUMNS.values()}
BENCHMARK_COLUMNS = [
    "Model",
    "Model Family",
    "Model Size (B)",
    "Pretraining Data Size (T)",
    "FLOPs (1E21)",
]


@dataclass(frozen=True)
class ObsScalingTables:
    models: pl.DataFrame
    results: pl.DataFrame


def fetch_obsscaling(report: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Verified local copies of both files (cache, then EMERGENCE_MIRROR, then the network);
    `report` hears about a corrupt cached copy being replaced."""
    return {name: fetch(remote, report=report) for name, remote in REMOTE_FILES.items()}


def read_models(path: Path) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = read_text_csv(path, BENCHMARK_COLUMNS, other_columns_allowed=True)
    if problems:
        return frame, problems
    frame, problems = cast_columns(
        frame,
        {
            "Model Size (B)": pl.Float64,
            "Pretraining Data Size (T)": pl.Float64,
            "FLOPs (1E21)": pl.Float64,
        },
    )
    models = frame.select(  # the benchmark score columns are not the lake's: only scale is read
        pl.col("Model").alias("model_id"),
        pl.col("Model Family").alias("family"),
        pl.col("Model").str.split("/").list.last().alias("label"),
        (pl.col("Model Size (B)") * 1e9).alias("params"),
        (pl.col("Pretraining Data Size (T)") * 1e12).alias("train_tokens"),
        (pl.col("FLOPs (1E21)") * 1e21).alias("train_flops"),
        pl.when(pl.col("FLOPs (1E21)").is_not_null())
        .then(pl.lit("estimated_6nd"))
        .otherwise(pl.lit("missing"))
        .alias("flops_basis"),
        pl.lit(None, dtype=pl.Float64).alias("flops_printed_by_wei"),
        pl.col("Model").alias("weights"),
        pl.lit(None, dtype=pl.String).alias("revision"),
        pl.lit("obsscaling").alias("origin"),
        pl.lit(
            f"{CITATION}, eval_results/base_llm_benchmark_eval.csv @ {COMMIT[:7]}: "
            "Model Size (B), Pretraining Data Size (T), FLOPs (1E21) (the authors' 6·N·D)"
        ).alias("source"),
        pl.when(pl.col("FLOPs (1E21)").is_null())
        .then(pl.lit("ObsScaling gives no training tokens or FLOPs for this model"))
        .otherwise(None)
        .alias("note"),
        "source_file",
        "source_row",
    )
    return models, problems


def read_results(path: Path) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = read_text_csv(path, ["Model", *EMERGENT_COLUMNS])
    if problems:
        return frame, problems
    frame, problems = cast_columns(frame, dict.fromkeys(EMERGENT_COLUMNS, pl.Float64))
    label = display_path(path)
    long = frame.unpivot(
        index=["Model", "source_file", "source_row"],
        on=list(EMERGENT_COLUMNS),
        variable_name="column",
        value_name="raw",
    ).filter(pl.col("raw").is_not_null())
    mapping = pl.DataFrame(
        {
            "column": list(EMERGENT_COLUMNS),
            "task_id": [v[0] for v in EMERGENT_COLUMNS.values()],
            "metric": [v[1] for v in EMERGENT_COLUMNS.values()],
            "factor": [v[2] for v in EMERGENT_COLUMNS.values()],
        }
    )
    results = long.join(mapping, on="column", how="left").select(
        pl.col("Model").alias("model_id"),
        "task_id",
        pl.lit(2, dtype=pl.Int64).alias("shots"),
        pl.lit("standard").alias("prompting"),
        pl.lit("2-shot").alias("setting"),
        "metric",
        (pl.col("raw") * pl.col("factor")).alias("value"),
        pl.col("metric").replace_strict(UNIT_OF_METRIC).alias("unit"),
        pl.lit(None, dtype=pl.Int64).alias("n_examples"),
        pl.lit("obsscaling").alias("origin"),
        pl.lit(CITATION).alias("citation"),
        pl.format(
            "eval_results/base_llm_emergent_capability_eval.csv @ {}, column {}",
            pl.lit(COMMIT[:7]),
            pl.col("column"),
        ).alias("location"),
        pl.lit(label).alias("source_file"),
        pl.lit(False).alias("in_wei_figure"),
        pl.lit(None, dtype=pl.String).alias("trust"),
        pl.when(pl.col("task_id").str.starts_with("arithmetic/"))
        .then(
            pl.lit(
                "BIG-bench arithmetic: a close variant of the modified_arithmetic task Wei et al. plot"
            )
        )
        .otherwise(None)
        .alias("note"),
        "source_row",
    )
    # Fractions must lie in [0, 1] before they become percent: catch a column in the wrong unit.
    bad = long.join(mapping, on="column").filter(
        (pl.col("factor") == 100.0) & ((pl.col("raw") < 0) | (pl.col("raw") > 1))
    )
    problems += [
        Problem(label, r["source_row"], r["column"], repr(r["raw"]), "a fraction between 0 and 1")
        for r in bad.iter_rows(named=True)
    ]
    return results, problems


def read_obsscaling(paths: dict[str, Path]) -> ObsScalingTables:
    models, problems = read_models(paths["benchmark"])
    results, more = read_results(paths["emergent"])
    raise_if_any(problems + more)
    return ObsScalingTables(models, results)
