"""Issue 9 point 6: the gallery and the README say how many Table 1 rows the lake recomputes, and
both numbers are the README's query run against the warehouse, never typed."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from marts.gallery import GalleryEntry, write_gallery
from marts.table1_counts import Table1Counts, table1_counts
from sources.paths import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def readme_count_query() -> str:
    """The README's query under 'How many Table 1 rows the lake recomputes'."""
    after = README.split("How many Table 1 rows the lake recomputes", 1)[1]
    return re.search(r"```sql\n(.*?)```", after, flags=re.S).group(1)


def _readme_numbers(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    linked, recomputed, agreeing, _ = con.execute(readme_count_query()).fetchone()
    return linked, recomputed, agreeing


@pytest.fixture
def small_warehouse() -> duckdb.DuckDBPyConnection:
    """Four Table 1 rows: one recomputed and agreeing, one recomputed and not, one linked to a
    task without results, one without a curve."""
    con = duckdb.connect(":memory:")
    con.execute((PROJECT_ROOT / "warehouse" / "schema.sql").read_text())
    con.execute((PROJECT_ROOT / "warehouse" / "views.sql").read_text())
    rows = [
        (1, "wic", 540e9),
        (2, "mmlu", 175e9),
        (3, "gsm8k", 68e9),
        (4, None, 1e9),
    ]
    for row_order, task_id, params in rows:
        con.execute(
            "INSERT INTO table1 VALUES (?, 'few-shot', 'ability', true, 1e23, ?, 'GPT-3', 'ref', "
            "?, 5, 'standard', 'accuracy', 'src', NULL)",
            [row_order, params, task_id],
        )
    for task_id, computed, agrees in (("wic", 540e9, True), ("mmlu", 13e9, False)):
        con.execute(
            "INSERT INTO emergence (task_id, family, shots, prompting, metric, origin, n_models, "
            "scale_axis, classification, emergent_params, agrees_with_reported, method) VALUES "
            "(?, 'GPT-3', 5, 'standard', 'accuracy', 'literature', 5, 'train_flops', "
            "'emergent', ?, ?, 't')",
            [task_id, computed, agrees],
        )
    return con


def test_counts_are_the_readme_query(small_warehouse) -> None:
    counts = table1_counts(small_warehouse)
    assert counts == Table1Counts(total=4, linked=3, recomputed=2, agreeing=1)
    assert (counts.linked, counts.recomputed, counts.agreeing) == _readme_numbers(small_warehouse)


def test_gallery_prints_the_counted_sentence_escaped(small_warehouse, tmp_path: Path) -> None:
    counts = table1_counts(small_warehouse)
    page = write_gallery(
        [GalleryEntry("table1", "Table 1", "caption", True)], tmp_path, summary=counts.sentence()
    ).read_text(encoding="utf-8")
    assert (
        '<p class="lead" id="table1-count">Table 1: 2 of 4 rows recomputed by the lake '
        "(3 linked to a curve; 1 agree with the printed scale).</p>"
    ) in page
    escaped = write_gallery([], tmp_path, summary="<b>x</b> & y").read_text(encoding="utf-8")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in escaped and "<b>x</b>" not in escaped


def test_lake_gallery_and_readme_match_the_query(lake_run) -> None:
    """On the whole lake: the gallery's sentence and the README's 'Of Table 1's 23 rows, …' are
    what the README's query returns from the warehouse."""
    data = lake_run["data"]
    con = duckdb.connect(str(data / "emergence.duckdb"), read_only=True)
    try:
        linked, recomputed, agreeing = _readme_numbers(con)
        (total,) = con.execute("SELECT count(*) FROM table1").fetchone()
    finally:
        con.close()
    index = (data / "charts" / "index.html").read_text(encoding="utf-8")
    sentence = (
        f"Table 1: {recomputed} of {total} rows recomputed by the lake ({linked} linked to a "
        f"curve; {agreeing} agree with the printed scale)."
    )
    assert sentence in index
    assert sentence in " ".join(README.split()), "the README's Charts section quotes the gallery"
    said = re.search(
        r"Of Table 1's (\d+) rows, (\d+) are linked to a curve, (\d+) are recomputed\s+and (?:all )?(\d+) agree",
        README,
    )
    assert said, "the README states the counts"
    assert tuple(int(n) for n in said.groups()) == (total, linked, recomputed, agreeing)
