"""The whole lake, run as a user runs it: happy path, bad input, and offline without a mirror."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.definitions import defs
from assets.run_lake import RunSummary, failure_message
from marts.panels import PANELS
from sources.paths import LITERATURE_DIR, PROJECT_ROOT

UP_TO_WAREHOUSE = [
    dg.AssetKey(k)
    for k in (
        "literature_files",
        "obsscaling_files",
        "lmeval_files",
        "staged_lake",
        "models",
        "tasks",
        "task_metrics",
        "results",
        "table1",
    )
]


def _query(db: Path, sql: str):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).fetchall()


def _results_fingerprint(db: Path):
    return _query(
        db, "SELECT count(*), sum(hash(model_id, task_id, setting, metric, value)) FROM results"
    )[0]


def _run_until_warehouse(instance: dg.DagsterInstance):
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance, asset_selection=UP_TO_WAREHOUSE, raise_on_error=False
    )


def test_whole_lake_materialises(lake_run):
    result = lake_run["result"]
    assert result.success
    db = lake_run["data"] / "emergence.duckdb"
    counts = dict(_query(db, "SELECT origin, count(*) FROM results GROUP BY origin"))
    assert counts["literature"] > 100 and counts["obsscaling"] > 600
    assert _query(db, "SELECT count(*) FROM table1")[0][0] == 23
    assert _query(db, "SELECT count(*) FROM emergence WHERE classification = 'emergent'")[0][0] > 5


def test_every_panel_has_html_and_png_and_the_gallery_lists_them(lake_run):
    charts = lake_run["data"] / "charts"
    index = (charts / "index.html").read_text()
    for stem in [p.panel_id for p in PANELS] + ["table1"]:
        assert (charts / f"{stem}.html").stat().st_size > 1000
        assert (charts / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"{stem}.png" in index
    # the gallery marks exactly the panels whose asset found no data
    for panel in PANELS:
        no_data = f'class="card no-data" id="{panel.panel_id}"' in index
        assert no_data == (panel.task_id is None), panel.panel_id


def test_checks_ran_and_the_flops_warning_is_reported(lake_run):
    evaluations = {
        e.event_specific_data.asset_check_key.name: e.event_specific_data
        for e in lake_run["result"].all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    for name in (
        "schemas_hold",
        "references_known",
        "units_and_ranges",
        "catalogue_consistent",
        "obsscaling_available",
    ):
        assert evaluations[name].passed, name
    assert not evaluations["flops_match_6nd"].passed  # LaMDA 137B: hardware estimate 2.6x 6ND
    assert evaluations["flops_match_6nd"].severity == dg.AssetCheckSeverity.WARN


@pytest.fixture
def seeded(lake_run, tmp_path, monkeypatch) -> Path:
    """A data dir whose warehouse is a copy of the full run's, so we can see what a failure changes."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(lake_run["data"] / "emergence.duckdb", data / "emergence.duckdb")
    monkeypatch.setenv("EMERGENCE_DATA", str(data))
    monkeypatch.setenv("EMERGENCE_MIRROR", str(lake_run["mirror"]))
    return data


def test_bad_input_fails_before_the_warehouse_and_keeps_its_contents(seeded, tmp_path, monkeypatch):
    folder = tmp_path / "literature"
    shutil.copytree(LITERATURE_DIR, folder)
    palm = folder / "results" / "chowdhery2022_palm.csv"
    lines = palm.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace(",25.3,", ",140,")  # MMLU PaLM 8B: 140 percent
    palm.write_text("".join(lines))
    monkeypatch.setenv("EMERGENCE_LITERATURE", str(folder))
    before = _results_fingerprint(seeded / "emergence.duckdb")

    result = _run_until_warehouse(dg.DagsterInstance.ephemeral())

    assert not result.success
    failed = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.event_specific_data.passed
        and e.event_specific_data.asset_check_key.name == "units_and_ranges"
    ]
    assert failed, "the units_and_ranges check must fail"
    details = failed[0].metadata["details"].value
    assert (
        "chowdhery2022_palm.csv, row 2, column 'value': found 140.0; expected a value between 0 and 100"
        in details
    )
    assert not any(
        e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key == dg.AssetKey("results")
        for e in result.all_events
    )
    assert _results_fingerprint(seeded / "emergence.duckdb") == before


def test_unparseable_input_fails_the_blocking_checks_with_file_row_column(
    seeded, tmp_path, monkeypatch
):
    folder = tmp_path / "literature"
    shutil.copytree(LITERATURE_DIR, folder)
    models = folder / "models.csv"
    lines = models.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("3.56e+08", "356M", 1)
    models.write_text("".join(lines))
    monkeypatch.setenv("EMERGENCE_LITERATURE", str(folder))
    before = _results_fingerprint(seeded / "emergence.duckdb")

    result = _run_until_warehouse(dg.DagsterInstance.ephemeral())

    assert not result.success
    check = next(  # the raw step passes parse problems on, to be reported with all the others
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.asset_check_key.name == "schemas_hold"
    )
    assert not check.passed
    assert "models.csv, row 3, column 'params': found '356M'; expected a number" in (
        check.description
    )
    assert _results_fingerprint(seeded / "emergence.duckdb") == before


