"""Synthetic but valid curated inputs at any size, for the lake-scale benchmark and its tests.

`write_synthetic_literature(target, result_rows)` copies the embedded `sources/literature/` folder
to `target` and adds, in the same documented format (README, "Adding a paper"):

- `SYNTHETIC_TASKS` tasks `synthetic/task_NNN` with their metrics in `task_metrics.csv`: a percent
  accuracy with chance 0, 25 or 50; on some tasks a BLEU score (chance 0), a lower-is-better
  percent error rate (chance 50) and a per-token cross-entropy with no chance level;
- families `Synth-NNNN` of `MODELS_PER_FAMILY` models each in `models.csv` (parameters 10M-600B,
  20 tokens per parameter, FLOPs = 6·N·D; every tenth family lacks the FLOPs of its smallest
  model, another lacks that model's parameter count too, so both scale axes and the
  "left out" note occur);
- `results/synthetic_NNN.csv`: every model on every task × metric × setting (0-shot and 5-shot
  standard prompting, 5-shot chain of thought, on some tasks an unstated shot count, and on some
  a 1-shot chain of thought with no standard baseline), curves that stay at chance, emerge at a
  size that varies by series, rise smoothly, or dip at the largest model; values rounded to two
  decimals as papers print them, n_examples stated on half the rows, a tenth of the percent rows
  given as fractions, and some families reported twice by two "papers" (the detector averages
  them).

Everything is a function of (family, task, setting, model) and a seeded numpy generator, so the same
arguments give byte-identical files. The number of families is chosen so the results files hold
about `result_rows` rows (whole families: the exact count is returned).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl

from sources.literature import RESULT_FILE_HEADER
from sources.paths import LITERATURE_DIR

SYNTHETIC_TASKS = 40
MODELS_PER_FAMILY = 8
ROWS_PER_FILE = 100_000
CITATION = "Synthetic benchmark data (benchmarks/synthetic_lake.py)"
REPLICATION_CITATION = "Synthetic replication (benchmarks/synthetic_lake.py)"


def _tasks() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """tasks.csv rows, task_metrics.csv rows, and the (task, metric, shots, prompting) settings."""
    tasks, metrics, settings = [], [], []
    for t in range(SYNTHETIC_TASKS):
        task_id = f"synthetic/task_{t:03d}"
        tasks.append(
            {
                "task_id": task_id,
                "name": f"Synthetic task {t}",
                "suite": "synthetic",
                "figure_panel": None,
                "preferred_metric": "accuracy",
                "variant_of": None,
                "description": "generated for the lake-scale benchmark; not a real task",
                "source": CITATION,
            }
        )
        declared = [("accuracy", "percent", True, [0.0, 25.0, 50.0][t % 3])]
        if t % 4 == 0:
            declared.append(("bleu", "bleu", True, 0.0))
        if t % 7 == 0:
            declared.append(("error_rate", "percent", False, 50.0))
        if t % 5 == 0:
            declared.append(("target_cross_entropy", "nats_per_token", False, None))
        for metric, unit, higher, random_level in declared:
            metrics.append(
                {
                    "task_id": task_id,
                    "metric": metric,
                    "unit": unit,
                    "higher_is_better": "true" if higher else "false",
                    "random_level": random_level,
                    "random_source": "synthetic: chosen by the generator"
                    if random_level is not None
                    else "none: a synthetic continuous metric",
                }
            )
            setting_list = [(0, "standard"), (5, "standard"), (5, "chain_of_thought")]
            if t % 6 == 0:
                setting_list += [(None, "standard"), (None, "chain_of_thought")]
            if t % 8 == 0:
                setting_list.append((1, "chain_of_thought"))  # no standard 1-shot baseline
            for shots, prompting in setting_list:
                settings.append(
                    {
                        "task_id": task_id,
                        "metric": metric,
                        "unit": unit,
                        "higher_is_better": higher,
                        "random_level": random_level,
                        "shots": shots,
                        "prompting": prompting,
                    }
                )
    settings_frame = pl.DataFrame(
        settings,
        schema={
            "task_id": pl.String,
            "metric": pl.String,
            "unit": pl.String,
            "higher_is_better": pl.Boolean,
            "random_level": pl.Float64,
            "shots": pl.Int64,
            "prompting": pl.String,
        },
    ).with_row_index("setting_index")
    return pl.DataFrame(tasks), pl.DataFrame(metrics), settings_frame


def _models(n_families: int) -> pl.DataFrame:
    rows = []
    for f in range(n_families):
        base = 1e7 * 10 ** ((f % 20) / 10)
        for j in range(MODELS_PER_FAMILY):
            params = float(f"{base * 2.5**j:.4g}")
            tokens = 20 * params
            flops: float | None = float(f"{6 * params * tokens:.4g}")
            params_cell: float | None = params
            if j == 0 and f % 10 in (3, 7):
                flops = None  # scale axis falls back to parameters
                if f % 10 == 7:
                    params_cell = None  # and this model has no known scale at all
            rows.append(
                {
                    "model_id": f"synth-{f:04d}-{j}",
                    "family": f"Synth-{f:04d}",
                    "label": f"Synth {f} #{j}",
                    "params": params_cell,
                    "train_tokens": tokens if params_cell is not None else None,
                    "train_flops": flops,
                    "flops_basis": "published" if flops is not None else "missing",
                    "flops_printed_by_wei": None,
                    "source": CITATION,
                    "note": "generated for the lake-scale benchmark; not a real model",
                    "family_index": f,
                    "size_index": j,
                }
            )
    return pl.DataFrame(rows)


def _results(models: pl.DataFrame, settings: pl.DataFrame, seed: int) -> pl.DataFrame:
    grid = models.select("model_id", "family_index", "size_index").join(settings, how="cross")
    rng = np.random.default_rng(seed)
    f = grid["family_index"].to_numpy()
    s = grid["setting_index"].to_numpy().astype(np.int64)
    j = grid["size_index"].to_numpy()
    shape = (f * 31 + s * 17) % 4  # 0 flat at chance, 1 emerges, 2 smooth rise, 3 dips at the top
    onset = 3 + (f + s) % 4
    last = MODELS_PER_FAMILY - 1
    progress = np.select(
        [shape == 0, shape == 1, shape == 2],
        [
            np.zeros_like(j, dtype=float),
            np.where(j >= onset, (j - onset + 1) / (MODELS_PER_FAMILY - onset), 0.0),
            j / last,
        ],
        default=np.where(j == last, 0.0, j / last),
    )
    noise = rng.normal(0.0, 1.0, grid.height)
    level = grid["random_level"].fill_null(0.0).to_numpy()
    higher = grid["higher_is_better"].to_numpy()
    unit = grid["unit"].to_numpy()
    percent_like = np.where(
        higher, level + (100 - level) * 0.8 * progress, level - level * 0.8 * progress
    )
    value = np.where(
        unit == "nats_per_token",
        np.clip(8.0 - 6.0 * progress + 0.1 * noise, 0.05, None),
        np.clip(percent_like + noise, 0.0, 100.0),
    )
    as_fraction = (unit == "percent") & (rng.random(grid.height) < 0.1)
    value = np.where(as_fraction, np.round(value / 100.0, 4), np.round(value, 2))
    n_examples = np.where(rng.random(grid.height) < 0.5, rng.integers(50, 5000, grid.height), -1)
    results = grid.with_columns(
        pl.Series("value", value),
        pl.when(pl.Series(as_fraction)).then(pl.lit("fraction")).otherwise("unit").alias("unit"),
        pl.when(pl.Series(n_examples) > 0).then(pl.Series(n_examples)).alias("n_examples"),
        pl.when(pl.col("shots").is_null())
        .then(pl.lit("shots not stated"))
        .otherwise(pl.format("{}-shot", "shots"))
        .alias("setting"),
        pl.lit(CITATION).alias("citation"),
        pl.format("generated family {}", "family_index").alias("location"),
        pl.lit("false").alias("in_wei_figure"),
        pl.lit("synthetic").alias("trust"),
        pl.lit(None, dtype=pl.String).alias("note"),
    )
    # Every ninth family is reported again by a second "paper", a little differently.
    replicated = results.filter(pl.col("family_index") % 9 == 0).with_columns(
        (pl.col("value") * 0.98).round(4).alias("value"),
        pl.lit(REPLICATION_CITATION).alias("citation"),
    )
    return pl.concat([results, replicated]).sort("family_index", "setting_index", "model_id")


def rows_per_family() -> int:
    _, _, settings = _tasks()
    return MODELS_PER_FAMILY * settings.height


def _append_csv(path: Path, frame: pl.DataFrame) -> None:
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + frame.write_csv(include_header=False), encoding="utf-8")


def write_synthetic_literature(target: Path, result_rows: int, *, seed: int = 0) -> int:
    """Write the curated folder plus generated inputs to `target`; return the generated result rows."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(LITERATURE_DIR, target)
    tasks, metrics, settings = _tasks()
    per_family = MODELS_PER_FAMILY * settings.height * (1 + 1 / 9)
    n_families = max(1, round(result_rows / per_family))
    models = _models(n_families)
    results = _results(models, settings, seed)
    _append_csv(target / "tasks.csv", tasks)
    _append_csv(target / "task_metrics.csv", metrics)
    _append_csv(target / "models.csv", models.drop("family_index", "size_index"))
    results = results.select(RESULT_FILE_HEADER)
    for k, start in enumerate(range(0, results.height, ROWS_PER_FILE)):
        results.slice(start, ROWS_PER_FILE).write_csv(
            target / "results" / f"synthetic_{k:03d}.csv", float_precision=None
        )
    return results.height
