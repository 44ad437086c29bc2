"""sources/suites.yaml: the model suites whose lm-eval results the lake reads, with their scale.

Each model is keyed by the names lm-evaluation-harness records as `pretrained=` (its `hub_ids`),
so a results file finds its parameters, tokens, tokens per step and final step here; the models
become rows of the warehouse's `models` (origin lmeval, FLOPs = 6·N·D flagged estimated_6nd).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sources.literature import display_path
from sources.paths import SOURCES_DIR
from sources.yaml_entries import entries, read_yaml

SUITES_FILE = SOURCES_DIR / "suites.yaml"
ORIGIN = "lmeval"


@dataclass(frozen=True)
class SuiteModel:
    model_id: str
    family: str
    params: float
    train_tokens: float | None
    tokens_per_step: float | None
    final_step: int | None


@dataclass(frozen=True)
class Suites:
    by_hub_id: dict[str, SuiteModel]
    models: pl.DataFrame  # the warehouse's models columns, with source_file/source_row


def load_suites(path: Path = SUITES_FILE) -> Suites:
    """Every model of every suite, keyed by the names lm-eval records as `pretrained=`."""
    document = read_yaml(path)
    by_hub_id: dict[str, SuiteModel] = {}
    rows = []
    with entries(path) as cursor:
        for i, suite in enumerate(document["suites"]):
            for j, entry in enumerate(suite["models"]):
                cursor.where = f"suites[{i}].models[{j}]"
                tokens = entry.get("train_tokens", suite.get("train_tokens"))
                model = SuiteModel(
                    entry["id"],
                    suite["family"],
                    float(entry["params"]),
                    float(tokens) if tokens is not None else None,
                    suite.get("tokens_per_step"),
                    suite.get("final_step"),
                )
                for hub_id in entry["hub_ids"]:
                    by_hub_id[hub_id] = model
                flops = 6.0 * model.params * model.train_tokens if model.train_tokens else None
                rows.append(
                    {
                        "model_id": model.model_id,
                        "family": model.family,
                        "label": entry["label"],
                        "params": model.params,
                        "train_tokens": model.train_tokens,
                        "train_flops": flops,
                        "flops_basis": "estimated_6nd" if flops else "missing",
                        "flops_printed_by_wei": None,
                        "weights": entry["hub_ids"][-1],
                        "revision": None,
                        "origin": ORIGIN,
                        "source": " ".join(str(entry.get("source", suite["source"])).split()),
                        "note": "train_flops = 6·N·D (estimated)" if flops else None,
                        "source_file": display_path(path),
                        "source_row": None,
                    }
                )
    return Suites(by_hub_id, pl.DataFrame(rows, infer_schema_length=None))
