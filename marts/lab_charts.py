"""Charts of one lab ladder (Altair; HTML + PNG under data/charts/lab/<family>/).

1. `accuracy_vs_flops`: exact match of the final models against training FLOPs (6·N·D, counted).
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


def lab_chart_frames(results: pl.DataFrame, manifests: list[dict]) -> dict[str, pl.DataFrame]:
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
    return {
        "final": final.filter(pl.col("metric").is_in([ACCURACY, CROSS_ENTROPY])),
        "accuracy_loss": accuracy.join(held, on=["model_id", "checkpoint_step"], how="inner"),
        "checkpoints": accuracy,
    }


def lab_charts(results: pl.DataFrame, manifests: list[dict]) -> dict[str, alt.TopLevelMixin]:
    frames = lab_chart_frames(results, manifests)
    final = frames["final"]
    flops = alt.X("train_flops:Q", scale=alt.Scale(type="log"), title="training FLOPs (6·N·D)")
    color = alt.Color("setting:N", title="prompt")
    tooltip = ["model_label", "task_id", "setting", "metric", "value", "params", "train_flops"]
    accuracy = (
        alt.Chart(final.filter(pl.col("metric") == ACCURACY))
        .mark_line(point=True)
        .encode(flops, alt.Y("value:Q", title="exact match (%)"), color, tooltip=tooltip)
        .facet(column=alt.Column("task_id:N", title=None))
        .properties(title="Lab ladder: accuracy against training FLOPs")
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


def write_lab_charts(results: pl.DataFrame, manifests: list[dict], family: str) -> list[Path]:
    """HTML (self-contained) and PNG of every lab chart; returns the paths written."""
    directory = charts_dir() / "lab" / family
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, chart in lab_charts(results, manifests).items():
        for suffix, options in (("html", {"inline": True}), ("png", {"scale_factor": 2})):
            path = directory / f"{stem}.{suffix}"
            chart.save(str(path), format=suffix, **options)
            paths.append(path)
    return paths
