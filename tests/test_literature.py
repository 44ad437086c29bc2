"""The real curated files (sources/literature/) load, and hold what they claim to hold."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from sources.literature import LiteratureTables, parse_scale, read_literature
from sources.paths import LITERATURE_DIR

MIRROR = Path("/work/shared/mirror")
PARSINLU_QA_TASK = MIRROR / "pypi/bigbench-1.0.0/bigbench/benchmark_tasks/parsinlu_qa/task.json"


@pytest.fixture(scope="module")
def literature() -> LiteratureTables:
    return read_literature()


def test_every_table_has_rows(literature: LiteratureTables):
    for name in ("models", "tasks", "task_metrics", "results", "table1"):
        frame = getattr(literature, name)
        assert frame.height > 0, name
        assert {"source_file", "source_row"} <= set(frame.columns), name
        assert frame["source_row"].min() == 2, name  # header = line 1


def test_table1_has_23_rows_and_one_non_numeric(literature: LiteratureTables):
    table1 = literature.table1
    assert table1.height == 23
    assert sorted(table1["row_order"].to_list()) == list(range(1, 24))
    non_numeric = table1.filter(~pl.col("is_numeric"))
    assert non_numeric.height == 1
    assert non_numeric["ability"][0].startswith("Many BIG-Bench tasks")
    assert non_numeric["reported_flops"][0] is None
    assert non_numeric["reported_params"][0] is None
    numeric = table1.filter(pl.col("is_numeric"))
    assert numeric["reported_flops"].is_not_null().all()
    assert numeric["reported_params"].is_not_null().all()


def test_table1_first_row_as_printed(literature: LiteratureTables):
    first = literature.table1.filter(pl.col("row_order") == 1).row(0, named=True)
    assert first["reported_flops"] == pytest.approx(2.3e22)
    assert first["reported_params"] == pytest.approx(13e9)
    assert first["family"] == "GPT-3"


def test_every_result_has_citation_and_location(literature: LiteratureTables):
    results = literature.results
    for column in ("citation", "location"):
        empty = results.filter(pl.col(column).is_null() | (pl.col(column).str.strip_chars() == ""))
        assert empty.height == 0, empty.select("source_file", "source_row", column)


def test_every_result_names_a_known_model(literature: LiteratureTables):
    known = set(literature.models["model_id"].to_list())
    unknown = literature.results.filter(~pl.col("model_id").is_in(known))
    assert unknown.height == 0, unknown.select("source_file", "source_row", "model_id")


def test_every_result_names_a_declared_task_and_metric(literature: LiteratureTables):
    declared = literature.task_metrics.select("task_id", "metric")
    undeclared = literature.results.join(declared, on=["task_id", "metric"], how="anti")
    assert undeclared.height == 0, undeclared.select(
        "source_file", "source_row", "task_id", "metric"
    )


def test_every_results_file_contributes_rows(literature: LiteratureTables):
    files = sorted(p.name for p in (LITERATURE_DIR / "results").glob("*.csv"))
    staged = {Path(f).name for f in literature.results["source_file"].unique().to_list()}
    assert files and staged == set(files)


def test_parsinlu_qa_random_level_matches_bigbench():
    """task_metrics.csv says 25.0476: the mean over examples of 1/(number of answer options)."""
    if not PARSINLU_QA_TASK.exists():
        pytest.skip(f"BIG-bench parsinlu_qa task definition not available at {PARSINLU_QA_TASK}")
    examples = json.loads(PARSINLU_QA_TASK.read_text(encoding="utf-8"))["examples"]
    assert len(examples) > 0
    chance = 100.0 * sum(1.0 / len(e["target_scores"]) for e in examples) / len(examples)

    task_metrics = read_literature().task_metrics
    row = task_metrics.filter(
        (pl.col("task_id") == "parsinlu_qa") & (pl.col("metric") == "multiple_choice_grade")
    )
    assert row.height == 1
    assert row["unit"][0] == "percent"
    assert row["random_level"][0] == pytest.approx(25.0476, abs=1e-9)
    assert row["random_level"][0] == pytest.approx(chance, abs=5e-5)  # printed to 4 decimals


@pytest.mark.parametrize(
    "task_id",
    [
        "arithmetic/2_digit_addition",
        "arithmetic/2_digit_multiplication",
        "arithmetic/3_digit_addition",
        "arithmetic/3_digit_subtraction",
    ],
)
def test_computed_multiple_choice_random_levels_match_bigbench(task_id: str):
    """Every random level marked 'computed' equals mean 1/(options) over the task's examples."""
    path = MIRROR / "pypi/bigbench-1.0.0/bigbench/benchmark_tasks" / task_id / "task.json"
    if not path.exists():
        pytest.skip(f"BIG-bench task definition not available at {path}")
    examples = json.loads(path.read_text(encoding="utf-8"))["examples"]
    chance = 100.0 * sum(1.0 / len(e["target_scores"]) for e in examples) / len(examples)
    row = read_literature().task_metrics.filter(
        (pl.col("task_id") == task_id) & (pl.col("metric") == "multiple_choice_grade")
    )
    assert row["random_source"][0].startswith("computed")
    assert row["random_level"][0] == pytest.approx(chance, abs=5e-5)


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("13B", 13e9),
        ("40M", 40e6),
        ("2.3E+22", 2.3e22),
        ("1,320M", 1.32e9),
        ("7.1B", 7.1e9),
        ("1.5T", 1.5e12),
        (" 175B ", 175e9),
        ("8.9E+19", 8.9e19),
    ],
)
def test_parse_scale_numbers(printed: str, value: float):
    assert parse_scale(printed) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("printed", ["Many", "many", "", None, "lots"])
def test_parse_scale_non_numbers(printed: str | None):
    assert parse_scale(printed) is None
