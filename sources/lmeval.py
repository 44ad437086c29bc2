"""EleutherAI lm-evaluation-harness results: the Pythia authors' published evals and drop-in folders.

Two ways in, read the same way:

- **Pinned remote**: `evals/` of github.com/EleutherAI/pythia at `COMMIT` (Pythia 8 sizes × standard
  and deduplicated × up to 27 checkpoints, zero- and five-shot, plus OPT and BLOOM), every file
  named with its sha256 in `sources/pinned/pythia_evals.sha256` and fetched through
  `sources.remote.fetch` (cache, then EMERGENCE_MIRROR, then raw.githubusercontent.com).
- **Drop-in**: any lm-eval output directory put under `sources/lm_eval_results/` (or
  `$EMERGENCE_LMEVAL`): v0.3 single results JSONs and v0.4 `results_<timestamp>.json` with their
  `samples_<task>_<timestamp>.jsonl` per-sample logs.

Task names map onto the lake's tasks through `sources/lmeval_tasks.yaml` (sources/lmeval_tasks.py) and models onto their
scale through `sources/suites.yaml`; a checkpoint revision `step<N>` becomes checkpoint_step N,
tokens seen N × tokens per step and 6·N·tokens seen FLOPs. Every problem is a `Problem` naming the
file, the JSON path and what was expected; nothing is returned when there is one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from checks.schemas import SCHEMAS
from checks.validation import Problem, raise_if_any, schema_problems
from sources.literature import display_path
from sources.lmeval_tasks import TaskCatalogue, load_tasks
from sources.paths import SOURCES_DIR
from sources.remote import RemoteFile, fetch
from sources.suites import ORIGIN, SuiteModel, Suites, load_suites

COMMIT = "a19eecb807ec2c79a39ebf18108816e6ffffc1d5"
BASE_URL = f"https://raw.githubusercontent.com/EleutherAI/pythia/{COMMIT}"
PINNED_SUMS = SOURCES_DIR / "pinned" / "pythia_evals.sha256"
DROPIN_DIR = SOURCES_DIR / "lm_eval_results"
PYTHIA_CITATION = "Biderman et al. 2023 (Pythia), evals/ (lm-evaluation-harness)"
DROPIN_CITATION = "lm-evaluation-harness results (drop-in)"
_STEP = re.compile(r"^step(\d+)$")
_SAMPLES = re.compile(r"^samples_(?P<task>.+)_(?P<stamp>[^_]+)\.jsonl$")
_RESULTS_V04 = re.compile(r"^results_(?P<stamp>.+)\.json$")
EXPECTED_LAYOUT = (
    "an lm-evaluation-harness results JSON: v0.3 ('results', 'config' with 'num_fewshot') "
    "or v0.4 ('results', 'configs', 'config')"
)


def dropin_dir() -> Path:
    """Where a user drops lm-eval output (EMERGENCE_LMEVAL, default sources/lm_eval_results)."""
    override = os.environ.get("EMERGENCE_LMEVAL")
    return Path(override).resolve() if override else DROPIN_DIR


# --- the files: pinned remote and drop-in ---


@dataclass(frozen=True)
class ResultsFile:
    """One results JSON's bytes with its provenance."""

    label: str  # path shown in messages and stored as source_file
    data: bytes
    sha256: str
    commit: str | None
    citation: str
    samples: tuple[Path, ...] = ()  # v0.4 per-sample logs of the same run


def pinned_remote_files(sums: Path = PINNED_SUMS) -> list[RemoteFile]:
    """The results JSONs of the pinned commit, each with the sha256 the project pins."""
    files = []
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, _, path = line.partition("  ")
        if path.startswith("evals/") and path.endswith(".json"):
            files.append(RemoteFile(f"{BASE_URL}/{path}", digest))
    return files


def read_pinned(remotes: Iterable[RemoteFile] | None = None) -> list[ResultsFile]:
    """Verified bytes of every pinned file; ChecksumMismatch / RemoteUnavailable otherwise."""
    files = []
    for remote in remotes if remotes is not None else pinned_remote_files():
        data = fetch(remote).read_bytes()
        files.append(
            ResultsFile(
                remote.url.split(f"/{COMMIT}/", 1)[1], data, remote.sha256, COMMIT, PYTHIA_CITATION
            )
        )
    return files


