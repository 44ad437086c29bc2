"""Emergence over training: per task, accuracy against the training FLOPs each checkpoint has
seen (6·N·tokens seen), one line per model size across its checkpoints, random level dashed.

The size-axis panels ask "at what scale does an ability appear?"; this asks the same along
training for one family, where every size saw the same data in the same order (Pythia), so a
jump that appears at one compute budget whatever the size points at compute, not parameters.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from marts.chart_style import decade_axis, log_domain, require
from marts.facet_chart import facet_grid
from marts.number_format import format_params
from marts.palette import size_shades
from marts.progress_points import TrainingView

TRAINING_COLUMNS = (
    "model_id",
    "label",
    "family",
    "params",
    "origin",
    "task_id",
    "task_name",
    "shots",
    "value",
    "unit",
    "citation",
    "location",
    "setting",
    "random_level",
    "checkpoint_step",
    "tokens_seen",
    "checkpoint_flops",
)


def _with_lines(points: pl.DataFrame) -> pl.DataFrame:
    """A line per size (the lake's own evaluations a line of their own) and a facet per task and
    shot count; the facet says '(fresh)' where the lake evaluated it itself."""
    size = pl.col("params").map_elements(format_params, return_dtype=pl.String)
    fresh = pl.col("origin") == "fresh"
    return points.with_columns(
        line=pl.when(fresh).then(pl.format("{} (fresh)", size)).otherwise(size),
        facet=pl.format(
            "{} · {}-shot{}",
            pl.col("task_name"),
            pl.col("shots"),
            pl.when(fresh).then(pl.lit(" (fresh)")).otherwise(pl.lit("")),
        ),
        flops_text=pl.col("checkpoint_flops").map_elements(
            lambda f: f"{f:.3g}", return_dtype=pl.String
        ),
        tokens_text=pl.col("tokens_seen").map_elements(
            lambda t: f"{t:,.0f}", return_dtype=pl.String
        ),
    )


def _on_axis() -> pl.Expr:
    flops = pl.col("checkpoint_flops")
    return flops.is_not_null() & flops.is_finite() & (flops > 0)


def training_notes(points: pl.DataFrame, view: TrainingView) -> list[str]:
    """What the picture cannot say: what is left off the log axis, what x is, the sources."""
    notes = [
        f"x: training FLOPs a checkpoint has seen, 6 × parameters × tokens seen (step × tokens per "
        f"step, sources/suites.yaml); one line per {view.family} size across its checkpoints, "
        "the largest darkest. The last point of each line is the released model."
    ]
    off = points.filter(~_on_axis())
    if off.height:
        step0 = off.filter(pl.col("checkpoint_step") == 0).height
        other = off.height - step0
        if step0:
            notes.append(
                f"Step 0 (before any training, 0 FLOPs) has no place on a log axis: {step0} "
                "results not drawn."
            )
        if other:
            models = ", ".join(off.filter(pl.col("checkpoint_step") != 0)["label"].unique().sort())
            notes.append(
                f"Not placed ({other} results; tokens per step unknown for their weights): {models}."
            )
    if "fresh" in points.get_column("origin").to_list():
        notes.append(
            "(fresh): the lake's own evaluations of registry models at a revision step<N>."
        )
    citations = points.get_column("citation").unique(maintain_order=True).to_list()
    notes.append(f"Source{'s' if len(citations) != 1 else ''}: {'; '.join(citations)}.")
    return notes


def training_chart(points: pl.DataFrame, view: TrainingView) -> alt.TopLevelMixin:
    """The view's tasks as a grid of facets sharing one log-FLOPs axis and one size legend."""
    require(points, TRAINING_COLUMNS, "training points")
    if points.is_empty():
        raise ValueError(f"{view.view_id}: no checkpoint results to draw")
    points = points.with_columns(
        pl.col("params").cast(pl.Float64),
        pl.col("value").cast(pl.Float64),
        pl.col("checkpoint_flops").cast(pl.Float64),
    )
    drawable = _with_lines(points.filter(_on_axis())).sort("facet", "params", "checkpoint_step")
    lines = (
        drawable.group_by("line")
        .agg(pl.col("params").first(), (pl.col("origin") == "fresh").any().alias("fresh"))
        .sort("fresh", "params")
    )
    order = lines.get_column("line").to_list()
    n_fresh = int(lines.get_column("fresh").sum())
    # Published sizes light to dark, then the lake's own evaluations in their own light-to-dark run.
    colours = size_shades(view.family, lines.height - n_fresh) + (
        size_shades(view.family, n_fresh) if n_fresh else []
    )
    domain = log_domain(drawable.get_column("checkpoint_flops").to_list())
    x = alt.X(
        "checkpoint_flops:Q",
        scale=alt.Scale(type="log", domain=list(domain), nice=False),
        axis=decade_axis(domain, "Training FLOPs at the checkpoint (log scale)"),
    )
    colour = alt.Color(
        "line:N",
        scale=alt.Scale(domain=order, range=colours),
        sort=order,
        legend=alt.Legend(title="Model size", orient="right", symbolStrokeWidth=3),
    )
    tooltip = [
        alt.Tooltip("label:N", title="Model"),
        alt.Tooltip("checkpoint_step:Q", title="Step", format=","),
        alt.Tooltip("tokens_text:N", title="Tokens seen"),
        alt.Tooltip("flops_text:N", title="FLOPs at checkpoint"),
        alt.Tooltip("value:Q", title="Value", format=".4~g"),
        alt.Tooltip("unit:N", title="Unit"),
        alt.Tooltip("setting:N", title="Setting"),
        alt.Tooltip("citation:N", title="Citation"),
        alt.Tooltip("location:N", title="Location"),
    ]
    n_sizes = lines.height - n_fresh
    return facet_grid(
        drawable,
        legend_field="line",
        facet_column="facet",
        x=x,
        colour=colour,
        tooltip=tooltip,
        y_title="Accuracy (%)",
        title=view.title,
        subtitle=(
            f"{view.family}, {view.shots}-shot lm-eval results at every published checkpoint "
            f"({n_sizes} sizes), accuracy (%) per task against training compute so far"
        ),
        notes=training_notes(points, view),
    )


def training_caption(points: pl.DataFrame) -> str:
    """One sentence from the data: sizes, checkpoints, tasks, points."""
    if points.is_empty():
        return "No checkpoint results in the warehouse for this family."
    on_axis = points.filter(_on_axis())
    lmeval = on_axis.filter(pl.col("origin") != "fresh")
    fresh = on_axis.filter(pl.col("origin") == "fresh")
    sentence = (
        f"{lmeval['model_id'].n_unique()} sizes × up to {lmeval['checkpoint_step'].n_unique()} "
        f"checkpoints on {lmeval['task_id'].n_unique()} tasks ({on_axis.height:,} points)."
    )
    if fresh.height:
        sentence += (
            f" The lake's own evaluations: {fresh['model_id'].n_unique()} checkpoint models on "
            f"{fresh['task_id'].n_unique()} tasks."
        )
    return sentence
