"""Re-scoring from stored examples: each metric on hand-computed examples, the registry, and the
CLI + Dagster asset end to end on a tiny model evaluated here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from marts.edit_distance import Sequences, levenshtein
from marts.rescore import RESCORE_CITATION, rescore, rescore_into
from sources.metric_registry import UnknownMetricError, metric
from warehouse.store import ensure_schema

ENGINE = "emergence-lake engine 0.1.0"


def _warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Two runs: a generative task (2 examples) and a multiple-choice task (2 examples)."""
    ensure_schema(con)
    con.execute(
        "INSERT INTO models (model_id, family, label, flops_basis, origin, source)"
        " VALUES ('m1', 'F', 'm1', 'missing', 'registry', 'test')"
    )
    for task, run in (("gen", "r1"), ("mc", "r2")):
        con.execute(
            "INSERT INTO results (model_id, task_id, shots, prompting, setting, metric, value, unit,"
            " origin, citation, location, source_file, in_wei_figure) VALUES ('m1', ?, 0,"
            " 'standard', '0-shot', 'exact_str_match', 50, 'percent', 'fresh', ?, ?, 'w', false)",
            [task, ENGINE, f"run {run} config abc"],
        )
    con.execute(
        """INSERT INTO eval_examples (run_id, model_id, task_id, shots, example_idx, prompt_hash,
               target, prediction, correct, target_logprob, target_tokens, choice_logprobs,
               target_token_logprobs, end_logprob, choice_scores)
           VALUES
           ('r1', 'm1', 'gen', 0, 0, 'hhhhhhhh', '12', '12', true, ln(0.5) + ln(0.8), 2, NULL,
            [ln(0.5), ln(0.8)], ln(0.9), NULL),
           ('r1', 'm1', 'gen', 0, 1, 'hhhhhhhh', '7', 'kitten', false, ln(0.1), 1, NULL,
            [ln(0.1)], ln(0.5), NULL),
           ('r2', 'm1', 'mc', 0, 0, 'hhhhhhhh', 'a', 'a', true, ln(0.6), 1,
            [ln(0.6), ln(0.3), ln(0.1)], [ln(0.6)], NULL, [1.0, 0.0, 0.0]),
           ('r2', 'm1', 'mc', 0, 1, 'hhhhhhhh', 'b', 'a', false, ln(0.2), 1,
            [ln(1.0), ln(1.0), ln(2.0)], [ln(0.2)], NULL, [0.0, 1.0, 0.0])"""
    )


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    _warehouse(con)
    return con


def _values(rows: pl.DataFrame) -> dict[tuple[str, str], float]:
    return {(r["task_id"], r["metric"]): r["value"] for r in rows.to_dicts()}


def test_each_metric_on_hand_computed_examples(con):
    rows = rescore(con, tokenizer_loader=None)
    v = _values(rows)
    # Generative: p(target) x p(end) = 0.4 x 0.9 and 0.1 x 0.5.
    assert v["gen", "expected_exact_match"] == pytest.approx(100 * (0.36 + 0.05) / 2)
    # Per-token probability: sqrt(0.4) and 0.1; Schaeffer's p̄^L̄ with L̄ = 1.5.
    p_bar = (math.sqrt(0.4) + 0.1) / 2
    assert v["gen", "per_token_probability"] == pytest.approx(100 * p_bar)
    assert v["gen", "predicted_exact_match"] == pytest.approx(100 * p_bar**1.5)
    assert v["gen", "target_token_accuracy"] == pytest.approx(100 * ((0.5 + 0.8) / 2 + 0.1) / 2)
    # '12' vs '12': 0; 'kitten' vs '7': 6 characters.
    assert v["gen", "char_edit_distance"] == pytest.approx(3.0)
    assert ("mc", "char_edit_distance") not in v  # no generation to compare
    # Multiple choice: options normalised; second example's probabilities are 1/4, 1/4, 1/2.
    assert v["mc", "correct_option_probability"] == pytest.approx(100 * (0.6 + 0.25) / 2)
    brier_1 = (0.6 - 1) ** 2 + 0.3**2 + 0.1**2
    brier_2 = 0.25**2 + (0.25 - 1) ** 2 + 0.5**2
    assert v["mc", "brier_score"] == pytest.approx((brier_1 + brier_2) / 2)
    # Multiple choice stores no end log-probability: expected exact match is said to be a bound.
    notes = {(r["task_id"], r["metric"]): r["note"] for r in rows.to_dicts()}
    assert notes["mc", "expected_exact_match"].startswith("upper bound")
    assert notes["gen", "expected_exact_match"].startswith("exact")
    assert "characters" in notes["gen", "char_edit_distance"]
    # Provenance and registry units on every row.
    assert set(rows["rescored_from_run"]) == {"r1", "r2"}
    assert set(rows["citation"]) == {f"{RESCORE_CITATION} of: {ENGINE}"}
    assert rows.filter(pl.col("task_id") == "gen")["location"][0] == (
        "rescored from eval_examples of run r1"
    )
    assert all(metric(r["metric"]).unit == r["unit"] for r in rows.to_dicts())


