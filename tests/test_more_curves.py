"""Issue 9: the curves behind Table 1 rows 1, 2, 16 and 20, and ObsScaling's post-training series.

The curated CSVs are checked against the shared transcription they come from (cell for cell,
when that file is present), their rows against the lake's provenance rules, and the Table 1 rows
they feed against what the detector computes. The post-training file is read from the offline
mirror; a tampered copy must be refused by its checksum.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from checks.validation import ValidationError
from marts.emergent_scale import compute_emergence
from sources.curate_more_curves import ARITHMETIC_TASKS, curated_rows, read_shared
from sources.literature import read_literature
from sources.obsscaling import COMMIT, REMOTE_FILES
from sources.obsscaling_post_training import (
    POST_TRAINING_FILE,
    column_mapping,
    fetch_obsscaling_with_post_training,
    read_obsscaling_with_post_training,
    read_post_training,
)
from sources.paths import LITERATURE_DIR
from sources.remote import ChecksumMismatch, RemoteUnavailable
from sources.staging import stage_lake
from tests.conftest import mirror_path

RESULTS_DIR = LITERATURE_DIR / "results"
NEW_FILES = ["brown2020_gpt3_table_h1.csv", "kojima2022_zero_shot_cot.csv", "tay2022_dsi.csv"]
MIRROR = mirror_path()
SHARED_CURVES = (
    MIRROR.parent / "literature" / "table1_more_curves.csv" if MIRROR is not None else None
)
needs_shared = pytest.mark.skipif(
    SHARED_CURVES is None or not SHARED_CURVES.exists(),
    reason="needs ../shared/literature/table1_more_curves.csv beside the mirror",
)
needs_mirror = pytest.mark.skipif(
    MIRROR is None or not (MIRROR / POST_TRAINING_FILE.mirror_path).exists(),
    reason="needs the ObsScaling post-training file in the offline mirror",
)


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def literature():
    return read_literature()


@pytest.fixture(scope="module")
def literature_emergence(literature) -> tuple[pl.DataFrame, pl.DataFrame]:
    staged = stage_lake(literature)
    return compute_emergence(staged.results_with_scale(), staged.table("table1")), staged.table(
        "table1"
    )


# --- point 1: the curated curves --------------------------------------------------------------


@needs_shared
def test_curated_files_are_the_shared_values_cell_for_cell():
    expected = curated_rows(read_shared(SHARED_CURVES))
    for name in NEW_FILES:
        assert _read_csv(RESULTS_DIR / name) == expected[name], name


@needs_shared
def test_every_shared_value_is_in_the_lake_once():
    """404 values: 373 in the new files, the 30 GPT-3 175B arithmetic values on the existing
    Table 3.9 rows (as Table H.1 prints them), and the 175B test-server WiC value (Table 3.8)."""
    shared = read_shared(SHARED_CURVES)
    new_rows = sum(len(_read_csv(RESULTS_DIR / name)) for name in NEW_FILES)
    brown = {
        (r["model_id"], r["task_id"], r["setting"]): r
        for r in _read_csv(RESULTS_DIR / "brown2020_gpt3.csv")
    }
    on_existing_rows = 0
    for row in shared:
        if row["params_as_printed"] == "175B" and row["task"].startswith("GPT-3 synthetic"):
            key = ("gpt3-175b", ARITHMETIC_TASKS[row["task"].rsplit(" ", 1)[1]], row["setting"])
            assert float(brown[key]["value"]) == float(row["value"]), key
            assert row["location"] in brown[key]["location"]
            on_existing_rows += 1
        elif row["params_as_printed"] == "175B (test server)":
            assert brown[("gpt3-175b", "wic", "few-shot K=32, test set")]["value"] == row["value"]
            on_existing_rows += 1
    assert len(shared) == 404
    assert (new_rows, on_existing_rows) == (373, 31)


def test_new_rows_carry_citation_location_and_trust(literature):
    new = literature.results.filter(
        pl.col("source_file").str.split("/").list.last().is_in(NEW_FILES)
    )
    assert new.height == 373
    assert new.select(pl.col("citation", "location", "trust").null_count()).row(0) == (0, 0, 0)
    assert set(new["trust"]) == {"high", "medium"}
    assert new.filter(pl.col("note").str.contains("read from")).height == new.height


def test_kojima_sizes_are_their_own_model_ids_and_each_series_says_its_mapping(literature):
    models = literature.models.filter(pl.col("model_id").str.ends_with("-kojima"))
    ada = models.filter(pl.col("model_id") == "gpt3-ada-kojima").row(0, named=True)
    assert ada["params"] == 3e8 and ada["family"] == "GPT-3" and "MMLU" in ada["note"]
    kojima_gpt3 = literature.results.filter(
        pl.col("citation").str.starts_with("Kojima") & pl.col("model_id").str.starts_with("gpt3-")
    )
    assert kojima_gpt3.height == 16
    assert kojima_gpt3["model_id"].str.ends_with("-kojima").all()
    assert kojima_gpt3["note"].str.contains("size mapping: Kojima").all()
    mmlu_gpt3 = literature.results.filter(
        pl.col("citation").str.starts_with("Hendrycks")
        & (pl.col("model_id") != "gpt3-175b")
        & (pl.col("task_id") == "mmlu")
    )
    assert set(mmlu_gpt3["model_id"]) == {"gpt3-2.7b", "gpt3-6.7b", "gpt3-13b"}
    assert mmlu_gpt3["note"].str.contains("MMLU paper's stated sizes").all()


@pytest.mark.parametrize(
    ("row_order", "classification", "emergent_model", "agrees"),
    [
        (1, "emergent", "gpt3-13b", True),  # 3-digit addition, few-shot: 13B as printed
        (2, "emergent", "gpt3-175b", True),  # 4-digit addition, few-shot: 175B as printed
        (20, "emergent", "gpt3-davinci-kojima", True),  # zero-shot CoT on MultiArith: 175B
        (16, "smooth", None, False),  # DSI beats chance at every size: smooth, no scale (issue 7)
    ],
)
def test_table1_rows_are_recomputed_from_the_new_curves(
    literature_emergence, row_order, classification, emergent_model, agrees
):
    emergence, table1 = literature_emergence
    link = table1.filter(pl.col("row_order") == row_order).row(0, named=True)
    series = emergence.filter(
        (pl.col("task_id") == link["task_id"])
        & (pl.col("family") == link["family"])
        & pl.col("shots").eq_missing(link["shots"])
        & (pl.col("prompting") == link["prompting"])
        & (pl.col("metric") == link["metric"])
        & (pl.col("origin") == "literature")
    )
    assert series.height == 1
    row = series.row(0, named=True)
    assert (row["classification"], row["emergent_model_id"], row["agrees_with_reported"]) == (
        classification,
        emergent_model,
        agrees,
    )
    if not agrees:  # a disagreement is explained where Table 1 is linked
        assert "dual encoder" in link["note"] and "chance" in link["note"]


def test_zero_shot_chain_of_thought_is_compared_with_zero_shot_standard(literature_emergence):
    emergence, _ = literature_emergence
    row = emergence.filter(
        (pl.col("task_id") == "multiarith")
        & (pl.col("family") == "GPT-3")
        & (pl.col("shots") == 0)
        & (pl.col("prompting") == "chain_of_thought")
    ).row(0, named=True)
    assert row["baseline_prompting"] == "standard"
    assert row["scale_axis"] == "train_flops" and row["n_models"] == 4


# --- point 2: ObsScaling's post-training file -------------------------------------------------


def test_column_mapping_reads_the_documented_columns_only():
    header = [
        "Model",
        "gsm8k_5_exact_match,strict-match",
        "gsm8k_cot_8_exact_match,flexible-extract",
        "gsm8k_cot_self_consistency_8_exact_match,maj@5",
        "gsm8k_cot_self_consistency_8_exact_match,score-first",
        "bbh_fewshot_snarks_3_exact_match,flexible-extract",
        "bbh_cot_fewshot_snarks_3_exact_match,flexible-extract",
        "bbh_cot_fewshot_snarks_3_exact_match,strict-match",
        "bbh_fewshot_overall_3_exact_match,flexible-extract,norm",
        "bbh_cot_fewshot_overall_3_exact_match,flexible-extract",
    ]
    mapping = column_mapping(header).select("task_id", "prompting", "shots", "metric").rows()
    assert mapping == [
        ("gsm8k", "standard", 5, "exact_match_strict"),
        ("gsm8k", "chain_of_thought", 8, "exact_match_flexible"),
        ("gsm8k", "chain_of_thought", 8, "exact_match_maj5_strict"),
        ("bbh/snarks", "standard", 3, "exact_match_flexible"),
        ("bbh/snarks", "chain_of_thought", 3, "exact_match_flexible"),
        ("bbh", "chain_of_thought", 3, "exact_match_flexible"),
    ]


@pytest.fixture(scope="module")
def obsscaling_tables():
    if MIRROR is None or not (MIRROR / POST_TRAINING_FILE.mirror_path).exists():
        pytest.skip("needs the ObsScaling post-training file in the offline mirror")
    paths = {name: MIRROR / remote.mirror_path for name, remote in REMOTE_FILES.items()}
    paths["post_training"] = MIRROR / POST_TRAINING_FILE.mirror_path
    return read_obsscaling_with_post_training(paths)  # reading never writes: the mirror in place


def test_post_training_rows_carry_file_commit_and_checksum(obsscaling_tables):
    post = obsscaling_tables.results.filter(
        pl.col("location").str.contains("base_llm_post_training_eval.csv", literal=True)
    )
    assert post.height == 4910  # the non-empty cells of the columns read
    assert post["location"].str.contains(COMMIT[:7], literal=True).all()
    assert post["location"].str.contains(POST_TRAINING_FILE.sha256, literal=True).all()
    assert set(post["prompting"]) == {"standard", "chain_of_thought"}
    known = set(obsscaling_tables.models["model_id"])
    assert set(post["model_id"]) <= known  # the same model ids as the ObsScaling source


def test_post_training_series_classify_against_the_standard_prompt(literature, obsscaling_tables):
    staged = stage_lake(literature, obsscaling_tables)
    emergence = compute_emergence(staged.results_with_scale()).filter(
        (pl.col("origin") == "obsscaling") & pl.col("task_id").str.starts_with("bbh")
    )
    cot = emergence.filter(pl.col("prompting") == "chain_of_thought")
    assert (cot["baseline_prompting"] == "standard").all()
    assert cot.filter(pl.col("classification") == "no_baseline").height == 0
    overall = {
        r["family"]: (r["classification"], r["emergent_model_id"])
        for r in cot.filter(pl.col("task_id") == "bbh").iter_rows(named=True)
    }
    # what the detector gives on the published numbers, whatever it is
    assert overall["Llama"] == ("emergent", "huggyllama/llama-30b")
    assert overall["Qwen"] == ("emergent", "Qwen/Qwen-72B")
    assert overall["Pythia"] == ("never_above_random", None)
    assert overall["Llama-2"] == ("smooth", None)  # a smooth series names no model (issue 7)


def _mirror_copy(tmp_path: Path, *, tamper: bool, with_post_training: bool = True) -> Path:
    mirror = tmp_path / "mirror"
    files = dict(
        REMOTE_FILES, **({"post_training": POST_TRAINING_FILE} if with_post_training else {})
    )
    for remote in files.values():
        target = mirror / remote.mirror_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MIRROR / remote.mirror_path, target)
    if tamper:
        target = mirror / POST_TRAINING_FILE.mirror_path
        data = bytearray(target.read_bytes())
        data[-2] = ord("9") if data[-2] != ord("9") else ord("8")  # one changed digit
        target.write_bytes(bytes(data))
    return mirror


@needs_mirror
def test_a_changed_upstream_byte_fails_the_checksum_and_nothing_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    mirror = _mirror_copy(tmp_path, tamper=True)
    monkeypatch.setenv("EMERGENCE_MIRROR", str(mirror))
    monkeypatch.setenv("EMERGENCE_DATA", str(tmp_path / "data"))
    with pytest.raises(ChecksumMismatch) as caught:
        fetch_obsscaling_with_post_training()
    message = str(caught.value)
    assert str(mirror / POST_TRAINING_FILE.mirror_path) in message
    assert POST_TRAINING_FILE.sha256 in message and POST_TRAINING_FILE.url in message
    assert not (tmp_path / "data" / "raw" / POST_TRAINING_FILE.mirror_path).exists()


@needs_mirror
def test_the_untampered_copy_is_verified_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("EMERGENCE_MIRROR", str(_mirror_copy(tmp_path, tamper=False)))
    monkeypatch.setenv("EMERGENCE_DATA", str(tmp_path / "data"))
    paths = fetch_obsscaling_with_post_training()
    assert paths["post_training"] == tmp_path / "data" / "raw" / POST_TRAINING_FILE.mirror_path


@needs_mirror
def test_a_mirror_without_the_post_training_file_makes_obsscaling_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(
        "EMERGENCE_MIRROR", str(_mirror_copy(tmp_path, tamper=False, with_post_training=False))
    )
    monkeypatch.setenv("EMERGENCE_DATA", str(tmp_path / "data"))
    with pytest.raises(RemoteUnavailable, match="base_llm_post_training_eval.csv"):
        fetch_obsscaling_with_post_training()


@needs_mirror
def test_a_value_outside_zero_one_is_named_by_file_row_and_column(tmp_path: Path):
    lines = (MIRROR / POST_TRAINING_FILE.mirror_path).read_text().splitlines()
    header = next(csv.reader([lines[0]]))
    record = next(csv.reader([lines[1]]))
    column = "gsm8k_cot_8_exact_match,flexible-extract"
    record[header.index(column)] = "54.2"  # a percent where a fraction belongs
    bad = tmp_path / POST_TRAINING_FILE.name
    with bad.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, record])
    _, problems = read_post_training(bad)
    assert [(p.row, p.column, p.found) for p in problems] == [(2, column, "54.2")]
    paths = {name: MIRROR / remote.mirror_path for name, remote in REMOTE_FILES.items()}
    with pytest.raises(ValidationError, match="expected a fraction between 0 and 1"):
        read_obsscaling_with_post_training({**paths, "post_training": bad})


# --- the warehouse: trust arrives, Table 1 shows the recomputed rows --------------------------


def test_trust_and_table1_arrive_in_the_warehouse(lake_run):
    with duckdb.connect(str(lake_run["data"] / "emergence.duckdb"), read_only=True) as con:
        trust = con.sql(
            "SELECT count(*), count(trust) FROM results WHERE citation LIKE 'Kojima%' "
            "OR citation LIKE 'Tay%' OR location LIKE '%Table H.1%'"
        ).fetchone()
        table1 = con.sql(
            "SELECT row_order, emergent_model_id, agrees FROM table1_comparison "
            "WHERE row_order IN (1, 2, 16, 20) ORDER BY row_order"
        ).fetchall()
        post = con.sql(
            "SELECT count(*) FROM emergence WHERE origin = 'obsscaling' "
            "AND task_id LIKE 'bbh%' AND baseline_prompting = 'standard'"
        ).fetchone()[0]
    # the 373 new rows, the 30 GPT-3 175B arithmetic rows and the 9 WiC rows citing Table H.1
    assert trust[0] == trust[1] == 373 + 30 + 9
    assert table1 == [
        (1, "gpt3-13b", True),
        (2, "gpt3-175b", True),
        (16, None, False),
        (20, "gpt3-davinci-kojima", True),
    ]
    assert post > 100
