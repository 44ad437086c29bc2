"""Resources, chosen in one place so asset code never asks where it runs.

Locally the warehouse is one DuckDB file (EMERGENCE_DUCKDB, default data/emergence.duckdb). A
deployment points the same resource at another path (or a MotherDuck `md:` database) by
environment, with no code change.
"""

from __future__ import annotations

from dagster_duckdb import DuckDBResource

from sources.paths import duckdb_path


def warehouse_resource() -> DuckDBResource:
    return DuckDBResource(database=str(duckdb_path()))
