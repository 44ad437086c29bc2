"""Request planning (context truncation) and the fast path, from token lists and synthetic scores.

No model and no torch: planning.py, fast_path.py and requests.py are plain Python.
"""

from __future__ import annotations

import pytest

from sources.evaluation.answers import AnswerRule
from sources.evaluation.fast_path import FastPath
from sources.evaluation.greedy import GreedyJudge
from sources.evaluation.planning import plan_example
from sources.evaluation.requests import ContinuationScore

EOS = 0


def _plan(
    context, scored, generation=None, alone=(), *, generative=False, fast=True, length=100, new=4
):
    return plan_example(
        list(context),
        [list(r) for r in scored],
        list(generation if generation is not None else []),
        [list(t) for t in alone],
        generative,
        fast,
        length,
        new,
    )


def test_a_context_that_fits_is_kept_whole_and_rows_are_deduplicated() -> None:
    plan, cut = _plan(range(1, 11), [(7, 8), (9,), (7, 8)])
    assert not cut and plan.request.context_ids == tuple(range(1, 11))
    # The target is also the second option: one row scored, used twice.
    assert plan.request.continuations == ((7, 8), (9,))
    assert plan.target_row == 0 and plan.choice_rows == [1, 0]


def test_a_long_context_is_cut_from_the_left_to_leave_room_for_the_longest_row() -> None:
    plan, cut = _plan(range(50), [(1, 2, 3), (4, 5, 6, 7, 8)], length=20)
    assert cut
    assert plan.request.context_ids == tuple(range(35, 50))  # the last 15 tokens: 15 + 5 = 20
    assert len(plan.request.context_ids) + 5 == 20


def test_generation_keeps_room_for_the_new_tokens_and_stays_aligned_with_scoring() -> None:
    context = list(range(1, 31))
    generation = [*context, 99]  # the generation context ends one token later (a space, say)
    plan, cut = _plan(context, [(7, 8)], generation, [(7, 8)], generative=True, length=20, new=4)
    assert cut and plan.tail == 1
    # Room for the tail and 4 new tokens: 20 - max(3, 1 + 4) = 15 context tokens.
    assert plan.request.context_ids == tuple(range(16, 31))
    assert plan.generation_ids == [*range(16, 31), 99]
    assert len(plan.generation_ids) + 4 <= 20
    assert plan.request.continuations[plan.greedy_rows[0]] == (99, 7, 8)


def test_a_generation_context_decoded_on_its_own_is_cut_and_flagged() -> None:
    # Without the fast path the generation context is decoded separately; it is 2 tokens too long
    # for 4 new tokens even though the scoring context fits.
    plan, cut = _plan(range(10), [(1,)], range(18), [(1,)], generative=True, fast=False, length=20)
    assert plan.request.context_ids == tuple(range(10)) and plan.greedy_rows == []
    assert cut and plan.generation_ids == list(range(2, 18))


def test_a_row_longer_than_the_window_still_keeps_one_context_token() -> None:
    plan, cut = _plan(range(10), [tuple(range(30))], length=20)
    assert cut and plan.request.context_ids == (9,)


def _judge() -> GreedyJudge:
    return GreedyJudge(
        rule=AnswerRule(output_regex=None, stop_string=None),
        decode_many=lambda rows: ["".join(chr(96 + t) for t in row) for row in rows],
        eos_token_ids=frozenset({EOS}),
        max_new_tokens=8,
    )


def _fast_path(greedy_ids, margins, tie_margin=1e-3):
    """One example: context (5, 6), target 'ab' = (1, 2), generation context = scoring context."""
    plan, _ = _plan((5, 6), [(1, 2)], (5, 6), [(1, 2)], generative=True)
    scores = [ContinuationScore([-0.1, -0.2], list(greedy_ids), list(margins))]
    return FastPath([plan], _judge(), tie_margin), scores


def test_greedy_that_follows_the_target_then_stops_is_settled_without_decoding() -> None:
    fast, scores = _fast_path([1, 2, EOS], [5.0, 5.0, 5.0])
    resumes, from_scratch = fast.settle_batch([0], [scores], can_resume=True)
    assert resumes == [] and from_scratch == []
    assert fast.answers == [_judge().rule.answer("ab")] and fast.n_fast == 1


def test_greedy_that_leaves_the_target_resumes_after_the_first_different_token() -> None:
    fast, scores = _fast_path([1, 3, 4], [5.0, 5.0, 5.0])
    (resume,), from_scratch = fast.settle_batch([0], [scores], can_resume=True)
    b, example, row, replay = resume
    assert (b, example, from_scratch) == (0, 0, [])
    # Known greedy tokens: 1 (= the target's first), then 3 (the argmax that differs).
    assert replay.state.ids == [1, 3] and replay.feed_token == 3 and replay.visible == 3
    assert fast.answers == [None] and fast.n_fast == 0


def test_an_argmax_closer_than_the_tie_margin_is_not_trusted() -> None:
    fast, scores = _fast_path([1, 2, EOS], [5.0, 1e-4, 5.0])
    ((_, _, _, replay),), _ = fast.settle_batch([0], [scores], can_resume=True)
    # Stops before using token 2: decoding recomputes position 1 by re-feeding token 1.
    assert replay.state.ids == [1] and replay.feed_token == 1 and replay.visible == 2


@pytest.mark.parametrize("can_resume", [False, True])
def test_without_a_cache_to_resume_from_or_greedy_rows_the_example_is_decoded(can_resume) -> None:
    fast, scores = _fast_path([1, 3, 4], [5.0, 5.0, 5.0])
    resumes, from_scratch = fast.settle_batch([0], [scores], can_resume=can_resume)
    assert (len(resumes), from_scratch) == ((1, []) if can_resume else (0, [0]))
    plan, _ = _plan((5, 6), [(1, 2)], (5, 6), [(1, 2)], generative=True, fast=False)
    no_rows = FastPath([plan], _judge(), 1e-3)
    assert no_rows.settle_batch([0], [scores], can_resume=True) == ([], [0])
