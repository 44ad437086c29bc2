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
    """Dagster's instance folder (runs, events, logs): $EMERGENCE_DATA/dagster by default.

    A DAGSTER_HOME set to a folder of its own is Dagster's usual choice and is kept; the project
    root (what the Makefile used to export) counts as unset, so storage stays out of the sources.
    """
    explicit = os.environ.get("DAGSTER_HOME")
    if explicit and Path(explicit).resolve() != PROJECT_ROOT:
        return Path(explicit).resolve()
    return data_dir() / "dagster"


def dagster_yaml() -> Path:
    """The instance configuration linked into DAGSTER_HOME (EMERGENCE_DAGSTER_YAML).

    Default: the project's dagster.yaml (SQLite under DAGSTER_HOME). Past one machine, a variant
    from deploy/ (deploy/postgres/dagster.yaml, deploy/celery/dagster.yaml); a relative path is
    read from the project root, so the same setting works from any working directory.
    """
    value = os.environ.get("EMERGENCE_DAGSTER_YAML")
    if not value:
        return PROJECT_ROOT / "dagster.yaml"
    path = Path(value)
    path = path if path.is_absolute() else PROJECT_ROOT / path
    if not path.is_file():
        raise FileNotFoundError(
            f"EMERGENCE_DAGSTER_YAML={value}: no such file ({path}); expected a Dagster instance "
            "config such as deploy/postgres/dagster.yaml"
        )
    return path.resolve()


def charts_dir() -> Path:
    return data_dir() / "charts"


def duckdb_path() -> Path:
    """The warehouse (EMERGENCE_DUCKDB, default data/emergence.duckdb).

    A `ducklake:` or `md:` location is not a file path and is returned as given.
    """
    override = os.environ.get("EMERGENCE_DUCKDB")
    if override and override.startswith(("ducklake:", "md:")):
        return Path(override)
    return Path(override).resolve() if override else data_dir() / "emergence.duckdb"


def ducklake_data_path() -> Path:
    """Where a DuckLake warehouse keeps its Parquet files (EMERGENCE_DUCKLAKE_DATA)."""
    override = os.environ.get("EMERGENCE_DUCKLAKE_DATA")
    return Path(override).resolve() if override else data_dir() / "ducklake"


def mirror_dir() -> Path | None:
    """Offline stand-in for the network (EMERGENCE_MIRROR), laid out <host>/<path>."""
    value = os.environ.get("EMERGENCE_MIRROR")
    return Path(value).resolve() if value else None
