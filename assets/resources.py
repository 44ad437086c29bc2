"""Resources, chosen in one place so asset code never asks where it runs.

Locally the warehouse is one DuckDB file, resolved when a step runs (EMERGENCE_DUCKDB, else
$EMERGENCE_DATA/emergence.duckdb). A deployment sets `path` (or the environment) to another file
or a MotherDuck `md:` database: configuration, not code.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from sources.paths import duckdb_path
from warehouse.store import connect


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse. Writers share the `duckdb_writer` pool: DuckDB allows one writer."""

    path: str | None = None

    def location(self) -> Path:
        return Path(self.path) if self.path else duckdb_path()

    @contextmanager
    def get_connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.location(), read_only=read_only) as con:
            yield con
