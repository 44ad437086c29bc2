"""Teacher-forced scoring of continuations: log-probabilities, greedy tokens and their margins.

Three ways to compute the same numbers (tests check they agree):

`score_packed` (the default): one forward pass per batch, one sequence per example holding the
context once followed by all of its continuations (options, targets). A custom attention mask makes
each continuation see the context and its own earlier tokens only, and its position ids restart
where the context ends, so each continuation is scored exactly as if it followed the context
alone. Contexts are left-padded so that every example's continuations start at the same slot and
only those logits are computed (``logits_to_keep``). Padding slots see only themselves (no empty
softmax rows) and nothing sees them. Work per example: context + continuation tokens, in one call.

`score_kv_cache` (fallback for models that do not accept a custom 4D mask, or that use sliding
windows): the contexts of a batch are encoded once (right-padded) with a KV cache, its rows are
repeated per continuation and the continuations run as one batch on top of it.

`score_flat` is the naive reference: one sequence ``context + continuation`` per row, as
lm-evaluation-harness computes it.

For each continuation y_1..y_n all return, at the n+1 positions "after the context" and "after
y_i": log p(y_i), the argmax token and the gap between the two largest logits (the margin the fast
path uses to decide whether an argmax is safe to trust). The packed and KV-cache scorers keep each
batch's cache alive for an `after_batch` hook (`SharedBatch`), from which greedy decoding can
resume without encoding the context again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sources.evaluation.batching import pack_by_token_budget, right_padded
from sources.evaluation.model import LoadedModel
from sources.evaluation.requests import ContinuationScore, ScoringRequest

__all__ = ["ContinuationScore", "ScoringRequest", "score_flat", "score_kv_cache", "score_packed"]


@dataclass(frozen=True)
class RowLayout:
    """Where continuation j of example b lives in a batch's KV cache."""

    cache_row: int
    context_start: int  # first cache slot of the context
    context_length: int
    continuation_start: int  # cache slot of the continuation's first token


@dataclass
class SharedBatch:
    """A scored batch's KV cache, kept alive so that generation can go on from it."""

    cache: object
    total_slots: int
    layout: dict[tuple[int, int], RowLayout]  # (example in batch, continuation) -> slots


AfterBatch = Callable[[list[int], list[list[ContinuationScore]], SharedBatch | None], None]
Progress = Callable[[int], None]
# Given a batch's example indices: True when its results are already known (a checkpoint of an
# interrupted run); the batch is then not run and its examples get no scores here.
SkipBatch = Callable[[list[int]], bool]


@dataclass
class WorkCounter:
    """Tokens the model processed (padding excluded) and forward passes made."""

    tokens: int = 0
    forward_passes: int = 0


