"""What the engine asks a model (ScoringRequest) and what it gets back (ContinuationScore).

Torch-free, so that request planning (planning.py) and the fast path (fast_path.py) can be built
and tested from plain token lists and synthetic scores, without a model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoringRequest:
    """One context, encoded once, and the continuations scored behind it."""

    context_ids: tuple[int, ...]
    continuations: tuple[tuple[int, ...], ...]


@dataclass
class ContinuationScore:
    token_logprobs: list[float]  # n values: log p(y_i | context, y_<i)
    greedy_ids: list[int]  # n + 1 values: argmax after the context, after y_1, ..., after y_n
    greedy_margins: list[float]  # n + 1 values: top-1 minus top-2 logit at the same positions
    # log p(the next token ends the answer | context, y_1..y_n): the probability mass on the
    # scorer's `end_ids` after the last token; None when no end tokens were asked for.
    end_logprob: float | None = None

    @property
    def logprob(self) -> float:
        return float(sum(self.token_logprobs))
