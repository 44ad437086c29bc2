"""Re-scoring: continuous metrics from stored `eval_examples` alone, without loading a model.

Why: Schaeffer et al. (2023) argue that emergence can be an artefact of hit-or-miss metrics; the
test is to look at the same evaluations through continuous metrics. Every number below comes from
what the engine stored per example (sources/metrics.yaml lists each metric's unit and needs):

- `expected_exact_match` = mean exp(target_logprob + end_logprob): the probability of sampling
  exactly the target's tokens and then ending the answer (end tokens: sources/evaluation/
  answer_end.py). Exact for that event; where `end_logprob` is not stored (multiple-choice tasks,
  rows written before the column existed) the end factor is 1 and the value is an UPPER bound.
- `per_token_probability` = mean exp(target_logprob / target_tokens) (geometric mean per token).
- `target_token_accuracy` = mean over examples of the mean over target tokens of p(token).
- `predicted_exact_match` = p̄^L̄, Schaeffer et al.'s prediction of exact match from the per-token
  probability (p̄ the mean per-token probability, L̄ the mean target length), next to the observed
  exact match.
- `token_edit_distance` (the model's tokenizer, loaded from the models table's weights when it can
  be) or `char_edit_distance` (Unicode characters, when it cannot): mean Levenshtein distance of
  the answer to the target; generative examples only.
- `correct_option_probability` and `brier_score`: options' log-probabilities normalised over the
  options; correct = the options with the highest target score; Brier = sum_j (p_j - score_j)^2.

Sources: `eval_examples` (fresh and lab evaluations: every metric) and `lmeval_examples`
(lm-evaluation-harness per-sample logs: multiple-choice samples, option metrics only; the harness
logs no target token count nor an end log-probability). Each run's origin, setting, citation and
checkpoint columns come from its own results rows.

Per-example values are DuckDB list expressions over the examples table; edit distances run in
marts/edit_distance.py (vectorised over examples). Rows go to `results` with
`rescored_from_run` = the evaluation run they come from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import polars as pl

from checks.schemas import ResultsSchema
from checks.validation import Problem, raise_if_any, schema_problems
from marts.edit_distance import Sequences, levenshtein
from sources.evaluation.run_types import ENGINE_VERSION
from sources.evaluation.warehouse_columns import conform
from sources.metric_registry import computed_by, metric, unit_ranges
from warehouse.store import ensure_schema, replace_rows, transaction

RESCORE_CITATION = f"emergence-lake rescore {ENGINE_VERSION}"
RESCORED_METRICS = computed_by("rescore")
RUN_KEY = ["run_id", "model_id", "task_id", "shots"]
# Carried from the run's own results rows onto the re-scored rows (one value per run).
CARRIED = [
    "origin",
    "citation",
    "source_file",
    "setting",
    "checkpoint_step",
    "tokens_seen",
    "checkpoint_flops",
    "checkpoint_flops_basis",
    "final_checkpoint",
]
_CARRIED_SQL = ", ".join(f"any_value({c}) AS {c}" for c in CARRIED)

# Fresh (and lab) evaluations: the engine writes results rows located 'run <run_id> config <hash>'.
_ENGINE_EXAMPLES_SQL = f"""
WITH runs AS (
    SELECT split_part(location, ' ', 2) AS run_id, model_id, task_id, shots, {_CARRIED_SQL}
    FROM results
    WHERE location LIKE 'run % config %' AND rescored_from_run IS NULL
    GROUP BY ALL
)
SELECT e.run_id, e.model_id, e.task_id, e.shots, e.example_idx, {", ".join(f"r.{c}" for c in CARRIED)},
       e.target_logprob, e.target_tokens, e.end_logprob, e.target_token_logprobs,
       (e.end_logprob IS NOT NULL OR e.choice_logprobs IS NULL) AS generative,
       e.choice_logprobs AS lps, e.choice_scores AS ys
