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
    """The DuckDB warehouse.

    `get_connection(read_only=True)` reads the published state and never blocks a refresh.
    `get_connection()` is a write session (warehouse/store.py): its work is published atomically
    when the block exits cleanly and dropped on an error. Writing steps belong to the
    `duckdb_writer` pool, so sessions take turns across runs.
    """

    path: str | None = None

    def location(self) -> Path:
        return Path(self.path) if self.path else duckdb_path()

    @contextmanager
    def get_connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.location(), read_only=read_only) as con:
            yield con