def test_missing_end_logprob_makes_expected_exact_match_an_upper_bound(con):
    con.execute(
        "UPDATE eval_examples SET end_logprob = NULL WHERE example_idx = 1 AND run_id = 'r1'"
    )
    row = rescore(con, tokenizer_loader=None).filter(
        (pl.col("task_id") == "gen") & (pl.col("metric") == "expected_exact_match")
    )
    assert row["value"][0] == pytest.approx(100 * (0.36 + 0.1) / 2)
    assert row["note"][0] == "upper bound: end_logprob not stored for 1 examples"


def test_rescore_replaces_its_rows_and_a_failure_keeps_the_previous_ones(con):
    first = rescore_into(con, None)
    count = "SELECT count(*) FROM results WHERE rescored_from_run IS NOT NULL"
    assert con.execute(count).fetchone()[0] == first.height
    rescore_into(con, None)  # a re-run replaces, never duplicates
    assert con.execute(count).fetchone()[0] == first.height
    # A value the schema refuses (a Brier score above 2 from a corrupt example) fails validation
    # before anything is written: the previous rows stay.
    con.execute("UPDATE eval_examples SET choice_scores = [5.0, 0.0, 0.0] WHERE run_id = 'r2'")
    from checks.validation import ValidationError

    with pytest.raises(ValidationError):
        rescore_into(con, None)
    assert con.execute(count).fetchone()[0] == first.height


def test_levenshtein_on_hand_cases():
    left = pl.Series(["kitten", "", "héllo", "abc", "flaw", "x" * 40])
    right = pl.Series(["sitting", "ab", "hello", "abc", "lawn", "y"])
    distances = levenshtein(Sequences.of_texts(left), Sequences.of_texts(right))
    assert distances.tolist() == [3, 2, 1, 0, 2, 40]  # characters, not UTF-8 bytes
    tokens = levenshtein(
        Sequences.of_token_ids([[1, 2, 3], [], [5], [7, 8]]),
        Sequences.of_token_ids([[1, 3], [4], [], [8, 7]]),
    )
    assert tokens.tolist() == [1, 1, 1, 2]


def test_unknown_metrics_are_refused_by_the_registry_engine_and_schemas():
    with pytest.raises(
        UnknownMetricError, match="'exact_match_typo' is not in the metric registry"
    ):
        metric("exact_match_typo")
    from sources.evaluation.run_types import METRIC_UNITS, EvalConfig

    with pytest.raises(UnknownMetricError, match="metrics.yaml"):
        EvalConfig(metrics=("exact_match_typo",))
    # The engine's units, the BIG-bench reader's metric kinds and ObsScaling's units are the
    # registry's.
    assert METRIC_UNITS["target_cross_entropy"] == metric("target_cross_entropy").unit
    from sources.bigbench import GENERATIVE_METRICS, MULTIPLE_CHOICE_METRICS
    from sources.obsscaling import UNIT_OF_METRIC

    assert "exact_str_match" in GENERATIVE_METRICS
    assert "multiple_choice_grade" in MULTIPLE_CHOICE_METRICS
    assert {m: metric(m).unit for m in UNIT_OF_METRIC} == UNIT_OF_METRIC
    from checks.schemas import ResultsSchema
    from checks.validation import schema_problems
    from sources.evaluation.warehouse_columns import conform

    frame = pl.DataFrame({"metric": ["exact_match_typo"]})
    problems = schema_problems(
        frame.with_columns(
            model_id=pl.lit("m"),
            task_id=pl.lit("t"),
            shots=pl.lit(0, pl.Int64),
            prompting=pl.lit("standard"),
            setting=pl.lit("0-shot"),
            value=pl.lit(1.0),
            unit=pl.lit("percent"),
            n_examples=pl.lit(1, pl.Int64),
            origin=pl.lit("fresh"),
            citation=pl.lit("test citation"),
            location=pl.lit("here"),
            source_file=pl.lit("f"),
            in_wei_figure=pl.lit(False),
        ).pipe(conform, "results"),
        ResultsSchema,
        table="results",
    )
    assert [p.column for p in problems] == ["metric"]
    assert "exact_match_typo" in problems[0].found