FROM eval_examples e
JOIN runs r USING (run_id, model_id, task_id, shots)
"""

# lm-evaluation-harness per-sample logs: multiple-choice samples only (the option log-likelihoods
# and the gold option's index); the run is its results file. The harness logs no target token
# count nor an end log-probability, so only the option metrics are re-scored from them.
_LMEVAL_EXAMPLES_SQL = f"""
WITH runs AS (
    SELECT source_file AS run_id, model_id, task_id, shots, checkpoint_step AS step,
           {_CARRIED_SQL}
    FROM results
    WHERE origin = 'lmeval' AND rescored_from_run IS NULL
    GROUP BY ALL
)
SELECT e.results_file AS run_id, e.model_id, e.task_id, e.shots, e.example_idx,
       {", ".join(f"r.{c}" for c in CARRIED)},
       CAST(NULL AS DOUBLE) AS target_logprob, CAST(NULL AS INTEGER) AS target_tokens,
       CAST(NULL AS DOUBLE) AS end_logprob, CAST(NULL AS DOUBLE[]) AS target_token_logprobs,
       false AS generative, e.choice_logprobs AS lps,
       list_transform(range(len(e.choice_logprobs)),
                      k -> CASE WHEN k = TRY_CAST(e.target AS BIGINT) THEN 1.0 ELSE 0.0 END) AS ys
FROM lmeval_examples e
JOIN runs r ON r.run_id = e.results_file AND r.model_id = e.model_id AND r.task_id = e.task_id
           AND r.shots IS NOT DISTINCT FROM e.shots AND r.step IS NOT DISTINCT FROM e.checkpoint_step
WHERE e.choice_logprobs IS NOT NULL AND TRY_CAST(e.target AS BIGINT) BETWEEN 0 AND len(e.choice_logprobs) - 1
"""

# One row per example: the per-example quantity of each metric (NULL where it does not apply).
_PER_EXAMPLE_SQL = f"""
WITH ex AS (
    SELECT *, list_max(lps) AS top
    FROM (({_ENGINE_EXAMPLES_SQL}) UNION ALL BY NAME ({_LMEVAL_EXAMPLES_SQL}))
    {{where}}
),
normalised AS (
    SELECT *, top + ln(list_sum(list_transform(lps, x -> exp(x - top)))) AS lse FROM ex
)
SELECT run_id, model_id, task_id, shots, example_idx, {", ".join(CARRIED)}, generative,
       exp(target_logprob + coalesce(end_logprob, 0)) AS p_exact,
       generative AND end_logprob IS NULL AS exact_is_bound,
       exp(target_logprob / nullif(target_tokens, 0)) AS p_token,
       target_tokens,
       list_avg(list_transform(target_token_logprobs, x -> exp(x))) AS token_accuracy,
       CASE WHEN ys IS NOT NULL AND len(ys) = len(lps) THEN
           list_sum(list_transform(lps, (x, i) -> CASE WHEN ys[i] = list_max(ys) THEN exp(x - lse) ELSE 0 END))
       END AS p_correct,
       CASE WHEN ys IS NOT NULL AND len(ys) = len(lps) THEN
           list_sum(list_transform(lps, (x, i) -> (exp(x - lse) - ys[i]) ** 2))
       END AS brier,
       CASE WHEN ys IS NOT NULL THEN
           len(list_filter(ys, y -> y = list_max(ys))) / len(ys)
       END AS chance_correct,
       CASE WHEN ys IS NOT NULL THEN
           list_sum(list_transform(ys, y -> (1.0 / len(ys) - y) ** 2))
       END AS chance_brier
FROM normalised
"""


def per_example(con: duckdb.DuckDBPyConnection, run_ids: list[str] | None = None) -> pl.DataFrame:
    """Per-example quantities of every re-scored metric, for the runs given (all by default)."""
    if run_ids is None:
        return con.execute(_PER_EXAMPLE_SQL.format(where="")).pl()
    sql = _PER_EXAMPLE_SQL.format(where="WHERE run_id IN (SELECT unnest(?))")
    return con.execute(sql, [run_ids]).pl()


TokenizerLoader = Callable[[str, str | None], Any]


def load_tokenizer(weights: str, revision: str | None) -> Any:
    """The model's tokenizer from local files only (no download): re-scoring needs no network."""
    from transformers import AutoTokenizer  # heavy: only when there is something to tokenize

    return AutoTokenizer.from_pretrained(weights, revision=revision, local_files_only=True)


