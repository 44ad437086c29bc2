"""Metrics as BIG-bench computes them, plus the continuous ones Wei et al. discuss.

- `exact_str_match`: a (post-processed, see answers.py) prediction counts when it equals one of
  the example's targets (BIG-bench ``exact_str_match_fn``: no stripping, no normalisation).
- `multiple_choice_grade`: the option with the highest log-probability is chosen (log-probs
  normalised over the options first, as BIG-bench's ``cond_log_prob`` does), ties broken
  pseudo-randomly but deterministically from the sha256 of the float64 scores (BIG-bench's
  ``argmax``); the example scores that option's ``target_scores`` value.
- `bleu`: corpus BLEU with sacreBLEU, as BIG-bench calls it through T5's ``metrics.bleu``:
  ``tokenize="intl"``, exponential smoothing, references padded with the first target when
  examples have different numbers of references; 0-100.
- continuous, per example: the target's log-probability (nats, summed over its tokens), its token
  count and the per-token cross-entropy. Averages: `mean_target_logprob` is the mean over examples
  of the summed log-probability; `target_cross_entropy` is the token-weighted mean,
  ``-sum(logprob) / sum(tokens)`` (the usual language-model loss over all target tokens).

Values here are fractions or raw numbers; the engine converts to the warehouse units (percent).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np


def exact_str_match(prediction: str, targets: Sequence[str]) -> bool:
    return prediction in targets


def bigbench_argmax(scores: Sequence[float]) -> int:
    """Index of the largest score; ties broken as BIG-bench does (sha256 of the float64 array)."""
    array = np.asarray(scores, dtype=np.float64)
    best = np.arange(len(array))[array == np.max(array)]
    pick = int(hashlib.sha256(array.tobytes()).hexdigest(), 16) % len(best)
    return int(best[pick])


def chosen_option(choice_logprobs: Sequence[float]) -> int:
    """The option the model prefers: BIG-bench normalises over the options, then `bigbench_argmax`."""
    array = np.asarray(choice_logprobs, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if finite.size:
        top = finite.max()
        array = array - (top + np.log(np.sum(np.exp(finite - top))))
    return bigbench_argmax(array)


def multiple_choice_grade(
    choice_logprobs: Sequence[float], choice_scores: Sequence[float]
) -> float:
    """The target score of the option the model prefers (1.0 or 0.0 for one-correct tasks)."""
    if len(choice_logprobs) != len(choice_scores) or not choice_logprobs:
        raise ValueError(
            f"multiple_choice_grade: {len(choice_logprobs)} log-probs for {len(choice_scores)} options"
        )
    return float(choice_scores[chosen_option(choice_logprobs)])


def corpus_bleu(predictions: Sequence[str], targets: Sequence[Sequence[str]]) -> float:
    """BIG-bench's BLEU: sacreBLEU corpus score (0-100) over all examples."""
    import sacrebleu

    if len(predictions) != len(targets):
        raise ValueError(f"bleu: {len(predictions)} predictions for {len(targets)} examples")
    most = max(len(t) for t in targets)
    padded = [list(t) + [t[0]] * (most - len(t)) for t in targets]
    references = [[refs[i] for refs in padded] for i in range(most)]
    return float(
        sacrebleu.corpus_bleu(
            list(predictions),
            references,
            smooth_method="exp",
            smooth_value=0.0,
            force=False,
            lowercase=False,
            tokenize="intl",
            use_effective_order=False,
        ).score
    )


def per_token_cross_entropy(logprob: float, tokens: int) -> float:
    """Cross-entropy of one target, nats per token (NaN for an empty target)."""
    return -logprob / tokens if tokens else math.nan


def mean_target_logprob(logprobs: Sequence[float]) -> float:
    return float(np.mean(np.asarray(logprobs, dtype=np.float64)))


def target_cross_entropy(logprobs: Sequence[float], tokens: Sequence[int]) -> float:
    """Token-weighted cross-entropy over all targets, nats per token."""
    total_tokens = int(sum(tokens))
    if total_tokens == 0:
        return math.nan
    return float(-np.sum(np.asarray(logprobs, dtype=np.float64)) / total_tokens)
