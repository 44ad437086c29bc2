"""A ladder size end to end, as plain functions: corpus -> train -> evaluate -> warehouse rows.

The Dagster assets (assets/lab.py) and `python -m sources.lab` (`make lab`) both call these.
Rows carry origin `lab`, the ladder's family `lab-<name>-<series_hash>` (a changed recipe is a
new series, never an overwrite) and, in `location`, the ladder and size hashes. Intermediate
checkpoints are rows of the same model with `checkpoint_step` set, `final_checkpoint` false and
the step in `setting`, so size-axis series (emergence) keep only final models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl

from checks.rules import with_flops_consistency
from checks.schemas import FLOPS_RANGE, ModelsSchema
from checks.validation import raise_if_any, schema_problems
from sources.lab.config import LadderConfig, checkpoint_key
from sources.lab.corpus import Corpus, check_no_overlap, generate_corpus
from sources.lab.train import Log, build_tokenizer, lab_dir, train_size
from sources.staging import validate_fresh
from warehouse.store import ensure_schema, read_frame, replace_rows, transaction

CITATION = "emergence-lake lab"


class LabModelsSchema(ModelsSchema):
    """`models` rows of lab ladders: the same contract, with ranges for models a CPU trains
    (thousands of parameters, millions of tokens)."""

    params: float = pa.Field(nullable=True, in_range={"min_value": 1e3, "max_value": 1e13})
    train_tokens: float = pa.Field(nullable=True, in_range={"min_value": 1e3, "max_value": 1e15})
    train_flops: float = pa.Field(
        nullable=True, in_range={"min_value": 1e6, "max_value": FLOPS_RANGE[1]}
    )


@dataclass(frozen=True)
class Prepared:
    corpus: Corpus
    tokenizer: Any
    overlap: dict


@cache
def _prepared(config: LadderConfig) -> Prepared:
    corpus = generate_corpus(config.data, config.seed)
    overlap = check_no_overlap(corpus.train + corpus.held_out, config.data.exclude_tasks)
    directory = lab_dir() / config.family / "tokenizer"
    if (directory / "tokenizer.json").exists():
        from transformers import PreTrainedTokenizerFast

        tokenizer = PreTrainedTokenizerFast.from_pretrained(directory)
    else:
        tokenizer = build_tokenizer(corpus.train, config.vocab_size)
        tokenizer.save_pretrained(directory)
    (lab_dir() / config.family / "overlap.json").write_text(json.dumps(overlap, indent=1))
    return Prepared(corpus, tokenizer, overlap)


def prepare(config: LadderConfig) -> Prepared:
    """The corpus (checked: 0 evaluation questions in it, else CorpusOverlapError) and the
    ladder's tokenizer, once per process and config."""
    return _prepared(config)


def train(config: LadderConfig, size: str, *, log: Log = print, show_progress: bool = True) -> dict:
    prepared = prepare(config)
    manifest = train_size(
        config,
        size,
        prepared.corpus.train,
        prepared.corpus.held_out,
        prepared.tokenizer,
        log=log,
        show_progress=show_progress,
    )
    return {**manifest, "overlap": prepared.overlap}


def checkpoint_of(config: LadderConfig, manifest: dict, key: str) -> dict:
    """The trained size's checkpoint behind a checkpoint key (`50pct`): the step the training
    loop kept for that fraction (two fractions that round to one step share it)."""
    for fraction in config.training.checkpoints:
        if checkpoint_key(fraction) == key:
            step = max(1, round(fraction * manifest["steps"]))
            return next(c for c in manifest["checkpoints"] if c["step"] == step)
    raise KeyError(
        f"ladder {config.name!r} keeps no checkpoint {key!r}; kept: {config.checkpoint_keys}"
    )