def read_dropin(directory: Path | None = None) -> list[ResultsFile]:
    """Every results JSON under the drop-in folder, with the v0.4 sample logs of its run."""
    directory = directory or dropin_dir()
    if not directory.is_dir():
        return []
    samples_by_run: dict[tuple[Path, str], list[Path]] = {}
    for path in directory.rglob("*.jsonl"):
        match = _SAMPLES.match(path.name)
        if match:
            samples_by_run.setdefault((path.parent, match["stamp"]), []).append(path)
    files = []
    for path in sorted(directory.rglob("*.json")):
        data = path.read_bytes()
        stamp = _RESULTS_V04.match(path.name)
        samples = samples_by_run.get((path.parent, stamp["stamp"]), []) if stamp else []
        files.append(
            ResultsFile(
                display_path(path),
                data,
                hashlib.sha256(data).hexdigest(),
                None,
                DROPIN_CITATION,
                tuple(sorted(samples)),
            )
        )
    return files


# --- parsing one results file ---


@dataclass(frozen=True)
class RunInfo:
    """What a results file says about the run: the model, its checkpoint and each task's shots."""

    model: SuiteModel
    revision: str | None
    step: int | None
    shots: dict[str, int | None]
    n_samples: dict[str, int | None]
    version: str


def _model_args(value: object) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    args = {}
    for part in str(value or "").split(","):
        key, _, val = part.partition("=")
        if key.strip():
            args[key.strip()] = val.strip()
    return args


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _run_info(
    document: dict, file: ResultsFile, suites: Suites
) -> tuple[RunInfo | None, list[Problem]]:
    config = document.get("config")
    results = document.get("results")
    if not isinstance(results, dict) or not isinstance(config, dict):
        found = (
            f"top-level keys {sorted(document)[:8]}"
            if isinstance(document, dict)
            else type(document).__name__
        )
        return None, [Problem(file.label, None, None, found, EXPECTED_LAYOUT)]
    is_v04 = isinstance(document.get("configs"), dict)
    if not is_v04 and "num_fewshot" not in config:
        return None, [
            Problem(
                file.label, None, "config", "no 'num_fewshot' and no 'configs'", EXPECTED_LAYOUT
            )
        ]
    args = _model_args(config.get("model_args"))
    pretrained = args.get("pretrained")
    model = suites.by_hub_id.get(pretrained or "")
    if model is None:
        return None, [
            Problem(
                file.label,
                None,
                "config.model_args",
                f"pretrained={pretrained!r}" if pretrained else repr(config.get("model_args")),
                "a model listed under hub_ids in sources/suites.yaml (add it there with its scale)",
            )
        ]
    revision = args.get("revision")
    step_match = _STEP.match(revision or "")
    step = int(step_match[1]) if step_match else None
    problems = []
    if step is not None and model.tokens_per_step is None:
        problems.append(
            Problem(
                file.label,
                None,
                "config.model_args",
                f"revision={revision!r} for {model.model_id}",
                "a suite with tokens_per_step in sources/suites.yaml (to place the checkpoint)",
            )
        )
    if is_v04:
        n_shot = document.get("n-shot") or {}
        shots = {
            task: _int_or_none(
                n_shot.get(task, (document["configs"].get(task) or {}).get("num_fewshot"))
            )
            for task in results
        }
        n_samples = {
            task: _int_or_none((v or {}).get("effective", (v or {}).get("original")))
            for task, v in (document.get("n-samples") or {}).items()
            if isinstance(v, dict)
        }
        version = f"v0.4 {document.get('lm_eval_version', '')}".strip()
    else:
        shots = dict.fromkeys(results, _int_or_none(config.get("num_fewshot")))
        n_samples = {}
        version = "v0.3"
    return RunInfo(model, revision, step, shots, n_samples, version), problems


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def parse_results_file(
    file: ResultsFile, suites: Suites, catalogue: TaskCatalogue
) -> tuple[list[dict], RunInfo | None, list[Problem]]:
    """Result rows (the warehouse's results columns) of one file, or the problems found in it."""
    try:
        document = json.loads(file.data)
    except UnicodeDecodeError as error:
        return (
            [],
            None,
            [
                Problem(
                    file.label,
                    None,
                    None,
                    f"bytes that are not UTF-8 ({error.reason} at byte {error.start})",
                    "a UTF-8 JSON file",
                )
            ],
        )
    except json.JSONDecodeError as error:
        return (
            [],
            None,
            [
                Problem(
                    file.label,
                    error.lineno,
                    None,
                    f"malformed JSON ({error.msg}) at line {error.lineno}, column {error.colno}",
                    "a well-formed lm-evaluation-harness results JSON",
                )
            ],
        )
    if not isinstance(document, dict):
        return [], None, [Problem(file.label, None, None, type(document).__name__, EXPECTED_LAYOUT)]
    run, problems = _run_info(document, file, suites)
    if run is None:
        return [], None, problems
    model, step = run.model, run.step
    tokens_seen = (
        step * model.tokens_per_step if step is not None and model.tokens_per_step else None
    )
    final = step is None or step == model.final_step
    base = {
        "model_id": model.model_id,
        "prompting": "standard",
        "origin": ORIGIN,
        "citation": file.citation,
        "source_file": file.label,
        "in_wei_figure": False,
        "trust": "high" if file.commit else None,
        "checkpoint_step": step,
        "tokens_seen": float(tokens_seen) if tokens_seen is not None else None,
        "checkpoint_flops": 6.0 * model.params * tokens_seen if tokens_seen is not None else None,
        "checkpoint_flops_basis": "estimated_6nd" if tokens_seen is not None else None,
        "final_checkpoint": final,
        "source_commit": file.commit,
        "source_sha256": file.sha256,
        "source_row": None,
    }
    at = f" @ {file.commit[:7]}" if file.commit else ""
    rows: list[dict] = []
    subjects: dict[str, list[float]] = {}
    for task, values in document["results"].items():
        task_id = catalogue.lake_task(task)
        if task_id == "":
            continue
        if task_id is None:
            problems.append(
                Problem(
                    file.label,
                    None,
                    f"results.{task}",
                    f"the lm-eval task {task!r}",
                    "a task mapped or skipped in sources/lmeval_tasks.yaml (add it there)",
                )
            )
            continue
        if not isinstance(values, dict):
            problems.append(
                Problem(
                    file.label,
                    None,
                    f"results.{task}",
                    type(values).__name__,
                    "a map of metric -> value",
                )
            )
            continue
        shots = run.shots.get(task)
        setting = f"{shots if shots is not None else '?'}-shot" + (
            f", step {step}" if step is not None else ""
        )
        for key, raw in values.items():
            name, _, lm_filter = key.partition(",")
            if name == "alias" or name.endswith("_stderr"):
                continue
            where = f"results.{task}.{key}"
            mapped = catalogue.metrics.get(name)
            if mapped is None or mapped.metric not in catalogue.task_metrics.get(task_id, ()):
                problems.append(
                    Problem(
                        file.label,
                        None,
                        where,
                        f"the metric {name!r}",
                        f"a metric mapped for {task_id} in sources/lmeval_tasks.yaml",
                    )
                )
                continue
            value = _number(raw)
            if (
                value is None
                or (mapped.scale == 100.0 and not 0.0 <= value <= 1.0)
                or (mapped.unit == "perplexity" and value < 1.0)
            ):
                expected = (
                    "a fraction between 0 and 1"
                    if mapped.scale == 100.0
                    else "a number >= 1 (a perplexity)"
                )
                problems.append(Problem(file.label, None, where, repr(raw), expected))
                continue
            stderr_key = f"{name}_stderr" + (f",{lm_filter}" if lm_filter else "")
            stderr = _number(values.get(stderr_key))
            rows.append(
                {
                    **base,
                    "task_id": task_id,
                    "shots": shots,
                    "setting": setting,
                    "metric": mapped.metric,
                    "value": value * mapped.scale,
                    "unit": mapped.unit,
                    "n_examples": run.n_samples.get(task),
                    "location": f"{file.label}{at}, {where}",
                    "note": f"lm-eval {run.version}"
                    + (f", revision {run.revision}" if run.revision else ""),
                    "value_stderr": stderr * mapped.scale if stderr is not None else None,
                }
            )
            if (
                task_id.startswith(f"{catalogue.mmlu_task_id}/")
                and mapped.metric in catalogue.mmlu_mean_metrics
            ):
                subjects.setdefault(mapped.metric, []).append(value * mapped.scale)
    for metric, values in subjects.items():
        if len(values) == len(catalogue.mmlu_subjects):
            shots = next(
                run.shots[t]
                for t in document["results"]
                if (catalogue.lake_task(t) or "").startswith(f"{catalogue.mmlu_task_id}/")
            )
            rows.append(
                {
                    **base,
                    "task_id": catalogue.mmlu_task_id,
                    "shots": shots,
                    "setting": f"{shots if shots is not None else '?'}-shot"
                    + (f", step {step}" if step is not None else ""),
                    "metric": metric,
                    "value": sum(values) / len(values),
                    "unit": "percent",
                    "n_examples": None,
                    "location": f"{file.label}{at}: unweighted mean of the {len(values)} MMLU subjects' {metric} (lm-eval v0.3 convention)",
                    "note": f"lm-eval {run.version}; per-subject values are tasks {catalogue.mmlu_task_id}/<subject>",
                    "value_stderr": None,
                }
            )
    return rows, run, problems


