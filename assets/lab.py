"""The emergence lab in Dagster: one partition per ladder size (train -> evaluate -> warehouse).

The ladder is `sources/ladders/$EMERGENCE_LADDER.yaml` (default: `default`); its sizes are the
partitions. `lab_model` trains a size (a cache hit when the size's config hash is unchanged),
`lab_evaluation` runs the lake's engine on every kept checkpoint, `lab_results` writes the models
row, results (origin `lab`) and per-example rows in one transaction; `emergence` and the charts
read them from the warehouse like any other family. torch is imported inside the bodies only.
"""

import os

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


@dg.asset(
    partitions_def=lab_sizes,
    group_name=GROUP,
    pool=GPU_POOL,
    kinds={"pytorch"},
    description="Evaluate every kept checkpoint of one ladder size with the lake's engine on the ladder's BIG-bench tasks (per-example rows; cached by weights digest).",
    code_version="1",
)
def lab_evaluation(context: dg.AssetExecutionContext, lab_model: dict) -> dict:
    from sources.lab.ladder import evaluate_size

    config = _ladder_or_fail()
    results, examples = evaluate_size(config, lab_model, log=context.log.info)
    context.add_output_metadata({"results": results.height, "eval_examples": examples.height})
    return {"manifest": lab_model, "results": results, "examples": examples}


@dg.asset(
    partitions_def=lab_sizes,
    group_name=GROUP,
    pool=WRITER_POOL,
    kinds={"duckdb"},
    description="Write one ladder size to the warehouse in one transaction: its models row (counted N, D, 6·N·D), results with origin 'lab' and the ladder's family/hash, eval_examples.",
    code_version="1",
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
            counts = write_size(con, models, lab_evaluation["results"], lab_evaluation["examples"])
        except ValidationError as error:
            raise dg.Failure(description=str(error)) from error
    return dg.MaterializeResult(metadata=counts)


LAB_ASSETS = [lab_model, lab_evaluation, lab_results]

lab_ladder_job = dg.define_asset_job(
    "lab_ladder",
    selection=LAB_ASSETS,
    partitions_def=lab_sizes,
    description="Train, evaluate and store one size of the lab ladder (the partition).",
)
