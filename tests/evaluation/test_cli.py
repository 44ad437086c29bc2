"""The `emergence eval` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sources.evaluation.cli import main
from sources.paths import PROJECT_ROOT

from .conftest import TRAINED_TASK


@pytest.mark.slow
def test_eval_json_prints_metrics_and_speed(trained_model_dir, capsys) -> None:
    code = main(
        [
            "eval",
            "--model",
            str(trained_model_dir),
            "--task",
            TRAINED_TASK,
            "--shots",
            "0",
            "--limit",
            "10",
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task_id"] == TRAINED_TASK and report["n_examples"] == 10
    assert set(report["metrics"]) >= {"exact_str_match", "multiple_choice_grade", "target_logprob"}
    assert report["units"]["exact_str_match"] == "percent"
    assert report["stats"]["examples_per_second"] > 0 and report["stats"]["tokens_per_second"] > 0


@pytest.mark.slow
def test_eval_text_output(trained_model_dir, capsys) -> None:
    assert (
        main(
            [
                "eval",
                "--model",
                str(trained_model_dir),
                "--task",
                TRAINED_TASK,
                "--limit",
                "4",
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "exact_str_match" in out and "examples/s" in out and "tokens/s" in out


def test_a_model_that_cannot_be_loaded_exits_2_with_one_line(tmp_path, lake_env) -> None:
    missing = tmp_path / "missing-model"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sources.evaluation.cli",
            "eval",
            "--model",
            str(missing),
            "--task",
            "parsinlu_qa",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_an_unknown_task_exits_2(tmp_path, capsys) -> None:
    assert main(["eval", "--model", str(tmp_path), "--task", "no_such_task"]) == 2
    assert "unknown BIG-bench task" in capsys.readouterr().err


def test_tasks_lists_the_task_ids(capsys) -> None:
    assert main(["tasks"]) == 0
    assert "arithmetic/3_digit_addition" in capsys.readouterr().out.split()