def edit_distances(
    con: duckdb.DuckDBPyConnection,
    examples: pl.DataFrame,
    tokenizer_loader: TokenizerLoader | None = load_tokenizer,
) -> pl.DataFrame:
    """Per generative example: the edit distance of answer to target, in tokens or characters.

    Per model (not per example): its tokenizer where it loads, else characters; `unit_note`
    says which and why.
    """
    key = ["run_id", "task_id", "example_idx"]
    texts = con.execute(
        """SELECT e.run_id, e.task_id, e.example_idx, e.model_id, e.prediction, e.target,
                  m.weights, m.revision
           FROM eval_examples e LEFT JOIN models m USING (model_id)
           WHERE e.end_logprob IS NOT NULL OR e.choice_logprobs IS NULL"""
    ).pl()
    texts = texts.join(examples.filter(pl.col("generative")).select(key), on=key, how="semi")
    parts = []
    for (model_id, weights, revision), group in texts.group_by(
        ["model_id", "weights", "revision"], maintain_order=True
    ):
        tokenizer, reason = None, f"no weights recorded for {model_id}"
        if weights and tokenizer_loader is not None:
            try:
                tokenizer = tokenizer_loader(weights, revision)
            except Exception as error:  # noqa: BLE001 - any failure: fall back to characters
                reason = f"tokenizer at {weights} could not be loaded ({type(error).__name__})"
        if tokenizer is not None:
            distance = levenshtein(
                _token_ids(tokenizer, group["prediction"]), _token_ids(tokenizer, group["target"])
            )
            metric_name, note = "token_edit_distance", f"tokens of the tokenizer at {weights}"
        else:
            distance = levenshtein(
                Sequences.of_texts(group["prediction"]), Sequences.of_texts(group["target"])
            )
            metric_name, note = "char_edit_distance", f"characters: {reason}"
        parts.append(
            group.select(key).with_columns(
                pl.Series("edit_distance", distance, dtype=pl.Float64),
                pl.lit(metric_name).alias("edit_metric"),
                pl.lit(note).alias("edit_note"),
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={
                **{c: examples.schema[c] for c in key},
                "edit_distance": pl.Float64,
                "edit_metric": pl.String,
                "edit_note": pl.String,
            }
        )
    return pl.concat(parts)


def _token_ids(tokenizer: Any, texts: pl.Series) -> Sequences:
    """One batched tokenizer call for all texts (no special tokens: the answer as generated)."""
    return Sequences.of_token_ids(tokenizer(texts.to_list(), add_special_tokens=False)["input_ids"])


def _long(aggregated: pl.DataFrame) -> pl.DataFrame:
    """One row per run x metric from the wide aggregate (value, n, note per metric)."""
    parts = []
    for name in RESCORED_METRICS:
        if f"{name}__value" not in aggregated.columns:
            continue
        parts.append(
            aggregated.select(
                *RUN_KEY,
                *CARRIED,
                pl.lit(name).alias("metric"),
                pl.col(f"{name}__value").alias("value"),
                pl.col(f"{name}__n").alias("n_examples"),
                pl.col(f"{name}__note").alias("note"),
            )
        )
    return pl.concat(parts, how="vertical_relaxed").filter(
        pl.col("value").is_not_null() & pl.col("value").is_finite() & (pl.col("n_examples") > 0)
    )


def _edit_aggregates() -> list[pl.Expr]:
    """Mean edit distance per unit: each run has one of the two (its tokenizer loaded or not)."""
    exprs = []
    for name in ("token_edit_distance", "char_edit_distance"):
        mine = pl.col("edit_metric") == name
        exprs += [
            pl.col("edit_distance").filter(mine).mean().alias(f"{name}__value"),
            pl.col("edit_distance").filter(mine).count().alias(f"{name}__n"),
            pl.col("edit_note").filter(mine).first().alias(f"{name}__note"),
        ]
    return exprs


def rescore_frame(examples: pl.DataFrame, distances: pl.DataFrame) -> pl.DataFrame:
    """Run-level metric values (long format) from per-example quantities and edit distances."""
    examples = examples.join(distances, on=["run_id", "task_id", "example_idx"], how="left")
    generative = pl.col("generative")
    options = pl.col("p_correct").is_not_null()
    n_bound = (generative & pl.col("exact_is_bound")).sum()
    aggregated = examples.group_by([*RUN_KEY, *CARRIED], maintain_order=True).agg(
        (100 * pl.col("p_exact").mean()).alias("expected_exact_match__value"),
        pl.col("p_exact").count().alias("expected_exact_match__n"),
        pl.when(~generative.any())
        .then(pl.lit("upper bound: multiple choice, no log-probability of ending the answer"))
        .when(n_bound > 0)
        .then(pl.format("upper bound: end_logprob not stored for {} examples", n_bound))
        .otherwise(pl.lit("exact: target tokens then an answer-ending token"))
        .alias("expected_exact_match__note"),
        (100 * pl.col("p_token").mean()).alias("per_token_probability__value"),
        pl.col("p_token").count().alias("per_token_probability__n"),
        pl.lit("exp(target_logprob / target_tokens), mean over examples").alias(
            "per_token_probability__note"
        ),
        (100 * pl.col("token_accuracy").mean()).alias("target_token_accuracy__value"),
        pl.col("token_accuracy").count().alias("target_token_accuracy__n"),
        pl.lit("mean p(target token) under teacher forcing").alias("target_token_accuracy__note"),
        (100 * pl.col("p_token").mean().pow(pl.col("target_tokens").mean())).alias(
            "predicted_exact_match__value"
        ),
        pl.col("p_token").count().alias("predicted_exact_match__n"),
        pl.format(
            "Schaeffer et al. 2023: p̄^L̄, L̄ = {} target tokens",
            pl.col("target_tokens").mean().round(2),
        ).alias("predicted_exact_match__note"),
        (100 * pl.col("p_correct").filter(options).mean()).alias(
            "correct_option_probability__value"
        ),
        pl.col("p_correct").count().alias("correct_option_probability__n"),
        pl.format(
            "chance {}% (uniform over the options)",
            (100 * pl.col("chance_correct").mean()).round(2),
        ).alias("correct_option_probability__note"),
        pl.col("brier").mean().alias("brier_score__value"),
        pl.col("brier").count().alias("brier_score__n"),
        pl.format(
            "chance {} (uniform over the options)", pl.col("chance_brier").mean().round(4)
        ).alias("brier_score__note"),
        *_edit_aggregates(),
    )
    return _long(aggregated)


def chance_levels(examples: pl.DataFrame) -> pl.DataFrame:
    """Per task x metric: the chance level of each re-scored metric that has one (registry rule)."""
    by_task = examples.group_by("task_id").agg(
        (100 * pl.col("chance_correct").mean()).alias("one_over_options"),
        pl.col("chance_brier").mean().alias("options_brier"),
        pl.lit(0.0).alias("zero"),
    )
    rows = []
    for name in RESCORED_METRICS:
        rule = metric(name).chance
        if rule is not None:
            rows.append(
                by_task.select(
                    "task_id", pl.lit(name).alias("metric"), pl.col(rule).alias("random_level")
                )
            )
    return pl.concat(rows).filter(pl.col("random_level").is_not_null())


def results_rows(long: pl.DataFrame) -> pl.DataFrame:
    """The `results` rows of re-scored metrics, with their provenance."""
    frame = long.with_columns(
        pl.lit("standard").alias("prompting"),
        pl.col("metric")
        .map_elements(lambda m: metric(m).unit, return_dtype=pl.String)
        .alias("unit"),
        # The original citation stays inside: re-scored rows are as unique as the run's own rows.
        pl.format("{} of: {}", pl.lit(RESCORE_CITATION), pl.col("citation")).alias("citation"),
        pl.format("rescored from eval_examples of run {}", pl.col("run_id")).alias("location"),
        pl.lit(False).alias("in_wei_figure"),
        pl.col("run_id").alias("rescored_from_run"),
        pl.col("n_examples").cast(pl.Int64),
    )
    return conform(frame, "results")


def rescore(
    con: duckdb.DuckDBPyConnection,
    tokenizer_loader: TokenizerLoader | None = load_tokenizer,
) -> pl.DataFrame:
    """Re-scored `results` rows for every evaluation run with stored examples (validated)."""
    examples = per_example(con)
    distances = edit_distances(con, examples, tokenizer_loader)
    rows = results_rows(rescore_frame(examples, distances))
    raise_if_any(schema_problems(rows, ResultsSchema, table="results") + range_problems(rows))
    return rows


def range_problems(rows: pl.DataFrame) -> list[Problem]:
    """Values outside their unit's range (sources/metrics.yaml): corrupt stored examples."""
    bounds = pl.DataFrame(
        [{"unit": u, "low": lo, "high": hi} for u, (lo, hi) in unit_ranges().items()],
        schema={"unit": pl.String, "low": pl.Float64, "high": pl.Float64},
    )
    bad = rows.join(bounds, on="unit", how="left").filter(
        (pl.col("value") < pl.col("low")) | (pl.col("value") > pl.col("high"))
    )
    return [
        Problem(
            file=f"eval_examples of run {r['rescored_from_run']} ({r['task_id']})",
            row=None,
            column=r["metric"],
            found=f"{r['value']:.6g} {r['unit']}",
            expected=f"a value in [{r['low']}, {r['high']}] {r['unit']}",
            rule="units",
        )
        for r in bad.to_dicts()
    ]


def same_rows(con: duckdb.DuckDBPyConnection, table: str, where: str, frame: pl.DataFrame) -> bool:
    """Whether `table`'s rows selected by `where` (a fixed condition) are exactly `frame`'s rows.

    Lets an asset skip a write session (a copy of the warehouse) when nothing changed.
    """
    try:
        stored = con.execute(f"SELECT * FROM {table} WHERE {where}").pl()
    except duckdb.Error:  # an older warehouse without the table or column: write
        return False
    if frame.height == 0 or stored.height == 0:
        return frame.height == stored.height
    if set(stored.columns) != set(frame.columns):
        return False
    columns = sorted(frame.columns)
    key = [c for c in columns if not isinstance(frame.schema[c], pl.List)]
    a = stored.select(columns).sort(key, nulls_last=True)
    b = frame.select(columns).cast(a.schema, strict=False).sort(key, nulls_last=True)
    return a.equals(b)


def write_rescored(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> None:
    """Replace every re-scored row (call inside a transaction): a full recompute each time."""
    replace_rows(con, "results", rows, where="rescored_from_run IS NOT NULL")


def rescore_into(
    con: duckdb.DuckDBPyConnection, tokenizer_loader: TokenizerLoader | None = load_tokenizer
) -> pl.DataFrame:
    """Re-score every stored evaluation and replace the re-scored rows, in one transaction.

    On any error (a validation failure included) the warehouse keeps its previous rows.
    """
    ensure_schema(con)
    rows = rescore(con, tokenizer_loader)
    with transaction(con):
        write_rescored(con, rows)
    return rows


__all__ = [
    "RESCORE_CITATION",
    "RESCORED_METRICS",
    "chance_levels",
    "edit_distances",
    "per_example",
    "rescore",
    "rescore_frame",
    "rescore_into",
    "results_rows",
    "write_rescored",
]
