"""Where the lake keeps its files, each overridable by one environment variable."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCES_DIR = Path(__file__).resolve().parent
LITERATURE_DIR = SOURCES_DIR / "literature"


def literature_dir() -> Path:
    """The curated published numbers (EMERGENCE_LITERATURE, default sources/literature)."""
    override = os.environ.get("EMERGENCE_LITERATURE")
    return Path(override).resolve() if override else LITERATURE_DIR


def data_dir() -> Path:
    """Root of everything the lake writes (EMERGENCE_DATA, default ./data)."""
    return Path(os.environ.get("EMERGENCE_DATA", PROJECT_ROOT / "data")).resolve()


def raw_dir() -> Path:
    """Verified copies of remote files."""
    return data_dir() / "raw"


def dagster_home() -> Path:
    """Dagster's instance folder (DAGSTER_HOME for `make run` and `make dev`): runs, events, logs."""
    return data_dir() / "dagster"


def charts_dir() -> Path:
    return data_dir() / "charts"


def duckdb_path() -> Path:
    """The warehouse file (EMERGENCE_DUCKDB, default data/emergence.duckdb)."""
    override = os.environ.get("EMERGENCE_DUCKDB")
    return Path(override).resolve() if override else data_dir() / "emergence.duckdb"


def mirror_dir() -> Path | None:
    """Offline stand-in for the network (EMERGENCE_MIRROR), laid out <host>/<path>."""
    value = os.environ.get("EMERGENCE_MIRROR")
    return Path(value).resolve() if value else None
