"""Post-processing (BIG-bench's postprocess_output) and the rule that settles an answer early."""

from __future__ import annotations

import random

import pytest

from sources.bigbench import DEFAULT_OUTPUT_REGEX
from sources.evaluation.answers import AnswerRule, is_run_shaped

NUMBER = r"[-+]?\d+"


def test_regex_takes_the_first_match_or_empty() -> None:
    rule = AnswerRule(NUMBER, None)
    assert rule.answer(" 42. 7*7 = 49") == "42"
    assert rule.answer("no digits") == ""


def test_stop_string_is_kept_and_ignored_at_index_zero() -> None:
    rule = AnswerRule(None, "\n")
    assert rule.answer("English: hi\nIPA: x") == "English: hi\n"  # BIG-bench keeps the stop string
    assert rule.answer("\nEnglish: hi\nmore") == "\nEnglish: hi\nmore"  # find() == 0: no cut at all


def test_extra_stop_sequences_cut_before_like_lm_eval_until() -> None:
    rule = AnswerRule(NUMBER, None, stop_sequences=("\n",))
    assert rule.answer("12\n34") == "12"
    assert rule.answer("x\n34") == ""  # BIG-bench alone would find 34 on the next line
    assert AnswerRule(NUMBER, None).answer("x\n34") == "34"


def test_default_regex_stops_at_sentence_punctuation() -> None:
    assert AnswerRule(DEFAULT_OUTPUT_REGEX, None).answer(" the word. Q: next") == " the word"


@pytest.mark.parametrize(
    ("pattern", "shaped"),
    [
        (NUMBER, True),
        (DEFAULT_OUTPUT_REGEX, True),
        (r"\d+", True),
        (r"(\d+)", False),
        (r"\d+?", False),
        (r"ab+", False),
        (r"a|bc", False),
        (r"\d+\.?\d*", False),
    ],
)
def test_only_run_shaped_regexes_settle_early(pattern: str, shaped: bool) -> None:
    assert is_run_shaped(pattern) is shaped


def test_settled_only_when_the_match_cannot_change() -> None:
    rule = AnswerRule(NUMBER, None)
    assert rule.settled_answer("12") is None  # "123" would change it
    assert rule.settled_answer("12\n") == "12"
    assert rule.settled_answer("-") is None
    assert rule.settled_answer("abc") is None  # a number may still come
    assert AnswerRule(None, "\n").settled_answer("\nabc") is None  # index-0 quirk: no cut yet
    assert AnswerRule(None, "\n").settled_answer("abc\nd") == "abc\n"
    assert AnswerRule(r"\d+\.?\d*", None).settled_answer("12 x") is None  # unknown shape: wait


def test_a_pending_stop_sequence_tail_is_not_trusted() -> None:
    rule = AnswerRule(NUMBER, None, stop_sequences=("Q:",))
    # "12 Q" may become "12 Q:" (cut at 3) or "12 Qx"; the answer is 12 either way, but the
    # trailing "Q" must not be what settles it: "1Q" must wait ("1Q:" -> "1", "1Q2" -> "1").
    assert rule.settled_answer("12 Q") == "12"
    assert rule.settled_answer("1Q") is None


@pytest.mark.parametrize(
    "rule",
    [
        AnswerRule(NUMBER, None),
        AnswerRule(DEFAULT_OUTPUT_REGEX, None),
        AnswerRule(None, "\n"),
        AnswerRule(NUMBER, "\n"),
        AnswerRule(NUMBER, None, stop_sequences=("\n",)),
        AnswerRule(DEFAULT_OUTPUT_REGEX, None, stop_sequences=("Q:", "\n\n")),
        AnswerRule(None, "\n", stop_sequences=("ab", "b")),
    ],
    ids=repr,
)
def test_a_settled_answer_survives_every_continuation(rule: AnswerRule) -> None:
    """Fuzz: whenever a prefix settles, no continuation changes the final answer."""
    alphabet = ["1", "2", "-", "+", " ", "\n", ".", "a", "b", "Q", ":", "?"]
    generator = random.Random(0)
    settled_count = 0
    for _ in range(3000):
        prefix = "".join(generator.choice(alphabet) for _ in range(generator.randrange(0, 8)))
        settled = rule.settled_answer(prefix)
        if settled is None:
            continue
        settled_count += 1
        for _ in range(20):
            tail = "".join(generator.choice(alphabet) for _ in range(generator.randrange(0, 8)))
            assert rule.answer(prefix + tail) == settled, (prefix, tail)
    assert settled_count > 100  # the rule does settle often enough to matter
