"""sources/lmeval_tasks.yaml: lm-evaluation-harness task and metric names -> the lake's tasks.

The mapped tasks and the 57 MMLU subjects become rows of `tasks` and `task_metrics` (with each
metric's random level and its source); skipped tasks are read and left out, with the reason in the
file; any other name is refused by the reader (sources/lmeval.py) with the file and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sources.literature import display_path
from sources.paths import SOURCES_DIR
from sources.yaml_entries import Cursor, entries, read_yaml

TASKS_FILE = SOURCES_DIR / "lmeval_tasks.yaml"


@dataclass(frozen=True)
class MetricMap:
    metric: str
    unit: str
    scale: float


@dataclass(frozen=True)
class TaskCatalogue:
    task_ids: dict[str, str]  # lm-eval task name -> lake task_id
    task_metrics: dict[str, frozenset[str]]  # lake task_id -> declared metrics
    metrics: dict[str, MetricMap]  # lm-eval metric key -> lake metric
    skipped_exact: frozenset[str]
    skipped_prefixes: tuple[str, ...]
    mmlu_prefixes: tuple[str, ...]
    mmlu_subjects: frozenset[str]
    mmlu_task_id: str
    mmlu_mean_metrics: tuple[str, ...]
    tasks: pl.DataFrame
    task_metric_rows: pl.DataFrame

    def lake_task(self, name: str) -> str | None:
        """The lake's task for an lm-eval task name; '' when skipped; None when unknown."""
        if name in self.task_ids:
            return self.task_ids[name]
        if name in self.skipped_exact or name.startswith(self.skipped_prefixes):
            return ""
        for prefix in self.mmlu_prefixes:
            subject = name.removeprefix(prefix)
            if name.startswith(prefix) and subject in self.mmlu_subjects:
                return f"{self.mmlu_task_id}/{subject}"
        return None


def load_tasks(path: Path = TASKS_FILE) -> TaskCatalogue:
    """The catalogue rows and the name lookups, or a ValidationError naming the bad entry."""
    with entries(path) as cursor:
        return _catalogue(read_yaml(path), display_path(path), cursor)


def _catalogue(document: dict, label: str, cursor: Cursor) -> TaskCatalogue:
    cursor.where = "metrics"
    metrics = {
        k: MetricMap(v["metric"], v["unit"], float(v["scale"]))
        for k, v in document["metrics"].items()
    }
    direction = {v["metric"]: v["higher_is_better"] for v in document["metrics"].values()}
    units = {v["metric"]: v["unit"] for v in document["metrics"].values()}
    tasks, task_metrics, task_ids, declared = [], [], {}, {}

    def add_task(task_id, name, suite, preferred, description, source, levels: dict) -> None:
        tasks.append(
            {
                "task_id": task_id,
                "name": name,
                "suite": suite,
                "figure_panel": None,
                "preferred_metric": preferred,
                "variant_of": None,
                "description": description,
                "source": source,
                "source_file": label,
                "source_row": None,
            }
        )
        declared[task_id] = frozenset(levels)
        for metric, level in levels.items():
            task_metrics.append(
                {
                    "task_id": task_id,
                    "metric": metric,
                    "unit": units[metric],
                    "higher_is_better": direction[metric],
                    "random_level": level["random_level"],
                    "random_source": level["random_source"],
                    "source_file": label,
                    "source_row": None,
                }
            )

    for i, task in enumerate(document["tasks"]):
        cursor.where = f"tasks[{i}]"
        task_ids[task["lm_eval"]] = task["task_id"]
        add_task(
            task["task_id"],
            task["name"],
            task["suite"],
            task["preferred_metric"],
            task["description"],
            task["source"],
            task["metrics"],
        )
    cursor.where = "mmlu"
    mmlu = document["mmlu"]
    subject_level = {"random_level": mmlu["random_level"], "random_source": mmlu["random_source"]}
    for subject in mmlu["subjects"]:
        add_task(
            f"{mmlu['task_id']}/{subject}",
            f"MMLU: {subject.replace('_', ' ')}",
            "MMLU",
            "accuracy",
            f"MMLU subject {subject} (4-way multiple choice); the lake's mmlu is the mean of the 57",
            mmlu["source"].format(subject=subject),
            {"accuracy": subject_level, "accuracy_norm": subject_level},
        )
    cursor.where = "skipped"
    skipped = [s["lm_eval"] for s in document["skipped"]]
    return TaskCatalogue(
        task_ids=task_ids,
        task_metrics=declared,
        metrics=metrics,
        skipped_exact=frozenset(s for s in skipped if not s.endswith("*")),
        skipped_prefixes=tuple(s[:-1] for s in skipped if s.endswith("*")),
        mmlu_prefixes=tuple(mmlu["prefixes"]),
        mmlu_subjects=frozenset(mmlu["subjects"]),
        mmlu_task_id=mmlu["task_id"],
        mmlu_mean_metrics=tuple(mmlu["mean_metrics"]),
        tasks=pl.DataFrame(tasks, infer_schema_length=None),
        task_metric_rows=pl.DataFrame(task_metrics, infer_schema_length=None),
    )
