"""Few-shot prompts built the BIG-bench way, reproducibly per example.

Followed exactly (``bigbench/api/json_task.py``: ``default_format_fn`` and ``make_nshot_dataset``):

- each example's input becomes ``example_input_prefix + input [+ choices] + example_output_prefix``,
  where, for examples with ``target_scores`` and ``append_choices_to_input`` (the default), the
  choices are appended as ``choice_prefix + choice`` in a random permutation of the sorted choices;
- with k > 0 shots, k other examples are drawn without replacement from the whole task, excluding
  every example equal to the evaluated one (BIG-bench compares whole examples, so duplicates of it
  are excluded too); each shot is its formatted input followed by one of its targets chosen at
  random; shots and the evaluated input are joined by ``few_shot_example_separator``;
- with 0 shots the formatted input is used as it is; ``task_prefix`` is prepended to the whole.

Not followed: BIG-bench draws everything from one ``numpy.random.RandomState`` whose state depends
on the order of previous calls, so its exact prompts cannot be reproduced outside a BIG-bench run.
Here every random choice comes from a generator seeded by (seed, task id, example index), so an
example's prompt does not depend on `limit`, batching or evaluation order.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from sources.bigbench import BigBenchExample, BigBenchTask


@dataclass(frozen=True)
class Prompt:
    """What the model sees for one example, and what counts as right."""

    example_idx: int  # index of the example in the task file
    text: str  # the full context, ending with the output prefix
    targets: tuple[str, ...]  # acceptable generated answers (exact_str_match, BLEU references)
    choices: tuple[str, ...]  # multiple-choice options in file order (empty if none)
    choice_scores: tuple[float, ...]  # target_scores of `choices`

    @property
    def prompt_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def example_rng(seed: int, task_id: str, example_idx: int, purpose: str) -> random.Random:
    """A generator that depends only on (seed, task, example, purpose), never on call order."""
    digest = hashlib.sha256(f"{seed}\x1f{task_id}\x1f{example_idx}\x1f{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def format_example(task: BigBenchTask, index: int, seed: int) -> str:
    """BIG-bench's ``default_format_fn``: prefixes around the input, choices appended."""
    example = task.examples[index]
    text = example.input
    if example.target_scores is not None and task.append_choices_to_input:
        permuted = sorted(example.choices)
        example_rng(seed, task.task_id, index, "choice_order").shuffle(permuted)
        text = text + task.choice_prefix + task.choice_prefix.join(permuted)
    return task.example_input_prefix + text + task.example_output_prefix


def build_prompts(
    task: BigBenchTask, shots: int, seed: int = 0, indices: list[int] | None = None
) -> list[Prompt]:
    """Prompts for the examples at `indices` (all by default), each with `shots` in-context shots."""
    if task.is_composite:
        raise ValueError(
            f"{task.task_id} has subtasks {task.subtask_ids}; build prompts per subtask"
        )
    if shots < 0:
        raise ValueError(f"shots must be >= 0, got {shots}")
    if shots and len(task.examples) < shots + 1:
        raise ValueError(
            f"{task.task_id} has {len(task.examples)} examples, too few for {shots} shots"
        )
    count = len(task.examples)
    formatted = [format_example(task, i, seed) for i in range(count)]
    copies: dict[BigBenchExample, list[int]] = {}
    for i, example in enumerate(task.examples):
        copies.setdefault(example, []).append(i)
    separator = task.few_shot_example_separator
    wanted = range(count) if indices is None else indices
    prompts = []
    for index in wanted:
        example = task.examples[index]
        text = formatted[index]
        if shots:
            excluded = set(copies[example])
            if count - len(excluded) < shots:
                raise ValueError(
                    f"{task.task_id} example {index}: only {count - len(excluded)} distinct other "
                    f"examples, too few for {shots} shots"
                )
            # A uniform draw of `shots` examples among those not equal to this one: draw enough
            # distinct indices to survive dropping the excluded ones (O(shots), not O(examples)).
            rng = example_rng(seed, task.task_id, index, "shots")
            drawn = rng.sample(range(count), min(count, shots + len(excluded)))
            chosen = [j for j in drawn if j not in excluded][:shots]
            demonstrations = [formatted[j] + rng.choice(task.examples[j].targets) for j in chosen]
            text = separator.join(demonstrations) + separator + text
        prompts.append(
            Prompt(
                example_idx=index,
                text=task.task_prefix + text,
                targets=example.targets,
                choices=example.choices,
                choice_scores=tuple(score for _, score in example.target_scores or ()),
            )
        )
    return prompts
