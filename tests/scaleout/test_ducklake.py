"""The warehouse as a DuckLake (EMERGENCE_DUCKDB=ducklake:...): the `lake` job writes the same
tables as on the single file; every commit is a snapshot the README's queries read back; two
writers on a PostgreSQL catalog at once lose nothing.

Needs the ducklake (and postgres_scanner) extension for the pinned DuckDB 1.4.4, from the
duckdb-ext-* wheels of the `scaleout` extra; without the extra these tests skip, saying so. With
it, an extension that does not load is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from sources.paths import PROJECT_ROOT
from tests.scaleout import servers
from tests.scaleout.conftest import need_extra
from warehouse.ducklake import connect_ducklake

pytestmark = pytest.mark.scaleout


@pytest.fixture(autouse=True)
def _ducklake_loads() -> None:
    need_extra()
    # raises, naming the DuckDB version and what to install, if the extension does not load
    with (
        tempfile.TemporaryDirectory() as folder,
        connect_ducklake(f"ducklake:{Path(folder) / 'probe.ducklake'}"),
    ):
        pass


TABLES = ["models", "tasks", "task_metrics", "results", "table1", "emergence"]


def _readme_queries() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text()
    section = text.split("## Past one machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def _rows(con, table: str, data_dir) -> str:
    """The table's rows, with the data folder in `source_file` (a cached download's path) cut."""
    catalog, name = table.split(".")
    columns = [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_name = ?",
            [catalog, name],
        ).fetchall()
    ]
    if "source_file" not in columns:
        return f"SELECT * FROM {table}"
    prefix = str(data_dir).replace("'", "''")
    return (
        f"SELECT * REPLACE (replace(source_file, '{prefix}', '$DATA') AS source_file) FROM {table}"
    )


def test_lake_job_writes_the_same_tables_with_snapshots(
    lake_on_postgres, bigbench_mirror, tmp_path, monkeypatch
):
    from assets.definitions import defs

    location = f"ducklake:{tmp_path / 'catalog.ducklake'}"
    monkeypatch.setenv("EMERGENCE_DUCKDB", location)
    monkeypatch.setenv("EMERGENCE_DATA", str(tmp_path / "data"))
    result = defs.resolve_job_def("lake").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert result.success
    single_file = lake_on_postgres.data / "emergence.duckdb"
    with connect_ducklake(location, read_only=True) as con:
        con.execute(f"ATTACH '{single_file}' AS single_file (READ_ONLY)")
        for table in TABLES:
            lake_rows = _rows(con, f"lake.{table}", tmp_path / "data")
            file_rows = _rows(con, f"single_file.{table}", lake_on_postgres.data)
            lake_count, file_count, differing = con.execute(
                f"SELECT (SELECT count(*) FROM ({lake_rows})), (SELECT count(*) FROM ({file_rows})), "
                f"(SELECT count(*) FROM ({lake_rows} EXCEPT ALL {file_rows}))"
            ).fetchone()
            assert (lake_count, differing) == (file_count, 0), table
        assert not list((tmp_path / "data").glob("*.duckdb"))  # no single file was written
        assert list((tmp_path / "data" / "ducklake").rglob("*.parquet"))
        queries = _readme_queries()
        assert len(queries) >= 3
        for query in queries:
            assert con.sql(query).fetchall(), query  # each README query runs and finds rows
        then_rows, now_rows = con.sql(queries[1]).fetchone()  # before the first write, and now
        assert (
            then_rows == 0 < now_rows == con.execute("SELECT count(*) FROM results").fetchone()[0]
        )


def test_two_writers_on_a_postgres_catalog_lose_nothing(postgres_url, tmp_path, monkeypatch):
    url = servers.create_database(postgres_url, "ducklake_catalog")
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    location = f"ducklake:postgres:dbname=ducklake_catalog host={host} port={port} user=postgres"
    env = {**os.environ, "EMERGENCE_DATA": str(tmp_path / "data"), "EMERGENCE_DUCKDB": location}
    writer = [sys.executable, "-m", "tests.scaleout.ducklake_writer"]
    subprocess.run([*writer, "schema", "0"], env=env, cwd=PROJECT_ROOT, check=True)
    both = [
        subprocess.Popen(
            [*writer, model, "15"], env=env, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True
        )
        for model in ("writer-a", "writer-b")
    ]
    errors = [process.communicate(timeout=120)[1] for process in both]
    assert [process.returncode for process in both] == [0, 0], errors
    monkeypatch.setenv("EMERGENCE_DATA", env["EMERGENCE_DATA"])  # the lake's data path
    with connect_ducklake(location, read_only=True) as con:
        counts = dict(con.execute("SELECT model_id, count(*) FROM results GROUP BY ALL").fetchall())
        snapshots = con.execute("SELECT count(*) FROM lake.snapshots()").fetchone()[0]
    assert counts == {"writer-a": 15, "writer-b": 15}
    assert snapshots >= 30  # every committed transaction is a snapshot
