"""Fresh evaluations: one partition per registry model (and per checkpoint branch), the job that
evaluates one, a sensor.

The registry (sources/models.yaml) lists the models to evaluate. The `new_models` sensor (stopped
until you start it: it downloads and runs models) resolves every entry's revision to a commit on
the hub (sources/evaluation_targets.py), adds a dynamic partition for every entry and checkpoint
branch, and requests one `evaluate_model` run per (partition, commit) not evaluated yet, tagged
with that commit; it records the commit as evaluated when that run succeeds, and retries a failed
one with a backoff (assets/evaluation_attempts.py). The
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
    Memory,
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
from sources.evaluation_targets import Target, entry_targets, registry_targets, split_partition
from sources.hub import COMMIT, HubError, HubUnavailable, checkpoint_step
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
        "Evaluate one registry model (partition key = model id, or `<id>@<branch>` for a "
        "checkpoint) at one commit (the sensor's tag, else what the revision points at now; hub "
        "weights downloaded once, verified, into the lake's cache) with the lake's engine (torch + "
        "transformers; CUDA when present) on the entry's tasks (default: the Figure 2 A-D BIG-bench "
        "tasks, 2-shot), logging overall progress with an ETA. Returns per-example rows and "
        "aggregates with the commit evaluated; a model that cannot be resolved, downloaded or "
        "loaded fails only its own partition, with one clear line."
    ),
    kinds={"pytorch"},
    code_version="1",
)
def fresh_evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig) -> dict:
    from sources.evaluation import LazyModel, ModelLoadError, ModelSpec, evaluate

    model_id, branch = split_partition(context.partition_key)
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
        target = evaluation_target(row, context.partition_key, context.run.tags.get(REVISION_TAG))
    except ValidationError as error:
        raise dg.Failure(description=str(error)) from error
    except HubError as error:
        raise dg.Failure(description=f"{model_id}: {error}") from None
    spec = ModelSpec(
        model_id,
        row["weights"],
        revision=target.commit,
        trust_remote_code=row["trust_remote_code"],
        allow_pickle=row["allow_pickle"],
    )
    # loaded once, on the first task the cache cannot answer
    model = LazyModel(spec, device=settings.device, dtype=settings.dtype)
    totals = count_examples(settings.tasks, settings.limit)
    context.log.info(
        f"{context.partition_key} @ {target.revision}"
        + (f" ({target.commit})" if target.commit != target.revision else "")
        + f": {sum(totals.values()):,} examples across "
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
    examples = pl.concat([r.examples for r in runs], how="diagonal_relaxed")
    n_params = next((r.stats.n_params for r in runs if r.stats.n_params), None)
    evaluated = runs[0].model_revision if runs else target.commit
    results = with_checkpoint(
        pl.concat([r.results for r in runs], how="diagonal_relaxed"),
        commit=evaluated,
        step=target.checkpoint_step,
        tokens_per_step=row["tokens_per_step"],
        params=row["params"] or n_params,
    )
    context.add_output_metadata(
        {
            "revision": evaluated,
            "settings": dg.MetadataValue.json({**settings.__dict__, "tasks": list(settings.tasks)}),
            "metrics": dg.MetadataValue.json({r.task_id: r.metric_values for r in runs}),
            "examples": examples.height,
        }
    )
    return {
        # the models row says which commit its released-model results are of
        "registry": entry
        if target.checkpoint_step is not None
        else entry.with_columns(revision=pl.lit(evaluated)),
        "results": results,
        "examples": examples,
        "n_params": n_params,
        "checkpoint_step": target.checkpoint_step,
    }


def evaluation_target(row: dict, partition: str, tagged_commit: str | None) -> Target:
    """The target this run evaluates: the commit the sensor tagged the run with, else the one
    the registry's revision (or the partition's checkpoint branch) points at now."""
    _, branch = split_partition(partition)
    targets = {t.partition: t for t in entry_targets(row)} if not tagged_commit else {}
    if tagged_commit:
        revision = branch or row["revision"]
        step = checkpoint_step(branch) if branch else None
        return Target(partition, row["id"], revision, tagged_commit, step)
    if partition not in targets:
        raise HubError(
            f"checkpoint branch {branch!r} is not among the branches {row['revisions']} names"
        )
    return targets[partition]


def with_checkpoint(
    results: pl.DataFrame,
    *,
    commit: str,
    step: int | None,
    tokens_per_step: float | None,
    params: float | None,
) -> pl.DataFrame:
    """Provenance (the commit evaluated) and, for a checkpoint, its place on the training axis."""
    is_commit = COMMIT.match(commit) is not None
    frame = results.with_columns(source_commit=pl.lit(commit if is_commit else None, pl.String))
    if step is None:
        return frame
    tokens = step * tokens_per_step if tokens_per_step else None
    flops = 6.0 * params * tokens if tokens and params else None
    return frame.with_columns(
        setting=pl.col("setting") + f", step {step}",
        checkpoint_step=pl.lit(step, pl.Int64),
        tokens_seen=pl.lit(tokens, pl.Float64),
        checkpoint_flops=pl.lit(flops, pl.Float64),
        checkpoint_flops_basis=pl.lit("estimated_6nd" if flops else None, pl.String),
        final_checkpoint=pl.lit(False),
    )


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
    model_id, _ = split_partition(context.partition_key)
    counted = (
        {model_id: float(fresh_evaluation["n_params"])} if fresh_evaluation["n_params"] else {}
    )
    models = with_flops_consistency(registry_model_rows(fresh_evaluation["registry"], counted))
    models = models.drop("source_file", "source_row")
    results, examples = fresh_evaluation["results"], fresh_evaluation["examples"]
    step = fresh_evaluation.get("checkpoint_step")
    # this model's fresh rows at this checkpoint (NULL = the released model), and their examples
    same_checkpoint = "model_id = ? AND origin = 'fresh' AND checkpoint_step IS NOT DISTINCT FROM ?"
    old_runs = f"SELECT regexp_extract(location, '^run (\\S+) config', 1) FROM results WHERE {same_checkpoint}"
    with warehouse.get_connection() as con:
        ensure_schema(con)
        task_metrics = read_frame(con, "SELECT * FROM task_metrics")
        try:
            validate_fresh(
                results, examples, models, task_metrics, label=f"fresh evaluation of {model_id}"
            )
        except ValidationError as error:
            raise dg.Failure(description=str(error)) from error
        if step is not None:  # a checkpoint keeps the models row's (released) revision
            kept = con.execute("SELECT revision FROM models WHERE model_id = ?", [model_id])
            row = kept.fetchone()
            if row is not None:
                models = models.with_columns(revision=pl.lit(row[0], pl.String))
        with transaction(con):
            replace_rows(con, "models", models, where="model_id = ?", params=[model_id])
            new_runs = examples["run_id"].unique().to_list()
            con.execute(
                f"DELETE FROM eval_examples WHERE model_id = ? AND (run_id IN ({old_runs}) "
                "OR list_contains(?, run_id))",
                [model_id, model_id, step, new_runs],
            )
            replace_rows(con, "results", results, where=same_checkpoint, params=[model_id, step])
            replace_rows(con, "eval_examples", examples, where="FALSE")
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


SENSOR_INTERVAL_SECONDS = 60


@dg.sensor(
    job=evaluate_model,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Stopped until you start it (it downloads and runs every registry model: up to 12B "
        "parameters). Then, every 60 s: resolves each entry's revision (and checkpoint branches) "
        "to a commit on the hub (HF_ENDPOINT) and requests one `evaluate_model` run per "
        "(model, commit) not yet evaluated: a new push to `main` or a new `step*` branch is "
        "evaluated once; a failed or cancelled run is retried after 10 then 20 min, 3 runs at "
        "most; never while a run for the partition is in flight; a hub that is down skips the tick."
    ),
)
def new_models(context: dg.SensorEvaluationContext):
    try:
        registry = read_registry()
    except ValidationError as error:
        return dg.SkipReason(f"model registry invalid, nothing requested: {error}")
    try:
        targets, problems = registry_targets(registry)
    except HubUnavailable as error:
        return dg.SkipReason(f"{error}: nothing requested, the next tick tries again")
    by_partition = {t.partition: t for t in targets}
    memory = cursor_from_json(json.loads(context.cursor)) if context.cursor else Memory({}, {})
    runs = runs_by_model(context.instance, list(by_partition))
    decisions, memory = plan([(t.partition, t.commit) for t in targets], memory, runs, clock())
    context.update_cursor(json.dumps(cursor_to_json(memory)))
    line = summary(decisions, problems)
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
                    MODEL_TAG: by_partition[d.model_id].model_id,
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
