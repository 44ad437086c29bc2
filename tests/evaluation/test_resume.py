"""A killed evaluation resumes from its checkpoint and gives what an uninterrupted run gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from sources.evaluation.checkpoint import (
    SCORE,
    BatchWork,
    Checkpoint,
    ExampleOutcome,
)
from sources.paths import PROJECT_ROOT

TASK = "arithmetic/2_digit_addition"
KEY = {"model_revision": "sha256:abc", "task_file_sha256": "def", "config_hash": "0123"}


def _outcome(logprob: float) -> ExampleOutcome:
    return ExampleOutcome(logprob, 2, [logprob, -float("inf")], None, pending_decode=True)


def test_checkpoint_keeps_whole_batches_and_ignores_damaged_files(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "entry.partial", KEY)
    checkpoint.write_batch(
        SCORE, 1, [4, 7], BatchWork(tokens=30, forward_passes=1), [_outcome(-1.5), _outcome(-2.0)]
    )
    checkpoint.write_batch(SCORE, 2, [1], BatchWork(tokens=12, forward_passes=1), [_outcome(-0.25)])
    # What a kill mid-write can leave: a temporary file never renamed, and (disk full) a torn file.
    (checkpoint.directory / ".score-000003.json.x1.tmp").write_text('{"stage": "sco')
    (checkpoint.directory / "score-000004.json").write_text('{"stage": "score", "exa')

    restored = checkpoint.load()
    assert restored.batches == 2 and sorted(restored.scored) == [1, 4, 7]
    assert restored.scored[7].choice_logprobs == [-2.0, -float("inf")]
    assert restored.scored[1].pending_decode and restored.work.tokens == 42

    # Another key (a new weights revision, task file or config) never restores these rows.
    other = Checkpoint(checkpoint.directory, {**KEY, "model_revision": "sha256:new"})
    assert other.load().batches == 0
    other.write_batch(SCORE, 1, [0], BatchWork(), [_outcome(-3.0)])  # starts afresh
    assert sorted(other.load().scored) == [0] and checkpoint.load().batches == 0

    checkpoint.remove()
    assert not checkpoint.directory.exists()


def _cli(model_dir: Path, *extra: str) -> list[str]:
    return [
        "eval",
        "--model",
        str(model_dir),
        "--task",
        TASK,
        "--shots",
        "2",
        "--limit",
        "60",
        "--max-new-tokens",
        "6",
        "--token-budget",
        "160",
        "--json",
        "--quiet",
        *extra,
    ]


@pytest.fixture
def slow_enough_model(tmp_path: Path, mirror) -> Path:
    """An untrained GPT-2 (3 layers, width 128): 60 examples in ~60 batches, a few seconds."""
    from sources.bigbench import load_task
    from sources.evaluation import toy_models

    task = load_task(TASK)
    texts = [e.input + " " + " ".join(e.targets) for e in task.examples[:300]]
    tokenizer = toy_models.build_tokenizer(texts, vocab_size=300)
    model = toy_models.build_model(
        "gpt2", len(tokenizer), layers=3, width=128, heads=4, eos_token_id=tokenizer.eos_token_id
    )
    return toy_models.save(model, tokenizer, tmp_path / "model")


def _entries(data: Path, name: str) -> list[Path]:
    return sorted((data / "cache" / "evaluations").glob(f"*/*/{name}"))


@pytest.mark.slow
def test_a_killed_eval_resumes_without_redoing_finished_batches(
    slow_enough_model: Path,
    tmp_path: Path,
    lake_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sources.evaluation.cli import main

    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "sources.evaluation.cli", *_cli(slow_enough_model)]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE)
    partial_files: list[Path] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        partial_files = sorted(lake_env.glob("cache/evaluations/*/*.partial/score-*.json"))
        if len(partial_files) >= 3:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not _entries(lake_env, "meta.json"), "killed part-way: no cache entry yet"
    partial = sorted(lake_env.glob("cache/evaluations/*/*.partial/score-*.json"))
    records = [json.loads(p.read_text()) for p in partial]  # every file readable after the kill
    done_examples = sum(len(r["examples"]) for r in records)
    done_tokens = sum(r["work"]["tokens"] for r in records)
    assert len(partial) >= 3 and 0 < done_examples < 60

    # The re-run (in this process, one torch thread like the subprocess: no second start-up).
    assert main(_cli(slow_enough_model)) == 0
    resumed = json.loads(capsys.readouterr().out)
    stats = resumed["stats"]
    assert stats["batches_restored"] == len(partial) and stats["n_restored"] == done_examples
    assert stats["tokens_restored"] == done_tokens
    assert not list(lake_env.glob("cache/evaluations/*/*.partial")), "merged into the cache entry"

    # An uninterrupted run, from scratch in another data directory.
    fresh_data = tmp_path / "uninterrupted"
    monkeypatch.setenv("EMERGENCE_DATA", str(fresh_data))
    assert main(_cli(slow_enough_model)) == 0
    assert not list(fresh_data.glob("cache/evaluations/*/*.partial"))
    (fresh_examples,) = _entries(fresh_data, "examples.parquet")
    (resumed_examples,) = _entries(lake_env, "examples.parquet")
    expected = pl.read_parquet(fresh_examples)
    assert expected.height == 60
    assert pl.read_parquet(resumed_examples).equals(expected)  # bit for bit, every column
    fresh_meta = json.loads(_entries(fresh_data, "meta.json")[0].read_text())
    # Nothing finished before the kill was computed again: the two parts add up to the whole.
    assert stats["tokens_processed"] + done_tokens == fresh_meta["stats"]["tokens_processed"]
    assert fresh_meta["stats"]["batches_restored"] == 0
    (fresh_results,) = _entries(fresh_data, "results.parquet")
    (resumed_results,) = _entries(lake_env, "results.parquet")
    assert pl.read_parquet(resumed_results).equals(pl.read_parquet(fresh_results))


@pytest.mark.slow
def test_a_crash_while_decoding_resumes_from_the_decoded_batches(
    slow_enough_model: Path, tmp_path: Path, lake_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the fast path every answer is decoded after scoring: the second stage resumes too."""
    from sources.evaluation import decoding
    from sources.evaluation.engine import evaluate
    from sources.evaluation.model import ModelSpec

    spec = ModelSpec("toy", str(slow_enough_model))
    options = {"shots": 2, "limit": 12, "max_new_tokens": 4, "token_budget": 40, "fast_path": False}
    real_decode, calls = decoding._decode_from_scratch, []

    def crash_on_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("simulated crash in the third decoding batch")
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(decoding, "_decode_from_scratch", crash_on_third_batch)
    with pytest.raises(MemoryError):
        evaluate(spec, TASK, **options)
    monkeypatch.setattr(decoding, "_decode_from_scratch", real_decode)
    resumed = evaluate(spec, TASK, **options)
    assert not list(lake_env.glob("cache/evaluations/*/*.partial"))  # merged into the entry
    assert resumed.stats.n_restored == 12  # every example's scores came from the checkpoint
    assert resumed.stats.batches_restored >= 1 + 2  # the scoring batch(es), two decoding ones

    monkeypatch.setenv("EMERGENCE_DATA", str(tmp_path / "uninterrupted"))
    fresh = evaluate(spec, TASK, **options)
    assert fresh.stats.batches_restored == 0
    assert resumed.examples.equals(fresh.examples) and resumed.results.equals(fresh.results)
    # Nothing finished before the crash was computed again.
    assert fresh.stats.tokens_processed == (
        resumed.stats.tokens_processed + resumed.stats.tokens_restored
    )
    assert fresh.stats.n_generated == resumed.stats.n_generated == 12
