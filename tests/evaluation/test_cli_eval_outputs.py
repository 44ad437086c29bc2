"""`emergence eval` with several tasks and --output-path; truncated prompts; bad --model paths."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sources.evaluation.cli import main

SHORT, LONG = "arithmetic/1_digit_addition", "parsinlu_qa"


@pytest.fixture
def short_context_model(tmp_path: Path, mirror) -> Path:
    """An untrained GPT-2 with a 256-token window: 2-shot arithmetic prompts (~100 tokens) fit,
    2-shot Persian QA prompts (hundreds of bytes the tokenizer never merged) do not."""
    from sources.bigbench import load_task
    from sources.evaluation import toy_models
    from sources.evaluation.prompts import build_prompts

    texts = [p.text + p.targets[0] for p in build_prompts(load_task(SHORT), 2)]
    tokenizer = toy_models.build_tokenizer(texts, vocab_size=600)
    model = toy_models.build_model(
        "gpt2",
        len(tokenizer),
        layers=1,
        width=32,
        max_positions=256,
        eos_token_id=tokenizer.eos_token_id,
    )
    return toy_models.save(model, tokenizer, tmp_path / "model")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_several_tasks_write_results_and_samples_with_truncation_flags(
    short_context_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["eval", "--model", str(short_context_model), "--task", f"{SHORT},{LONG}"]
    argv += ["--task", SHORT, "--limit", "4", "--max-new-tokens", "3", "--quiet"]
    assert main([*argv, "--output-path", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count("task     ") == 2  # SHORT named twice, evaluated once
    assert "TRUNCATED 4 of 4 prompts" in text and text.count("TRUNCATED") == 1

    report = json.loads((out / "results.json").read_text())
    assert report["config"]["tasks"] == [SHORT, LONG] and report["config"]["shots"] == 2
    assert set(report["results"]) == {SHORT, LONG}
    assert report["tasks"][LONG]["n_truncated"] == 4 and report["tasks"][SHORT]["n_truncated"] == 0
    for task, truncated in ((SHORT, False), (LONG, True)):
        samples = _read_jsonl(out / report["tasks"][task]["samples"])
        assert len(samples) == 4 and all(s["truncated"] is truncated for s in samples)
        for sample in samples:  # the prompt text is the one the warehouse row hashed
            assert hashlib.sha256(sample["prompt"].encode()).hexdigest() == sample["prompt_hash"]
            assert sample["prompt"].rstrip().endswith("A:") and sample["targets"]
        accuracy = 100 * sum(s["correct"] for s in samples) / len(samples)
        assert report["results"][task]["multiple_choice_grade"] == pytest.approx(accuracy)
    assert (out / "samples_arithmetic__1_digit_addition.jsonl").is_file()

    # A cache hit (no model loaded) writes the same samples, truncation flags included.
    again = tmp_path / "again"
    assert main([*argv, "--output-path", str(again), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["task_id"] for line in lines] == [SHORT, LONG]
    assert all(line["stats"]["cache_hit"] for line in lines)
    assert lines[1]["stats"]["n_truncated"] == 4
    for task in (SHORT, LONG):
        name = report["tasks"][task]["samples"]
        assert _read_jsonl(again / name) == _read_jsonl(out / name)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("/", "/ is not a model directory: it has no config.json"),
        ("{file}", "is a file, not a model directory"),
        ("{empty}", "is not a model directory: it has no config.json"),
    ],
)
def test_a_path_that_is_not_a_model_directory_exits_2_with_one_line(
    tmp_path: Path, model: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "weights.bin").write_bytes(b"not a model")
    (tmp_path / "empty").mkdir()
    model = model.format(file=tmp_path / "weights.bin", empty=tmp_path / "empty")
    assert main(["eval", "--model", model, "--task", SHORT, "--quiet"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and captured.out == ""


def test_an_unknown_task_among_several_exits_2_before_any_model_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The model path does not exist either: the task is checked first.
    assert main(["eval", "--model", str(tmp_path / "absent"), "--task", f"{SHORT},no_such"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "unknown BIG-bench task 'no_such'" in lines[0]


@pytest.mark.slow
def test_the_flag_reaches_eval_examples(short_context_model: Path) -> None:
    """schema.sql has eval_examples.truncated: computed and cached runs fill it."""
    from sources.evaluation.engine import evaluate
    from sources.evaluation.model import ModelSpec

    spec = ModelSpec("toy", str(short_context_model))
    today = evaluate(spec, LONG, limit=2)
    assert today.examples["truncated"].to_list() == [True, True]
    assert today.flags["truncated"].to_list() == [True, True]
    assert evaluate(spec, LONG, limit=2).examples["truncated"].to_list() == [True, True]  # cached
    fresh = evaluate(spec, LONG, limit=2, use_cache=False)
    assert fresh.examples["truncated"].to_list() == [True, True]
