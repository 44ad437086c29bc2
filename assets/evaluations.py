"""Fresh evaluations: one partition per registry model, a sensor for new models, a schedule.

The registry (sources/models.yaml) lists the models to evaluate. The `new_models` sensor adds a
dynamic partition for every entry not yet requested at its current revision and requests one run
for it; the `registry_refresh` schedule re-reads and re-validates the registry daily. A finished
evaluation writes its model, results and per-example rows in one transaction; the emergence and
chart assets follow it through their automation condition. torch and transformers are imported
inside the asset body only.
"""

import json

import dagster as dg
import polars as pl

from assets.metadata import column_schema
from assets.resources import Warehouse
from assets.warehouse import WRITER_POOL
from checks.rules import with_flops_consistency
from checks.validation import ValidationError
from sources.registry import read_registry, registry_model_rows
from sources.staging import validate_fresh
from warehouse.store import ensure_schema, read_frame, replace_rows, transaction

GROUP = "evaluations"
GPU_POOL = "gpu"
registry_partitions = dg.DynamicPartitionsDefinition(name="registry_models")

# Wei et al. Figure 2 A-D tasks, as BIG-bench defines them (2-shot, like ObsScaling).
DEFAULT_TASKS = (
    "modified_arithmetic",
    "arithmetic/3_digit_addition",
    "arithmetic/3_digit_subtraction",
    "arithmetic/2_digit_multiplication",
    "word_unscrambling",
    "international_phonetic_alphabet_transliterate",
    "parsinlu_qa",
)


class EvaluationConfig(dg.Config):
    tasks: list[str] = list(DEFAULT_TASKS)
    shots: int = 2
    limit: int | None = None  # a seeded subset of this many examples per task; None = all


@dg.asset(
    group_name="raw",
    description="sources/models.yaml: the models the lake evaluates itself, validated (pandera) before anything runs.",
    code_version="1",
)
def model_registry(context: dg.AssetExecutionContext) -> pl.DataFrame:
    try:
        registry = read_registry()
    except ValidationError as error:
        raise dg.Failure(description=str(error)) from error
    context.add_output_metadata(
        {"models": registry.height, "ids": ", ".join(registry["id"].to_list())}
    )
    return registry


