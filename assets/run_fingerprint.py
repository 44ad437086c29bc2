"""What a lake run depends on, as one fingerprint: `make run` on an unchanged lake says so and stops.

A warm `make run` repeated the whole job (about 10 CPU seconds on the embedded data: imports,
reading and validating every file, rewriting the warehouse, checking every chart) to produce
the same warehouse and the same charts. The runner now records, after a run that succeeded, a
fingerprint of everything the run reads (the code and configuration, the curated and drop-in
files, every EMERGENCE_* setting, the installed versions of the
libraries that shape the output) and of what it left (the warehouse file and the charts). The
next run computes it again first: identical means nothing the lake reads or writes changed,
so it prints which run it would repeat and exits 0 in about a second.

Remote files are pinned by commit and sha256 in the code (a changed pin changes the code), so
their cached copies under data/raw, which the first run writes, are not part of it.
Files are compared by path, size and modification time (stat, no reading): any edit, touch,
new or removed file, a write to the warehouse by an evaluation, or a deleted chart makes the
next run a real one. `EMERGENCE_FORCE_RUN=1 make run` runs anyway. A real run removes the
record when it starts, so a run that fails or is killed never leaves one behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from sources.paths import PROJECT_ROOT, charts_dir, data_dir, duckdb_path, literature_dir

FORCE_VARIABLE = "EMERGENCE_FORCE_RUN"
CODE = ["assets", "checks", "marts", "sources", "warehouse", "pyproject.toml", "dagster.yaml"]
LIBRARIES = ["dagster", "polars", "duckdb", "pandera", "pyarrow", "altair", "vl-convert-python"]
RECORD_NAME = ".last_lake_run.json"


def record_path() -> Path:
    return data_dir() / RECORD_NAME


def _files(roots: Iterable[Path]) -> list[str]:
    """'path size mtime_ns' for every file under the roots (links by their own stat)."""
    lines = []
    for root in roots:
        if root.is_file():
            candidates = [root]
        elif root.is_dir():
            candidates = sorted(p for p in root.rglob("*") if "__pycache__" not in p.parts)
        else:
            lines.append(f"{root} absent")
            continue
        for path in candidates:
            try:
                stat = path.lstat()
            except OSError:
                continue
            if path.is_dir() and not path.is_symlink():
                continue
            lines.append(f"{path} {stat.st_size} {stat.st_mtime_ns}")
    return lines


def _digest(lines: Iterable[str]) -> str:
    hasher = hashlib.sha256()
    for line in lines:
        hasher.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return hasher.hexdigest()


def inputs_fingerprint() -> str:
    """Everything a lake run reads: code, configuration, input files, settings, libraries."""
    from sources.lmeval import dropin_dir  # the drop-in folder's one definition

    settings = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("EMERGENCE_"))
    settings = [s for s in settings if not s.startswith(f"{FORCE_VARIABLE}=")]
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    roots = [PROJECT_ROOT / c for c in CODE] + [literature_dir(), dropin_dir()]
    return _digest([sys.version, *settings, *versions, *_files(roots)])


def outputs_fingerprint() -> str:
    """What a run leaves: the warehouse file and the charts."""
    database = duckdb_path()
    return _digest(_files([database, database.with_name(database.name + ".wal"), charts_dir()]))


def forced() -> bool:
    return os.environ.get(FORCE_VARIABLE, "").strip() not in ("", "0")


def unchanged_since() -> dict | None:
    """The record of the last successful run when nothing it read or wrote has changed since."""
    try:
        record = json.loads(record_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    if record.get("inputs") != inputs_fingerprint():
        return None
    if record.get("outputs") != outputs_fingerprint():
        return None
    return record


def forget() -> None:
    """A real run starts: no record survives it unless it succeeds."""
    record_path().unlink(missing_ok=True)


def remember(run_id: str, inputs: str, finished: str) -> bool:
    """After a successful run: its inputs and the outputs as left; none when the inputs changed
    while it ran (it may have read some files before the change and some after)."""
    if inputs_fingerprint() != inputs:
        return False
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"run_id": run_id, "finished": finished, "inputs": inputs}
    record["outputs"] = outputs_fingerprint()
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(record))
    os.replace(temporary, path)
    return True
