"""`emergence list / show / export`: read-only questions to a small warehouse built here."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sources.evaluation.cli import main
from warehouse.store import ensure_schema

MODELS = [
    # model_id, family, params, train_flops, origin
    ("toy-s", "Toy", 1e8, 1e20, "literature"),
    ("toy-m", "Toy", 1e9, 1e21, "literature"),
    ("toy-l", "Toy", 1e10, 1e22, "literature"),
    ("pythia-tiny", "Pythia", 7e7, 1e20, "registry"),
]
VALUES = {"toy-s": 25.0, "toy-m": 26.0, "toy-l": 60.0}


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "lake.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    for model_id, family, params, flops, origin in MODELS:
        con.execute(
            "INSERT INTO models (model_id, family, label, params, train_flops, flops_basis, origin,"
            " source) VALUES (?, ?, ?, ?, ?, 'published', ?, 'test')",
            [model_id, family, model_id.upper(), params, flops, origin],
        )
    con.execute(
        "INSERT INTO tasks VALUES ('mmlu', 'MMLU', 'MMLU', 'Fig2G', 'accuracy', NULL, 'd', 's'),"
        " ('parsinlu_qa', 'Persian QA', 'BIG-bench', 'Fig2D', 'multiple_choice_grade', NULL,"
        " 'd', 's')"
    )
    for model_id, value in VALUES.items():
        con.execute(
            "INSERT INTO results (model_id, task_id, shots, prompting, setting, metric, value, unit,"
            " origin, citation, location, source_file, in_wei_figure) VALUES (?, 'mmlu', 5,"
            " 'standard', '5-shot', 'accuracy', ?, 'percent', 'literature', 'Paper 2022',"
            " 'Table 1', 'x.csv', true)",
            [model_id, value],
        )
    for shots in (0, 5):
        con.execute(
            "INSERT INTO emergence (task_id, family, shots, prompting, metric, origin, n_models,"
            " scale_axis, classification, emergent_model_id, method) VALUES ('mmlu', 'Toy', ?,"
            " 'standard', 'accuracy', 'literature', 3, 'train_flops', ?, ?, 'm')",
            [shots, "emergent" if shots else "too_few_points", "toy-l" if shots else None],
        )
    con.execute(
        "INSERT INTO eval_examples (run_id, model_id, task_id, shots, example_idx, prompt_hash,"
        " target, prediction, correct, target_logprob, target_tokens, choice_logprobs) VALUES ('run1', 'pythia-tiny', 'parsinlu_qa', 2, 0, 'h0', 'a',"
        " 'b', false, -3.5, 2, [-3.5, -1.0]), ('run1', 'pythia-tiny', 'parsinlu_qa', 2, 1, 'h1',"
        " 'c', 'c', true, -0.5, 1, [-0.5, -2.0])"
    )
    con.close()
    monkeypatch.setenv("EMERGENCE_DUCKDB", str(path))
    return path


def test_list_series_and_models(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "series", "--task", "mmlu", "--json"]) == 0
    series = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(s["shots"], s["classification"]) for s in series] == [
        (0, "too_few_points"),
        (5, "emergent"),
    ]
    assert main(["list", "models", "--family", "Toy"]) == 0
    out = capsys.readouterr().out
    assert "toy-s" in out and "toy-l" in out and "pythia-tiny" not in out
    # A model matches a task filter when it has results for that task.
    assert main(["list", "models", "--task", "mmlu", "--json"]) == 0
    ids = [json.loads(line)["model_id"] for line in capsys.readouterr().out.splitlines()]
    assert ids == ["toy-s", "toy-m", "toy-l"]
    assert main(["list", "tasks", "--json"]) == 0
    tasks = {
        json.loads(line)["task_id"]: json.loads(line)
        for line in capsys.readouterr().out.splitlines()
    }
    assert tasks["mmlu"]["results"] == 3 and tasks["parsinlu_qa"]["results"] == 0
    assert main(["list", "tasks", "--family", "Toy", "--json"]) == 0
    assert [json.loads(line)["task_id"] for line in capsys.readouterr().out.splitlines()] == [
        "mmlu"
    ]


def test_show_one_series_with_its_points(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two series match task + family: the command says how to narrow it, exit 2.
    assert main(["show", "--task", "mmlu", "--family", "Toy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 series match" in err[0] and "--shots 5" in err[0]
    assert main(["show", "--task", "mmlu", "--family", "Toy", "--shots", "5", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["emergence"]["emergent_model_id"] == "toy-l"
    assert [(p["model_id"], p["value"]) for p in shown["points"]] == list(VALUES.items())


@pytest.mark.parametrize("suffix", ["csv", "parquet", "json", "jsonl"])
def test_export_writes_the_selection(
    warehouse: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"examples.{suffix}"
    assert main(["export", "examples", "--model", "pythia-tiny", "--out", str(out)]) == 0
    assert "wrote 2 examples rows" in capsys.readouterr().out
    read = {
        "csv": pl.read_csv,
        "parquet": pl.read_parquet,
        "json": pl.read_json,
        "jsonl": pl.read_ndjson,
    }[suffix]
    frame = read(out)
    assert frame["example_idx"].to_list() == [0, 1] and set(frame["family"]) == {"Pythia"}
    logprobs = frame["choice_logprobs"].to_list()
    if suffix == "csv":
        logprobs = [json.loads(cell) for cell in logprobs]
    assert logprobs == [[-3.5, -1.0], [-0.5, -2.0]]


def test_export_results_filters_are_bound_parameters(
    warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.csv"
    assert (
        main(["export", "results", "--family", "Toy", "--origin", "literature", "--out", str(out)])
        == 0
    )
    assert pl.read_csv(out)["model_id"].to_list() == ["toy-s", "toy-m", "toy-l"]
    # A value that would be SQL if pasted into the query text is only a value that matches nothing.
    hostile = "Toy' OR '1'='1"
    assert main(["export", "results", "--family", hostile, "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no results match the selection" in err[0]
    assert not (tmp_path / "x.csv").exists()


def test_the_warehouse_is_opened_read_only(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = warehouse.read_bytes()
    writer = duckdb.connect(str(warehouse), read_only=True)  # another reader at the same time
    try:
        assert main(["list", "series"]) == 0
    finally:
        writer.close()
    assert warehouse.read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "models", "--family", "Nope"], "no models match the selection (families=Nope)"),
        (["export", "examples", "--origin", "literature", "--out", "x.csv"], "no examples match"),
        (["export", "results", "--out", "results.txt"], "cannot tell the format"),
        (["show", "--task", "mmlu"], "show needs --task and --family"),
        (["list", "series", "--task", "mmlu", "--task", "nope"], "unknown task 'nope'"),
        (["export", "examples", "--metric", "bleu", "--out", "x.csv"], "--metric does not apply"),
        (["export", "results", "--task", "nope", "--out", "x.csv"], "unknown task 'nope'"),
    ],
)
def test_bad_selections_exit_2_with_one_line(
    warehouse: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_a_missing_warehouse_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.duckdb"
    monkeypatch.setenv("EMERGENCE_DUCKDB", str(missing))
    assert main(["list", "models"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0] and "make run" in err[0]
    assert not missing.exists()  # reading never creates a warehouse


def test_a_warehouse_without_the_tables_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()  # a DuckDB file, but not the lake's
    monkeypatch.setenv("EMERGENCE_DUCKDB", str(path))
    assert main(["list", "series"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "emergence" in err[0] and "does not exist" in err[0]