def test_offline_without_mirror_the_rest_builds_and_obsscaling_rows_stay(seeded, monkeypatch):
    monkeypatch.delenv("EMERGENCE_MIRROR")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    db = seeded / "emergence.duckdb"
    obs_before = _query(db, "SELECT count(*) FROM results WHERE origin = 'obsscaling'")[0][0]
    assert obs_before > 0

    instance = dg.DagsterInstance.ephemeral()
    result = _run_until_warehouse(instance)

    evaluations = {
        e.event_specific_data.asset_check_key.name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    check = evaluations["obsscaling_available"]
    assert not check.passed and "EMERGENCE_MIRROR" in check.description
    materialized = {
        e.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert {"results", "models", "table1"} <= materialized
    assert (
        _query(db, "SELECT count(*) FROM results WHERE origin = 'obsscaling'")[0][0] == obs_before
    )
    summary = _summary(result, instance)
    headline = summary.lines(1.0)[0]
    assert summary.exit_code == 1 and "succeeded" not in headline
    # Both remote sources are offline here; each is named, and the rest still built.
    assert ": INCOMPLETE in 1.0 s: unavailable: " in headline
    assert "obsscaling_files (obsscaling_available failed)" in headline
    assert "lmeval_files (lmeval_available failed)" in headline
    assert "; the rest built" in headline


def test_missing_data_lists_each_item_once(lake_run):
    db = lake_run["data"] / "emergence.duckdb"
    assert _query(db, "SELECT gap, item FROM missing_data GROUP BY ALL HAVING count(*) > 1") == []
    rows = _query(
        db,
        "SELECT detail FROM missing_data "
        "WHERE gap = 'metric without a random level' AND item = 'arithmetic/2_digit_addition'",
    )
    assert rows == [("target_cross_entropy, target_logprob",)]


def _summary(result, instance: dg.DagsterInstance) -> RunSummary:
    plan = instance.get_execution_plan_snapshot(result.dagster_run.execution_plan_snapshot_id)
    return RunSummary.of(result, plan.step_keys_to_execute)


def test_the_summary_of_a_good_run_says_succeeded_and_lists_the_warning(lake_run):
    summary = _summary(lake_run["result"], lake_run["instance"])
    lines = summary.lines(12.3)
    assert summary.exit_code == 0
    assert lines[0] == f"lake run {lake_run['result'].run_id[:8]}: succeeded in 12.3 s"
    warning = lines.index(next(line for line in lines if "flops_match_6nd" in line))
    assert lines[warning].startswith("  failed check (WARN): flops_match_6nd on staged_lake:")
    assert lines[warning + 1].startswith("      ") and "lamda-137b" in lines[warning + 1]
    assert not summary.skipped_steps


def test_make_run_prints_the_problems_themselves_and_no_traceback(tmp_path, mirror):
    folder = tmp_path / "literature"
    shutil.copytree(LITERATURE_DIR, folder)
    palm = folder / "results" / "chowdhery2022_palm.csv"
    palm.write_text(palm.read_text().replace(",25.3,", ",140,", 1))
    env = {
        **os.environ,
        "EMERGENCE_DATA": str(tmp_path / "data"),
        "EMERGENCE_LITERATURE": str(folder),
        "EMERGENCE_MIRROR": str(mirror),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    env.pop("EMERGENCE_DUCKDB", None)
    env.pop("DAGSTER_HOME", None)  # the default: the instance under EMERGENCE_DATA
    done = subprocess.run(
        [sys.executable, "-m", "assets.run_lake"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert done.returncode == 1, output
    assert "Traceback" not in output and "DagsterAssetCheckFailedError" not in output, output
    assert "succeeded" not in output
    headline = next(line for line in lines if line.startswith("lake run ") and " in " in line)
    assert ": FAILED in " in headline and "1 check(s) failed" in headline, headline
    check = lines.index(next(line for line in lines if "failed check (ERROR)" in line))
    assert lines[check].startswith("  failed check (ERROR): units_and_ranges on staged_lake")
    assert lines[check + 1] == (
        f"      {palm}, row 2, column 'value': found 140.0; "
        "expected a value between 0 and 100 (percent)"
    )
    assert any(
        line.startswith("  not run, as what they need failed: warehouse_tables") for line in lines
    )
    # everything it wrote is under EMERGENCE_DATA, Dagster's run history included
    assert (tmp_path / "data" / "dagster" / "history" / "runs.db").exists()


def test_a_failed_step_shows_the_assets_own_error_and_no_stack():
    from dagster._core.execution.plan.objects import StepFailureData
    from dagster._utils.error import SerializableErrorInfo

    cause = SerializableErrorInfo(
        "KeyError: 'params'\n", ['  File "marts/x.py", line 3\n'], "KeyError"
    )
    wrapped = SerializableErrorInfo(
        'Error occurred while executing op "emergence":\n',
        ["dagster frames"],
        "DagsterExecutionStepExecutionError",
        cause,
    )
    message = failure_message(StepFailureData(error=wrapped, user_failure_data=None))
    assert message.splitlines()[0] == "KeyError: 'params'"
    assert "File " not in message and "dagster frames" not in message
    summary = RunSummary("0123456789", failed_steps={"emergence": message})
    lines = summary.lines(2.0)
    assert lines[0] == "lake run 01234567: FAILED in 2.0 s: 1 step(s) failed"
    assert summary.exit_code == 1
    assert "  failed step emergence: KeyError: 'params'" in lines
    assert "      (the traceback is in the run's log: `make dev`, Runs)" in lines
