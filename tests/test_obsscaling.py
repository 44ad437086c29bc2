"""ObsScaling (Ruan et al. 2024): pinned, checksummed files from the mirror, read into the lake's format.

Runs offline: EMERGENCE_MIRROR points at /work/shared/mirror (read-only) and EMERGENCE_DATA at a
temporary directory, whose raw/ is the cache.
"""

from __future__ import annotations

import csv
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import polars as pl
import pytest

from checks.validation import ValidationError
from sources.obsscaling import (
    BENCHMARK_FILE,
    COMMIT,
    EMERGENT_COLUMNS,
    EMERGENT_FILE,
    REMOTE_FILES,
    fetch_obsscaling,
    read_obsscaling,
)
from sources.remote import ChecksumMismatch, RemoteUnavailable, fetch, sha256_of

MIRROR = Path("/work/shared/mirror")
MIRRORED_DIR = MIRROR / f"github.com/ryoungj/ObsScaling/{COMMIT}/eval_results"
CACHE_SUBDIR = Path(f"raw/github.com/ryoungj/ObsScaling/{COMMIT}/eval_results")

pytestmark = pytest.mark.skipif(
    not all((MIRROR / f.mirror_path).exists() for f in REMOTE_FILES.values()),
    reason=f"the ObsScaling files are not in the offline mirror {MIRRORED_DIR}",
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("EMERGENCE_DATA", str(data))
    monkeypatch.setenv("EMERGENCE_MIRROR", str(MIRROR))
    return data


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """urlopen fails as it does offline; the URLs asked for are recorded."""
    asked: list[str] = []

    def refuse(url, *args, **kwargs):
        asked.append(str(url))
        raise urllib.error.URLError("network is unreachable (blocked by the test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return asked


@pytest.fixture(scope="module")
def tables():
    """read_obsscaling on the mirrored files (reading never writes, so the mirror can be read in place)."""
    paths = {name: MIRROR / remote.mirror_path for name, remote in REMOTE_FILES.items()}
    return read_obsscaling(paths)


def cached_files(data: Path) -> list[Path]:
    raw = data / "raw"
    return sorted(p for p in raw.rglob("*") if p.is_file()) if raw.exists() else []


# --- fetching ---------------------------------------------------------------------------------------


def test_fetch_returns_verified_cached_copies(data_dir: Path, no_network: list[str]):
    paths = fetch_obsscaling()
    assert set(paths) == {"benchmark", "emergent"}
    for name, path in paths.items():
        remote = REMOTE_FILES[name]
        assert path == data_dir / CACHE_SUBDIR / remote.name
        assert path.is_file()
        assert sha256_of(path) == remote.sha256
        assert path.read_bytes() == (MIRROR / remote.mirror_path).read_bytes()
    assert no_network == []  # the mirror stood in for the network
    assert cached_files(data_dir) == sorted(paths.values())  # no stray temporary files


def test_a_valid_cache_is_used_without_mirror_or_network(
    data_dir: Path, no_network: list[str], monkeypatch: pytest.MonkeyPatch
):
    first = fetch_obsscaling()
    monkeypatch.delenv("EMERGENCE_MIRROR")
    assert fetch_obsscaling() == first
    assert no_network == []


def test_offline_without_mirror_names_emergence_mirror(
    data_dir: Path, no_network: list[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("EMERGENCE_MIRROR")
    with pytest.raises(RemoteUnavailable) as caught:
        fetch_obsscaling()
    assert "EMERGENCE_MIRROR" in str(caught.value)
    assert BENCHMARK_FILE.url in str(caught.value)
    assert no_network == [BENCHMARK_FILE.url]
    assert cached_files(data_dir) == []


def test_a_mirror_without_the_file_is_unavailable(
    data_dir: Path, no_network: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    empty_mirror = tmp_path / "empty_mirror"
    empty_mirror.mkdir()
    monkeypatch.setenv("EMERGENCE_MIRROR", str(empty_mirror))
    with pytest.raises(RemoteUnavailable) as caught:
        fetch(EMERGENT_FILE)
    assert "EMERGENCE_MIRROR" in str(caught.value)
    assert cached_files(data_dir) == []


def _altered_mirror(tmp_path: Path, altered: str) -> Path:
    """A copy of the mirror's ObsScaling files with one byte appended to `altered`."""
    mirror = tmp_path / "altered_mirror"
    target = mirror / f"github.com/ryoungj/ObsScaling/{COMMIT}/eval_results"
    target.mkdir(parents=True)
    for remote in REMOTE_FILES.values():
        shutil.copyfile(MIRROR / remote.mirror_path, target / remote.name)
    with (target / altered).open("ab") as handle:
        handle.write(b"\n")
    return mirror


def test_altered_mirror_bytes_are_refused_and_nothing_is_cached(
    data_dir: Path, no_network: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    mirror = _altered_mirror(tmp_path, BENCHMARK_FILE.name)
    monkeypatch.setenv("EMERGENCE_MIRROR", str(mirror))
    with pytest.raises(ChecksumMismatch) as caught:
        fetch_obsscaling()
    assert BENCHMARK_FILE.sha256 in str(caught.value)
    assert cached_files(data_dir) == []
    assert no_network == []


def test_altered_second_file_is_refused_and_not_cached(
    data_dir: Path, no_network: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    mirror = _altered_mirror(tmp_path, EMERGENT_FILE.name)
    monkeypatch.setenv("EMERGENCE_MIRROR", str(mirror))
    with pytest.raises(ChecksumMismatch):
        fetch_obsscaling()
    cached = data_dir / CACHE_SUBDIR
    assert cached_files(data_dir) == [cached / BENCHMARK_FILE.name]  # only the good file
    assert sha256_of(cached / BENCHMARK_FILE.name) == BENCHMARK_FILE.sha256


def test_a_corrupt_cache_entry_is_refetched(data_dir: Path, no_network: list[str]):
    path = fetch(EMERGENT_FILE)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # as a download cut off half way would leave it
    assert sha256_of(path) != EMERGENT_FILE.sha256

    again = fetch(EMERGENT_FILE)
    assert again == path
    assert sha256_of(again) == EMERGENT_FILE.sha256
    assert again.read_bytes() == (MIRROR / EMERGENT_FILE.mirror_path).read_bytes()


def test_a_corrupt_cache_entry_is_reported_in_one_line_when_replaced(
    data_dir: Path, no_network: list[str], caplog: pytest.LogCaptureFixture
):
    path = fetch(EMERGENT_FILE)
    path.write_bytes(b"Model\n")
    corrupt = sha256_of(path)
    heard: list[str] = []
    fetch(EMERGENT_FILE, report=heard.append)
    assert heard == [
        f"{path}: corrupt cached copy (sha256 {corrupt}, expected {EMERGENT_FILE.sha256}); "
        "replacing it from the mirror or the network"
    ]
    path.write_bytes(b"Model\n")
    with caplog.at_level("WARNING", logger="sources.remote"):
        fetch(EMERGENT_FILE)  # without a listener, the module's logger says it
    assert [r.getMessage() for r in caplog.records] == heard
    assert fetch(EMERGENT_FILE, report=heard.append) == path and len(heard) == 1  # valid: silent


def test_a_missing_mirror_directory_is_named_as_missing(
    data_dir: Path, no_network: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    missing = tmp_path / "no_such_mirror"
    monkeypatch.setenv("EMERGENCE_MIRROR", str(missing))
    with pytest.raises(RemoteUnavailable) as caught:
        fetch(EMERGENT_FILE)
    assert str(caught.value).startswith(
        f"EMERGENCE_MIRROR={missing} does not exist or is not a directory"
    )
    assert "not in the mirror" not in str(caught.value)
    assert no_network == [] and cached_files(data_dir) == []


def test_a_corrupt_cache_entry_is_never_used_offline(
    data_dir: Path, no_network: list[str], monkeypatch: pytest.MonkeyPatch
):
    path = fetch(EMERGENT_FILE)
    path.write_bytes(b"Model\n")
    monkeypatch.delenv("EMERGENCE_MIRROR")
    with pytest.raises(RemoteUnavailable):
        fetch(EMERGENT_FILE)
    assert not path.exists()


# --- reading ------------------------------------------------------------------------------------------


def test_read_gives_84_models_results(tables):
    results = tables.results
    assert results["model_id"].n_unique() == 84
    assert results.height > 0
    assert set(results["origin"].unique().to_list()) == {"obsscaling"}
    assert results["shots"].unique().to_list() == [2]
    # every result's model is described in the benchmark file
    assert set(results["model_id"].unique().to_list()) <= set(tables.models["model_id"].to_list())


def test_fractions_become_percent(tables):
    cell = tables.results.filter(
        (pl.col("model_id") == "meta-llama/Llama-2-7b-hf") & (pl.col("task_id") == "parsinlu_qa")
    )
    assert cell.height == 1
    row = cell.row(0, named=True)
    assert row["metric"] == "multiple_choice_grade"
    assert row["unit"] == "percent"
    assert row["value"] == pytest.approx(
        25.142857142857142, rel=1e-12
    )  # 0.2514285714285714 in the file
    percent = tables.results.filter(pl.col("unit") == "percent")["value"]
    assert percent.min() >= 0 and percent.max() <= 100
    assert percent.max() > 1  # not left as fractions


def test_bleu_stays_on_0_to_100(tables):
    bleu = tables.results.filter(pl.col("metric") == "bleu")
    assert bleu.height > 0
    assert set(bleu["unit"].unique().to_list()) == {"bleu"}
    assert bleu["value"].min() >= 0 and bleu["value"].max() <= 100
    llama = bleu.filter(pl.col("model_id") == "meta-llama/Llama-2-7b-hf")
    assert llama["value"].to_list() == [
        pytest.approx(27.23879164406593, rel=1e-12)
    ]  # as in the file


def test_every_row_location_names_its_column(tables):
    column_of = {(task, metric): column for column, (task, metric, _) in EMERGENT_COLUMNS.items()}
    for row in tables.results.iter_rows(named=True):
        column = column_of[(row["task_id"], row["metric"])]
        assert row["location"].endswith(f"column {column}"), row["location"]
        assert "base_llm_emergent_capability_eval.csv" in row["location"]
        assert COMMIT[:7] in row["location"]
        assert row["source_row"] >= 2


def test_models_are_in_absolute_units(tables):
    llama = tables.models.filter(pl.col("model_id") == "meta-llama/Llama-2-7b-hf").row(
        0, named=True
    )
    assert llama["params"] == pytest.approx(7e9, rel=0.05)
    assert llama["train_tokens"] == pytest.approx(2e12, rel=0.05)
    assert llama["flops_basis"] == "estimated_6nd"


def test_a_fraction_above_1_is_reported_with_file_row_and_column(tmp_path: Path):
    source = MIRROR / EMERGENT_FILE.mirror_path
    with source.open(newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    header = records[0]
    index = next(i for i, r in enumerate(records) if r[0] == "meta-llama/Llama-2-13b-hf")
    line = index + 1  # header = line 1; no cell of this file spans lines
    column = "parsinlu_qa_2_acc"
    records[index][header.index(column)] = "1.5"
    bad = tmp_path / "base_llm_emergent_capability_eval.csv"
    with bad.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(records)

    with pytest.raises(ValidationError) as caught:
        read_obsscaling({"benchmark": MIRROR / BENCHMARK_FILE.mirror_path, "emergent": bad})
    assert (
        f"{bad}, row {line}, column '{column}': found 1.5; expected a fraction between 0 and 1"
        in str(caught.value)
    )
    assert len(caught.value.problems) == 1
