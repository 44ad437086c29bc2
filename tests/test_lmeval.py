"""lm-evaluation-harness results: v0.3 / v0.4 files, the pinned Pythia evals, the drop-in folder, bad
input and tampered bytes. Fixture files are written by the tests themselves."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from checks.validation import ValidationError
from marts.emergent_scale import compute_emergence
from sources import lmeval
from sources.lmeval import (
    COMMIT,
    load_tasks,
    pinned_remote_files,
    read_dropin,
    read_lmeval,
    read_pinned,
)
from sources.paths import PROJECT_ROOT, SOURCES_DIR
from sources.remote import ChecksumMismatch

SUBJECTS = sorted(load_tasks().mmlu_subjects)


def _v03(model_args: str, results: dict, shots: int = 0) -> dict:
    return {
        "results": results,
        "versions": dict.fromkeys(results, 0),
        "config": {"model": "hf-causal", "model_args": model_args, "num_fewshot": shots},
    }


def _write(path: Path, document: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def _read(folder: Path) -> lmeval.LmEvalTables:
    return read_lmeval(read_dropin(folder))


def _row(frame: pl.DataFrame, **where) -> dict:
    rows = frame.filter(**where).to_dicts()
    assert len(rows) == 1, (where, rows)
    return rows[0]


# --- v0.3 ---


def test_v03_file_checkpoint_values_and_the_mmlu_mean(tmp_path):
    subject_acc = {s: 0.2 + 0.01 * i for i, s in enumerate(SUBJECTS)}
    results = {
        "arc_easy": {"acc": 0.5, "acc_stderr": 0.01, "acc_norm": 0.45, "acc_norm_stderr": 0.01},
        "lambada_openai": {"ppl": 42.5, "ppl_stderr": 1.5, "acc": 0.3, "acc_stderr": 0.006},
        "crows_pairs_english": {"likelihood_difference": 3.2, "pct_stereotype": 0.6},
        **{
            f"hendrycksTest-{s}": {
                "acc": v,
                "acc_stderr": 0.04,
                "acc_norm": v,
                "acc_norm_stderr": 0.04,
            }
            for s, v in subject_acc.items()
        },
    }
    _write(
        tmp_path / "run" / "410m_step3000.json",
        _v03("pretrained=EleutherAI/pythia-410m,revision=step3000", results, shots=5),
    )
    tables = _read(tmp_path)
    r = tables.results

    arc = _row(r, task_id="arc_easy", metric="accuracy")
    assert arc["model_id"] == "lm-eval/pythia-410m"
    assert arc["value"] == pytest.approx(50.0) and arc["unit"] == "percent"
    assert arc["value_stderr"] == pytest.approx(1.0)
    assert (arc["shots"], arc["setting"]) == (5, "5-shot, step 3000")
    assert arc["checkpoint_step"] == 3000
    assert arc["tokens_seen"] == 3000 * 2_097_152
    assert arc["checkpoint_flops"] == pytest.approx(6 * 410e6 * 3000 * 2_097_152)
    assert arc["checkpoint_flops_basis"] == "estimated_6nd"
    assert arc["final_checkpoint"] is False
    assert (
        arc["source_sha256"]
        == hashlib.sha256((tmp_path / "run" / "410m_step3000.json").read_bytes()).hexdigest()
    )
    assert arc["location"].endswith("results.arc_easy.acc")

    ppl = _row(r, task_id="lambada_openai", metric="perplexity")
    assert (ppl["value"], ppl["unit"]) == (42.5, "perplexity")

    assert (
        r.filter(pl.col("task_id").str.starts_with("crows")).height == 0
    )  # skipped, with a reason
    per_subject = r.filter(pl.col("task_id").str.starts_with("mmlu/"), metric="accuracy")
    assert per_subject.height == 57
    mean = _row(r, task_id="mmlu", metric="accuracy")
    assert mean["value"] == pytest.approx(100 * sum(subject_acc.values()) / 57)
    assert mean["value"] == pytest.approx(per_subject["value"].mean())
    assert r.filter(task_id="mmlu", metric="accuracy_norm").height == 0  # only accuracy is averaged


def test_mmlu_mean_only_when_all_57_subjects_are_there(tmp_path):
    results = {f"hendrycksTest-{s}": {"acc": 0.3, "acc_stderr": 0.01} for s in SUBJECTS[:56]}
    _write(tmp_path / "partial.json", _v03("pretrained=facebook/opt-125m", results))
    r = _read(tmp_path).results
    assert r.filter(task_id="mmlu").height == 0
    assert r.filter(pl.col("task_id").str.starts_with("mmlu/")).height == 56
    released = r.row(0, named=True)
    assert (released["checkpoint_step"], released["final_checkpoint"], released["setting"]) == (
        None,
        True,
        "0-shot",
    )


# --- v0.4 with per-sample logs ---


def test_v04_results_and_samples_into_examples(tmp_path):
    run = tmp_path / "EleutherAI__pythia-160m-deduped"
    _write(
        run / "results_2024-05-01T10-00-00.json",
        {
            "results": {
                "arc_easy": {
                    "alias": "arc_easy",
                    "acc,none": 0.62,
                    "acc_stderr,none": 0.01,
                    "acc_norm,none": 0.55,
                    "acc_norm_stderr,none": "N/A",
                },
                "lambada_openai": {
                    "alias": "lambada_openai",
                    "perplexity,none": 12.0,
                    "perplexity_stderr,none": 0.4,
                    "acc,none": 0.5,
                    "acc_stderr,none": 0.007,
                },
            },
            "configs": {"arc_easy": {"num_fewshot": 0}, "lambada_openai": {"num_fewshot": 0}},
            "n-shot": {"arc_easy": 0, "lambada_openai": 0},
            "n-samples": {
                "arc_easy": {"original": 2376, "effective": 2},
                "lambada_openai": {"original": 5153, "effective": 5153},
            },
            "config": {
                "model": "hf",
                "model_args": {
                    "pretrained": "EleutherAI/pythia-160m-deduped",
                    "revision": "step143000",
                },
            },
            "lm_eval_version": "0.4.2",
        },
    )
    samples = [
        {
            "doc_id": 0,
            "target": 2,
            "filtered_resps": [
                ["-3.5", "False"],
                ["-2.0", "False"],
                ["-1.25", "True"],
                ["-4.0", "False"],
            ],
            "acc": 1.0,
            "acc_norm": 1.0,
            "prompt_hash": "ab12cd34ef",
        },
        {
            "doc_id": 1,
            "target": 0,
            "filtered_resps": [[-0.5, False], [-0.25, True]],
            "acc": 0.0,
            "acc_norm": 0.0,
            "prompt_hash": "0123456789",
        },
    ]
    _write(
        run / "samples_arc_easy_2024-05-01T10-00-00.jsonl",
        "\n".join(json.dumps(s) for s in samples) + "\n",
    )
    tables = _read(tmp_path)

    arc = _row(tables.results, task_id="arc_easy", metric="accuracy")
    assert (arc["value"], arc["n_examples"], arc["shots"]) == (pytest.approx(62.0), 2, 0)
    assert (arc["checkpoint_step"], arc["final_checkpoint"]) == (143000, True)
    assert arc["model_id"] == "lm-eval/pythia-160m-deduped"
    assert _row(tables.results, task_id="arc_easy", metric="accuracy_norm")["value_stderr"] is None
    assert _row(tables.results, task_id="lambada_openai", metric="perplexity")["value"] == 12.0

    examples = tables.examples.sort("example_idx").to_dicts()
    assert [e["prediction"] for e in examples] == ["2", "1"]
    assert [e["correct"] for e in examples] == [True, False]
    assert [e["target_logprob"] for e in examples] == [-1.25, -0.5]
    assert examples[0]["choice_logprobs"] == [-3.5, -2.0, -1.25, -4.0]
    assert examples[0]["results_file"].endswith("results_2024-05-01T10-00-00.json")
    assert examples[1]["source_row"] == 2


# --- bad input: file, key and what was expected ---


@pytest.mark.parametrize(
    ("document", "where", "found"),
    [
        (
            _v03(
                "pretrained=EleutherAI/pythia-70m",
                {"arc_easy": {"acc": 0.4}, "hellaswag": {"acc": 0.3}},
            ),
            "results.hellaswag",
            "'hellaswag'",
        ),
        (
            _v03("pretrained=my-org/unknown-7b", {"arc_easy": {"acc": 0.4}}),
            "config.model_args",
            "pretrained='my-org/unknown-7b'",
        ),
        (
            _v03("pretrained=EleutherAI/pythia-70m", {"arc_easy": {"acc": 40.0}}),
            "results.arc_easy.acc",
            "40.0",
        ),
        (
            _v03("pretrained=EleutherAI/pythia-70m", {"arc_easy": {"f1": 0.4}}),
            "results.arc_easy.f1",
            "'f1'",
        ),
        ({"results": {}, "versions": {}}, None, "top-level keys"),
    ],
    ids=["unknown-task", "unknown-model", "percent-not-fraction", "unmapped-metric", "not-lm-eval"],
)
def test_bad_results_files_are_named(tmp_path, document, where, found):
    _write(tmp_path / "bad.json", document)
    with pytest.raises(ValidationError) as error:
        _read(tmp_path)
    [problem] = error.value.problems
    assert problem.file.endswith("bad.json") and problem.column == where
    assert found in problem.found
    assert (
        "sources/" in problem.expected
        or "lm-evaluation-harness" in problem.expected
        or "fraction" in problem.expected
    )


def test_malformed_json_names_file_and_position(tmp_path):
    second_line = ' "config": {"num_fewshot": 0,}}'
    _write(tmp_path / "broken.json", '{"results": {"arc_easy": {"acc": 0.4}},\n' + second_line)
    with pytest.raises(ValidationError) as error:
        _read(tmp_path)
    [problem] = error.value.problems
    column = second_line.index(",}") + 2  # 1-based position of the '}' after the trailing comma
    assert problem.file.endswith("broken.json") and problem.row == 2
    assert f"line 2, column {column}" in problem.found
    assert "broken.json, row 2: found malformed JSON" in str(error.value)


# --- the pinned Pythia evals ---


def test_pinned_list_covers_every_eval_file_of_the_commit():
    remotes = pinned_remote_files()
    assert len(remotes) == 643
    assert all(f"/{COMMIT}/evals/" in r.url and len(r.sha256) == 64 for r in remotes)


def test_tampered_mirror_fails_the_checksum(tmp_path, monkeypatch, mirror):
    remote = next(r for r in pinned_remote_files() if r.url.endswith("70m_step143000.json"))
    tampered = tmp_path / "mirror" / remote.mirror_path
    tampered.parent.mkdir(parents=True)
    data = (mirror / remote.mirror_path).read_bytes()
    tampered.write_bytes(data.replace(b'"acc": 0.', b'"acc": 1.', 1))
    monkeypatch.setenv("EMERGENCE_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EMERGENCE_DATA", str(tmp_path / "data"))
    with pytest.raises(ChecksumMismatch) as error:
        read_pinned([remote])
    message = str(error.value)
    assert str(tampered) in message and remote.sha256 in message and remote.url in message
    assert not (tmp_path / "data" / "raw" / remote.mirror_path).exists()  # never cached


# --- end to end through the lake ---


def _connect(lake_run) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(lake_run["data"] / "emergence.duckdb"), read_only=True)


def test_pythia_evals_reach_the_warehouse(lake_run):
    # every file: 8 tasks -> 14 metrics (LAMBADA acc + ppl, ARC e/c, PIQA, SciQ, LogiQA acc + acc_norm,
    # WinoGrande and WSC acc), 57 MMLU subjects x (acc, acc_norm), and the MMLU mean
    with _connect(lake_run) as con:
        count, files = con.execute(
            "SELECT count(*), count(DISTINCT source_file) FROM results WHERE origin = 'lmeval'"
        ).fetchone()
        assert (files, count) == (643, 643 * (14 + 57 * 2 + 1))
        value, sha, commit, location = con.execute(
            """SELECT value, source_sha256, source_commit, location FROM results
               WHERE model_id = 'lm-eval/pythia-70m' AND task_id = 'arc_easy' AND metric = 'accuracy'
                 AND setting = '0-shot, step 143000'"""
        ).fetchone()
    path = "evals/pythia-v1/pythia-70m/zero-shot/70m_step143000.json"
    raw = (lake_run["mirror"] / f"github.com/EleutherAI/pythia/{COMMIT}" / path).read_bytes()
    assert value == pytest.approx(100 * json.loads(raw)["results"]["arc_easy"]["acc"])
    assert sha == hashlib.sha256(raw).hexdigest() and commit == COMMIT
    assert location.startswith(path)


def test_mmlu_mean_in_the_warehouse_is_the_mean_of_its_subjects(lake_run):
    with _connect(lake_run) as con:
        rows = con.execute(
            """SELECT m.value, avg(s.value), count(s.value) FROM results m JOIN results s
                 ON s.model_id = m.model_id AND s.setting = m.setting AND s.source_file = m.source_file
                AND s.task_id LIKE 'mmlu/%' AND s.metric = 'accuracy'
               WHERE m.task_id = 'mmlu' AND m.origin = 'lmeval' GROUP BY m.model_id, m.setting, m.value"""
        ).fetchall()
    assert len(rows) == 643
    assert all(n == 57 and mean == pytest.approx(subjects) for mean, subjects, n in rows)


def test_emergence_along_size_uses_the_final_checkpoint_only(lake_run):
    with _connect(lake_run) as con:
        results = con.execute(
            """SELECT * FROM results_with_scale
               WHERE origin = 'lmeval' AND family = 'Pythia' AND task_id = 'lambada_openai'
                 AND metric = 'accuracy' AND shots = 0"""
        ).pl()
        stored = con.execute(
            """SELECT n_models, breakthroughness FROM emergence WHERE origin = 'lmeval' AND family = 'Pythia'
               AND task_id = 'lambada_openai' AND metric = 'accuracy' AND shots = 0"""
        ).fetchone()
    final_only = compute_emergence(results.filter(pl.col("final_checkpoint")))
    mixed = compute_emergence(results)
    assert stored == (7, pytest.approx(final_only["breakthroughness"][0]))
    assert mixed["breakthroughness"][0] != pytest.approx(final_only["breakthroughness"][0])


# --- the drop-in folder, and a bad drop-in leaving the warehouse as it was ---


def _materialise(data: Path) -> dg.ExecuteInProcessResult:
    from assets.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={
            dg.AssetKey(k)
            for k in (
                "literature_files",
                "obsscaling_files",
                "lmeval_files",
                "staged_lake",
                *("models", "tasks", "task_metrics", "results", "table1"),
                "lmeval_examples",
            )
        }
    )
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def test_dropin_folder_arrives_and_a_bad_file_changes_nothing(tmp_path, monkeypatch, mirror):
    few = [r for r in pinned_remote_files() if "/opt/" in r.url][:2]
    monkeypatch.setattr(lmeval, "pinned_remote_files", lambda: few)
    monkeypatch.setenv("EMERGENCE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("EMERGENCE_MIRROR", str(mirror))
    monkeypatch.setenv("EMERGENCE_LMEVAL", str(tmp_path / "dropin"))
    _write(
        tmp_path / "dropin" / "mine" / "results.json",
        _v03(
            "pretrained=EleutherAI/pythia-1b,revision=step13000",
            {"piqa": {"acc": 0.61, "acc_norm": 0.6}},
        ),
    )
    assert _materialise(tmp_path / "data").success
    db = tmp_path / "data" / "emergence.duckdb"
    query = "SELECT citation, count(*) FROM results WHERE origin = 'lmeval' GROUP BY 1 ORDER BY 1"
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute(query).fetchall()
        piqa = con.execute(
            "SELECT value, setting, source_file FROM results WHERE model_id = 'lm-eval/pythia-1b'"
        ).fetchall()
    assert before == [(lmeval.PYTHIA_CITATION, 2 * 129), (lmeval.DROPIN_CITATION, 2)]
    assert sorted(piqa)[0][:2] == (60.0, "0-shot, step 13000")

    _write(tmp_path / "dropin" / "mine" / "other.json", '{"results": ')
    result = _materialise(tmp_path / "data")
    assert not result.success
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(query).fetchall() == before
    checks = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    failed = [c for c in checks if c.asset_check_key.name == "schemas_hold" and not c.passed]
    assert failed and "other.json" in str(failed[0].metadata["details"].value)


def test_dropin_default_folder_holds_no_results():
    assert read_dropin(lmeval.DROPIN_DIR) == []


# --- the README section's examples are real ---


def _readme_section() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    start = readme.index("### lm-evaluation-harness results")
    return readme[start : readme.index("\n### ", start + 1)]


def test_readme_query_shows_accuracy_by_step(lake_run):
    [query] = re.findall(r"```sql\n(.*?)```", _readme_section(), flags=re.S)
    with _connect(lake_run) as con:
        rows = con.sql(query).fetchall()
    steps = [r[1] for r in rows if r[0] == "Pythia 12B"]
    assert len(steps) == 27 and steps == sorted(steps) and steps[-1] == 143000


def test_readme_error_example_is_what_the_reader_says(tmp_path):
    [example] = re.findall(
        r"```\n(sources/lm_eval_results/.*?)\n```", _readme_section(), flags=re.S
    )
    _write(
        tmp_path / "my-run" / "results.json",
        _v03(
            "pretrained=EleutherAI/pythia-160m,revision=step3000",
            {"hellaswag": {"acc": 0.31}, "arc_easy": {"acc": 0.43}},
        ),
    )
    with pytest.raises(ValidationError) as error:
        _read(tmp_path)
    assert str(error.value).splitlines()[1] == example.replace(
        "sources/lm_eval_results", str(tmp_path)
    )


def test_a_bad_sample_line_is_named_by_file_and_line(tmp_path):
    run = tmp_path / "run"
    _write(
        run / "results_2024-01-01T00-00-00.json",
        {
            "results": {"piqa": {"acc,none": 0.6}},
            "configs": {"piqa": {"num_fewshot": 0}},
            "config": {"model_args": "pretrained=EleutherAI/pythia-70m"},
        },
    )
    good = {"doc_id": 0, "target": 1, "filtered_resps": [[-1.0, False], [-0.5, True]], "acc": 1.0}
    _write(
        run / "samples_piqa_2024-01-01T00-00-00.jsonl",
        json.dumps(good) + '\n{"doc_id": 1, "target": \n',
    )
    with pytest.raises(ValidationError) as error:
        _read(tmp_path)
    [problem] = error.value.problems
    assert problem.file.endswith("samples_piqa_2024-01-01T00-00-00.jsonl") and problem.row == 2


def test_tampered_upstream_fails_the_check_and_keeps_the_warehouse(tmp_path, monkeypatch, mirror):
    few = [r for r in pinned_remote_files() if "/bloom/" in r.url][:2]
    monkeypatch.setattr(lmeval, "pinned_remote_files", lambda: few)
    monkeypatch.setenv("EMERGENCE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("EMERGENCE_MIRROR", str(mirror))
    monkeypatch.setenv("EMERGENCE_LMEVAL", str(tmp_path / "empty"))
    assert _materialise(tmp_path / "data").success
    db = tmp_path / "data" / "emergence.duckdb"
    query = (
        "SELECT source_sha256, count(*) FROM results WHERE origin = 'lmeval' GROUP BY 1 ORDER BY 1"
    )
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute(query).fetchall()
    assert [sha for sha, _ in before] == sorted(r.sha256 for r in few)

    fake = tmp_path / "mirror"
    for remote in few:
        (fake / remote.mirror_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(mirror / remote.mirror_path, fake / remote.mirror_path)
    target = fake / few[1].mirror_path
    target.write_bytes(target.read_bytes().replace(b"0.", b"0.9", 1))
    shutil.rmtree(tmp_path / "data" / "raw")  # no verified cached copy to fall back on
    monkeypatch.setenv("EMERGENCE_MIRROR", str(fake))
    result = _materialise(tmp_path / "data")
    [check] = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.asset_check_key.name == "lmeval_available"
    ]
    assert not check.passed and "does not match the pinned" in check.description
    assert str(target) in check.description
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(query).fetchall() == before
        dangling = (
            "SELECT count(*) FROM results LEFT JOIN tasks t USING (task_id) WHERE t.task_id IS NULL"
        )
        assert con.execute(dangling).fetchone() == (0,)  # the catalogue stays beside the kept rows


def test_a_bad_suites_entry_is_named(tmp_path):
    from sources.suites import load_suites

    good = (SOURCES_DIR / "suites.yaml").read_text()
    missing = tmp_path / "suites.yaml"
    missing.write_text(good.replace("label: OPT 350M, params: 350.0e+6, ", "label: OPT 350M, "))
    with pytest.raises(ValidationError) as error:
        load_suites(missing)
    [problem] = error.value.problems
    assert (problem.column, problem.found) == ("suites[2].models[1]", "no field 'params'")
    broken = tmp_path / "broken.yaml"
    broken.write_text("suites:\n  - suite: x\n    models: [\n")
    with pytest.raises(ValidationError) as error:
        load_suites(broken)
    assert error.value.problems[0].row == 4 and "malformed YAML" in error.value.problems[0].found
