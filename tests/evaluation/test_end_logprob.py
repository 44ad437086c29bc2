"""The log-probability of ending the answer: the same from every scorer, equal to a plain pass."""

from __future__ import annotations

import pytest

from sources.evaluation.answer_end import answer_end_ids
from sources.evaluation.answers import AnswerRule

pytestmark = pytest.mark.slow


def test_end_ids_follow_the_answer_rule():
    texts = ["5", "\n", " 7", ".", "-", "ab", "", "STOP here"]
    # BIG-bench's numeric regex [-+]?\d+: a digit continues the run, anything else ends it.
    rule = AnswerRule(r"[-+]?\d+", None, ("STOP",))
    assert answer_end_ids(rule, texts, eos_token_ids=[6]) == [1, 2, 3, 4, 5, 6, 7]
    # No regex, no stop sequence: only EOS ends an answer.
    assert answer_end_ids(AnswerRule(None, None), texts, eos_token_ids=[0]) == [0]


def test_scorers_agree_on_end_logprob(random_llama_dir) -> None:
    import torch

    from sources.evaluation.model import ModelSpec, load_model
    from sources.evaluation.scoring import (
        ScoringRequest,
        score_flat,
        score_kv_cache,
        score_packed,
    )

    loaded = load_model(ModelSpec("random-llama", str(random_llama_dir)))
    requests = [
        ScoringRequest((1, 5, 9, 2, 7), ((3, 4), (8,), ())),
        ScoringRequest((6, 2), ((1, 1, 5), (3,))),
    ]
    end_ids = [2, 4, 11]
    runs = [
        scorer(loaded, requests, token_budget=4096, end_ids=end_ids)
        for scorer in (score_packed, score_kv_cache, score_flat)
    ]
    for request, *per_scorer in zip(requests, *runs, strict=True):
        for j, continuation in enumerate(request.continuations):
            ids = torch.tensor([list(request.context_ids + continuation)])
            with torch.inference_mode():
                logits = loaded.model(input_ids=ids).logits[0, -1].float()
            expected = float(torch.logsumexp(torch.log_softmax(logits, -1)[end_ids], -1))
            for scores in per_scorer:
                assert scores[j].end_logprob == pytest.approx(expected, abs=1e-4)
    # Without end ids nothing is computed.
    assert score_packed(loaded, requests, token_budget=4096)[0][0].end_logprob is None
