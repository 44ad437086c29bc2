"""README "Could it have been predicted?": its queries run on a fresh lake, and its table is theirs."""

from __future__ import annotations

import re

import duckdb

from sources.paths import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def _subsection(title: str) -> str:
    start = README.index(f"### {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


SECTION = _subsection("Could it have been predicted?")


def _markdown(cursor) -> list[list[str]]:
    fmt = lambda v: "" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))  # noqa: E731
    header = [d[0] for d in cursor.description]
    return [header, *([fmt(v) for v in row] for row in cursor.fetchall())]


def _readme_table() -> list[list[str]]:
    lines = [line for line in SECTION.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_the_backtest_table_is_what_its_query_gives(lake_run):
    queries = re.findall(r"```sql\n(.*?)```", SECTION, flags=re.S)
    assert len(queries) == 2
    with duckdb.connect(str(lake_run["data"] / "emergence.duckdb"), read_only=True) as con:
        assert _markdown(con.execute(queries[0])) == _readme_table()
        assert con.execute(queries[1]).fetchall()  # forecasts were made for the registry


def test_the_uncertainty_query_runs(lake_run):
    section = README[README.index("## Emergent scale") : README.index("## Is it real?")]
    (query,) = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    with duckdb.connect(str(lake_run["data"] / "emergence.duckdb"), read_only=True) as con:
        rows = con.execute(query).fetchall()
    assert {r[0] for r in rows} == {"emergent", "smooth", "never_above_random"}