@dg.asset(
    partitions_def=registry_partitions,
    group_name=GROUP,
    pool=GPU_POOL,
    description=(
        "Evaluate one registry model (partition key = model id) on the Figure 2 A-D BIG-bench tasks with "
        "the lake's engine (torch + transformers; CUDA when present). Returns per-example rows and "
        "aggregates; a model that cannot be loaded fails only its own partition, with one clear line."
    ),
    kinds={"pytorch"},
    code_version="1",
)
def fresh_evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig) -> dict:
    from sources.evaluation import LazyModel, ModelLoadError, ModelSpec, evaluate

    model_id = context.partition_key
    try:
        registry = read_registry()
    except ValidationError as error:
        raise dg.Failure(description=str(error)) from error
    entry = registry.filter(pl.col("id") == model_id)
    if entry.height == 0:
        raise dg.Failure(description=f"{model_id!r} is not in the model registry any more")
    row = entry.row(0, named=True)
    spec = ModelSpec(
        model_id,
        row["weights"],
        revision=row["revision"],
        trust_remote_code=row["trust_remote_code"],
    )
    model = LazyModel(spec)  # loaded once, on the first task the cache cannot answer
    runs = []
    for task_id in config.tasks:

        def progress(stage: str, done: int, total: int, task_id: str = task_id) -> None:
            if total and (done == total or done % max(1, total // 4) == 0):
                context.log.info(f"{model_id} {task_id} {stage}: {done}/{total}")

        try:
            run = evaluate(
                spec,
                task_id,
                shots=config.shots,
                limit=config.limit,
                model=model,
                progress=progress,
            )
        except ModelLoadError as error:
            raise dg.Failure(description=f"{model_id}: {error}") from error
        context.log.info(
            f"{model_id} {task_id}: {run.metric_values} "
            f"({run.stats.examples_per_second:.1f} examples/s, cache hit: {run.stats.cache_hit})"
        )
        runs.append(run)
    results = pl.concat([r.results for r in runs], how="diagonal_relaxed")
    examples = pl.concat([r.examples for r in runs], how="diagonal_relaxed")
    n_params = next((r.stats.n_params for r in runs if r.stats.n_params), None)
    context.add_output_metadata(
        {
            "revision": runs[0].model_revision if runs else "",
            "metrics": dg.MetadataValue.json({r.task_id: r.metric_values for r in runs}),
            "examples": examples.height,
        }
    )
    return {"registry": entry, "results": results, "examples": examples, "n_params": n_params}


@dg.asset(
    partitions_def=registry_partitions,
    group_name=GROUP,
    pool=WRITER_POOL,
    description="Write one model's fresh evaluation to the warehouse (its models row, results with origin 'fresh', eval_examples) in one transaction.",
    metadata={"dagster/column_schema": column_schema("eval_examples")},
    kinds={"duckdb"},
    code_version="1",
)
def fresh_results(
    context: dg.AssetExecutionContext, warehouse: Warehouse, fresh_evaluation: dict
) -> dg.MaterializeResult:
    model_id = context.partition_key
    counted = (
        {model_id: float(fresh_evaluation["n_params"])} if fresh_evaluation["n_params"] else {}
    )
    models = with_flops_consistency(registry_model_rows(fresh_evaluation["registry"], counted))
    models = models.drop("source_file", "source_row")
    results, examples = fresh_evaluation["results"], fresh_evaluation["examples"]
    with warehouse.get_connection() as con:
        ensure_schema(con)
        task_metrics = read_frame(con, "SELECT * FROM task_metrics")
        try:
            validate_fresh(
                results, examples, models, task_metrics, label=f"fresh evaluation of {model_id}"
            )
        except ValidationError as error:
            raise dg.Failure(description=str(error)) from error
        with transaction(con):
            replace_rows(con, "models", models, where="model_id = ?", params=[model_id])
            replace_rows(
                con,
                "results",
                results,
                where="model_id = ? AND origin = 'fresh'",
                params=[model_id],
            )
            replace_rows(con, "eval_examples", examples, where="model_id = ?", params=[model_id])
    return dg.MaterializeResult(
        metadata={"results": results.height, "eval_examples": examples.height}
    )


registry_job = dg.define_asset_job(
    "registry_refresh_job", selection=[model_registry], executor_def=dg.in_process_executor
)


@dg.schedule(
    job=registry_job,
    cron_schedule="0 6 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily: re-read and re-validate sources/models.yaml, so a bad edit shows up in the UI.",
)
def registry_refresh(_context: dg.ScheduleEvaluationContext):
    return dg.RunRequest()


def wanted_evaluations(registry: pl.DataFrame, requested: dict[str, str]) -> list[tuple[str, str]]:
    """(model id, revision) of every registry entry not yet requested at its current revision."""
    return [
        (r["id"], r["revision"])
        for r in registry.iter_rows(named=True)
        if requested.get(r["id"]) != r["revision"]
    ]


@dg.sensor(
    minimum_interval_seconds=60,
    asset_selection=[fresh_evaluation, fresh_results],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="For each registry model not yet evaluated at its current revision: add its partition and request one run.",
)
def new_models(context: dg.SensorEvaluationContext):
    try:
        registry = read_registry()
    except ValidationError as error:
        return dg.SkipReason(f"model registry invalid, nothing requested: {error}")
    requested = json.loads(context.cursor) if context.cursor else {}
    wanted = wanted_evaluations(registry, requested)
    if not wanted:
        return dg.SkipReason("every registry model is evaluated at its current revision")
    for model_id, revision in wanted:
        requested[model_id] = revision
    context.update_cursor(json.dumps(requested, sort_keys=True))
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=model_id, run_key=f"{model_id}@{revision}")
            for model_id, revision in wanted
        ],
        dynamic_partitions_requests=[
            registry_partitions.build_add_request([model_id for model_id, _ in wanted])
        ],
    )


EVALUATION_ASSETS = [model_registry, fresh_evaluation, fresh_results]
