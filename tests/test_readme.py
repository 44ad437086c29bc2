"""The README's examples are real: its queries run, its CSV example is a file that adds its rows."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sources.literature import read_literature
from sources.paths import LITERATURE_DIR, PROJECT_ROOT
from sources.staging import stage_lake

README = (PROJECT_ROOT / "README.md").read_text()
EXAMPLE_FILE = "hoffmann2022_chinchilla.csv"


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def readme_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", _section("Querying"), flags=re.S)


def readme_csv_example() -> str:
    return re.findall(r"```csv\n(.*?)```", README, flags=re.S)[0]


def test_readme_has_at_least_five_queries():
    assert len(readme_queries()) >= 5


@pytest.mark.parametrize("query", readme_queries(), ids=lambda q: q.split("\n")[0][:40])
def test_query_runs_from_python(lake_run, query):
    with duckdb.connect(str(lake_run["data"] / "emergence.duckdb"), read_only=True) as con:
        rows = con.sql(query).fetchall()
    assert rows, f"query returned no rows:\n{query}"


@pytest.mark.parametrize("query", readme_queries(), ids=lambda q: q.split("\n")[0][:40])
def test_query_runs_with_the_duckdb_cli(lake_run, query):
    cli = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
    assert cli, "the duckdb command (package duckdb-cli) is part of the project's install"
    done = subprocess.run(
        [cli, "-readonly", "-csv", str(lake_run["data"] / "emergence.duckdb"), "-c", query],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) >= 2, done.stdout  # header + at least one row


def test_readme_example_is_the_real_file():
    assert readme_csv_example() == (LITERATURE_DIR / "results" / EXAMPLE_FILE).read_text()


def test_dropping_the_readme_example_into_the_folder_adds_its_rows(tmp_path):
    folder = tmp_path / "literature"
    shutil.copytree(LITERATURE_DIR, folder)
    (folder / "results" / EXAMPLE_FILE).unlink()
    before = stage_lake(read_literature(folder)).results
    (folder / "results" / "from_readme.csv").write_text(readme_csv_example())
    after = stage_lake(read_literature(folder)).results
    example_rows = len(readme_csv_example().strip().splitlines()) - 1
    assert after.height == before.height + example_rows
    added = after.filter(after["source_file"].str.ends_with("from_readme.csv"))
    assert added.height == example_rows
    assert set(added["citation"]) == {"Hoffmann et al. 2022 (Chinchilla)"}
