"""The staged lake stored as Arrow IPC files: round trip, failure paths, and the Dagster wiring."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets.frames_io import (
    FIELDS_FILE,
    FRAMES_IO_MANAGER,
    FramesIOManagerFactory,
    read_frames,
    write_frames,
)
from checks.validation import Problem
from sources.literature import read_literature
from sources.staging import StagedLake, stage_lake


@pytest.fixture(scope="module")
def staged() -> StagedLake:
    lake = stage_lake(read_literature(), strict=False)
    problem = Problem("sources/literature/models.csv", 3, "params", "'x'", "a number", "schema")
    return StagedLake(
        **{name: getattr(lake, name) for name in lake.row_counts()},
        problems=(problem,),
        origins=("literature",),
    )


def test_round_trip_keeps_every_frame_and_field(tmp_path: Path, staged: StagedLake):
    write_frames(staged, tmp_path / "staged_lake")
    files = sorted(p.name for p in (tmp_path / "staged_lake").iterdir())
    assert files == sorted([FIELDS_FILE, *(f"{n}.arrow" for n in staged.row_counts())])
    loaded = read_frames(tmp_path / "staged_lake")
    assert isinstance(loaded, StagedLake)
    for name in staged.row_counts():
        assert_frame_equal(getattr(loaded, name), getattr(staged, name))
    assert loaded.problems == staged.problems and loaded.origins == staged.origins
    assert loaded.problems_of("schema") == list(staged.problems)


def test_rewrite_replaces_the_previous_folder_whole(tmp_path: Path, staged: StagedLake):
    target = tmp_path / "staged_lake"
    write_frames(staged, target)
    (target / "stale.arrow").write_bytes(b"left over")
    smaller = StagedLake(
        **{name: getattr(staged, name).head(2) for name in staged.row_counts()},
        origins=("literature", "obsscaling"),
    )
    write_frames(smaller, target)
    loaded = read_frames(target)
    assert loaded.results.height == 2 and loaded.problems == ()
    assert loaded.origins == ("literature", "obsscaling")
    assert not (target / "stale.arrow").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["staged_lake"]  # no staging folder left


def test_an_old_pickle_or_nothing_says_to_materialise_again(tmp_path: Path, staged: StagedLake):
    (tmp_path / "staged_lake").write_bytes(b"an old pickle")
    with pytest.raises(FileNotFoundError, match="materialise that asset again"):
        read_frames(tmp_path / "staged_lake")
    with pytest.raises(FileNotFoundError, match="holds no stored frames"):
        read_frames(tmp_path / "missing")
    write_frames(staged, tmp_path / "staged_lake")  # the old file is replaced by the folder
    assert read_frames(tmp_path / "staged_lake").results.height == staged.results.height


def test_refuses_what_is_not_a_dataclass_of_frames(tmp_path: Path):
    with pytest.raises(TypeError, match="expected a dataclass of polars frames, got dict"):
        write_frames({"results": pl.DataFrame()}, tmp_path / "x")
    assert not (tmp_path / "x").exists()


@dataclass(frozen=True)
class Pair:
    left: pl.DataFrame
    right: pl.DataFrame
    label: str


def test_the_io_manager_stores_an_asset_as_arrow_and_feeds_it_to_a_check(tmp_path: Path):
    @dg.asset(io_manager_key="frames")
    def pair() -> Pair:
        return Pair(pl.DataFrame({"a": [1, 2]}), pl.DataFrame({"b": ["x"]}), "p")

    @dg.asset_check(asset=pair)
    def left_has_rows(pair: Pair) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=pair.left.height == 2, metadata={"label": pair.label})

    result = dg.materialize(
        [pair, left_has_rows],
        resources={"frames": FramesIOManagerFactory(base_dir=str(tmp_path))},
    )
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.metadata["label"].value == "p"
    assert sorted(p.name for p in (tmp_path / "pair").iterdir()) == [
        FIELDS_FILE,
        "left.arrow",
        "right.arrow",
    ]
    assert pl.read_ipc(tmp_path / "pair" / "right.arrow")["b"].to_list() == ["x"]


@pytest.mark.parametrize("asset", ["literature_files", "staged_lake"])
def test_the_lake_stores_its_frames_with_it(asset: str):
    from assets.definitions import defs

    job = defs.resolve_job_def("lake")
    assert job.asset_layer.get(dg.AssetKey(asset)).io_manager_key == FRAMES_IO_MANAGER
