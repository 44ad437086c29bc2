"""Metrics on hand-computed cases."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from sources.evaluation import metrics


def test_exact_str_match_is_exact() -> None:
    assert metrics.exact_str_match("42", ("42",))
    assert metrics.exact_str_match("b", ("a", "b"))
    assert not metrics.exact_str_match(" 42", ("42",))  # BIG-bench does not strip


def test_multiple_choice_grade_scores_the_preferred_option() -> None:
    assert metrics.multiple_choice_grade([-3.0, -1.0, -2.0], [0.0, 1.0, 0.0]) == 1.0
    assert metrics.multiple_choice_grade([-1.0, -3.0, -2.0], [0.0, 1.0, 0.0]) == 0.0
    # Partial credit: target_scores need not be 0/1.
    assert metrics.multiple_choice_grade([-5.0, -0.5], [0.25, 0.5]) == 0.5
    # An empty option has log-prob -inf and is never preferred over a finite one.
    assert metrics.multiple_choice_grade([-math.inf, -9.0], [1.0, 0.0]) == 0.0


def test_ties_are_broken_like_bigbench() -> None:
    logprobs = [-1.0, -1.0, -2.0]
    normalised = np.asarray(logprobs) - np.log(np.sum(np.exp(logprobs)))
    expected = int(hashlib.sha256(normalised.astype(np.float64).tobytes()).hexdigest(), 16) % 2
    assert metrics.chosen_option(logprobs) == expected


def test_bleu_hand_computed() -> None:
    # Every n-gram of the hypothesis matches; only the brevity penalty acts: exp(1 - 5/4).
    assert metrics.corpus_bleu(["a b c d"], [["a b c d e"]]) == pytest.approx(
        100 * math.exp(-0.25), abs=1e-6
    )
    assert metrics.corpus_bleu(["the cat sat down"], [["the cat sat down"]]) == pytest.approx(100.0)
    assert metrics.corpus_bleu(["x y z w"], [["a b c d"]]) == 0.0


def test_bleu_pads_missing_references_with_the_first() -> None:
    with_padding = metrics.corpus_bleu(["a b c d", "e f g h"], [["a b c d", "q"], ["e f g h"]])
    assert with_padding == pytest.approx(100.0)


def test_continuous_metrics() -> None:
    assert metrics.per_token_cross_entropy(-6.0, 3) == 2.0
    assert math.isnan(metrics.per_token_cross_entropy(0.0, 0))
    assert metrics.mean_target_logprob([-1.0, -3.0]) == -2.0
    # Token-weighted: (1 + 3) nats over (1 + 3) tokens, not the mean of 1 and 1.
    assert metrics.target_cross_entropy([-1.0, -3.0], [1, 3]) == 1.0
    assert metrics.target_cross_entropy([-2.0, -3.0], [1, 3]) == 1.25
