"""Batches packed by a token budget, longest first, so that results never depend on batching.

Longest first (as lm-evaluation-harness does) makes an out-of-memory error show in the first batch
instead of after an hour. Each batch holds item indices; callers scatter results back by index, so
the output order is always the input order whatever the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def pack_by_token_budget(
    lengths: Sequence[int],
    token_budget: int,
    padded_cost: Callable[[list[int]], int] | None = None,
) -> list[list[int]]:
    """Group item indices into batches whose padded token count stays within `token_budget`.

    `lengths[i]` is item i's sequence length; items are sorted by length, longest first (ties by
    index, so the packing is deterministic). By default a batch costs ``len(batch) * longest``
    (right-padded rectangle); `padded_cost` may replace that. A single item larger than the budget
    still forms its own batch.
    """
    if token_budget <= 0:
        raise ValueError(f"token_budget must be positive, got {token_budget}")
    cost = padded_cost or (lambda batch: len(batch) * max(lengths[i] for i in batch))
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        candidate = [*current, index]
        if current and cost(candidate) > token_budget:
            batches.append(current)
            current = [index]
        else:
            current = candidate
    if current:
        batches.append(current)
    return batches


def right_padded(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[Any, Any]:
    """Token ids ``[N, longest]`` padded on the right with `pad_id`, and the 0/1 mask of real tokens."""
    import torch

    longest = max((len(s) for s in sequences), default=0)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, tokens in enumerate(sequences):
        ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, : len(tokens)] = 1
    return ids, mask
