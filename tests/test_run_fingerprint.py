"""`make run` on an unchanged lake stops at once; any change to what it reads or left runs it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assets import run_fingerprint
from assets.run_lake import main
from sources.paths import LITERATURE_DIR


@pytest.fixture
def lake(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    data, literature, dropin = tmp_path / "data", tmp_path / "literature", tmp_path / "lmeval"
    shutil.copytree(LITERATURE_DIR, literature)
    dropin.mkdir()
    (data / "charts").mkdir(parents=True)
    (data / "emergence.duckdb").write_bytes(b"warehouse")
    (data / "charts" / "fig2a.png").write_bytes(b"png")
    for name in [k for k in os.environ if k.startswith("EMERGENCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EMERGENCE_DATA", str(data))
    monkeypatch.setenv("EMERGENCE_LITERATURE", str(literature))
    monkeypatch.setenv("EMERGENCE_LMEVAL", str(dropin))
    return {"data": data, "literature": literature, "dropin": dropin}


def _succeeded() -> None:
    """What the runner does after a run that exited 0."""
    inputs = run_fingerprint.inputs_fingerprint()
    assert run_fingerprint.remember("0123456789abcdef", inputs, "2026-12-01 22:00:00")


def _bump(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_nothing_changed_is_recognised(lake) -> None:
    assert run_fingerprint.unchanged_since() is None  # never ran
    _succeeded()
    assert run_fingerprint.unchanged_since()["run_id"] == "0123456789abcdef"


@pytest.mark.parametrize(
    "change",
    [
        "a curated file touched",
        "a results file added",
        "a drop-in lm-eval file",
        "a setting",
        "the warehouse written",
        "a chart deleted",
    ],
)
def test_any_change_makes_the_next_run_a_real_one(lake, monkeypatch, change: str) -> None:
    _succeeded()
    if change == "a curated file touched":
        _bump(lake["literature"] / "results" / "chowdhery2022_palm.csv")
    elif change == "a results file added":
        (lake["literature"] / "results" / "new_paper.csv").write_text("model_id\n")
    elif change == "a drop-in lm-eval file":
        (lake["dropin"] / "results_2026.json").write_text("{}")
    elif change == "a setting":
        monkeypatch.setenv("EMERGENCE_MAX_INPUT_MB", "64")
    elif change == "the warehouse written":
        (lake["data"] / "emergence.duckdb").write_bytes(b"warehouse, one more row")
    else:
        (lake["data"] / "charts" / "fig2a.png").unlink()
    assert run_fingerprint.unchanged_since() is None


def test_inputs_changed_during_the_run_leave_no_record(lake) -> None:
    inputs = run_fingerprint.inputs_fingerprint()
    _bump(lake["literature"] / "models.csv")  # edited while the run was reading
    assert not run_fingerprint.remember("0123456789abcdef", inputs, "2026-12-01 22:00:00")
    assert run_fingerprint.unchanged_since() is None


def test_the_runner_stops_on_an_unchanged_lake_unless_forced(lake, monkeypatch, capsys) -> None:
    _succeeded()
    assert main() == 0
    out = capsys.readouterr().out
    assert out.startswith("lake unchanged since run 01234567 (2026-12-01 22:00:00): nothing to do")
    assert "EMERGENCE_FORCE_RUN=1 runs it anyway" in out
    assert f"  warehouse: {lake['data'] / 'emergence.duckdb'}" in out

    ran = []
    monkeypatch.setenv("EMERGENCE_FORCE_RUN", "1")
    monkeypatch.setattr("assets.run_lake.lake_instance", lambda: ran.append(True) or 1 / 0)
    with pytest.raises(ZeroDivisionError):  # forced: on to the real run (stopped here)
        main()
    assert ran and not run_fingerprint.record_path().exists()  # a real run forgets the record