def evaluate_size(
    config: LadderConfig,
    manifest: dict,
    *,
    keys: list[str] | None = None,
    log: Log = print,
    show_progress: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The kept checkpoints (all, or those of `keys`) on every task and shot count of the
    ladder: (results, examples)."""
    from sources.evaluation import LazyModel, ModelSpec, evaluate

    device = manifest["device"]
    dtype = "bfloat16" if device.startswith("cuda") and config.dtype == "bfloat16" else "float32"
    chosen = (
        manifest["checkpoints"]
        if keys is None
        else list({id(c): c for c in (checkpoint_of(config, manifest, k) for k in keys)}.values())
    )
    results, examples = [], []
    for checkpoint in chosen:
        spec = ModelSpec(manifest["model_id"], checkpoint["weights"])
        model = LazyModel(spec, device=device, dtype=dtype)
        for task_id in config.evaluation.tasks:
            for shots in config.evaluation.shots:
                run = evaluate(
                    spec,
                    task_id,
                    shots=shots,
                    limit=config.evaluation.limit,
                    model=model,
                    show_progress=show_progress,
                )
                log(
                    f"{manifest['model_id']} step {checkpoint['step']} {task_id} {shots}-shot: "
                    f"{ {k: round(v, 3) for k, v in run.metric_values.items()} }"
                    f" (cache hit: {run.stats.cache_hit})"
                )
                results.append(_as_lab_rows(run.results, config, manifest, checkpoint))
                examples.append(run.examples)
    return pl.concat(results, how="vertical_relaxed"), pl.concat(examples, how="vertical_relaxed")


def _as_lab_rows(
    results: pl.DataFrame, config: LadderConfig, manifest: dict, checkpoint: dict
) -> pl.DataFrame:
    final = checkpoint["final"]
    setting = pl.col("setting") if final else pl.col("setting") + f" @ step {checkpoint['step']}"
    return results.with_columns(
        setting.alias("setting"),
        pl.lit("lab").alias("origin"),
        pl.lit(f"{CITATION} ({config.name} ladder)").alias("citation"),
        (
            pl.lit(
                f"ladder {config.family} size {manifest['size_hash']} step {checkpoint['step']}; "
            )
            + pl.col("location")
        ).alias("location"),
        pl.lit(checkpoint["step"], dtype=pl.Int64).alias("checkpoint_step"),
        pl.lit(float(checkpoint["tokens_seen"])).alias("tokens_seen"),
        pl.lit(float(checkpoint["flops"])).alias("checkpoint_flops"),
        pl.lit("counted_6nd").alias("checkpoint_flops_basis"),
        pl.lit(final).alias("final_checkpoint"),
    )


def model_row(config: LadderConfig, manifest: dict, ladder_file: str) -> pl.DataFrame:
    """The size's `models` row: counted N, D and 6·N·D (basis counted_6nd), its local weights."""
    final = manifest["checkpoints"][-1]
    row = {
        "model_id": manifest["model_id"],
        "family": config.family,
        "label": f"{config.name} {manifest['size']['name']}",
        "params": float(manifest["params"]),
        "train_tokens": float(manifest["tokens_seen"]),
        "train_flops": float(manifest["flops"]),
        "flops_basis": "counted_6nd",
        "flops_printed_by_wei": None,
        "weights": final["weights"],
        "revision": f"sha256:{final['weights_sha256']}",
        "origin": "lab",
        "source": f"{CITATION}: {ladder_file} (series {config.series_hash})",
        "note": (
            f"held-out loss {manifest['held_out_loss']:.4f} nats/token; "
            f"{manifest['steps']} steps on {manifest['device']}; "
            f"final train loss {manifest['loss_curve'][-1]['loss']:.4f}"
        ),
    }
    schema = {k: pl.Float64 for k in ("params", "train_tokens", "train_flops")}
    schema |= {"flops_printed_by_wei": pl.Float64}
    frame = pl.DataFrame([row], schema_overrides=schema)
    return with_flops_consistency(frame)


def write_size(
    con: Any,
    models: pl.DataFrame,
    results: pl.DataFrame,
    examples: pl.DataFrame,
    *,
    steps: list[int] | None = None,
) -> dict[str, int]:
    """Validate, then replace this size's rows in one transaction (or write nothing): all its
    results and examples, or with `steps` only those of these checkpoints (one partition of the
    per-checkpoint evaluation), the other checkpoints' rows kept."""
    model_id = models["model_id"][0]
    ensure_schema(con)
    label = f"lab model {model_id}"
    located = models.with_columns(pl.lit(label).alias("source_file"), pl.lit(1).alias("source_row"))
    raise_if_any(schema_problems(located, LabModelsSchema, table=label))
    task_metrics = read_frame(con, "SELECT * FROM task_metrics")
    validate_fresh(results, examples, models, task_metrics, label=f"lab evaluation of {model_id}")
    ours, params = "model_id = ? AND origin = 'lab'", [model_id]
    examples_where, examples_params = "model_id = ?", [model_id]
    if steps is not None:
        ours += f" AND checkpoint_step IN ({', '.join('?' * len(steps))})"
        params += list(steps)
        # these checkpoints' old examples: their run ids are in `results.location`
        # ('run <run_id> config <hash>', sources/evaluation/rows.py)
        examples_where += (
            " AND run_id IN (SELECT regexp_extract(location, 'run ([0-9a-f]+) config', 1)"
            f" FROM results WHERE {ours})"
        )
        examples_params += params
    # An evaluation run is keyed by weights digest, task and config, not by model: a size whose
    # weights equal another's (a size renamed within a family, or a recipe change that only
    # touches the evaluation) has the same run ids, and its rows move to the model written last.
    examples_where = f"({examples_where}) OR list_contains(?, run_id)"
    examples_params.append(examples["run_id"].unique().to_list())
    with transaction(con):
        replace_rows(con, "models", models, where="model_id = ?", params=[model_id])
        # examples first: the old checkpoints' run ids are read from `results`
        replace_rows(con, "eval_examples", examples, where=examples_where, params=examples_params)
        replace_rows(con, "results", results, where=ours, params=params)
    return {"models": 1, "results": results.height, "eval_examples": examples.height}


def lab_emergence(con: Any, family: str) -> pl.DataFrame:
    """The lake's detector (marts/emergent_scale.compute_emergence) on one ladder's final models."""
    from marts.emergent_scale import compute_emergence

    results = read_frame(
        con,
        "SELECT * FROM results_with_scale WHERE family = ? AND final_checkpoint IS NOT FALSE",
        [family],
    )
    return compute_emergence(results)


def ladder_file_label(path: Path) -> str:
    from sources.literature import display_path

    return display_path(path)
