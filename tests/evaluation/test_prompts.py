"""Few-shot prompts: BIG-bench's format, shots drawn without the evaluated example, reproducible."""

from __future__ import annotations

import pytest

from sources.bigbench import load_task, parse_task
from sources.evaluation.prompts import build_prompts


def _task(examples: list[dict], **fields) -> object:
    raw = {"name": "toy", "metrics": ["exact_str_match"], "examples": examples, **fields}
    return parse_task(raw, task_id="toy", task_file="toy/task.json", task_file_sha256="0" * 64)


ADDITION = [{"input": f"{a}+{a}", "target": str(2 * a)} for a in range(6)]


def test_zero_shot_is_prefix_input_output_prefix() -> None:
    task = _task(ADDITION, task_prefix="Add.\n")
    prompt = build_prompts(task, shots=0)[3]
    assert prompt.text == "Add.\n" + "\nQ: 3+3\nA: "
    assert prompt.targets == ("6",)


def test_two_shots_are_other_examples_with_their_targets_joined_by_the_separator() -> None:
    task = _task(ADDITION, few_shot_example_separator="|")
    for prompt in build_prompts(task, shots=2):
        parts = prompt.text.split("|")
        assert len(parts) == 3
        assert parts[-1] == f"\nQ: {task.examples[prompt.example_idx].input}\nA: "
        shown = set()
        for part in parts[:2]:
            question, answer = part.removeprefix("\nQ: ").split("\nA: ")
            a = int(question.split("+")[0])
            assert answer == str(2 * a)  # each shot carries its own target
            shown.add(a)
        assert len(shown) == 2 and prompt.example_idx not in shown


def test_equal_examples_are_never_shots_for_each_other() -> None:
    task = _task(
        [{"input": "same", "target": "x"}] * 3
        + [{"input": f"q{i}", "target": "y"} for i in range(2)]
    )
    for prompt in build_prompts(task, shots=2)[:3]:
        assert prompt.text.count("same") == 1  # only the evaluated copy


def test_too_few_examples_for_the_shots_is_an_error() -> None:
    with pytest.raises(ValueError, match="too few"):
        build_prompts(_task(ADDITION[:2]), shots=2)


def test_choices_are_appended_in_a_seeded_permutation_of_the_sorted_options() -> None:
    examples = [
        {"input": f"pick {i}", "target_scores": {"d": 0, "c": 1, "b": 0, "a": 0}} for i in range(4)
    ]
    task = _task(examples, metrics=["multiple_choice_grade"])
    prompt = build_prompts(task, shots=0, seed=7)[0]
    body = prompt.text.removeprefix("\nQ: pick 0").removesuffix("\nA: ")
    shown = body.split("\n  choice: ")[1:]
    assert sorted(shown) == ["a", "b", "c", "d"]
    assert prompt.choices == ("d", "c", "b", "a")  # file order, for scoring
    assert prompt.targets == ("c",)
    orders = {
        tuple(build_prompts(task, 0, seed=s)[0].text.split("\n  choice: ")[1:]) for s in range(12)
    }
    assert len(orders) > 1, "the permutation should depend on the seed"


def test_a_prompt_does_not_depend_on_which_other_examples_are_evaluated() -> None:
    task = load_task("arithmetic/2_digit_addition")
    everything = build_prompts(task, shots=2, seed=3)
    some = build_prompts(task, shots=2, seed=3, indices=[17, 400])
    assert [p.text for p in some] == [everything[17].text, everything[400].text]
    assert build_prompts(task, shots=2, seed=4, indices=[17])[0].text != everything[17].text


def test_bigbench_input_format_for_a_real_task() -> None:
    task = load_task("modified_arithmetic/three_digit_addition_control")
    prompt = build_prompts(task, shots=2, indices=[0])[0]
    example = task.examples[0]
    # input prefix "", output prefix " ", separator "\n\n" come from the task file.
    assert prompt.text.endswith("\n\n" + example.input + " ")
    assert prompt.text.count("\n\nIn the following lines") == 2
