"""Batched greedy decoding with a KV cache, stopping each row as soon as its answer is fixed.

Plain argmax decoding (no logits processors, no sampling): the behaviour of
``model.generate(do_sample=False, num_beams=1)``, which tests check against. Rows leave the batch
(their cache rows are dropped) when `GreedyJudge` says they are finished: at EOS, at
``max_new_tokens``, or when the answer can no longer change.

Two entry points:

- `greedy_decode` starts from token ids: one prefill of the right-padded contexts, then steps;
- `continue_greedy` goes on from the KV cache of a scoring batch (scoring.SharedBatch), where the
  context and the target are already encoded. A row resumes with only the first `visible` tokens
  of its context + continuation visible (every other slot masked out: padding, the other
  continuations, the rest of this one) and feeds the token greedy decoding would process next at
  logical position `visible`. Masked slots get zero attention weight, so this computes what
  decoding from scratch computes, without encoding the context again.

Positions continue each row's own length and padding stays masked, so a row's tokens do not depend
on the other rows of its batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from sources.evaluation.batching import pack_by_token_budget
from sources.evaluation.greedy import GreedyJudge, GreedyState
from sources.evaluation.model import LoadedModel
from sources.evaluation.scoring import SharedBatch, WorkCounter, encode_contexts


@dataclass
class Resume:
    """Where one example's greedy decoding resumes inside a scoring batch's cache."""

    example: int  # index of the example within the scoring batch (its context)
    continuation: int  # index of the continuation whose cache row is reused
    visible: int  # context + continuation slots that are part of greedy's prefix
    feed_token: int  # the token to process next (already judged), at logical position `visible`
    state: GreedyState


def greedy_decode(
    loaded: LoadedModel,
    contexts: list[list[int]],
    judge: GreedyJudge,
    token_budget: int,
    counter: WorkCounter | None = None,
    on_batch_done: Callable[[int], None] | None = None,
    skip: Callable[[list[int]], bool] | None = None,
    after_batch: Callable[[list[int], list[GreedyState]], None] | None = None,
) -> list[GreedyState | None]:
    """Finished `GreedyState` per context, in input order (None for the batches `skip` skipped:
    their answers are known from a checkpoint). `after_batch(indices, states)` follows each batch."""
    counter = counter or WorkCounter()
    states: list[GreedyState | None] = [None] * len(contexts)
    lengths = [len(c) + judge.max_new_tokens for c in contexts]
    for batch in pack_by_token_budget(lengths, token_budget):
        if skip is None or not skip(batch):
            finished = _decode_from_scratch(loaded, [contexts[i] for i in batch], judge, counter)
            for index, state in zip(batch, finished, strict=True):
                states[index] = state
            if after_batch:
                after_batch(batch, finished)
        if on_batch_done:
            on_batch_done(len(batch))
    return states


@torch.inference_mode()
def _decode_from_scratch(
    loaded: LoadedModel, contexts: list[list[int]], judge: GreedyJudge, counter: WorkCounter
) -> list[GreedyState]:
    device = loaded.device
    lengths = [len(c) for c in contexts]
    if min(lengths) == 0:
        raise ValueError("a context encodes to zero tokens; nothing to condition on")
    output, mask, last_logits = encode_contexts(loaded, contexts, counter)
    first = last_logits.argmax(-1).tolist()
    states = [judge.new_state() for _ in contexts]
    done = judge.step_many(states, first)
    going = [row for row in range(len(contexts)) if not done[row]]
    if going:
        keep = torch.tensor(going, device=device)
        cache = loaded.output_cache(output)
        cache.reorder_cache(keep)
        _greedy_loop(
            loaded,
            cache,
            mask[keep],
            torch.tensor([lengths[r] for r in going], device=device),
            [first[r] for r in going],
            [states[r] for r in going],
            judge,
            counter,
        )
    return states


@torch.inference_mode()
def continue_greedy(
    loaded: LoadedModel,
    shared: SharedBatch,
    resumes: list[Resume],
    judge: GreedyJudge,
    counter: WorkCounter | None = None,
) -> None:
    """Finish every `Resume` in place (its `state` gets the answer) from the batch's cache."""
    counter = counter or WorkCounter()
    if not resumes:
        return
    device = loaded.device
    layouts = [shared.layout[(r.example, r.continuation)] for r in resumes]
    shared.cache.reorder_cache(torch.tensor([row.cache_row for row in layouts], device=device))
    mask = torch.zeros((len(resumes), shared.total_slots), dtype=torch.long)
    for i, (resume, row) in enumerate(zip(resumes, layouts, strict=True)):
        context_visible = min(resume.visible, row.context_length)
        mask[i, row.context_start : row.context_start + context_visible] = 1
        continuation_visible = resume.visible - row.context_length
        if continuation_visible > 0:
            start = row.continuation_start
            mask[i, start : start + continuation_visible] = 1
    _greedy_loop(
        loaded,
        shared.cache,
        mask.to(device),
        torch.tensor([r.visible for r in resumes], device=device),
        [r.feed_token for r in resumes],
        [r.state for r in resumes],
        judge,
        counter,
    )


def _greedy_loop(
    loaded: LoadedModel,
    cache: object,
    mask: torch.Tensor,
    positions: torch.Tensor,
    feed: list[int],
    states: list[GreedyState],
    judge: GreedyJudge,
    counter: WorkCounter,
) -> None:
    """Feed `feed[i]` at `positions[i]` for every row, judge the argmax, repeat until all finish."""
    device = loaded.device
    active = list(range(len(states)))
    while active:
        mask = torch.cat(
            [mask, torch.ones((len(active), 1), dtype=mask.dtype, device=device)], dim=1
        )
        output = loaded.forward(
            input_ids=torch.tensor(feed, device=device).unsqueeze(1),
            attention_mask=mask,
            position_ids=positions.unsqueeze(1),
            kv_cache=cache,
            use_cache=True,
        )
        counter.tokens += len(active)
        counter.forward_passes += 1
        cache = loaded.output_cache(output) or cache
        chosen = output.logits[:, -1].argmax(-1).tolist()
        done = judge.step_many([states[i] for i in active], chosen)
        going = [row for row in range(len(active)) if not done[row]]

        if len(going) < len(active):
            if not going:
                return
            keep = torch.tensor(going, device=device)
            cache.reorder_cache(keep)
            mask = mask[keep]
            positions = positions[keep]
        active = [active[row] for row in going]
        feed = [chosen[row] for row in going]
        positions = positions + 1