def _top2(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values, indices = torch.topk(logits, k=min(2, logits.shape[-1]), dim=-1)
    if values.shape[-1] == 1:
        return indices[..., 0], torch.full_like(values[..., 0], float("inf"))
    return indices[..., 0], values[..., 0] - values[..., 1]


def _check_contexts(batch: list[ScoringRequest]) -> None:
    if any(not r.context_ids for r in batch):
        raise ValueError("a context encodes to zero tokens; nothing to condition on")


def _run_batches(
    requests: list[ScoringRequest],
    token_budget: int,
    cost: Callable[[list[int]], int],
    lengths: list[int],
    score_batch: Callable[
        [list[ScoringRequest]], tuple[list[list[ContinuationScore]], SharedBatch | None]
    ],
    on_batch_done: Progress | None,
    after_batch: AfterBatch | None,
    skip: SkipBatch | None = None,
) -> list[list[ContinuationScore]]:
    results: list[list[ContinuationScore]] = [[] for _ in requests]
    for batch in pack_by_token_budget(lengths, token_budget, cost):
        if skip is not None and skip(batch):
            if on_batch_done:
                on_batch_done(len(batch))
            continue
        batch_scores, shared = score_batch([requests[i] for i in batch])
        for index, scores in zip(batch, batch_scores, strict=True):
            results[index] = scores
        if after_batch:
            after_batch(batch, batch_scores, shared)
        if on_batch_done:
            on_batch_done(len(batch))
    return results


# -- packed: context once, continuations after it, custom attention mask ----------------------


def score_packed(
    loaded: LoadedModel,
    requests: list[ScoringRequest],
    token_budget: int,
    counter: WorkCounter | None = None,
    on_batch_done: Progress | None = None,
    after_batch: AfterBatch | None = None,
    skip: SkipBatch | None = None,
    end_ids: Sequence[int] = (),
) -> list[list[ContinuationScore]]:
    """Scores of every continuation, each example one sequence (see the module docstring)."""
    counter = counter or WorkCounter()
    spans = [sum(len(c) for c in r.continuations) for r in requests]
    lengths = [len(r.context_ids) + span for r, span in zip(requests, spans, strict=True)]

    def cost(batch: list[int]) -> int:
        width = max(len(requests[i].context_ids) for i in batch) + max(spans[i] for i in batch)
        return len(batch) * width

    return _run_batches(
        requests,
        token_budget,
        cost,
        lengths,
        lambda batch: _score_packed_batch(loaded, batch, counter, end_ids),
        on_batch_done,
        after_batch,
        skip,
    )


@torch.inference_mode()
def _score_packed_batch(
    loaded: LoadedModel, batch: list[ScoringRequest], counter: WorkCounter, end_ids: Sequence[int]
) -> tuple[list[list[ContinuationScore]], SharedBatch]:
    _check_contexts(batch)
    device = loaded.device
    context_slots = max(len(r.context_ids) for r in batch)  # P: continuations start here
    span = max(sum(len(c) for c in r.continuations) for r in batch)  # T
    slots = context_slots + span
    # Built with numpy (cheap slice assignments), moved to the device once.
    ids = np.full((len(batch), slots), loaded.pad_token_id, dtype=np.int64)
    segment = np.full((len(batch), slots), -1, dtype=np.int64)  # -1 pad, 0 context, j+1 row j
    positions = np.zeros((len(batch), slots), dtype=np.int64)
    layout: dict[tuple[int, int], RowLayout] = {}
    for b, request in enumerate(batch):
        n_context = len(request.context_ids)
        start = context_slots - n_context
        ids[b, start:context_slots] = request.context_ids
        segment[b, start:context_slots] = 0
        positions[b, start:context_slots] = np.arange(n_context)
        offset = context_slots
        for j, continuation in enumerate(request.continuations):
            n = len(continuation)
            layout[(b, j)] = RowLayout(b, start, n_context, offset)
            if n:
                ids[b, offset : offset + n] = continuation
                segment[b, offset : offset + n] = j + 1
                positions[b, offset : offset + n] = np.arange(n_context, n_context + n)
            offset += n
    segment_t = torch.from_numpy(segment).to(device)
    query, key = segment_t[:, :, None], segment_t[:, None, :]
    causal = torch.ones((slots, slots), dtype=torch.bool, device=device).tril()
    # A context token sees earlier context; a continuation token sees the whole context and its
    # own earlier tokens; padding sees only itself (no empty softmax row) and nothing sees it.
    allowed = causal & (((key == 0) & (query >= 0)) | ((query == key) & (query > 0)))
    allowed |= torch.eye(slots, dtype=torch.bool, device=device)
    dtype = loaded.model.dtype
    mask = torch.where(
        allowed.unsqueeze(1),
        torch.zeros((), dtype=dtype, device=device),
        torch.tensor(torch.finfo(dtype).min, dtype=dtype, device=device),
    )
    extra = {"logits_to_keep": span + 1} if loaded.accepts_logits_to_keep else {}
    output = loaded.forward(
        input_ids=torch.from_numpy(ids).to(device),
        attention_mask=mask,
        position_ids=torch.from_numpy(positions).to(device),
        use_cache=True,
        **extra,
    )
    counter.tokens += int((segment >= 0).sum())
    counter.forward_passes += 1
    logits = output.logits[:, -(span + 1) :].float()  # [B, T+1, V]: after the context, then rows
    normaliser = torch.logsumexp(logits, dim=-1)  # [B, T+1]
    argmax, margin = _top2(logits)
    # Log-probability of each continuation token: column 0 predicts a row's first token, column
    # 1 + (offset - P) + i predicts token i + 1 of the row starting at slot `offset`.
    b_index: list[int] = []
    column_index: list[int] = []
    token_index: list[int] = []
    for (b, j), row in layout.items():
        continuation = batch[b].continuations[j]
        if not continuation:
            continue
        first_column = 1 + row.continuation_start - context_slots
        b_index.extend([b] * len(continuation))
        column_index.append(0)
        column_index.extend(range(first_column, first_column + len(continuation) - 1))
        token_index.extend(continuation)
    if b_index:
        rows_t = torch.tensor(b_index, device=device)
        columns_t = torch.tensor(column_index, device=device)
        picked = logits[rows_t, columns_t, torch.tensor(token_index, device=device)]
        token_logprobs = (picked - normaliser[rows_t, columns_t]).tolist()
    else:
        token_logprobs = []
    argmax_list, margin_list = argmax.tolist(), margin.tolist()
    # After a row's last token: column 0 for an empty row, else first_column + n - 1.
    last_columns = [
        (b, 1 + row.continuation_start - context_slots + n - 1 if n else 0)
        for (b, j), row in layout.items()
        for n in [len(batch[b].continuations[j])]
    ]
    end_lps = _end_logprobs(logits, normaliser, last_columns, end_ids)
    scores: list[list[ContinuationScore]] = [[] for _ in batch]
    cursor = 0
    for k, ((b, j), row) in enumerate(layout.items()):
        n = len(batch[b].continuations[j])
        first_column = 1 + row.continuation_start - context_slots
        argmax_row, margin_row = argmax_list[b], margin_list[b]
        scores[b].append(
            ContinuationScore(
                token_logprobs=token_logprobs[cursor : cursor + n],
                greedy_ids=[argmax_row[0], *argmax_row[first_column : first_column + n]],
                greedy_margins=[margin_row[0], *margin_row[first_column : first_column + n]],
                end_logprob=end_lps[k] if end_lps is not None else None,
            )
        )
        cursor += n
    shared = SharedBatch(loaded.output_cache(output), slots, layout)
    return scores, shared


def _end_logprobs(
    logits: torch.Tensor,
    normaliser: torch.Tensor,
    positions: list[tuple[int, int]],
    end_ids: Sequence[int],
) -> list[float] | None:
    """log of the probability mass on `end_ids` at each (row, column) of `logits` ``[B, T, V]``."""
    if not end_ids or not positions:
        return None
    device = logits.device
    rows = torch.tensor([b for b, _ in positions], device=device)
    columns = torch.tensor([c for _, c in positions], device=device)
    ids = torch.tensor(list(end_ids), device=device)
    picked = logits[rows, columns][:, ids]  # [R, E]
    return (torch.logsumexp(picked, dim=-1) - normaliser[rows, columns]).tolist()


def packed_scoring_works(loaded: LoadedModel) -> bool:
    """Whether this model honours a custom 4D attention mask: packed == flat on a small probe.

    Models with sliding-window attention are not packed (a custom mask replaces their window).
    """
    if any(
        getattr(loaded.model.config, name, None) for name in ("sliding_window", "attention_window")
    ):
        return False
    vocab = min(int(getattr(loaded.model.config, "vocab_size", 64) or 64), 64)
    probe = [
        ScoringRequest(
            (1 % vocab, 5 % vocab, 9 % vocab, 2 % vocab, 7 % vocab),
            ((3 % vocab, 4 % vocab), (8 % vocab,)),
        ),
        ScoringRequest(
            (6 % vocab, 2 % vocab),
            ((1 % vocab, 1 % vocab, 5 % vocab), (3 % vocab,), (9 % vocab, 4 % vocab)),
        ),
    ]
    tolerance = 1e-3 if loaded.dtype == "float32" else 5e-2
    try:
        packed = score_packed(loaded, probe, token_budget=1 << 20)
        flat = score_flat(loaded, probe, token_budget=1 << 20)
    except Exception:  # noqa: BLE001 - any failure means: do not use this path for this model
        return False
    for per_packed, per_flat in zip(packed, flat, strict=True):
        for a, b in zip(per_packed, per_flat, strict=True):
            if len(a.token_logprobs) != len(b.token_logprobs):
                return False
            if any(
                abs(x - y) > tolerance
                for x, y in zip(a.token_logprobs, b.token_logprobs, strict=True)
            ):
                return False
    return True


# -- KV cache: contexts once, cache rows repeated per continuation --------------------------------


def encode_contexts(
    loaded: LoadedModel, contexts: list[tuple[int, ...]] | list[list[int]], counter: WorkCounter
) -> tuple[object, torch.Tensor, torch.Tensor]:
    """One prefill of right-padded contexts with a KV cache (scoring and decoding from scratch).

    Returns the model output (its cache), the attention mask on the device and the logits after
    each context's last token (``[N, V]``); only those logits are computed where the model allows.
    """
    device = loaded.device
    ids, mask = right_padded(contexts, loaded.pad_token_id)
    ids, mask = ids.to(device), mask.to(device)
    positions = torch.arange(ids.shape[1], device=device).unsqueeze(0).expand(len(contexts), -1)
    last = torch.tensor([len(c) - 1 for c in contexts], device=device)
    extra = {}
    if loaded.accepts_logits_to_keep:
        extra["logits_to_keep"] = torch.unique(last)
    output = loaded.forward(
        input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **extra
    )
    counter.tokens += sum(len(c) for c in contexts)
    counter.forward_passes += 1
    column = torch.searchsorted(extra["logits_to_keep"], last) if extra else last
    return output, mask, output.logits[torch.arange(len(contexts), device=device), column]


def score_kv_cache(
    loaded: LoadedModel,
    requests: list[ScoringRequest],
    token_budget: int,
    counter: WorkCounter | None = None,
    on_batch_done: Progress | None = None,
    after_batch: AfterBatch | None = None,
    skip: SkipBatch | None = None,
    end_ids: Sequence[int] = (),
) -> list[list[ContinuationScore]]:
    """Scores of every continuation, each context encoded once and its cache shared."""
    counter = counter or WorkCounter()

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
    return _run_batches(
        requests,
        token_budget,
        cost,
        lengths,
        lambda batch: _score_kv_cache_batch(loaded, batch, counter, end_ids),
        on_batch_done,
        after_batch,
        skip,
    )


@torch.inference_mode()
def _score_kv_cache_batch(
    loaded: LoadedModel, batch: list[ScoringRequest], counter: WorkCounter, end_ids: Sequence[int]
) -> tuple[list[list[ContinuationScore]], SharedBatch | None]:
    _check_contexts(batch)
    device = loaded.device
    context_lengths = [len(r.context_ids) for r in batch]
    longest = max(context_lengths)
    output, attention, first_logits = encode_contexts(
        loaded, [r.context_ids for r in batch], counter
    )
    first_logits = first_logits.float()
    first_logprobs = torch.log_softmax(first_logits, dim=-1)
    first_argmax, first_margin = _top2(first_logits)

    rows = [(b, j) for b, r in enumerate(batch) for j, c in enumerate(r.continuations) if c]
    per_row: dict[tuple[int, int], tuple[list[float], list[int], list[float], float | None]] = {}
    shared: SharedBatch | None = None
    if rows:
        cache = loaded.output_cache(output)
        row_context = torch.tensor([b for b, _ in rows], device=device)
        continuation_ids, continuation_mask = right_padded(
            [batch[b].continuations[j] for b, j in rows], loaded.pad_token_id
        )
        longest_continuation = continuation_ids.shape[1]
        continuation_ids = continuation_ids.to(device)
        continuation_mask = continuation_mask.to(device)
        cache.reorder_cache(row_context)  # repeat each context's cache rows per continuation
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
        lp_first = first_logprobs[row_context, continuation_ids[:, 0]].tolist()
        if longest_continuation > 1:
            lp_rest = (
                logprobs2[:, :-1, :].gather(-1, continuation_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            ).tolist()
        else:
            lp_rest = [[] for _ in rows]
        argmax2_list, margin2_list = argmax2.tolist(), margin2.tolist()
        end_lps = _end_logprobs(
            logprobs2,
            torch.zeros(logprobs2.shape[:2], device=device),
            [(r, len(batch[b].continuations[j]) - 1) for r, (b, j) in enumerate(rows)],
            end_ids,
        )
        for r, (b, j) in enumerate(rows):
            n = len(batch[b].continuations[j])
            per_row[(b, j)] = (
                [lp_first[r], *lp_rest[r][: n - 1]],
                argmax2_list[r][:n],
                margin2_list[r][:n],
                end_lps[r] if end_lps is not None else None,
            )
        shared = SharedBatch(
            cache=loaded.output_cache(output2) or cache,
            total_slots=longest + longest_continuation,
            layout={
                key: RowLayout(r, 0, context_lengths[key[0]], longest) for r, key in enumerate(rows)
            },
        )

    first_argmax_list, first_margin_list = first_argmax.tolist(), first_margin.tolist()
    empty_end = _end_logprobs(
        first_logprobs.unsqueeze(1),
        torch.zeros((len(batch), 1), device=device),
        [(b, 0) for b in range(len(batch))],
        end_ids,
    )
    scores: list[list[ContinuationScore]] = []
    for b, request in enumerate(batch):
        example_scores = []
        for j, _ in enumerate(request.continuations):
            lps, argmaxes, margins, end_lp = per_row.get(
                (b, j), ([], [], [], empty_end[b] if empty_end is not None else None)
            )
            example_scores.append(
                ContinuationScore(
                    token_logprobs=lps,
                    greedy_ids=[first_argmax_list[b], *argmaxes],
                    greedy_margins=[first_margin_list[b], *margins],
                    end_logprob=end_lp,
                )
            )
        scores.append(example_scores)
    return scores, shared


# -- flat: the naive reference -------------------------------------------------------------------


def score_flat(
    loaded: LoadedModel,
    requests: list[ScoringRequest],
    token_budget: int,
    counter: WorkCounter | None = None,
    on_batch_done: Progress | None = None,
    end_ids: Sequence[int] = (),
) -> list[list[ContinuationScore]]:
    """The naive reference: each continuation scored with its own full copy of the context."""
    counter = counter or WorkCounter()
    _check_contexts(requests)
    flat = [(i, j) for i, r in enumerate(requests) for j in range(len(r.continuations))]
    sequences = [requests[i].context_ids + requests[i].continuations[j] for i, j in flat]
    results: list[ContinuationScore | None] = [None] * len(flat)
    for batch in pack_by_token_budget([len(s) for s in sequences], token_budget):
        with torch.inference_mode():
            ids, mask = right_padded([sequences[k] for k in batch], loaded.pad_token_id)
            ids, mask = ids.to(loaded.device), mask.to(loaded.device)
            positions = (
                torch.arange(ids.shape[1], device=loaded.device).unsqueeze(0).expand(len(batch), -1)
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
                end_lp = (
                    float(torch.logsumexp(logprobs[row, start + n, list(end_ids)], dim=-1))
                    if end_ids
                    else None
                )
                results[k] = ContinuationScore(
                    token_logprobs=token_lps,
                    greedy_ids=argmax[row, start : start + n + 1].tolist(),
                    greedy_margins=margin[row, start : start + n + 1].tolist(),
                    end_logprob=end_lp,
                )
        if on_batch_done:
            on_batch_done(len({flat[k][0] for k in batch}))
    grouped: list[list[ContinuationScore]] = [[] for _ in requests]
    for (i, _), score in zip(flat, results, strict=True):
        assert score is not None
        grouped[i].append(score)
    return grouped
