"""The lake-scale benchmark's parts: generated inputs are valid and deterministic; stages map."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmarks.bench_lake import CORE, fresh_dagster_home, parse_size, stage_of
from benchmarks.synthetic_lake import rows_per_family, write_synthetic_literature
from sources.literature import read_literature
from sources.paths import PROJECT_ROOT
from sources.staging import stage_lake


def test_sizes_parse():
    assert [parse_size(s) for s in ("10k", "100K", "1M", "2500", "0.5m")] == [
        10_000,
        100_000,
        1_000_000,
        2_500,
        500_000,
    ]


def test_generated_inputs_are_valid_deterministic_and_sized(tmp_path: Path):
    rows = write_synthetic_literature(tmp_path / "a", 5_000, seed=1)
    assert abs(rows - 5_000) <= rows_per_family()
    staged = stage_lake(read_literature(tmp_path / "a"))  # strict: raises on any problem
    embedded = stage_lake(read_literature())
    assert staged.results.height == embedded.results.height + rows
    write_synthetic_literature(tmp_path / "b", 5_000, seed=1)
    for path in sorted((tmp_path / "a").rglob("*.csv")):
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert path.read_bytes() == twin.read_bytes(), path.name
    write_synthetic_literature(tmp_path / "c", 5_000, seed=2)
    first = "results/synthetic_000.csv"
    assert (tmp_path / "a" / first).read_bytes() != (tmp_path / "c" / first).read_bytes()


def test_a_fresh_dagster_home_keeps_the_instance_settings_under_it(tmp_path: Path, monkeypatch):
    home = tmp_path / "home"
    fresh_dagster_home(home)
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    project = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    assert config["concurrency"] == project["concurrency"]
    # storage follows DAGSTER_HOME unless a block names a folder: a relative one moves under it
    project["storage"] = {"sqlite": {"base_dir": "data/dagster/storage"}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(project))
    monkeypatch.setattr("benchmarks.bench_lake.PROJECT_ROOT", tmp_path)
    fresh_dagster_home(home)
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["storage"]["sqlite"]["base_dir"] == str(home / "data/dagster/storage")


def test_every_step_of_the_lake_job_falls_in_a_stage():
    from assets.definitions import defs

    job = defs.resolve_job_def("lake")
    stages = {node.name: stage_of(node.name) for node in job.graph.node_dict.values() if node.name}
    assert {stage for name, stage in stages.items() if name != "model_registry"} <= {
        *CORE,
        "charts",
    }
    assert set(CORE) <= set(stages.values())


@pytest.mark.parametrize(
    ("step", "stage"),
    [
        ("staged_lake_schemas_hold", "validate"),
        ("obsscaling_files_obsscaling_available", "ingest"),
        ("chart_gallery", "charts"),
    ],
)
def test_check_steps_count_with_their_asset(step: str, stage: str):
    assert stage_of(step) == stage
