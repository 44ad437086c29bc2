"""Teacher-forced scoring of continuations: log-probabilities, greedy tokens and their margins.

`score_shared` encodes each context once and scores all of its continuations (the multiple-choice
options, the targets) from that encoding: the contexts of a batch go through the model once
(right-padded) with a KV cache, the cache rows are repeated per continuation
(``Cache.reorder_cache`` with repeated indices), and the continuations run as one batch on top of
it, with position ids continuing from each context's true length and the padding masked. Work per
example is one context plus the continuation tokens, instead of one context per continuation.

`score_flat` is the naive reference (one sequence ``context + continuation`` per row, as
lm-evaluation-harness computes it); tests check that both agree.

For each continuation y_1..y_n both return, at the n+1 positions "after the context" and "after
y_i": log p(y_i), the argmax token and the gap between the two largest logits (the margin the fast
path uses to decide whether an argmax is safe to trust).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from sources.evaluation.batching import pack_by_token_budget
from sources.evaluation.model import LoadedModel


@dataclass(frozen=True)
class ScoringRequest:
    context_ids: tuple[int, ...]
    continuations: tuple[tuple[int, ...], ...]


@dataclass
class ContinuationScore:
    token_logprobs: list[float]  # n values: log p(y_i | context, y_<i)
    greedy_ids: list[int]  # n + 1 values: argmax after the context, after y_1, ..., after y_n
    greedy_margins: list[float]  # n + 1 values: top-1 minus top-2 logit at the same positions

    @property
    def logprob(self) -> float:
        return float(sum(self.token_logprobs))


@dataclass
class SharedBatch:
    """One batch's KV cache after its continuation pass, kept so generation can go on from it.

    Physical cache slots per row: ``longest_context`` context slots (right-padded), then
    ``longest_continuation`` continuation slots (right-padded). Row `row_of[(b, j)]` holds context b
    followed by its continuation j.
    """

    cache: object
    context_lengths: list[int]
    longest_context: int
    longest_continuation: int
    row_of: dict[tuple[int, int], int]


AfterBatch = Callable[[list[int], list[list["ContinuationScore"]], SharedBatch | None], None]


@dataclass
class WorkCounter:
    """Tokens the model processed (padding excluded) and forward passes made."""

    tokens: int = 0
    forward_passes: int = 0


Progress = Callable[[int], None]


def _top2(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values, indices = torch.topk(logits, k=min(2, logits.shape[-1]), dim=-1)
    if values.shape[-1] == 1:
        return indices[..., 0], torch.full_like(values[..., 0], float("inf"))
    return indices[..., 0], values[..., 0] - values[..., 1]


def score_shared(
    loaded: LoadedModel,
    requests: list[ScoringRequest],
    token_budget: int,
    counter: WorkCounter | None = None,
    on_batch_done: Progress | None = None,
    after_batch: AfterBatch | None = None,
) -> list[list[ContinuationScore]]:
    """Scores of every continuation of every request, each context encoded once.

    `after_batch(indices, scores, shared)` runs after each batch, while its KV cache is alive
    (`shared` is None when the batch had no non-empty continuation).
    """
    counter = counter or WorkCounter()
    results: list[list[ContinuationScore] | None] = [None] * len(requests)

    def cost(batch: list[int]) -> int:
        longest_context = max(len(requests[i].context_ids) for i in batch)
        rows = sum(len(requests[i].continuations) for i in batch)
        longest_continuation = max(
            (len(c) for i in batch for c in requests[i].continuations), default=0
        )
        return len(batch) * longest_context + rows * (longest_context + longest_continuation)

    lengths = [
        len(r.context_ids) + max((len(c) for c in r.continuations), default=0) for r in requests
    ]
    for batch in pack_by_token_budget(lengths, token_budget, cost):
        batch_scores, shared = _score_shared_batch(loaded, [requests[i] for i in batch], counter)
        for index, scores in zip(batch, batch_scores, strict=True):
            results[index] = scores
        if after_batch:
            after_batch(batch, batch_scores, shared)
        if on_batch_done:
            on_batch_done(len(batch))
    return [r if r is not None else [] for r in results]


@torch.inference_mode()
def _score_shared_batch(
    loaded: LoadedModel, batch: list[ScoringRequest], counter: WorkCounter
) -> tuple[list[list[ContinuationScore]], SharedBatch | None]:
    device = loaded.device
    context_lengths = [len(r.context_ids) for r in batch]
    if min(context_lengths) == 0:
        raise ValueError("a context encodes to zero tokens; nothing to condition on")
    longest = max(context_lengths)
    input_ids = torch.full((len(batch), longest), loaded.pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(batch), longest), dtype=torch.long)
    for row, request in enumerate(batch):
        input_ids[row, : len(request.context_ids)] = torch.tensor(request.context_ids)
        attention[row, : len(request.context_ids)] = 1
    input_ids, attention = input_ids.to(device), attention.to(device)
    positions = torch.arange(longest, device=device).unsqueeze(0).expand(len(batch), -1)
    last = torch.tensor([n - 1 for n in context_lengths], device=device)
    extra = {}
    if loaded.accepts_logits_to_keep:
        keep = torch.unique(last)
        extra["logits_to_keep"] = keep
    output = loaded.forward(
        input_ids=input_ids,
        attention_mask=attention,
        position_ids=positions,
        use_cache=True,
        **extra,
    )
    counter.tokens += sum(context_lengths)
    counter.forward_passes += 1
    logits = output.logits
    if loaded.accepts_logits_to_keep:
        column = torch.searchsorted(extra["logits_to_keep"], last)
    else:
        column = last
    first_logits = logits[torch.arange(len(batch), device=device), column].float()  # [B, V]
    first_logprobs = torch.log_softmax(first_logits, dim=-1)
    first_argmax, first_margin = _top2(first_logits)

    rows = [(b, j) for b, r in enumerate(batch) for j, c in enumerate(r.continuations) if c]
    per_row: dict[tuple[int, int], tuple[list[float], list[int], list[float]]] = {}
    shared: SharedBatch | None = None
    if rows:
        cache = loaded.output_cache(output)
        row_context = torch.tensor([b for b, _ in rows], device=device)
        longest_continuation = max(len(batch[b].continuations[j]) for b, j in rows)
        continuation_ids = torch.full(
            (len(rows), longest_continuation), loaded.pad_token_id, dtype=torch.long
        )
        continuation_mask = torch.zeros((len(rows), longest_continuation), dtype=torch.long)
        for r, (b, j) in enumerate(rows):
            tokens = batch[b].continuations[j]
            continuation_ids[r, : len(tokens)] = torch.tensor(tokens)
            continuation_mask[r, : len(tokens)] = 1
        continuation_ids = continuation_ids.to(device)
        continuation_mask = continuation_mask.to(device)
        cache.reorder_cache(row_context)
        mask = torch.cat([attention[row_context], continuation_mask], dim=1)
        context_length = torch.tensor(context_lengths, device=device)[row_context]
        positions = context_length.unsqueeze(1) + torch.arange(longest_continuation, device=device)
        output2 = loaded.forward(
            input_ids=continuation_ids,
            attention_mask=mask,
            position_ids=positions,
            kv_cache=cache,
            use_cache=True,
        )
        counter.tokens += int(continuation_mask.sum())
        counter.forward_passes += 1
        logits2 = output2.logits.float()  # [R, Lt, V]
        logprobs2 = torch.log_softmax(logits2, dim=-1)
        argmax2, margin2 = _top2(logits2)
        first_token = continuation_ids[:, 0]
        lp_first = first_logprobs[row_context, first_token]
        if longest_continuation > 1:
            lp_rest = (
                logprobs2[:, :-1, :].gather(-1, continuation_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            )
        else:
            lp_rest = torch.zeros((len(rows), 0), device=device)
        lp_first, lp_rest = lp_first.tolist(), lp_rest.tolist()
        argmax2, margin2 = argmax2.tolist(), margin2.tolist()
        for r, (b, j) in enumerate(rows):
            n = len(batch[b].continuations[j])
            per_row[(b, j)] = ([lp_first[r], *lp_rest[r][: n - 1]], argmax2[r][:n], margin2[r][:n])
        shared = SharedBatch(
            cache=loaded.output_cache(output2) or cache,
            context_lengths=context_lengths,
            longest_context=longest,
            longest_continuation=longest_continuation,
            row_of={key: r for r, key in enumerate(rows)},
        )

    first_argmax_list, first_margin_list = first_argmax.tolist(), first_margin.tolist()
    scores: list[list[ContinuationScore]] = []
    for b, request in enumerate(batch):
        example_scores = []
        for j, _ in enumerate(request.continuations):
            lps, argmaxes, margins = per_row.get((b, j), ([], [], []))
            example_scores.append(
                ContinuationScore(
                    token_logprobs=lps,
                    greedy_ids=[first_argmax_list[b], *argmaxes],
                    greedy_margins=[first_margin_list[b], *margins],
                )
            )
        scores.append(example_scores)
    return scores, shared


def score_flat(
    loaded: LoadedModel,
    requests: list[ScoringRequest],
    token_budget: int,
    counter: WorkCounter | None = None,
    on_batch_done: Progress | None = None,
) -> list[list[ContinuationScore]]:
    """The naive reference: each continuation scored with its own full copy of the context."""
    counter = counter or WorkCounter()
    flat = [(i, j) for i, r in enumerate(requests) for j in range(len(r.continuations))]
    sequences = [requests[i].context_ids + requests[i].continuations[j] for i, j in flat]
    results: list[ContinuationScore | None] = [None] * len(flat)
    for batch in pack_by_token_budget([len(s) for s in sequences], token_budget):
        with torch.inference_mode():
            longest = max(len(sequences[k]) for k in batch)
            ids = torch.full((len(batch), longest), loaded.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(batch), longest), dtype=torch.long)
            for row, k in enumerate(batch):
                ids[row, : len(sequences[k])] = torch.tensor(sequences[k])
                mask[row, : len(sequences[k])] = 1
            ids, mask = ids.to(loaded.device), mask.to(loaded.device)
            positions = (
                torch.arange(longest, device=loaded.device).unsqueeze(0).expand(len(batch), -1)
            )
            logits = loaded.forward(
                input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False
            ).logits.float()
            counter.tokens += int(mask.sum())
            counter.forward_passes += 1
            logprobs = torch.log_softmax(logits, dim=-1)
            argmax, margin = _top2(logits)
            for row, k in enumerate(batch):
                i, j = flat[k]
                start = len(requests[i].context_ids) - 1
                continuation = requests[i].continuations[j]
                n = len(continuation)
                token_lps = [float(logprobs[row, start + t, continuation[t]]) for t in range(n)]
                results[k] = ContinuationScore(
                    token_logprobs=token_lps,
                    greedy_ids=argmax[row, start : start + n + 1].tolist(),
                    greedy_margins=margin[row, start : start + n + 1].tolist(),
                )
        if on_batch_done:
            on_batch_done(len({flat[k][0] for k in batch}))
    grouped: list[list[ContinuationScore]] = [[] for _ in requests]
    for (i, _), score in zip(flat, results, strict=True):
        assert score is not None
        grouped[i].append(score)
    return grouped
