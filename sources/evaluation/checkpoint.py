"""Finished batches of an evaluation that is still running, so a killed run resumes where it stopped.

Why: a 12B model's evaluation of one task takes hours; a crash (out of memory, a pre-empted node, a
killed process) must not throw that work away. After every scoring batch (and every decoding batch)
the engine records, per example of the batch, what the final rows need (target log-probability and
token count, option log-probabilities, the greedy answer or "still to decode") plus the batch's work
counters. A re-run with the same cache key restores those examples and skips every batch whose
examples are all restored; the batches left are packed exactly as in an uninterrupted run (the plan
is computed over all examples, then filtered), so the result is identical to it.

Layout: ``<cache entry>.partial/`` next to the result cache entry of the same key (model revision,
task file sha256, config: see cache.py), holding ``key.json`` (the key's parts, checked on load)
and one ``<stage>-<batch>.json`` per finished batch. Each file is written to a temporary name and
renamed into place (atomic on POSIX), so a kill mid-write leaves either the whole file or none; an
unreadable file is ignored and its batch recomputed. When the task completes, its rows go into the
cache entry and the directory is removed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCORE, DECODE = "score", "decode"


@dataclass
class ExampleOutcome:
    """What one example's rows need from the model, known once its scoring batch is done."""

    target_logprob: float
    target_tokens: int
    choice_logprobs: list[float] | None
    answer: str | None  # the greedy answer; None for multiple choice or when still to decode
    pending_decode: bool = False  # generative, and the scoring pass could not settle the answer
    target_token_logprobs: list[float] | None = None  # per target token (eval_examples)
    end_logprob: float | None = None  # log p(the answer ends after the target), generative tasks


@dataclass
class BatchWork:
    """Work counters of one batch, so that restored batches still count in the run's totals."""

    tokens: int = 0
    forward_passes: int = 0
    n_fast_path: int = 0
    n_generated: int = 0


@dataclass
class Restored:
    """What a checkpoint holds: outcomes per example index (position in the run's example list)."""

    scored: dict[int, ExampleOutcome] = field(default_factory=dict)
    decoded: dict[int, str] = field(default_factory=dict)
    batches: int = 0
    work: BatchWork = field(default_factory=BatchWork)

    def add_work(self, work: BatchWork) -> None:
        self.work.tokens += work.tokens
        self.work.forward_passes += work.forward_passes
        self.work.n_fast_path += work.n_fast_path
        self.work.n_generated += work.n_generated


class Checkpoint:
    """The partial results of one cache key; `directory` is ``<cache entry>.partial``."""

    def __init__(self, directory: Path, key_parts: dict[str, Any]) -> None:
        self.directory = directory
        self.key_parts = key_parts
        self._key_written = False

    def load(self) -> Restored:
        """Every readable batch file of this key; an empty `Restored` when there is none."""
        restored = Restored()
        if not self._matches_key():
            return restored
        for path in sorted(self.directory.glob("*.json")):
            if path.name == "key.json":
                continue
            try:
                record = json.loads(path.read_text())
                examples = [int(i) for i in record["examples"]]
                work = BatchWork(**record["work"])
                if record["stage"] == SCORE:
                    outcomes = [ExampleOutcome(**o) for o in record["outcomes"]]
                    restored.scored.update(zip(examples, outcomes, strict=True))
                elif record["stage"] == DECODE:
                    restored.decoded.update(zip(examples, record["answers"], strict=True))
                else:
                    continue
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged file: its batch is recomputed
            restored.batches += 1
            restored.add_work(work)
        return restored

    def write_batch(
        self,
        stage: str,
        ordinal: int,
        examples: list[int],
        work: BatchWork,
        outcomes: list[ExampleOutcome] | None = None,
        answers: list[str] | None = None,
    ) -> None:
        """Record one finished batch (atomically: whole file or nothing)."""
        self._ensure_key()
        record: dict[str, Any] = {
            "stage": stage,
            "examples": examples,
            "work": work.__dict__,
        }
        if outcomes is not None:
            record["outcomes"] = [o.__dict__ for o in outcomes]
        if answers is not None:
            record["answers"] = answers
        # Python's json writes -Infinity for an option no tokenizer could score, and reads it back.
        _atomic_write(self.directory / f"{stage}-{ordinal:06d}.json", json.dumps(record))

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _matches_key(self) -> bool:
        try:
            return json.loads((self.directory / "key.json").read_text()) == self.key_parts
        except (OSError, ValueError):
            return False

    def _ensure_key(self) -> None:
        """Before the first write: a directory of another key (or a damaged key.json) is cleared."""
        if self._key_written:
            return
        if not self._matches_key():
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.directory / "key.json", json.dumps(self.key_parts, sort_keys=True))
        self._key_written = True


def _atomic_write(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)
