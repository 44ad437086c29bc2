"""The warehouse as a DuckLake: a catalog (a DuckDB file, or PostgreSQL) plus Parquet data files.

Why: the single DuckDB file allows one writer (the `duckdb_writer` pool and the publish step in
store.py work around that on one machine). A DuckLake catalog in PostgreSQL takes writers from
many processes and machines at once, each commit becoming a snapshot that can be queried later
(`AT (VERSION => n)`, `lake.table_changes(...)`). Chosen by the location alone:

    EMERGENCE_DUCKDB=ducklake:/shared/lake/catalog.ducklake          catalog in a DuckDB file
    EMERGENCE_DUCKDB='ducklake:postgres:dbname=lake host=db user=u'  catalog in PostgreSQL
    EMERGENCE_DUCKLAKE_DATA=/shared/lake/files/                       Parquet files (default
                                                                     $EMERGENCE_DATA/ducklake/)

The extensions (ducklake, postgres_scanner) are LOADed from the `duckdb-ext-ducklake` /
`duckdb-ext-postgres` wheels when they are installed (they ship the binaries for DuckDB 1.4.4),
else from DuckDB's own extension directory; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from sources.paths import ducklake_data_path

DUCKLAKE_PREFIX = "ducklake:"
CATALOG = "lake"  # the name the catalog is attached under; queries may say lake.snapshots()


def is_ducklake(location: str | Path) -> bool:
    return str(location).startswith(DUCKLAKE_PREFIX)


def wheel_extension_dir() -> str | None:
    """`<site-packages>/duckdb_ext/extensions` from the duckdb-ext-* wheels, if installed."""
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        if (Path(folder) / "extensions").is_dir():
            return str(Path(folder) / "extensions")
    return None


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"  # ATTACH takes no bound parameters


@contextmanager
def connect_ducklake(
    location: str, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the lake attached as `lake` and selected (USE lake)."""
    con = duckdb.connect()
    try:
        folder = wheel_extension_dir()
        if folder:
            con.execute("SET extension_directory = ?", [folder])
        con.execute("SET autoinstall_known_extensions = false")
        try:
            con.execute("LOAD ducklake")
        except duckdb.Error as error:
            raise RuntimeError(
                f"the warehouse location {location} is a DuckLake, but DuckDB "
                f"{duckdb.__version__} cannot load the ducklake extension ({error}); install "
                "duckdb==1.4.4 with duckdb-ext-ducklake (and duckdb-ext-postgres for a PostgreSQL "
                "catalog): README, 'Past one machine'"
            ) from None
        data_path = ducklake_data_path()
        options = [f"DATA_PATH {_quoted(str(data_path) + '/')}"]
        if read_only:
            options.append("READ_ONLY")
        else:
            data_path.mkdir(parents=True, exist_ok=True)
        con.execute(f"ATTACH {_quoted(location)} AS {CATALOG} ({', '.join(options)})")
        con.execute(f"USE {CATALOG}")
        yield con
    finally:
        con.close()


_INLINE_KEY = re.compile(r"\s+PRIMARY KEY(?=\s*[,\n-])")
_TABLE_KEY = re.compile(r",([ \t]*(?:--[^\n]*)?\n\s*)PRIMARY KEY \([^)]*\)")


def ducklake_ddl(schema_sql: str, views_sql: str) -> tuple[str, str]:
    """schema.sql and views.sql as DuckLake takes them from writers running at once.

    PRIMARY KEY constraints go (DuckLake has none; the staged frames are checked for duplicate
    keys by pandera before any write). Views are created only where missing: re-creating them in
    every write session commits a catalog change that made a concurrent writer's commit fail
    (measured with two writers on a PostgreSQL catalog). A changed views.sql therefore needs
    `DROP VIEW <name>` once on the lake.
    """
    schema = _INLINE_KEY.sub("", _TABLE_KEY.sub(r"\1", schema_sql))
    return schema, views_sql.replace("CREATE OR REPLACE VIEW", "CREATE VIEW IF NOT EXISTS")
