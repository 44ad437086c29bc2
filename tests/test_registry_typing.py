"""Registry entries are typed strictly; every problem names file, line, field, found and expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from checks.validation import ValidationError
from sources.literature import display_path
from sources.registry import (
    DEFAULT_TASKS,
    evaluation_settings,
    read_registry,
    registry_model_rows,
)

ROOT = Path(__file__).resolve().parents[1]
GOOD = "id: x, family: X, weights: org/model, source: test source"


@pytest.fixture
def registry_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "models.yaml"
    monkeypatch.setenv("EMERGENCE_REGISTRY", str(path))
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ValidationError) as error:
        read_registry()
    lines = str(error.value).splitlines()[1:]
    label = display_path(path)
    assert all(line.startswith(label) for line in lines), lines
    return [line.removeprefix(label) for line in lines]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'trust_remote_code: "false"',
            "field 'trust_remote_code': found 'false' (text); expected true or false, unquoted (a YAML boolean)",
        ),
        (
            "trust_remote_code: yes",  # YAML 1.1 would read this as true
            "field 'trust_remote_code': found 'yes' (text); expected true or false, unquoted (a YAML boolean)",
        ),
        (
            "revision: 'a..b'",
            "field 'revision': found 'a..b', which contains '..'; expected a git branch or tag name, or a 40-character commit sha",
        ),
        (
            "revision: 'my branch'",
            "field 'revision': found 'my branch', which contains a space, a control character or one of ~ ^ : ? * [ \\; expected a git branch or tag name, or a 40-character commit sha",
        ),
        (
            "revision: 1234567",
            "field 'revision': found 1234567 (a number); expected text (quote it)",
        ),
        (
            "params: 3e11",
            "field 'params': found '3e11' (text); expected a number (e.g. 3.0e+11, with a dot: YAML reads 3e11 as text)",
        ),
        (
            "params: true",
            "field 'params': found True (a boolean); expected a number (e.g. 3.0e+11, with a dot: YAML reads 3e11 as text)",
        ),
        (
            "params: -5",
            "field 'params': found -5 (a number); expected greater than or equal to 100000",
        ),
        (
            "tasks: [nope]",
            "field 'tasks': found ['nope']; expected BIG-bench task ids the lake knows (`emergence tasks` lists them)",
        ),
        ("limit: 0", "field 'limit': found 0 (a number); expected greater than or equal to 1"),
        ("shots: 2.5", "field 'shots': found 2.5 (a number); expected a whole number"),
        (
            "dtype: fp8",
            "field 'dtype': found 'fp8' (text); expected 'float32', 'bfloat16' or 'float16'",
        ),
        ("device: gpu", "field 'device': found 'gpu' (text); expected cpu, cuda or cuda:N"),
        ("colour: red", "field 'colour': found an undocumented field; expected only ['id',"),
    ],
)
def test_a_bad_field_is_named_with_its_line(registry_file, extra, message):
    registry_file.write_text(
        f"models:\n  - {{{GOOD}}}\n  - {{{GOOD.replace('x', 'y', 1)}, {extra}}}\n"
    )
    problems = problems_of(registry_file)
    assert len(problems) == 1 and problems[0].startswith(f", line 3, {message}")


def test_ids_must_be_text_and_are_named_on_their_own_line(registry_file):
    registry_file.write_text(
        "models:\n  - id: 1234\n    family: X\n    weights: org/model\n    source: test source\n"
    )
    assert problems_of(registry_file) == [
        ", line 2, field 'id': found 1234 (a number); expected text (quote it)"
    ]


def test_weights_slash_is_one_clear_line(registry_file):
    """`weights: /` is a directory, but not a model: it used to crash the evaluation."""
    registry_file.write_text(
        "models:\n  - id: x\n    family: X\n    weights: /\n    source: test source\n"
    )
    assert problems_of(registry_file) == [
        ", line 4, field 'weights': found '/' (resolved to /), a directory without config.json; "
        "expected a local model directory (config.json + weights + tokenizer)"
    ]


def test_local_weights_are_resolved_next_to_the_registry(registry_file, tmp_path):
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "models" / "tiny" / "config.json").write_text("{}")
    (tmp_path / "a-file").write_text("")
    registry_file.write_text(
        "models:\n"
        "  - {id: ok, family: X, weights: ./models/tiny, source: test source}\n"
        "  - {id: gone, family: X, weights: ./models/gone, source: test source}\n"
        "  - {id: file, family: X, weights: ./a-file, source: test source}\n"
    )
    assert problems_of(registry_file) == [
        f", line 3, field 'weights': found './models/gone' (resolved to {tmp_path}/models/gone), "
        "which does not exist; expected a local model directory (config.json + weights + tokenizer)",
        f", line 4, field 'weights': found './a-file' (resolved to {tmp_path}/a-file), "
        "which is not a directory; expected a local model directory (config.json + weights + tokenizer)",
    ]
    registry_file.write_text(
        "models:\n  - {id: ok, family: X, weights: ./models/tiny, source: test source}\n"
    )
    assert read_registry()["weights"].to_list() == [str(tmp_path / "models" / "tiny")]


def test_missing_fields_and_duplicate_ids(registry_file):
    registry_file.write_text("models:\n  - {id: x, family: X, source: test source}\n")
    assert problems_of(registry_file) == [
        ", line 2, field 'weights': found nothing; expected a value (the field is required)"
    ]
    registry_file.write_text(f"models:\n  - {{{GOOD}}}\n  - {{{GOOD}}}\n")
    problems = problems_of(registry_file)
    assert len(problems) == 2 and all("field 'id'" in p and "unique" in p for p in problems)


def test_bad_yaml_names_the_line_and_what_the_parser_expected(registry_file):
    registry_file.write_text(f"models:\n  - {{{GOOD}\n  - {{{GOOD}}}\n")
    assert problems_of(registry_file) == [
        ", line 3: found '{'; expected ',' or '}' (while parsing a flow mapping that starts on line 2)"
    ]
    registry_file.write_text("models: {id: x}\n")
    assert problems_of(registry_file) == [
        ", field 'models': found {'id': 'x'} (dict); expected a top-level 'models:' list"
    ]


def test_the_command_line_check_prints_lines_not_a_traceback(registry_file):
    registry_file.write_text("models:\n  - {id: x, family: X, weights: /, source: test source}\n")
    done = subprocess.run(
        [sys.executable, "-m", "sources.registry"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert "line 2, field 'weights': found '/'" in done.stdout


def test_shipped_registry_is_valid_and_has_pythia_and_gpt2():
    registry = read_registry()
    assert set(registry["family"]) >= {"Pythia", "GPT-2"}
    assert registry.filter(registry["family"] == "Pythia").height == 8
    assert not any(registry["trust_remote_code"])


def test_evaluation_settings_run_config_over_entry_over_defaults():
    entry = {"tasks": ["parsinlu_qa"], "limit": 50, "shots": None, "dtype": "bfloat16"}
    settings = evaluation_settings(entry, {"shots": 0, "device": "cpu"})
    assert (settings.tasks, settings.shots, settings.limit) == (("parsinlu_qa",), 0, 50)
    assert (settings.dtype, settings.device) == ("bfloat16", "cpu")
    assert evaluation_settings(entry, {"limit": 0}).limit is None  # 0 = every example
    default = evaluation_settings({}, {})
    assert (default.tasks, default.shots, default.limit) == (DEFAULT_TASKS, 2, None)


def test_run_config_overrides_are_typed_like_the_registry():
    with pytest.raises(ValidationError) as error:
        evaluation_settings({}, {"dtype": "fp8", "limit": -3, "tasks": None})
    assert str(error.value).splitlines()[1:] == [
        "run config, field 'dtype': found 'fp8' (text); expected 'float32', 'bfloat16' or 'float16'",
        "run config, field 'limit': found -3 (a number); expected greater than or equal to 1",
    ]


def test_flops_are_estimated_from_counted_params_and_flagged():
    rows = registry_model_rows(read_registry(), {"pythia-70m-deduped": 7.0e7})
    pythia = rows.filter(rows["model_id"] == "pythia-70m-deduped").row(0, named=True)
    assert pythia["flops_basis"] == "estimated_6nd"
    assert pythia["train_flops"] == pytest.approx(6 * 7.0e7 * 3.0e11)
    gpt2 = rows.filter(rows["model_id"] == "gpt2").row(0, named=True)
    assert gpt2["flops_basis"] == "missing" and gpt2["train_flops"] is None
