"""The points behind the two new x axes: training progress (checkpoint FLOPs) and pre-training loss
(LAMBADA perplexity), read from the warehouse with bound parameters.

The size-axis panels (marts/panels.py) read only released models; these read the intermediate
checkpoints too: lm-eval rows carry `checkpoint_step` / `tokens_seen` / `checkpoint_flops`
(sources/lmeval.py), and the lake's own evaluation of a registry model at a revision `step<N>`
is placed on the same axis here, with the suite's tokens per step (sources/suites.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from sources.suites import load_suites

# lm-eval keeps each MMLU subject as its own task (`mmlu/<subject>`); the charts draw `mmlu`, the
# mean of the 57, not 57 more facets.
SUBTASK_PREFIX = "mmlu/"
LOSS_TASK = "lambada_openai"
LOSS_METRIC = "perplexity"
LOSS_SHOTS = 0


@dataclass(frozen=True)
class TrainingView:
    """One training-progress chart: one family's lm-eval checkpoints at one shot count, plus
    the lake's own evaluations of that family at `step<N>` revisions (any shots, faceted apart)."""

    view_id: str  # the chart's file stem and asset name
    title: str
    family: str
    shots: int


TRAINING_VIEWS: tuple[TrainingView, ...] = (
    TrainingView("training_pythia", "Emergence over training · Pythia", "Pythia", 0),
    TrainingView(
        "training_pythia_deduped",
        "Emergence over training · Pythia (deduplicated Pile)",
        "Pythia-deduped",
        0,
    ),
)

TRAINING_SQL = r"""
SELECT r.model_id, m.label, m.family, m.params, m.weights, r.origin, r.task_id,
       t.name AS task_name, r.shots, r.metric, r.value, r.unit, r.citation, r.location, r.setting,
       tm.random_level,
       coalesce(r.checkpoint_step,
                TRY_CAST(regexp_extract(coalesce(m.revision, ''), '^step([0-9]+)$', 1) AS BIGINT))
           AS checkpoint_step,
       r.tokens_seen, r.checkpoint_flops
FROM results r
JOIN models m USING (model_id)
JOIN tasks t USING (task_id)
LEFT JOIN task_metrics tm USING (task_id, metric)
WHERE m.family = ? AND r.metric = t.preferred_metric AND r.prompting = 'standard'
  AND NOT starts_with(r.task_id, ?)
  AND ((r.origin <> 'fresh' AND r.shots = ? AND r.checkpoint_step IS NOT NULL)
       OR (r.origin = 'fresh' AND regexp_matches(coalesce(m.revision, ''), '^step[0-9]+$')))
"""

LOSS_SQL = """
WITH loss AS (
    SELECT model_id, origin, checkpoint_step, value AS lambada_perplexity
    FROM results
    WHERE task_id = ? AND metric = ? AND shots = ? AND prompting = 'standard'
)
SELECT r.model_id, m.label, m.family, m.params, r.origin, r.task_id, t.name AS task_name,
       r.shots, r.metric, r.value, r.unit, r.citation, r.location, r.setting, tm.random_level,
       r.checkpoint_step, l.lambada_perplexity
FROM results r
JOIN loss l ON l.model_id = r.model_id AND l.origin = r.origin
           AND l.checkpoint_step IS NOT DISTINCT FROM r.checkpoint_step
JOIN models m ON m.model_id = r.model_id
JOIN tasks t ON t.task_id = r.task_id
LEFT JOIN task_metrics tm ON tm.task_id = r.task_id AND tm.metric = r.metric
WHERE r.metric = t.preferred_metric AND r.shots = ? AND r.prompting = 'standard'
  AND NOT starts_with(r.task_id, ?)
"""


def tokens_per_step_by_weights() -> dict[str, float]:
    """Tokens per optimiser step of every hub id in sources/suites.yaml (the one place it is kept)."""
    return {
        hub_id: float(model.tokens_per_step)
        for hub_id, model in load_suites().by_hub_id.items()
        if model.tokens_per_step
    }


def place_fresh_checkpoints(frame: pl.DataFrame, tokens_per_step: dict[str, float]) -> pl.DataFrame:
    """Fresh rows at revision step<N> get tokens seen (N × the suite's tokens per step, looked up
    by the registry entry's `weights`) and FLOPs 6·params·tokens seen, as lm-eval rows have;
    rows that already carry them keep theirs. A model whose weights are in no suite keeps NULL
    FLOPs, and the chart lists it as not placed."""
    step_tokens = pl.col("weights").replace_strict(
        tokens_per_step, default=None, return_dtype=pl.Float64
    )
    tokens = pl.coalesce(pl.col("tokens_seen"), pl.col("checkpoint_step") * step_tokens)
    return frame.with_columns(tokens_seen=tokens).with_columns(
        checkpoint_flops=pl.coalesce(
            pl.col("checkpoint_flops"), 6.0 * pl.col("params") * pl.col("tokens_seen")
        )
    )


def training_points(
    con: duckdb.DuckDBPyConnection,
    view: TrainingView,
    tokens_per_step: dict[str, float] | None = None,
) -> pl.DataFrame:
    """Every checkpoint result of the view's family: one row per model × checkpoint × task."""
    frame = con.execute(TRAINING_SQL, [view.family, SUBTASK_PREFIX, view.shots]).pl()
    if tokens_per_step is None:
        tokens_per_step = tokens_per_step_by_weights()
    frame = place_fresh_checkpoints(frame, tokens_per_step)
    return frame.sort("task_id", "params", "checkpoint_step", nulls_last=True)


def loss_points(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every result (0-shot, preferred metric) of a model and checkpoint that also has a 0-shot
    LAMBADA perplexity: the accuracy and the loss come from the same evaluation run's file."""
    frame = con.execute(
        LOSS_SQL, [LOSS_TASK, LOSS_METRIC, LOSS_SHOTS, LOSS_SHOTS, SUBTASK_PREFIX]
    ).pl()
    return frame.sort("task_id", "family", "params", "checkpoint_step", nulls_last=True)