# --- v0.4 per-sample logs ---


def _logprob(response: object) -> float | None:
    """lm-eval logs a log-likelihood response as [logprob, is_greedy] (sometimes as strings)."""
    if isinstance(response, list | tuple) and response:
        try:
            value = float(response[0])
        except (TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None
    return None


def parse_samples(
    path: Path, file: ResultsFile, run: RunInfo, catalogue: TaskCatalogue
) -> tuple[list[dict], list[Problem]]:
    """Per-example rows of one `samples_<task>_<timestamp>.jsonl`: prediction, correctness and the
    target's log-likelihood where the harness logged one, so the example can be re-scored later."""
    label = display_path(path)
    task = _SAMPLES.match(path.name)["task"]
    task_id = catalogue.lake_task(task)
    if task_id == "":
        return [], []
    if task_id is None:
        return [], [
            Problem(
                label,
                None,
                None,
                f"samples of the lm-eval task {task!r}",
                "a task mapped or skipped in sources/lmeval_tasks.yaml",
            )
        ]
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    rows, problems = [], []
    for line_number, line in enumerate(
        data.decode("utf-8", errors="replace").splitlines(), start=1
    ):
        if not line.strip():
            continue
        try:
            sample = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(
                Problem(
                    label,
                    line_number,
                    None,
                    f"malformed JSON ({error.msg}) at column {error.colno}",
                    "one JSON object per line",
                )
            )
            continue
        doc_id = _int_or_none(sample.get("doc_id")) if isinstance(sample, dict) else None
        if doc_id is None:
            problems.append(
                Problem(
                    label,
                    line_number,
                    "doc_id",
                    repr(sample.get("doc_id") if isinstance(sample, dict) else sample),
                    "a whole number",
                )
            )
            continue
        responses = sample.get("filtered_resps") or sample.get("resps") or []
        target = sample.get("target")
        logprobs = [_logprob(r) for r in responses]
        multiple_choice = len(logprobs) > 1 and all(v is not None for v in logprobs)
        if multiple_choice:
            prediction = str(max(range(len(logprobs)), key=logprobs.__getitem__))
            target_logprob = (
                logprobs[target]
                if isinstance(target, int) and 0 <= target < len(logprobs)
                else None
            )
        elif len(logprobs) == 1 and logprobs[0] is not None:
            prediction, target_logprob = None, logprobs[0]  # one continuation scored (e.g. LAMBADA)
        else:
            first = responses[0] if responses else None
            prediction = first if isinstance(first, str) else None
            target_logprob = None
        scores = [sample[m] for m in ("acc", "exact_match") if _number(sample.get(m)) is not None]
        rows.append(
            {
                "model_id": run.model.model_id,
                "task_id": task_id,
                "shots": run.shots.get(task),
                "checkpoint_step": run.step,
                "example_idx": doc_id,
                "prompt_hash": sample.get("prompt_hash"),
                "target": str(target) if target is not None else None,
                "prediction": prediction,
                "correct": bool(scores[0] == 1) if scores else None,
                "target_logprob": target_logprob,
                "choice_logprobs": logprobs if multiple_choice else None,
                "results_file": file.label,
                "source_file": label,
                "source_row": line_number,
                "source_sha256": digest,
            }
        )
    return rows, problems


# --- the whole source ---


@dataclass(frozen=True)
class LmEvalTables:
    models: pl.DataFrame
    tasks: pl.DataFrame
    task_metrics: pl.DataFrame
    results: pl.DataFrame
    examples: pl.DataFrame
    files: int
    complete: bool = True  # False: only the task catalogue (the files could not be had)


RESULT_SCHEMA = {
    "model_id": pl.String,
    "task_id": pl.String,
    "shots": pl.Int64,
    "prompting": pl.String,
    "setting": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "unit": pl.String,
    "n_examples": pl.Int64,
    "origin": pl.String,
    "citation": pl.String,
    "location": pl.String,
    "source_file": pl.String,
    "in_wei_figure": pl.Boolean,
    "trust": pl.String,
    "note": pl.String,
    "value_stderr": pl.Float64,
    "checkpoint_step": pl.Int64,
    "tokens_seen": pl.Float64,
    "checkpoint_flops": pl.Float64,
    "checkpoint_flops_basis": pl.String,
    "final_checkpoint": pl.Boolean,
    "source_commit": pl.String,
    "source_sha256": pl.String,
    "source_row": pl.Int64,
}
EXAMPLE_SCHEMA = {
    "model_id": pl.String,
    "task_id": pl.String,
    "shots": pl.Int64,
    "checkpoint_step": pl.Int64,
    "example_idx": pl.Int64,
    "prompt_hash": pl.String,
    "target": pl.String,
    "prediction": pl.String,
    "correct": pl.Boolean,
    "target_logprob": pl.Float64,
    "choice_logprobs": pl.List(pl.Float64),
    "results_file": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "source_sha256": pl.String,
}


def read_lmeval(
    files: list[ResultsFile],
    *,
    suites: Suites | None = None,
    catalogue: TaskCatalogue | None = None,
) -> LmEvalTables:
    """Every file in one pass; ValidationError listing every problem, or the lake's frames."""
    suites = suites or load_suites()
    catalogue = catalogue or load_tasks()
    rows, examples, problems = [], [], []
    for file in files:
        file_rows, run, file_problems = parse_results_file(file, suites, catalogue)
        rows += file_rows
        problems += file_problems
        for samples in file.samples if run is not None else ():
            sample_rows, sample_problems = parse_samples(samples, file, run, catalogue)
            examples += sample_rows
            problems += sample_problems
    examples_frame = pl.DataFrame(examples, schema=EXAMPLE_SCHEMA)
    problems += schema_problems(examples_frame, SCHEMAS["lmeval_examples"], table="lmeval_examples")
    raise_if_any(problems)
    return LmEvalTables(
        models=suites.models,
        tasks=catalogue.tasks,
        task_metrics=catalogue.task_metric_rows,
        results=pl.DataFrame(rows, schema=RESULT_SCHEMA),
        examples=examples_frame,
        files=len(files),
    )


def catalogue_only() -> LmEvalTables:
    """The task catalogue without results, for when the pinned files cannot be had: the tasks stay
    in the warehouse beside the lm-eval results kept from an earlier run."""
    catalogue = load_tasks()
    return LmEvalTables(
        models=load_suites().models.clear(),
        tasks=catalogue.tasks,
        task_metrics=catalogue.task_metric_rows,
        results=pl.DataFrame(schema=RESULT_SCHEMA),
        examples=pl.DataFrame(schema=EXAMPLE_SCHEMA),
        files=0,
        complete=False,
    )
