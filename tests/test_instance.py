"""Where Dagster's instance lives: under EMERGENCE_DATA unless DAGSTER_HOME names a folder of its own."""

from __future__ import annotations

import os

from assets.instance import CONFIG, prepare_dagster_home
from sources.paths import PROJECT_ROOT, dagster_home


def test_the_instance_is_under_emergence_data_by_default(data_dir, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert dagster_home() == data_dir / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(PROJECT_ROOT))  # the old Makefile's value: not storage
    assert dagster_home() == data_dir / "dagster"


def test_a_dagster_home_of_its_own_is_kept_with_its_own_config(data_dir, tmp_path, monkeypatch):
    home = tmp_path / "elsewhere"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert prepare_dagster_home() == home
    assert not (home / "dagster.yaml").is_symlink()  # the user's own file, left alone


def test_prepare_links_the_projects_config_and_sets_dagster_home(data_dir, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(PROJECT_ROOT))  # restored after the test
    home = prepare_dagster_home()
    assert home == data_dir / "dagster"
    assert (home / "dagster.yaml").resolve() == CONFIG.resolve()
    assert os.environ["DAGSTER_HOME"] == str(home)
