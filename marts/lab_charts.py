"""Charts of one lab ladder (Altair; HTML + PNG under data/charts/lab/<family>/).

1. `accuracy_vs_flops`: exact match of the final models against training FLOPs (6·N·D, counted),
   beside the published families measured on the same task and metric (grey; `published_curves`).
2. `masking`: exact match beside the per-token cross-entropy of the same examples' targets, against
   scale: the "metric artefact" view (Schaeffer et al. 2023) of the same points.
3. `accuracy_vs_heldout_loss`: exact match against the held-out loss of each kept checkpoint.
4. `checkpoints`: exact match along training (tokens seen) for each size.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import polars as pl

from sources.paths import charts_dir

ACCURACY = "exact_str_match"
CROSS_ENTROPY = "target_cross_entropy"
PUBLISHED_GREY = "#b0b0b0"
FLOPS_AXIS = alt.Axis(format=".0e")  # one style from 1e9 (the lab) to 1e25 (published models)
PUBLISHED_COLUMNS = ["family", "model_label", "task_id", "shots", "value", "params", "train_flops"]


def published_curves(con, tasks: list[str]) -> pl.DataFrame:
    """Final published models (every origin but `lab`) with FLOPs on the ladder's tasks, exact match."""
    return con.execute(
        f"SELECT {', '.join(PUBLISHED_COLUMNS)} FROM results_with_scale "
        "WHERE origin <> 'lab' AND metric = ? AND list_contains(?::VARCHAR[], task_id) "
        "AND final_checkpoint IS NOT FALSE AND train_flops IS NOT NULL",
        [ACCURACY, tasks],
    ).pl()


def lab_chart_frames(
    results: pl.DataFrame, manifests: list[dict], published: pl.DataFrame | None = None
) -> dict[str, pl.DataFrame]:
    """Plain frames behind the charts (testable without rendering)."""
    held = pl.DataFrame(
        [
            {
                "model_id": m["model_id"],
                "checkpoint_step": c["step"],
                "held_out_loss": c["held_out_loss"],
            }
            for m in manifests
            for c in m["checkpoints"]
        ],
        schema={"model_id": pl.String, "checkpoint_step": pl.Int32, "held_out_loss": pl.Float64},
    )
    rows = results.select(
        "model_id",
        "model_label",
        "task_id",
        "shots",
        "metric",
        "value",
        "params",
        "train_flops",
        pl.col("checkpoint_step").cast(pl.Int32),
        "tokens_seen",
        "checkpoint_flops",
        "final_checkpoint",
    ).with_columns(pl.format("{}-shot", "shots").alias("setting"))
    final = rows.filter(pl.col("final_checkpoint").fill_null(True))
    accuracy = rows.filter(pl.col("metric") == ACCURACY)
    tasks = rows["task_id"].unique().to_list()
    if published is None:
        published = pl.DataFrame(schema={c: results.schema[c] for c in PUBLISHED_COLUMNS})
    return {
        "final": final.filter(pl.col("metric").is_in([ACCURACY, CROSS_ENTROPY])),
        "published": published.filter(pl.col("task_id").is_in(tasks)).with_columns(
            pl.format("{}-shot", "shots").alias("setting")
        ),
        "accuracy_loss": accuracy.join(held, on=["model_id", "checkpoint_step"], how="inner"),
        "checkpoints": accuracy,
    }


def lab_charts(
    results: pl.DataFrame, manifests: list[dict], published: pl.DataFrame | None = None
) -> dict[str, alt.TopLevelMixin]:
    frames = lab_chart_frames(results, manifests, published)
    final = frames["final"]
    flops = alt.X(
        "train_flops:Q",
        scale=alt.Scale(type="log"),
        axis=FLOPS_AXIS,
        title="training FLOPs (6·N·D)",
    )
    color = alt.Color("setting:N", title="prompt")
    tooltip = ["model_label", "task_id", "setting", "metric", "value", "params", "train_flops"]
    exact = alt.Y("value:Q", title="exact match (%)")
    lab_final = final.filter(pl.col("metric") == ACCURACY)
    panels = []
    for task in sorted(lab_final["task_id"].unique().to_list()):  # one panel per ladder task
        others = (
            alt.Chart(frames["published"].filter(pl.col("task_id") == task))
            .mark_line(
                point=alt.OverlayMarkDef(size=12, color=PUBLISHED_GREY),
                color=PUBLISHED_GREY,
                strokeWidth=1,
            )
            .encode(
                flops,
                exact,
                detail="family:N",
                tooltip=["family", "model_label", "setting", "value", "params", "train_flops"],
            )
        )
        lab_line = (
            alt.Chart(lab_final.filter(pl.col("task_id") == task))
            .mark_line(point=True)
            .encode(flops, exact, color, tooltip=tooltip)
        )
        panels.append(alt.layer(others, lab_line).properties(width=520, height=300, title=task))
    accuracy = alt.hconcat(*panels).properties(
        title=alt.TitleParams(
            "Lab ladder: accuracy against training FLOPs",
            subtitle="grey: published families on the same task and metric (hover for names)",
        )
    )
    masking = (
        alt.Chart(final)
        .mark_line(point=True)
        .encode(
            flops,
            alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            color,
            alt.Row("metric:N", title=None),
            tooltip=tooltip,
        )
        .resolve_scale(y="independent")
        .properties(
            width=320,
            height=160,
            title="Masking: exact match vs per-token cross-entropy (nats) of the same examples",
        )
    )
    held = (
        alt.Chart(frames["accuracy_loss"])
        .mark_point(filled=True)
        .encode(
            alt.X(
                "held_out_loss:Q",
                scale=alt.Scale(zero=False, reverse=True),
                title="held-out loss (nats/token)",
            ),
            alt.Y("value:Q", title="exact match (%)"),
            color,
            alt.Shape("final_checkpoint:N", title="final"),
            tooltip=["model_label", "checkpoint_step", "held_out_loss", "value", "setting"],
        )
        .properties(title="Accuracy against held-out loss (every kept checkpoint)")
    )
    checkpoints = (
        alt.Chart(frames["checkpoints"])
        .mark_line(point=True)
        .encode(
            # log: with a per-parameter budget the sizes see tokens over two decades
            alt.X("tokens_seen:Q", scale=alt.Scale(type="log"), title="tokens seen"),
            alt.Y("value:Q", title="exact match (%)"),
            alt.Color("model_label:N", title="size"),
            alt.StrokeDash("setting:N", title="prompt"),
            tooltip=["model_label", "checkpoint_step", "tokens_seen", "value", "setting"],
        )
        .properties(title="Accuracy along training, per size")
    )
    return {
        "accuracy_vs_flops": accuracy,
        "masking": masking,
        "accuracy_vs_heldout_loss": held,
        "checkpoints": checkpoints,
    }


def write_lab_charts(
    results: pl.DataFrame,
    manifests: list[dict],
    family: str,
    published: pl.DataFrame | None = None,
) -> list[Path]:
    """HTML (self-contained) and PNG of every lab chart; returns the paths written."""
    directory = charts_dir() / "lab" / family
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, chart in lab_charts(results, manifests, published).items():
        for suffix, options in (("html", {"inline": True}), ("png", {"scale_factor": 2})):
            path = directory / f"{stem}.{suffix}"
            chart.save(str(path), format=suffix, **options)
            paths.append(path)
    return paths
