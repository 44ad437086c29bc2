"""Fresh evaluations: one partition per registry model, the job that evaluates one, a sensor.

The registry (sources/models.yaml) lists the models to evaluate. The `new_models` sensor (stopped
until you start it: it downloads and runs models) adds a dynamic partition for every entry and
requests one `evaluate_model` run for it; it records the model as evaluated when that run
succeeds, and retries a failed one with a backoff (assets/evaluation_attempts.py). The
`registry_refresh` schedule re-reads and re-validates the registry daily. A finished evaluation
writes its model, results and per-example rows in one transaction; `emergence` and the charts
follow it through their automation condition. torch and transformers are imported inside the
asset body only.
"""

import json
import time

import dagster as dg
import polars as pl

from assets.evaluation_attempts import (
    RunSeen,
    cursor_from_json,
    cursor_to_json,
    plan,
    summary,
)
from assets.metadata import column_schema
from assets.resources import Warehouse
from assets.warehouse import WRITER_POOL
from checks.rules import with_flops_consistency
from checks.validation import ValidationError
from sources.overall_progress import OverallProgress, count_examples
from sources.registry import evaluation_settings, read_registry, registry_model_rows
from sources.staging import validate_fresh
from warehouse.store import ensure_schema, read_frame, replace_rows, transaction

GROUP = "evaluations"
GPU_POOL = "gpu"
registry_partitions = dg.DynamicPartitionsDefinition(name="registry_models")

EVALUATION_JOB = "evaluate_model"
MODEL_TAG, REVISION_TAG, ATTEMPT_TAG = "emergence/model", "emergence/revision", "emergence/attempt"
PARTITION_TAG = "dagster/partition"


class EvaluationConfig(dg.Config):
    """Run-config overrides of the registry entry's `tasks`, `shots`, `limit`, `dtype`, `device`.

    Left unset, the entry's value is used, else the lake's default (Figure 2 A-D tasks, 2-shot,
    every example, the device's default dtype, CUDA when present). `limit: 0` = every example.
    """

    tasks: list[str] | None = None
    shots: int | None = None
    limit: int | None = None
    dtype: str | None = None
    device: str | None = None


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
        "Evaluate one registry model (partition key = model id) with the lake's engine (torch + "
        "transformers; CUDA when present) on the entry's tasks (default: the Figure 2 A-D BIG-bench "
        "tasks, 2-shot), logging overall progress with an ETA. Returns per-example rows and "
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
    try:
        settings = evaluation_settings(row, config.model_dump())
    except ValidationError as error:
        raise dg.Failure(description=str(error)) from error
    spec = ModelSpec(
        model_id,
        row["weights"],
        revision=row["revision"],
        trust_remote_code=row["trust_remote_code"],
    )
    # loaded once, on the first task the cache cannot answer
    model = LazyModel(spec, device=settings.device, dtype=settings.dtype)
    totals = count_examples(settings.tasks, settings.limit)
    context.log.info(
        f"{model_id} @ {row['revision']}: {sum(totals.values()):,} examples across "
        f"{len(totals)} task{'s' if len(totals) != 1 else ''}, {settings.shots}-shot, on {model.device} ({model.dtype})"
    )
    overall = OverallProgress(model_id, totals, context.log.info)
    runs = []
    for task_id in settings.tasks:
        try:
            run = evaluate(
                spec,
                task_id,
                shots=settings.shots,
                limit=settings.limit,
                model=model,
                progress=overall.callback(task_id),
            )
        except ModelLoadError as error:
            raise dg.Failure(description=f"{model_id}: {error}") from error
        overall.task_done(task_id)
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
            "settings": dg.MetadataValue.json({**settings.__dict__, "tasks": list(settings.tasks)}),
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


evaluate_model = dg.define_asset_job(
    EVALUATION_JOB,
    selection=[fresh_evaluation, fresh_results],
    partitions_def=registry_partitions,
    description="Evaluate one registry model (the partition) and write it to the warehouse.",
)

clock = time.time  # the sensor's clock (tests move it forward)


def runs_by_model(instance: dg.DagsterInstance, model_ids: list[str]) -> dict[str, list[RunSeen]]:
    """Every run of these partitions (any job, so a run started by hand counts as in flight)."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={PARTITION_TAG: model_ids}), limit=5000
    )
    runs: dict[str, list[RunSeen]] = {}
    for record in records:
        run = record.dagster_run
        runs.setdefault(run.tags[PARTITION_TAG], []).append(
            RunSeen(run.tags.get(REVISION_TAG), run.status.value, record.end_time)
        )
    return runs


@dg.sensor(
    job=evaluate_model,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Stopped until you start it (it downloads and runs every registry model: up to 12B "
        "parameters). Then, every 60 s: one `evaluate_model` run per registry model not yet "
        "evaluated at its current revision; a model counts as evaluated when its run succeeds; a "
        "failed or cancelled run is retried after 10 then 20 min, 3 runs at most; never while a "
        "run for the model is in flight."
    ),
)
def new_models(context: dg.SensorEvaluationContext):
    try:
        registry = read_registry()
    except ValidationError as error:
        return dg.SkipReason(f"model registry invalid, nothing requested: {error}")
    models = [(r["id"], r["revision"]) for r in registry.iter_rows(named=True)]
    cursor = cursor_from_json(json.loads(context.cursor)) if context.cursor else {}
    runs = runs_by_model(context.instance, [model_id for model_id, _ in models])
    decisions, cursor = plan(models, cursor, runs, clock())
    context.update_cursor(json.dumps(cursor_to_json(cursor)))
    line = summary(decisions)
    wanted = [d for d in decisions if d.state == "request"]
    if not wanted:
        return dg.SkipReason(line)
    context.log.info(line)
    known = set(context.instance.get_dynamic_partitions(registry_partitions.name))
    new_keys = [d.model_id for d in wanted if d.model_id not in known]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                partition_key=d.model_id,
                run_key=f"{d.model_id}@{d.revision}#{d.attempts.requested}",
                tags={
                    MODEL_TAG: d.model_id,
                    REVISION_TAG: d.revision,
                    ATTEMPT_TAG: str(d.attempts.requested),
                },
            )
            for d in wanted
        ],
        dynamic_partitions_requests=(
            [registry_partitions.build_add_request(new_keys)] if new_keys else []
        ),
    )


EVALUATION_ASSETS = [model_registry, fresh_evaluation, fresh_results]
