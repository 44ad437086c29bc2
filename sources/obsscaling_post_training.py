"""ObsScaling's post-training file: chain of thought vs standard prompting on ~95 open base models.

`eval_results/base_llm_post_training_eval.csv` (Ruan, Maddison & Hashimoto 2024, same pinned
commit as the other ObsScaling files, verified by sha256) holds lm-evaluation-harness scores as
fractions: GSM8K 5-shot (standard), 8-shot chain of thought, zero-shot chain of thought and 8-shot
chain-of-thought self-consistency (majority of 5 samples); BIG-Bench Hard 3-shot standard and
3-shot chain of thought, per task and overall. They become augmented-prompting series: the same
task id and the same model ids as the ObsScaling source (its `Model` column), `prompting` =
`standard` or `chain_of_thought`, so that the detector's rule for augmented prompting (reference =
the standard prompt of the same model and shots) says where chain of thought starts to win.

Columns read and why the others are not:
- GSM8K: `strict-match` and `flexible-extract` filters of every setting, and self-consistency's
  `maj@5` filters (its `score-first` columns score one sampled chain: neither greedy nor voting).
- BBH: the `flexible-extract` filter only. Under `strict-match` the standard 3-shot prompt scores
  0.0 for every model and task (its answers never match the chain-of-thought answer pattern), an
  extraction artefact; the `,norm` columns are ObsScaling's rescaling, derivable from the raw score.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import polars as pl

from checks.validation import Problem, ValidationError, cast_columns, raise_if_any
from sources.literature import display_path, read_text_csv
from sources.obsscaling import (
    BASE_URL,
    CITATION,
    COMMIT,
    REMOTE_FILES,
    ObsScalingTables,
    fetch_obsscaling,
    read_obsscaling,
)
from sources.remote import RemoteFile, fetch

FILE_NAME = "base_llm_post_training_eval.csv"
POST_TRAINING_FILE = RemoteFile(
    f"{BASE_URL}/{FILE_NAME}",
    "797e7e50c6ac54960e28447884b78bf9821b297646741b4485152715fe7fdbe5",
)
ALL_REMOTE_FILES = {**REMOTE_FILES, "post_training": POST_TRAINING_FILE}

# lm-eval task prefix of a column -> (prompting, shots, setting as printed by the harness)
GSM8K_SETTINGS = {
    "gsm8k_5": ("standard", 5, "5-shot (lm-eval gsm8k)"),
    "gsm8k_cot_8": ("chain_of_thought", 8, "8-shot chain of thought (lm-eval gsm8k_cot)"),
    "gsm8k_cot_zeroshot_0": (
        "chain_of_thought",
        0,
        "zero-shot chain of thought (lm-eval gsm8k_cot_zeroshot)",
    ),
    "gsm8k_cot_self_consistency_8": (
        "chain_of_thought",
        8,
        "8-shot chain of thought, self-consistency over 5 samples (lm-eval gsm8k_cot_self_consistency)",
    ),
}
GSM8K_FILTERS = {
    "strict-match": "exact_match_strict",
    "flexible-extract": "exact_match_flexible",
    "maj@5": "exact_match_maj5_strict",
    "maj@5-flexible-extract": "exact_match_maj5_flexible",
}
GSM8K_COLUMN = re.compile(r"^(gsm8k\w*?)_exact_match,(.+)$")
BBH_COLUMN = re.compile(r"^bbh_(cot_)?fewshot_(\w+)_3_exact_match,flexible-extract$")


def column_mapping(header: list[str]) -> pl.DataFrame:
    """One row per column the lake reads: task, prompting, shots, setting, metric."""
    rows = []
    for column in header:
        if match := GSM8K_COLUMN.match(column):
            prefix, filter_name = match.groups()
            if prefix in GSM8K_SETTINGS and filter_name in GSM8K_FILTERS:
                prompting, shots, setting = GSM8K_SETTINGS[prefix]
                rows.append(
                    (column, "gsm8k", prompting, shots, setting, GSM8K_FILTERS[filter_name])
                )
        elif match := BBH_COLUMN.match(column):
            cot, task = match.groups()
            task_id = "bbh" if task == "overall" else f"bbh/{task}"
            prompting = "chain_of_thought" if cot else "standard"
            setting = f"3-shot{' chain of thought' if cot else ''} (lm-eval bbh_{cot or ''}fewshot)"
            rows.append((column, task_id, prompting, 3, setting, "exact_match_flexible"))
    return pl.DataFrame(
        rows,
        schema={
            "column": pl.String,
            "task_id": pl.String,
            "prompting": pl.String,
            "shots": pl.Int64,
            "setting": pl.String,
            "metric": pl.String,
        },
        orient="row",
    )


def read_post_training(path: Path) -> tuple[pl.DataFrame, list[Problem]]:
    """The file in the lake's long results format (values as fractions, unit `fraction`)."""
    label = display_path(path)
    frame, problems = read_text_csv(path, ["Model"], other_columns_allowed=True)
    if problems:
        return frame, problems
    mapping = column_mapping(frame.columns)
    if mapping.height == 0:
        return frame, [
            Problem(
                label,
                1,
                None,
                "no GSM8K or BBH score column",
                f"the columns of {FILE_NAME} at ObsScaling commit {COMMIT[:7]}",
            )
        ]
    columns = mapping["column"].to_list()
    frame, problems = cast_columns(
        frame.select("Model", *columns, "source_file", "source_row"),
        dict.fromkeys(columns, pl.Float64),
    )
    long = frame.unpivot(
        index=["Model", "source_file", "source_row"],
        on=columns,
        variable_name="column",
        value_name="value",
    ).filter(pl.col("value").is_not_null())
    problems += [
        Problem(label, r["source_row"], r["column"], repr(r["value"]), "a fraction between 0 and 1")
        for r in long.filter((pl.col("value") < 0) | (pl.col("value") > 1)).iter_rows(named=True)
    ]
    results = long.join(
        mapping, on="column", how="left"
    ).select(
        pl.col("Model").alias("model_id"),
        "task_id",
        "shots",
        "prompting",
        "setting",
        "metric",
        "value",
        pl.lit("fraction").alias("unit"),  # the lake's one conversion turns it into percent
        pl.lit(None, dtype=pl.Int64).alias("n_examples"),
        pl.lit("obsscaling").alias("origin"),
        pl.lit(CITATION).alias("citation"),
        pl.format(
            "eval_results/{} @ {} (sha256 {}), column '{}'",
            pl.lit(FILE_NAME),
            pl.lit(COMMIT[:7]),
            pl.lit(POST_TRAINING_FILE.sha256),
            pl.col("column"),
        ).alias("location"),
        pl.lit(label).alias("source_file"),
        pl.lit(False).alias("in_wei_figure"),
        pl.lit(None, dtype=pl.String).alias("trust"),
        pl.lit(
            "lm-evaluation-harness as run by the ObsScaling authors; augmented-prompting series "
            "(chain of thought vs the standard prompt of the same model and shots)"
        ).alias("note"),
        "source_row",
    )
    return results, problems


def fetch_obsscaling_with_post_training(
    report: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Verified local copies of every ObsScaling file the lake reads (one source: all or none);
    `report` hears about a corrupt cached copy being replaced."""
    return {
        **fetch_obsscaling(report=report),
        "post_training": fetch(POST_TRAINING_FILE, report=report),
    }


def read_obsscaling_with_post_training(paths: dict[str, Path]) -> ObsScalingTables:
    """ObsScaling's models and results, plus the post-training results when their file is there;
    one ValidationError naming every bad cell of every file."""
    problems: list[Problem] = []
    tables = None
    try:
        tables = read_obsscaling(paths)
    except ValidationError as error:  # collected, so the post-training file's problems show too
        problems = list(error.problems)
    if "post_training" not in paths:
        raise_if_any(problems)
        return tables
    post, more = read_post_training(paths["post_training"])
    raise_if_any(problems + more)
    results = pl.concat([tables.results, post], how="diagonal_relaxed")
    return ObsScalingTables(tables.models, results)