# -- end to end: a tiny model evaluated here, then `emergence rescore` and the Dagster asset ------


@pytest.fixture
def evaluated_warehouse(trained_model_dir: Path, lake_env: Path, monkeypatch) -> Path:
    from sources.evaluation.engine import evaluate
    from sources.evaluation.model import ModelSpec
    from tests.evaluation.conftest import TRAINED_SHOTS, TRAINED_TASK

    run = evaluate(
        ModelSpec("tiny", str(trained_model_dir)), TRAINED_TASK, shots=TRAINED_SHOTS, limit=12
    )
    lake_env.mkdir(parents=True, exist_ok=True)
    path = lake_env / "emergence.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    con.execute(
        "INSERT INTO models (model_id, family, label, params, train_flops, flops_basis, weights,"
        " origin, source) VALUES ('tiny', 'Tiny', 'tiny', 1e6, 1e15, 'estimated_6nd', ?,"
        " 'registry', 'test')",
        [str(trained_model_dir)],
    )
    con.execute(
        "INSERT INTO task_metrics VALUES (?, 'exact_str_match', 'percent', true, 0.0, 'test'),"
        " (?, 'multiple_choice_grade', 'percent', true, 10.0, 'test')",
        [TRAINED_TASK, TRAINED_TASK],
    )
    for table, frame in (("results", run.results), ("eval_examples", run.examples)):
        con.register("_frame", frame.to_arrow())
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
        con.unregister("_frame")
    con.close()
    monkeypatch.setenv("EMERGENCE_DUCKDB", str(path))
    return path


def test_engine_stores_what_an_exact_answer_needs(trained_model_dir: Path):
    from sources.evaluation.engine import evaluate
    from sources.evaluation.model import ModelSpec
    from tests.evaluation.conftest import TRAINED_SHOTS, TRAINED_TASK

    run = evaluate(
        ModelSpec("tiny", str(trained_model_dir)), TRAINED_TASK, shots=TRAINED_SHOTS, limit=12
    )
    ex = run.examples
    sums = ex["target_token_logprobs"].list.sum()
    assert (sums - ex["target_logprob"]).abs().max() < 1e-9
    assert (ex["target_token_logprobs"].list.len() == ex["target_tokens"]).all()
    # Generative task: every example has the log-probability of ending after the target (< 0).
    assert ex["end_logprob"].is_not_null().all() and (ex["end_logprob"] <= 0).all()
    assert (ex["choice_scores"].list.len() == ex["choice_logprobs"].list.len()).all()
    # The trained model ends its answers: greedy answers that are right mostly end at once.
    right = ex.filter(pl.col("correct"))
    if right.height:
        assert right["end_logprob"].exp().mean() > 0.2


