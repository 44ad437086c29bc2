"""The emergence lab in Dagster: one partition per ladder size, and per kept checkpoint.

The ladder is `sources/ladders/$EMERGENCE_LADDER.yaml` (default: `default`). `lab_model` is
partitioned by size: one training run keeps every checkpoint of the size (a cache hit when the
size's config hash is unchanged). `lab_evaluation` and `lab_results` are partitioned by size x
checkpoint (`50pct`, `100pct` = final): each evaluates one kept checkpoint with the lake's engine
and writes its results (origin `lab`) and per-example rows, with the size's models row, in one
transaction, leaving the other checkpoints' rows alone. `emergence` and the charts read them from
the warehouse like any other family. torch is imported inside the bodies only.
"""

import os
import warnings

import dagster as dg

from assets.evaluations import GPU_POOL
from assets.resources import Warehouse
from assets.warehouse import WRITER_POOL
from checks.validation import ValidationError
from sources.lab.config import LadderConfig, ladder_path, read_ladder

GROUP = "lab"


def ladder() -> LadderConfig:
    return read_ladder(os.environ.get("EMERGENCE_LADDER", "default"))


lab_sizes = dg.StaticPartitionsDefinition(ladder().size_names)
lab_checkpoints = dg.MultiPartitionsDefinition(
    {
        "size": lab_sizes,
        "checkpoint": dg.StaticPartitionsDefinition(ladder().checkpoint_keys),
    }
)
# every checkpoint partition of a size reads that size's one training run (the mapping is beta in
# Dagster 1.13: its warning would print on every definitions load)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    FROM_SIZE = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="size")


def _ladder_or_fail() -> LadderConfig:
    try:
        return ladder()
    except ValidationError as error:
        raise dg.Failure(description=str(error)) from error


@dg.asset(
    partitions_def=lab_sizes,
    group_name=GROUP,
    pool=GPU_POOL,
    kinds={"pytorch"},
    description=(
        "Train one ladder size (partition = size) with torch + transformers on the generated "
        "corpus (checked: 0 BIG-bench evaluation questions in it). Deterministic for a seed on CPU; "
        "keeps the configured checkpoints under data/lab/; a size already trained with the same "
        "config hash is a cache hit."
    ),
    code_version="1",
)
def lab_model(context: dg.AssetExecutionContext) -> dict:
    from sources.lab.ladder import train

    config = _ladder_or_fail()
    manifest = train(config, context.partition_key, log=context.log.info, show_progress=False)
    context.add_output_metadata(
        {
            "model_id": manifest["model_id"],
            "params": manifest["params"],
            "tokens_seen": manifest["tokens_seen"],
            "train_flops_6nd": manifest["flops"],
            "held_out_loss": manifest["held_out_loss"],
            "cache_hit": manifest["cache_hit"],
            "corpus_overlaps": manifest["overlap"]["overlaps"],
            "weights": dg.MetadataValue.path(manifest["final_weights"]),
        }
    )
    return manifest


def _partition(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension
    return keys["size"], keys["checkpoint"]


@dg.asset(
    partitions_def=lab_checkpoints,
    ins={"lab_model": dg.AssetIn(partition_mapping=FROM_SIZE)},
    group_name=GROUP,
    pool=GPU_POOL,
    kinds={"pytorch"},
    description=(
        "Evaluate one kept checkpoint of one ladder size (partition = size x checkpoint) with the "
        "lake's engine on the ladder's BIG-bench tasks (per-example rows; cached by weights digest)."
    ),
    code_version="2",
)
def lab_evaluation(context: dg.AssetExecutionContext, lab_model: dict) -> dict:
    from sources.lab.ladder import checkpoint_of, evaluate_size

    config = _ladder_or_fail()
    _, key = _partition(context)
    results, examples = evaluate_size(config, lab_model, keys=[key], log=context.log.info)
    step = checkpoint_of(config, lab_model, key)["step"]
    context.add_output_metadata(
        {"step": step, "results": results.height, "eval_examples": examples.height}
    )
    return {"manifest": lab_model, "step": step, "results": results, "examples": examples}


@dg.asset(
    partitions_def=lab_checkpoints,
    group_name=GROUP,
    pool=WRITER_POOL,
    kinds={"duckdb"},
    description=(
        "Write one checkpoint of one ladder size to the warehouse in one transaction: the size's "
        "models row (counted N, D, 6·N·D), this checkpoint's results with origin 'lab' and the "
        "ladder's family/hash, and its eval_examples; other checkpoints' rows are kept."
    ),
    code_version="2",
)
def lab_results(
    context: dg.AssetExecutionContext, warehouse: Warehouse, lab_evaluation: dict
) -> dg.MaterializeResult:
    from sources.lab.ladder import ladder_file_label, model_row, write_size

    config = _ladder_or_fail()
    label = ladder_file_label(ladder_path(os.environ.get("EMERGENCE_LADDER", "default")))
    models = model_row(config, lab_evaluation["manifest"], label)
    with warehouse.get_connection() as con:
        try:
            counts = write_size(
                con,
                models,
                lab_evaluation["results"],
                lab_evaluation["examples"],
                steps=[lab_evaluation["step"]],
            )
        except ValidationError as error:
            raise dg.Failure(description=str(error)) from error
    return dg.MaterializeResult(metadata={**counts, "step": lab_evaluation["step"]})


LAB_ASSETS = [lab_model, lab_evaluation, lab_results]

lab_train_job = dg.define_asset_job(
    "lab_train",
    selection=[lab_model],
    partitions_def=lab_sizes,
    description="Train one size of the lab ladder (the partition), keeping its checkpoints.",
)
lab_ladder_job = dg.define_asset_job(
    "lab_ladder",
    selection=[lab_evaluation, lab_results],
    partitions_def=lab_checkpoints,
    description=(
        "Evaluate and store one checkpoint of one size of the lab ladder (the partition: "
        "size x checkpoint); its size must be trained (job lab_train) first."
    ),
)
