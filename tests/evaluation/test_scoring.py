"""Context sharing and batching change the work done, never the numbers."""

from __future__ import annotations

import polars as pl
import pytest

from sources.bigbench import load_task
from sources.evaluation.engine import evaluate, select_examples
from sources.evaluation.model import ModelSpec, load_model
from sources.evaluation.prompts import build_prompts
from sources.evaluation.scoring import (
    ScoringRequest,
    WorkCounter,
    packed_scoring_works,
    score_flat,
    score_kv_cache,
    score_packed,
)
from sources.evaluation.tokenization import PromptTokenizer

pytestmark = pytest.mark.slow


def _requests(
    loaded, task_id: str, shots: int, limit: int, convention: str
) -> list[ScoringRequest]:
    task = load_task(task_id)
    tokenizer = PromptTokenizer(loaded.tokenizer, convention)
    requests = []
    for prompt in build_prompts(task, shots, indices=select_examples(task, limit, 0)):
        context, continuations = tokenizer.scoring_ids(prompt.text, list(prompt.choices))
        requests.append(ScoringRequest(tuple(context), tuple(tuple(c) for c in continuations)))
    return requests


@pytest.mark.parametrize("scorer", [score_packed, score_kv_cache], ids=["packed", "kv_cache"])
@pytest.mark.parametrize("convention", ["bigbench", "lm_eval"])
def test_shared_context_scores_equal_per_choice_scores(
    random_llama_dir, convention, scorer
) -> None:
    loaded = load_model(ModelSpec("random-llama", str(random_llama_dir)))
    requests = _requests(loaded, "parsinlu_qa", 2, 12, convention)
    shared_work, flat_work = WorkCounter(), WorkCounter()
    shared = scorer(loaded, requests, token_budget=4096, counter=shared_work)
    flat = score_flat(loaded, requests, token_budget=4096, counter=flat_work)
    for request, per_shared, per_flat in zip(requests, shared, flat, strict=True):
        for continuation, a, b in zip(request.continuations, per_shared, per_flat, strict=True):
            assert len(a.token_logprobs) == len(continuation)
            assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)
            assert a.greedy_ids == b.greedy_ids
    # Each context is encoded once instead of once per option (4 options here).
    assert shared_work.tokens < 0.5 * flat_work.tokens


@pytest.mark.parametrize("fixture", ["random_llama_dir", "trained_model_dir"])
def test_llama_and_gpt2_accept_packed_scoring(request, fixture) -> None:
    loaded = load_model(ModelSpec("m", str(request.getfixturevalue(fixture))))
    assert packed_scoring_works(loaded)


def test_flat_scores_equal_a_plain_forward_pass(random_llama_dir) -> None:
    """The naive reference itself, against log_softmax of one unbatched forward pass."""
    import torch

    loaded = load_model(ModelSpec("random-llama", str(random_llama_dir)))
    request = _requests(loaded, "parsinlu_qa", 1, 1, "bigbench")[0]
    score = score_flat(loaded, [request], token_budget=4096)[0][1]
    context, continuation = request.context_ids, request.continuations[1]
    with torch.inference_mode():
        logits = loaded.model(torch.tensor([context + continuation])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    expected = [float(logprobs[len(context) - 1 + i, t]) for i, t in enumerate(continuation)]
    assert score.token_logprobs == pytest.approx(expected, abs=1e-5)


def _run(model_dir, task_id, shots, limit, budget, share_context=True):
    return evaluate(
        ModelSpec("m", str(model_dir)),
        task_id,
        shots=shots,
        limit=limit,
        max_new_tokens=10,
        token_budget=budget,
        share_context=share_context,
        use_cache=False,
    )


@pytest.mark.parametrize(
    ("fixture", "task_id", "shots", "limit"),
    [
        ("trained_model_dir", "arithmetic/1_digit_addition", 2, 40),
        ("random_llama_dir", "parsinlu_qa", 2, 20),
    ],
)
def test_results_do_not_depend_on_batch_size_or_sharing(
    request, fixture, task_id, shots, limit
) -> None:
    model_dir = request.getfixturevalue(fixture)
    one_at_a_time = _run(
        model_dir, task_id, shots, limit, budget=1
    )  # every batch holds one example
    large = _run(model_dir, task_id, shots, limit, budget=1 << 16)
    flat = _run(model_dir, task_id, shots, limit, budget=1 << 12, share_context=False)
    assert large.stats.forward_passes < one_at_a_time.stats.forward_passes  # batching did happen
    for other in (large, flat):
        a, b = one_at_a_time.examples, other.examples
        assert a.select(
            "example_idx", "prompt_hash", "prediction", "correct", "target_tokens"
        ).equals(b.select("example_idx", "prompt_hash", "prediction", "correct", "target_tokens"))
        assert a["target_logprob"].to_list() == pytest.approx(
            b["target_logprob"].to_list(), abs=1e-4
        )
        for x, y in zip(
            a["choice_logprobs"].to_list(), b["choice_logprobs"].to_list(), strict=True
        ):
            assert x == pytest.approx(y, abs=1e-4)
        exact = pl.col("metric").is_in(["exact_str_match", "multiple_choice_grade"])
        assert one_at_a_time.results.filter(exact).equals(other.results.filter(exact))
