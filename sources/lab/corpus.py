"""The training corpus: generated arithmetic written the way BIG-bench's arithmetic prompts are.

A document is 1-4 question/answer pairs in the task's own format (`\\nQ: What is 80 plus 29?`,
the answer choices, `\\nA: 109`, pairs joined by the task's separator), so the ladder learns the
very text it is evaluated on, never the evaluation examples themselves: every question of the
`exclude_tasks` files is left out when generating, and `overlap_report` checks the result
(count of overlaps must be 0, else `CorpusOverlapError`), rather than assuming it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from sources.bigbench import load_task
from sources.lab.config import DataRecipe

QUESTION = re.compile(r"Q: (What is -?\d+ (?:plus|minus) -?\d+\?)")
# The format of BIG-bench's arithmetic task (read from arithmetic/*_digit_addition's task.json).
INPUT_PREFIX, OUTPUT_PREFIX, SEPARATOR, CHOICE_PREFIX = "\nQ: ", "\nA: ", "\n", "\n  choice: "
WORD_DISTRACTORS = ("banana", "house")


class CorpusOverlapError(RuntimeError):
    """The corpus contains an evaluation example; the message names how many and which."""


@dataclass(frozen=True)
class Corpus:
    train: list[str]
    held_out: list[str]
    excluded_questions: int  # evaluation questions the generator had to avoid


def evaluation_questions(task_ids: tuple[str, ...]) -> set[str]:
    """Every example input of these BIG-bench task files (subtasks of a composite included)."""
    questions: set[str] = set()
    for task_id in task_ids:
        task = load_task(task_id)
        leaves = [load_task(s) for s in task.subtask_ids] if task.is_composite else [task]
        for leaf in leaves:
            questions.update(example.input.strip() for example in leaf.examples)
    return questions


def _answer(a: int, b: int, op: str) -> int:
    return a + b if op == "plus" else a - b


def _choices(answer: int, rng: random.Random) -> list[str]:
    """The right answer among distractors of the kinds BIG-bench uses: near misses, a far
    number, a one-digit number and two words."""
    wrong = {answer + rng.choice([-10, 10, -1, 1, 100, -100]), rng.randrange(0, 10)}
    wrong.add(rng.randrange(1000, 99999))
    while len(wrong) < 4:
        wrong.add(answer + rng.randrange(-50, 51))
    wrong.discard(answer)
    options = [str(answer), *map(str, sorted(wrong)), *WORD_DISTRACTORS]
    rng.shuffle(options)
    return options


def format_pair(a: int, b: int, op: str, rng: random.Random, choices: bool) -> str:
    text = f"{INPUT_PREFIX}What is {a} {op} {b}?"
    if choices:
        text += CHOICE_PREFIX + CHOICE_PREFIX.join(_choices(_answer(a, b, op), rng))
    return text + OUTPUT_PREFIX + str(_answer(a, b, op))


def _problems_of(digits: int, operations: tuple[str, ...]) -> list[tuple[int, int, str]]:
    low = 0 if digits == 1 else 10 ** (digits - 1)
    numbers = range(0, 10**digits) if digits <= 2 else range(low, 10**digits)
    return [(a, b, op) for op in operations for a in numbers for b in numbers]


def _problems(recipe: DataRecipe) -> list[tuple[int, int, str]]:
    return [p for digits in recipe.digits for p in _problems_of(digits, recipe.operations)]


def generate_corpus(recipe: DataRecipe, seed: int) -> Corpus:
    """Train and held-out documents from disjoint problem sets, no evaluation question in either.

    Without `digits_weights` every problem is equally likely; with them, each pair first draws
    its `digits` entry by weight (a curriculum), then a problem of that entry."""
    rng = random.Random(seed)
    excluded = evaluation_questions(recipe.exclude_tasks)

    def allowed(problems: list) -> list:
        return [p for p in problems if f"What is {p[0]} {p[2]} {p[1]}?" not in excluded]

    if recipe.digits_weights is None:
        groups, weights = [allowed(_problems(recipe))], [1.0]
        labels = [", ".join(map(str, recipe.digits))]
    else:
        groups = [allowed(_problems_of(d, recipe.operations)) for d in recipe.digits]
        weights, labels = list(recipe.digits_weights), [str(d) for d in recipe.digits]
    held_groups, train_groups = [], []
    for digits, group in zip(labels, groups, strict=True):
        if len(group) < 2:
            raise ValueError(
                f"digits {digits}: {len(group)} problem(s) left after excluding the questions "
                f"of {list(recipe.exclude_tasks)}; expected at least 2 (one to hold out)"
            )
        rng.shuffle(group)
        n_held = max(1, len(group) // 20)
        held_groups.append(group[:n_held])
        train_groups.append(group[n_held:])
    low, high = recipe.examples_per_document

    def pick(problems: list[list]) -> tuple[int, int, str]:
        if len(problems) == 1:
            return rng.choice(problems[0])
        return rng.choice(rng.choices(problems, weights)[0])

    def documents(problems: list[list], count: int) -> list[str]:
        return [
            SEPARATOR.join(
                format_pair(*pick(problems), rng, rng.random() < recipe.choices_fraction)
                for _ in range(rng.randint(low, high))
            )
            for _ in range(count)
        ]

    return Corpus(
        documents(train_groups, recipe.documents),
        documents(held_groups, recipe.held_out_documents),
        sum(len(_problems_of(d, recipe.operations)) for d in recipe.digits)
        - sum(len(g) for g in groups),
    )


def overlap_report(documents: list[str], task_ids: tuple[str, ...]) -> dict:
    """How many corpus questions are evaluation questions of these task files (must be 0)."""
    excluded = evaluation_questions(task_ids)
    asked = [q for doc in documents for q in QUESTION.findall(doc)]
    overlapping = sorted({q for q in asked if q in excluded})
    return {
        "tasks_checked": list(task_ids),
        "evaluation_questions": len(excluded),
        "corpus_questions": len(asked),
        "overlaps": sum(q in excluded for q in asked),
        "examples": overlapping[:5],
    }


def check_no_overlap(documents: list[str], task_ids: tuple[str, ...]) -> dict:
    """overlap_report, raising CorpusOverlapError when any evaluation question is in the corpus."""
    report = overlap_report(documents, task_ids)
    if report["overlaps"]:
        raise CorpusOverlapError(
            f"training corpus contains {report['overlaps']} evaluation question(s) of "
            f"{', '.join(task_ids)}, e.g. {report['examples']}; expected 0"
        )
    return report
