"""Request planning: which examples, which metrics, and the token rows each example is scored on.

Torch-free: plans are lists of token ids, so truncation to the model's context window is tested
with synthetic token lists (tests/evaluation/test_planning.py), no model.
"""

from __future__ import annotations

from dataclasses import dataclass

from sources.bigbench import BigBenchTask
from sources.evaluation.prompts import example_rng
from sources.evaluation.requests import ScoringRequest
from sources.evaluation.run_types import SUPPORTED_TASK_METRICS, EvalConfig
from sources.evaluation.tokenization import PromptTokenizer

MAX_AUTO_NEW_TOKENS = 256


def selected_metrics(task: BigBenchTask, config: EvalConfig) -> tuple[str, ...]:
    """The task metrics this evaluation computes: the requested ones, else every supported one."""
    if config.metrics is None:
        return tuple(m for m in task.metrics if m in SUPPORTED_TASK_METRICS)
    wrong = [m for m in config.metrics if m not in task.metrics or m not in SUPPORTED_TASK_METRICS]
    if wrong:
        supported = [m for m in task.metrics if m in SUPPORTED_TASK_METRICS]
        raise ValueError(
            f"{task.task_id}: cannot compute {wrong}; this task's metrics: {supported}"
        )
    return tuple(m for m in task.metrics if m in config.metrics)


def select_examples(task: BigBenchTask, limit: int | None, seed: int) -> list[int]:
    """All example indices, or a seeded random subset of `limit` of them (sorted)."""
    count = len(task.examples)
    if limit is None or limit >= count:
        return list(range(count))
    return sorted(example_rng(seed, task.task_id, -1, "limit").sample(range(count), limit))


@dataclass
class ExamplePlan:
    """Which continuation rows of one example's scoring request serve which purpose."""

    request: ScoringRequest
    target_row: int  # scored for target_logprob (the first target, tokenized per convention)
    choice_rows: list[int]  # one per option, in file order
    greedy_rows: list[int]  # one per target: generation tail + the target's own tokens
    tail: int  # tokens of the generation context that follow the scoring context
    generation_ids: list[int]


def plan_example(
    context: list[int],
    scored: list[list[int]],
    generation_ids: list[int],
    targets_alone: list[list[int]],
    generative: bool,
    fast_path: bool,
    max_length: int,
    max_new: int,
) -> tuple[ExamplePlan, bool]:
    """Token rows for one example (deduplicated), and whether a context had to be cut (from the
    left, to fit `max_length`: the scoring context, or the generation context decoded on its own).

    `scored`: the first target then the options, tokenized by the scoring convention;
    `targets_alone`: every target tokenized on its own (what greedy decoding must produce).
    """
    aligned = generative and fast_path and generation_ids[: len(context)] == context
    tail = generation_ids[len(context) :] if aligned else []
    greedy = [tail + ids for ids in targets_alone] if aligned else []
    greedy = [row for row in greedy if row]

    # Cut contexts from the left to fit the model: room for the longest row, or for the
    # generation tail plus the new tokens.
    longest_row = max((len(r) for r in scored + greedy), default=0)
    room = max_length - max(longest_row, len(tail) + max_new if generative else 0)
    cut = max(0, len(context) - max(room, 1))
    context = context[cut:]
    generation_cut = False
    if generative:
        generation_ids = generation_ids[cut:] if aligned else generation_ids
        overflow = len(generation_ids) + max_new - max_length
        if not aligned and overflow > 0:  # decoded from its own context: cut that one too
            generation_ids = generation_ids[overflow:]
            generation_cut = True

    rows: dict[tuple[int, ...], int] = {}

    def row_of(tokens: list[int]) -> int:
        return rows.setdefault(tuple(tokens), len(rows))

    target_row = row_of(scored[0])
    choice_rows = [row_of(tokens) for tokens in scored[1:]]
    greedy_rows = [row_of(tokens) for tokens in greedy]
    request = ScoringRequest(tuple(context), tuple(rows))
    plan = ExamplePlan(request, target_row, choice_rows, greedy_rows, len(tail), generation_ids)
    return plan, cut > 0 or generation_cut


def default_max_new_tokens(task: BigBenchTask, tokenizer: PromptTokenizer) -> int:
    """Generation limit when none is given: room for twice the longest target, plus 8 tokens."""
    targets = sorted({t for e in task.examples for t in e.targets})
    if not targets:
        return 32
    encoded = tokenizer.tokenizer(targets, add_special_tokens=False)["input_ids"]
    longest = max(len(ids) for ids in encoded)
    return min(MAX_AUTO_NEW_TOKENS, 2 * longest + 8)
