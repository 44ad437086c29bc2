"""Token boundaries: BIG-bench's separate tokenization and lm-eval's joint one."""

from __future__ import annotations

import pytest

from sources.evaluation import toy_models
from sources.evaluation.tokenization import PromptTokenizer

TEXTS = [
    "Q: What is 12 plus 30?\nA: 42",
    "The word hte is a scrambled version of the English word the",
]


@pytest.fixture(scope="module")
def tokenizer():
    return toy_models.build_tokenizer(
        TEXTS * 20 + ["سن خواهر علیرضا کدام است؟ ˈɛvriˌwən"], vocab_size=300
    )


def test_bigbench_convention_tokenizes_context_and_target_separately(tokenizer) -> None:
    convention = PromptTokenizer(tokenizer, "bigbench")
    context, (target,) = convention.scoring_ids("Q: 12 plus 30?\nA: ", ["42"])
    assert context == tokenizer("Q: 12 plus 30?\nA: ", add_special_tokens=False)["input_ids"]
    assert target == tokenizer("42", add_special_tokens=False)["input_ids"]
    assert convention.generation_ids("Q: 12 plus 30?\nA: ") == context


def test_lm_eval_convention_moves_trailing_space_and_splits_the_joint_encoding(tokenizer) -> None:
    convention = PromptTokenizer(tokenizer, "lm_eval")
    context, (target,) = convention.scoring_ids("Q: 12 plus 30?\nA: ", ["42"])
    whole = tokenizer("Q: 12 plus 30?\nA: 42", add_special_tokens=False)["input_ids"]
    assert context == tokenizer("Q: 12 plus 30?\nA:", add_special_tokens=False)["input_ids"]
    assert target == whole[len(context) :]
    assert tokenizer.decode(target) == " 42"


def test_batched_calls_equal_one_at_a_time(tokenizer) -> None:
    convention = PromptTokenizer(tokenizer, "bigbench")
    texts = [*TEXTS, "سن خواهر علیرضا کدام است؟", "ˈɛvriˌwən ˈrɪli", ""]
    one_by_one = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert convention.encode_plain_many(texts) == one_by_one
    decoded = convention.decode_many(one_by_one)
    assert decoded == [
        tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        for ids in one_by_one
    ]
    assert decoded[:4] == texts[:4]
