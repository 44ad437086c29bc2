"""Greedy answers decided from the teacher-forced pass equal transformers' `generate`, everywhere."""

from __future__ import annotations

import math

import pytest

from sources.bigbench import load_task
from sources.evaluation.answers import AnswerRule
from sources.evaluation.engine import evaluate, select_examples
from sources.evaluation.model import ModelSpec
from sources.evaluation.prompts import build_prompts

from .conftest import TRAINED_SHOTS, TRAINED_TASK
from .reference import generate_answers

pytestmark = pytest.mark.slow


def _reference(model_dir, task_id, shots, limit, max_new_tokens, stop_sequences=()):
    task = load_task(task_id)
    prompts = build_prompts(task, shots, indices=select_examples(task, limit, 0))
    rule = AnswerRule(task.output_regex, task.stop_string, tuple(stop_sequences))
    return generate_answers(model_dir, prompts, rule, max_new_tokens)


def test_trained_model_is_well_above_zero_and_fast_path_equals_generate(trained_model_dir) -> None:
    spec = ModelSpec("trained-gpt2", str(trained_model_dir))
    run = evaluate(spec, TRAINED_TASK, shots=TRAINED_SHOTS, max_new_tokens=12, use_cache=False)
    expected = _reference(trained_model_dir, TRAINED_TASK, TRAINED_SHOTS, None, 12)

    assert run.examples["prediction"].to_list() == expected
    # Both paths were exercised: answers straight from the scoring pass, and decoded ones.
    assert run.stats.n_fast_path >= 5 and run.stats.n_generated >= 5
    # Training worked: exact match far above zero, multiple choice far above chance (1 in 7).
    values = run.metric_values
    assert values["exact_str_match"] >= 30.0
    assert values["multiple_choice_grade"] >= 50.0


@pytest.mark.parametrize("tie_margin", [math.inf, 4.0, 1.0, 0.0])
def test_resuming_from_the_scoring_cache_equals_generate(trained_model_dir, tie_margin) -> None:
    """Every margin threshold gives generate's answers; it only moves work between the paths.

    inf: every example resumes by recomputing the first position (the "tie" path at position 0);
    4.0 and 1.0: some stop at a later uncertain position; 0.0: every known argmax is trusted.
    """
    spec = ModelSpec("trained-gpt2", str(trained_model_dir))
    run = evaluate(
        spec,
        TRAINED_TASK,
        shots=TRAINED_SHOTS,
        max_new_tokens=8,
        use_cache=False,
        tie_margin=tie_margin,
    )
    expected = _reference(trained_model_dir, TRAINED_TASK, TRAINED_SHOTS, None, 8)
    assert run.examples["prediction"].to_list() == expected
    assert len(set(expected)) >= 5, "a degenerate model would not test much"
    if tie_margin == math.inf:
        assert run.stats.n_fast_path == 0


def test_extra_stop_sequences_equal_generate(trained_model_dir) -> None:
    spec = ModelSpec("trained-gpt2", str(trained_model_dir))
    run = evaluate(
        spec,
        TRAINED_TASK,
        shots=TRAINED_SHOTS,
        limit=40,
        max_new_tokens=12,
        stop_sequences=["\n"],
        use_cache=False,
    )
    expected = _reference(trained_model_dir, TRAINED_TASK, TRAINED_SHOTS, 40, 12, ["\n"])
    assert run.examples["prediction"].to_list() == expected


@pytest.mark.parametrize(
    ("task_id", "shots", "limit", "max_new_tokens"),
    [
        ("word_unscrambling", 2, 24, 16),
        ("international_phonetic_alphabet_transliterate", 1, 8, 24),
        ("parsinlu_reading_comprehension", 0, 6, 12),
    ],
)
def test_untrained_llama_answers_equal_generate(
    random_llama_dir, task_id, shots, limit, max_new_tokens
) -> None:
    """Multi-byte text, stop strings, default regex; no near-ties hidden by the engine."""
    spec = ModelSpec("random-llama", str(random_llama_dir))
    run = evaluate(
        spec, task_id, shots=shots, limit=limit, max_new_tokens=max_new_tokens, use_cache=False
    )
    expected = _reference(random_llama_dir, task_id, shots, limit, max_new_tokens)
    assert run.examples["prediction"].to_list() == expected
