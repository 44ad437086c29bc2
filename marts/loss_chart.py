"""Accuracy against pre-training loss instead of compute: per task, each model and checkpoint at
its own LAMBADA perplexity (0-shot, from the same lm-eval results file as the accuracy).

Du et al. (2024) argue that emergence is a function of pre-training loss, not of size or FLOPs:
models of different sizes and checkpoints that reach the same loss score alike. Pythia, OPT and
BLOOM all report LAMBADA perplexity, a loss on one common corpus, so the lake can put them on one
loss axis. Lower perplexity is better, so the axis runs from high (left) to low (right), like the
compute axis.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from marts.chart_style import decade_axis, log_domain, require
from marts.facet_chart import facet_grid
from marts.palette import family_colour

LOSS_COLUMNS = (
    "model_id",
    "label",
    "family",
    "params",
    "task_id",
    "task_name",
    "value",
    "unit",
    "citation",
    "location",
    "setting",
    "random_level",
    "checkpoint_step",
    "lambada_perplexity",
)
X_TITLE = "LAMBADA perplexity (lower = better)"


def _with_lines(points: pl.DataFrame) -> pl.DataFrame:
    """A family with checkpoints gets a line per model across its checkpoints; a family with only
    released models gets one line across its sizes."""
    checkpointed = (
        points.group_by("family")
        .agg((pl.col("checkpoint_step").n_unique() > 1).alias("checkpointed"))
        .filter(pl.col("checkpointed"))
        .get_column("family")
    )
    return points.with_columns(
        line=pl.when(pl.col("family").is_in(checkpointed.implode()))
        .then(pl.col("model_id"))
        .otherwise(pl.col("family")),
        step_text=pl.col("checkpoint_step").cast(pl.String).fill_null("released model"),
        # Drawn in this order: the many checkpoint lines first, the few released-only models on top.
        draw_order=pl.col("family").is_in(checkpointed.implode()).not_(),
    )


def _on_axis() -> pl.Expr:
    loss = pl.col("lambada_perplexity")
    return loss.is_not_null() & loss.is_finite() & (loss > 0)


def loss_chart(points: pl.DataFrame) -> alt.TopLevelMixin:
    """Every task that has the loss as a grid of facets, one colour per family."""
    require(points, LOSS_COLUMNS, "loss points")
    if points.is_empty():
        raise ValueError("no results with a LAMBADA perplexity to draw")
    points = points.with_columns(
        pl.col("value").cast(pl.Float64), pl.col("lambada_perplexity").cast(pl.Float64)
    )
    drawable = _with_lines(points.filter(_on_axis())).sort(
        "task_name", "draw_order", "family", "params", "checkpoint_step"
    )
    families = drawable.get_column("family").unique(maintain_order=True).to_list()
    domain = log_domain(drawable.get_column("lambada_perplexity").to_list())
    x = alt.X(
        "lambada_perplexity:Q",
        scale=alt.Scale(type="log", domain=list(domain), nice=False, reverse=True),
        axis=decade_axis(domain, X_TITLE),
    )
    colour = alt.Color(
        "family:N",
        scale=alt.Scale(domain=families, range=[family_colour(f) for f in families]),
        legend=alt.Legend(title="Family", orient="right", symbolStrokeWidth=3),
    )
    tooltip = [
        alt.Tooltip("label:N", title="Model"),
        alt.Tooltip("step_text:N", title="Step"),
        alt.Tooltip("lambada_perplexity:Q", title="LAMBADA perplexity", format=".4~g"),
        alt.Tooltip("value:Q", title="Value", format=".4~g"),
        alt.Tooltip("unit:N", title="Unit"),
        alt.Tooltip("setting:N", title="Setting"),
        alt.Tooltip("citation:N", title="Citation"),
        alt.Tooltip("location:N", title="Location"),
    ]
    notes = [
        "x: the model's own 0-shot LAMBADA (OpenAI) perplexity at the same checkpoint, from the "
        "same lm-eval results file as the accuracy, on a log scale reversed so that right = "
        "lower loss (as right = more compute on the FLOPs axis). Du et al. (2024) argue "
        "emergence follows pre-training loss: where points of all sizes and checkpoints fall on "
        "one curve, loss (not size) predicts the score.",
        "Lines join a model's checkpoints (Pythia: early, high-perplexity checkpoints on the left) "
        "or, for a family with released models only, its sizes.",
    ]
    off = points.filter(~_on_axis()).height
    if off:
        notes.append(f"Not drawn: {off} results whose perplexity is not a positive number.")
    citations = points.get_column("citation").unique(maintain_order=True).to_list()
    notes.append(f"Source{'s' if len(citations) != 1 else ''}: {'; '.join(citations)}.")
    return facet_grid(
        drawable,
        legend_field="family",
        facet_column="task_name",
        x=x,
        colour=colour,
        tooltip=tooltip,
        y_title="Accuracy (%)",
        title="Accuracy against pre-training loss (LAMBADA perplexity)",
        subtitle=(
            f"0-shot lm-eval results of {', '.join(families)}, every published checkpoint, "
            "accuracy (%) per task against the same model's LAMBADA perplexity"
        ),
        notes=notes,
    )


def loss_caption(points: pl.DataFrame) -> str:
    """One sentence from the data."""
    if points.is_empty():
        return "No results with a LAMBADA perplexity in the warehouse."
    families = ", ".join(points.get_column("family").unique(maintain_order=True).to_list())
    return (
        f"{points['model_id'].n_unique()} models ({families}) on "
        f"{points['task_id'].n_unique()} tasks, {points.height:,} points placed by their own "
        "LAMBADA perplexity."
    )
