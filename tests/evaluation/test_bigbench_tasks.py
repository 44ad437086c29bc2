"""BIG-bench task files: pinned, verified on every read, parsed with BIG-bench's defaults."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import urllib.error
from pathlib import Path

import pytest

from sources import bigbench
from sources.bigbench import (
    DEFAULT_OUTPUT_REGEX,
    TASK_FILE_SHA256,
    TASKS_SUBDIR,
    list_task_ids,
    load_task,
)
from sources.remote import ChecksumMismatch, RemoteFile, RemoteUnavailable


def _raw(mirror: Path, task_id: str) -> dict:
    return json.loads((mirror / TASKS_SUBDIR / task_id / "task.json").read_text(encoding="utf-8"))


def test_every_pinned_sha256_matches_the_mirror(mirror: Path) -> None:
    for task_id, expected in TASK_FILE_SHA256.items():
        data = (mirror / TASKS_SUBDIR / task_id / "task.json").read_bytes()
        assert hashlib.sha256(data).hexdigest() == expected, task_id


def test_task_ids_cover_the_figure_2_tasks_and_subtasks() -> None:
    ids = list_task_ids()
    for task_id in (
        "modified_arithmetic",
        "arithmetic",
        "arithmetic/3_digit_addition",
        "word_unscrambling",
        "international_phonetic_alphabet_transliterate",
        "parsinlu_qa",
        "parsinlu_reading_comprehension",
    ):
        assert task_id in ids
    assert bigbench.subtask_ids_of("arithmetic") == tuple(
        t for t in ids if t.startswith("arithmetic/")
    )


def test_arithmetic_subtask_parses_like_the_file(mirror: Path) -> None:
    raw = _raw(mirror, "arithmetic/3_digit_addition")
    task = load_task("arithmetic/3_digit_addition")
    assert len(task.examples) == len(raw["examples"])
    first = raw["examples"][0]
    assert task.examples[0].input == first["input"]
    assert task.examples[0].targets == (first["target"],)
    assert dict(task.examples[0].target_scores) == {
        k: float(v) for k, v in first["target_scores"].items()
    }
    assert task.output_regex == raw["output_regex"]
    assert task.metrics == tuple(raw["metrics"])
    assert task.preferred_score == raw["preferred_score"]
    # Unset in the file, so BIG-bench's defaults apply.
    assert (task.example_input_prefix, task.example_output_prefix) == ("\nQ: ", "\nA: ")
    assert task.few_shot_example_separator == "\n"
    assert task.choice_prefix == "\n  choice: " and task.append_choices_to_input
    assert task.task_file_sha256 == TASK_FILE_SHA256["arithmetic/3_digit_addition"]


def test_task_level_prefixes_and_stop_string_override_the_defaults(mirror: Path) -> None:
    raw = _raw(mirror, "international_phonetic_alphabet_transliterate")
    task = load_task("international_phonetic_alphabet_transliterate")
    assert task.example_input_prefix == raw["example_input_prefix"]
    assert task.example_output_prefix == raw["example_output_prefix"]
    assert task.task_prefix == raw["task_prefix"]
    assert task.stop_string == raw["stop_string"]
    assert task.output_regex is None  # a stop string and no regex: no default regex
    assert task.generative_metrics == ("bleu", "rouge", "exact_str_match")

    modified = load_task("modified_arithmetic/three_digit_addition_control")
    raw = _raw(mirror, "modified_arithmetic/three_digit_addition_control")
    assert modified.few_shot_example_separator == raw["few_shot_example_separator"]
    assert modified.example_output_prefix == raw["example_output_prefix"]


def test_default_regex_when_neither_regex_nor_stop_string() -> None:
    task = load_task("word_unscrambling")
    assert task.output_regex == DEFAULT_OUTPUT_REGEX and task.stop_string is None


def test_multiple_choice_examples_without_target_take_the_best_options(mirror: Path) -> None:
    raw = _raw(mirror, "parsinlu_qa")
    task = load_task("parsinlu_qa")
    assert task.multiple_choice_metrics == ("multiple_choice_grade",)
    for parsed, example in zip(task.examples, raw["examples"], strict=True):
        best = max(example["target_scores"].values())
        assert parsed.targets == tuple(k for k, v in example["target_scores"].items() if v == best)
        assert parsed.choices == tuple(example["target_scores"])


def test_composite_parent_has_subtasks_and_no_examples() -> None:
    task = load_task("modified_arithmetic")
    assert task.is_composite and not task.examples
    assert len(task.subtask_ids) == 6


def test_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="arithmetic/3_digit_addition"):
        load_task("arithmetic/3_digit_additon")


def test_a_tampered_mirror_file_is_refused(mirror: Path, tmp_path: Path, monkeypatch) -> None:
    task_id = "parsinlu_qa"
    fake_mirror = tmp_path / "mirror"
    target = fake_mirror / TASKS_SUBDIR / task_id / "task.json"
    target.parent.mkdir(parents=True)
    target.write_bytes((mirror / TASKS_SUBDIR / task_id / "task.json").read_bytes() + b" ")
    monkeypatch.setenv("EMERGENCE_MIRROR", str(fake_mirror))
    with pytest.raises(ChecksumMismatch, match=str(target)):
        load_task(task_id)


def test_a_corrupt_cache_entry_is_replaced_from_the_mirror(mirror: Path, lake_env: Path) -> None:
    load_task("word_unscrambling")
    cached = lake_env / "raw" / TASKS_SUBDIR / "word_unscrambling" / "task.json"
    cached.write_text("{}")
    assert len(load_task("word_unscrambling").examples) == len(
        _raw(mirror, "word_unscrambling")["examples"]
    )


def test_offline_without_mirror_says_to_set_emergence_mirror(monkeypatch) -> None:
    monkeypatch.delenv("EMERGENCE_MIRROR", raising=False)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(RemoteUnavailable, match="EMERGENCE_MIRROR"):
        load_task("parsinlu_qa")


def test_sdist_download_extracts_only_task_files_and_deletes_the_tarball(
    mirror: Path, tmp_path: Path, monkeypatch, lake_env: Path
) -> None:
    """The network path, with a local stand-in for the sdist served from a file:// URL."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for task_id in TASK_FILE_SHA256:
            data = (mirror / TASKS_SUBDIR / task_id / "task.json").read_bytes()
            info = tarfile.TarInfo(f"bigbench-1.0.0/bigbench/benchmark_tasks/{task_id}/task.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        other = b"print('not a task file')"
        info = tarfile.TarInfo("bigbench-1.0.0/setup.py")
        info.size = len(other)
        archive.addfile(info, io.BytesIO(other))
    sdist = tmp_path / "bigbench-1.0.0.tar.gz"
    sdist.write_bytes(buffer.getvalue())
    fake = RemoteFile(
        url=f"file://localhost{sdist}", sha256=hashlib.sha256(buffer.getvalue()).hexdigest()
    )
    monkeypatch.setattr(bigbench, "BIGBENCH_SDIST", fake)
    monkeypatch.delenv("EMERGENCE_MIRROR", raising=False)

    task = load_task("arithmetic/2_digit_subtraction")

    assert len(task.examples) == 1000
    raw = lake_env / "raw"
    extracted = sorted(
        p.relative_to(raw / TASKS_SUBDIR).as_posix()
        for p in (raw / TASKS_SUBDIR).rglob("task.json")
    )
    assert extracted == sorted(f"{t}/task.json" for t in TASK_FILE_SHA256)
    assert not list(raw.rglob("*.tar.gz")), "the downloaded tarball must be deleted"
    assert not list(raw.rglob("setup.py"))
