"""The fast path: greedy answers read off the teacher-forced scoring pass (engine.py, step 2).

A `FastPath` holds each example's plan and the answers settled so far. Given one example's
continuation scores (requests.ContinuationScore: argmax tokens and their margins) it replays the
greedy tokens those scores already determine through the same `GreedyJudge` the decoding loop
uses, and either settles the answer (exactly greedy generation's) or says where decoding must
resume. No model and no torch: tests feed it synthetic scores (tests/evaluation/test_planning.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sources.evaluation.greedy import GreedyJudge, GreedyState
from sources.evaluation.planning import ExamplePlan
from sources.evaluation.requests import ContinuationScore


@dataclass
class Replay:
    state: GreedyState  # after the known tokens
    visible: int  # context + row tokens that are greedy's prefix (to resume decoding from)
    feed_token: int  # the token decoding processes next, at logical position `visible`


def replay_known_greedy_prefix(
    judge: GreedyJudge,
    context: tuple[int, ...],
    row: tuple[int, ...],
    skip: int,
    score: ContinuationScore,
    tie_margin: float,
) -> Replay:
    """Replay the greedy tokens the teacher-forced pass already determines.

    `row` is the generation tail (the first `skip` tokens: the rest of the generation context)
    followed by a target's own tokens. At row position i the pass gives the argmax after
    ``context + row[:i]``; for i >= skip that is greedy's token for as long as greedy has
    reproduced ``row[skip:i]``. Each known token goes through the judge. The replay stops at the
    first argmax that differs from the row (later positions are conditioned on the row, not on
    greedy's token): decoding resumes by feeding that token. At an argmax whose margin is below
    `tie_margin` it stops before using it: decoding recomputes that position by re-feeding the
    token before it.
    """
    state = judge.new_state()
    for position in range(skip, len(score.greedy_ids)):
        token = score.greedy_ids[position]
        if score.greedy_margins[position] < tie_margin:
            if position == 0:
                return Replay(state, len(context) - 1, context[-1])
            return Replay(state, len(context) + position - 1, row[position - 1])
        if judge.step(state, token):
            return Replay(state, -1, -1)
        if position < len(row) and token != row[position]:
            return Replay(state, len(context) + position, token)
    return Replay(state, len(context) + len(row), score.greedy_ids[-1])


class FastPath:
    """Answers settled from teacher-forced scores, per example index, and how many there were."""

    def __init__(self, plans: Sequence[ExamplePlan], judge: GreedyJudge, tie_margin: float) -> None:
        self.plans, self.judge, self.tie_margin = plans, judge, tie_margin
        self.answers: list[str | None] = [None] * len(plans)
        self.n_fast = 0

    def replay(self, i: int, scores_i: list[ContinuationScore]) -> tuple[int, Replay] | None:
        """Settle example i from its teacher-forced rows (`answers[i]` set, None returned), or
        return the row and replay from which decoding resumes furthest (None: no greedy rows)."""
        plan = self.plans[i]
        best: tuple[int, Replay] | None = None
        for row in plan.greedy_rows:
            result = replay_known_greedy_prefix(
                self.judge,
                plan.request.context_ids,
                plan.request.continuations[row],
                plan.tail,
                scores_i[row],
                self.tie_margin,
            )
            if result.state.finished:
                self.answers[i] = result.state.answer
                self.n_fast += 1
                return None
            if best is None or len(result.state.ids) > len(best[1].state.ids):
                best = (row, result)
        return best

    def settle_batch(
        self,
        indices: list[int],
        batch_scores: list[list[ContinuationScore]],
        can_resume: bool,
    ) -> tuple[list[tuple[int, int, int, Replay]], list[int]]:
        """One scored batch: the examples to resume from the batch's KV cache, as
        (position in batch, example, row, replay), and those to decode from scratch."""
        resumes: list[tuple[int, int, int, Replay]] = []
        from_scratch: list[int] = []
        for b, i in enumerate(indices):
            best = self.replay(i, batch_scores[b])
            if self.answers[i] is not None:
                continue
            if best is None or not can_resume:
                from_scratch.append(i)
            else:
                resumes.append((b, i, *best))
        return resumes, from_scratch
