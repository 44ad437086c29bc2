"""The result cache: an evaluated (model revision, task file, prompt/config) is never computed twice.

Key: sha256 over the engine version, the model's weights revision (see model.resolve_revision),
the task id and its task.json sha256, and the evaluation config that can change results (shots,
limit, seed, tokenization, stop sequences, max_new_tokens, dtype). Device, batch size and the speed
switches are not in the key: they change speed, not results (batch-size invariance is tested).

Layout: ``data/cache/evaluations/<key[:2]>/<key>/{examples.parquet, results.parquet, meta.json}``
(and ``flags.parquet``: per-example facts the warehouse has no column for, such as whether the
context was truncated), written to a temporary directory and renamed into place, so a crash never
leaves half an entry. A task still being evaluated keeps its finished batches beside the entry, in
``<key>.partial/`` (checkpoint.py), until the entry is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sources.evaluation.checkpoint import Checkpoint
from sources.paths import data_dir


def cache_root() -> Path:
    return data_dir() / "cache" / "evaluations"


def cache_key(parts: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of `parts`."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


@dataclass
class CachedRun:
    examples: pl.DataFrame
    results: pl.DataFrame
    meta: dict[str, Any]
    flags: pl.DataFrame | None = None  # per example: example_idx, truncated (None: older entry)


class ResultCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_root()

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> CachedRun | None:
        entry = self._entry(key)
        files = [entry / "examples.parquet", entry / "results.parquet", entry / "meta.json"]
        if not all(f.exists() for f in files):
            return None
        flags = entry / "flags.parquet"
        try:
            return CachedRun(
                examples=pl.read_parquet(files[0]),
                results=pl.read_parquet(files[1]),
                meta=json.loads(files[2].read_text()),
                flags=pl.read_parquet(flags) if flags.exists() else None,
            )
        except (OSError, ValueError, pl.exceptions.PolarsError):
            shutil.rmtree(entry, ignore_errors=True)  # unreadable entries are recomputed
            return None

    def put(self, key: str, run: CachedRun) -> Path:
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{key[:8]}-"))
        try:
            run.examples.write_parquet(staging / "examples.parquet")
            run.results.write_parquet(staging / "results.parquet")
            (staging / "meta.json").write_text(json.dumps(run.meta, indent=2, sort_keys=True))
            if run.flags is not None:
                run.flags.write_parquet(staging / "flags.parquet")
            if entry.exists():
                shutil.rmtree(entry)
            os.replace(staging, entry)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return entry

    def checkpoint(self, key: str, key_parts: dict[str, Any]) -> Checkpoint:
        """Where an unfinished evaluation of `key` keeps its finished batches."""
        entry = self._entry(key)
        return Checkpoint(entry.with_name(entry.name + ".partial"), key_parts)