def test_rescore_cli_and_asset_end_to_end(evaluated_warehouse: Path, capsys):
    from sources.evaluation.cli import main

    assert main(["rescore", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["runs"] == 1
    con = duckdb.connect(str(evaluated_warehouse), read_only=True)
    rows = con.execute(
        "SELECT metric, value, unit, note, rescored_from_run FROM results"
        " WHERE rescored_from_run IS NOT NULL ORDER BY metric"
    ).pl()
    ex = con.execute("SELECT * FROM eval_examples").pl()
    run_id = con.execute(
        "SELECT split_part(location, ' ', 2) FROM results WHERE metric = 'exact_str_match'"
    ).fetchone()[0]
    con.close()
    values = dict(zip(rows["metric"], rows["value"], strict=True))
    assert set(rows["rescored_from_run"]) == {run_id}
    # The model's tokenizer loads from its local directory: edit distance in tokens.
    assert "token_edit_distance" in values and "char_edit_distance" not in values
    # Independent recomputation from the stored examples (numpy-free, per example).
    expected = (
        sum(
            math.exp(lp + end)
            for lp, end in zip(ex["target_logprob"], ex["end_logprob"], strict=True)
        )
        / ex.height
    )
    assert values["expected_exact_match"] == pytest.approx(100 * expected)
    per_token = [
        math.exp(lp / n) for lp, n in zip(ex["target_logprob"], ex["target_tokens"], strict=True)
    ]
    p_bar, l_bar = sum(per_token) / len(per_token), ex["target_tokens"].mean()
    assert values["predicted_exact_match"] == pytest.approx(100 * p_bar**l_bar)
    assert 0 <= values["brier_score"] <= 2

    # The Dagster assets: re-scoring, verdicts and the masking chart, on the same warehouse.
    from assets.definitions import defs
    from assets.resources import Warehouse

    with duckdb.connect(str(evaluated_warehouse)) as con:  # so that the asset has work to write
        con.execute("DELETE FROM results WHERE rescored_from_run IS NOT NULL")
    result = dg.materialize(
        [defs.get_assets_def(k) for k in ("rescored_metrics", "verdicts", "masking_charts")],
        resources={"warehouse": Warehouse(path=str(evaluated_warehouse))},
    )
    assert result.success
    con = duckdb.connect(str(evaluated_warehouse), read_only=True)
    assert (
        con.execute("SELECT count(*) FROM results WHERE rescored_from_run IS NOT NULL").fetchone()[
            0
        ]
        == rows.height
    )
    verdict = con.execute("SELECT verdict, exact_classification, evidence FROM verdicts").fetchall()
    readme_rows = con.execute(_readme_verdict_query()).fetchall()
    con.close()
    assert len(readme_rows) == 1 and readme_rows[0][-2] == "undetermined"
    # One model is too few to call anything emergent: undetermined, and the evidence says why.
    assert verdict == [("undetermined", "too_few_points", verdict[0][2])]
    assert "too_few_points" in verdict[0][2]
    charts = list((evaluated_warehouse.parent / "charts").glob("masking_*.html"))
    assert len(charts) == 1


def _readme_verdict_query() -> str:
    """The verdict query of the README's "Metric artefacts" subsection, as written there."""
    import re

    from sources.paths import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    start = readme.index("### Metric artefacts")
    end = readme.find("\n### ", start + 1)
    end = readme.find("\n## ", start + 1) if end == -1 else end
    (query,) = re.findall(r"```sql\n(.*?)```", readme[start:end], flags=re.S)
    return query


def test_lmeval_samples_are_rescored_for_the_option_metrics(con):
    """lm-eval per-sample logs: option metrics only, provenance and checkpoint from the run's rows."""
    con.execute(
        "INSERT INTO results (model_id, task_id, shots, prompting, setting, metric, value, unit,"
        " origin, citation, location, source_file, in_wei_figure, checkpoint_step,"
        " final_checkpoint) VALUES ('m1', 'piqa', 0, 'standard', '0-shot step 1000', 'accuracy',"
        " 50, 'percent', 'lmeval', 'Pythia evals', 'results.json, piqa', 'results_x.json', false,"
        " 1000, false)"
    )
    con.execute(
        """INSERT INTO lmeval_examples (model_id, task_id, shots, checkpoint_step, example_idx,
               target, choice_logprobs, results_file, source_file, source_row, source_sha256)
           VALUES ('m1', 'piqa', 0, 1000, 0, '0', [ln(0.75), ln(0.25)], 'results_x.json', 's.jsonl',
                   1, 'x'),
                  ('m1', 'piqa', 0, 1000, 1, '1', [ln(0.5), ln(0.5)], 'results_x.json', 's.jsonl',
                   2, 'x'),
                  ('m1', 'piqa', 0, 1000, 2, 'nonsense', [ln(0.5), ln(0.5)], 'results_x.json',
                   's.jsonl', 3, 'x')"""
    )
    rows = rescore(con, tokenizer_loader=None).filter(pl.col("task_id") == "piqa")
    v = _values(rows)
    assert set(v) == {("piqa", "correct_option_probability"), ("piqa", "brier_score")}
    assert v["piqa", "correct_option_probability"] == pytest.approx(100 * (0.75 + 0.5) / 2)
    assert v["piqa", "brier_score"] == pytest.approx((2 * 0.25**2 + 2 * 0.5**2) / 2)
    assert rows["n_examples"].to_list() == [2, 2]  # the sample without an option index is left out
    row = rows.row(0, named=True)
    assert row["origin"] == "lmeval" and row["rescored_from_run"] == "results_x.json"
    assert row["setting"] == "0-shot step 1000" and row["checkpoint_step"] == 1000
    assert row["final_checkpoint"] is False
