"""Bad input gets a message naming file, row, column and what was expected.

A table of bad inputs: each case copies the curated folder (sources/literature/) to a temporary
directory, makes ONE small change to one file, runs the strict staging step
(`stage_lake(read_literature(copy))`) and expects a ValidationError whose message has a line

    <...>/literature/<file>, row <N>, column '<column>': found <...>; expected <...>

where N is the line of the changed record in the file (header = line 1), computed here from where
the change was made, and the line carries the key words of what was found and expected.

A control stages the unchanged copy (after a round trip through the same CSV writer), so the
table cannot pass because the folder is already broken.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from checks.validation import ValidationError
from sources.literature import read_literature
from sources.paths import LITERATURE_DIR
from sources.staging import stage_lake

RESULTS_PALM = "results/chowdhery2022_palm.csv"
RESULTS_MMLU = "results/hendrycks2021_mmlu.csv"
RESULTS_GPT3 = "results/brown2020_gpt3.csv"
MODELS = "models.csv"
TASKS = "tasks.csv"
TASK_METRICS = "task_metrics.csv"
TABLE1 = "table1_emergent_scale.csv"

# The record most result cases change: PaLM 62B, MMLU 5-shot, 53.7 percent.
PALM_62B_MMLU = {"model_id": "palm-62b", "task_id": "mmlu", "setting": "5-shot"}
IPA_BLEU = {"task_id": "international_phonetic_alphabet_transliterate", "metric": "bleu"}


# --- editing a CSV without breaking its quoting --------------------------------------------------


def read_records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and records, each record with the line it starts on (header = line 1)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        records = []
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            records.append((start, record))
    return header, records


def write_records(path: Path, header: list[str], records: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(records)


def find_record(path: Path, where: dict[str, str]) -> int:
    """Index (0-based, among records) of the first record whose cells match `where`."""
    header, records = read_records(path)
    for index, (_, record) in enumerate(records):
        cells = dict(zip(header, record, strict=True))
        if all(cells[column] == value for column, value in where.items()):
            return index
    raise LookupError(f"no record of {path.name} matches {where}")


def set_cells(root: Path, file: str, where: dict[str, str], changes: dict[str, str]) -> int:
    """Change cells of the first record matching `where`; return the line that record starts on."""
    path = root / file
    header, records = read_records(path)
    index = find_record(path, where)
    line, record = records[index]
    for column, value in changes.items():
        record[header.index(column)] = value
    write_records(path, header, [r for _, r in records])
    return line


def line_of(root: Path, file: str, where: dict[str, str]) -> int:
    _, records = read_records(root / file)
    return records[find_record(root / file, where)][0]


# --- mutations: each returns the line the message must name --------------------------------------

Mutation = Callable[[Path], int]


def change(file: str, where: dict[str, str], **changes: str) -> Mutation:
    return lambda root: set_cells(root, file, where, changes)


def drop_column(file: str, column: str) -> Mutation:
    def mutate(root: Path) -> int:
        header, records = read_records(root / file)
        keep = [i for i, name in enumerate(header) if name != column]
        write_records(
            root / file, [header[i] for i in keep], [[r[i] for i in keep] for _, r in records]
        )
        return 1

    return mutate


def add_column(file: str, column: str, value: str) -> Mutation:
    def mutate(root: Path) -> int:
        header, records = read_records(root / file)
        write_records(root / file, [*header, column], [[*r, value] for _, r in records])
        return 1

    return mutate


def append_copy(file: str, where: dict[str, str]) -> Mutation:
    """Append a copy of a record (a duplicate key); the copy's line is the one to name."""

    def mutate(root: Path) -> int:
        header, records = read_records(root / file)
        index = find_record(root / file, where)
        write_records(root / file, header, [r for _, r in records] + [list(records[index][1])])
        _, after = read_records(root / file)
        return after[-1][0]

    return mutate


def raw_cell(file: str, where: dict[str, str], column: str, raw: bytes) -> Mutation:
    """Write bytes no CSV writer would (a NUL, Latin-1) into one cell of one record."""

    def mutate(root: Path) -> int:
        line = set_cells(root, file, where, {column: "@@CELL@@"})
        path = root / file
        path.write_bytes(path.read_bytes().replace(b"@@CELL@@", raw))
        return line

    return mutate


def extra_field(file: str, where: dict[str, str]) -> Mutation:
    """One record gets one field more than the header has (a stray comma)."""

    def mutate(root: Path) -> int:
        header, records = read_records(root / file)
        index = find_record(root / file, where)
        line, record = records[index]
        records[index] = (line, [*record, "stray"])
        write_records(root / file, header, [r for _, r in records])
        return line

    return mutate


def _drop_last_field(root: Path, file: str, where: dict[str, str]) -> int:
    header, records = read_records(root / file)
    index = find_record(root / file, where)
    line, record = records[index]
    records[index] = (line, record[:-1])
    write_records(root / file, header, [r for _, r in records])
    return line


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    mutate: Mutation
    column: str | None  # None: the problem concerns the record, not one cell
    expected: tuple[str, ...]  # fragments of "found ...; expected ..." on the same message line
    absent: tuple[str, ...] = field(default=())  # fragments that must not be on that line


CASES = [
    # results/*.csv: one paper's numbers
    Case(
        "value not a number",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, value="abc"),
        "value",
        ("found 'abc'; expected a number",),
    ),
    Case(
        "value with a decimal comma",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, value="53,7"),
        "value",
        ("found '53,7'; expected a number",),
    ),
    Case(
        "value NaN",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, value="NaN"),
        "value",
        ("found 'NaN'", "expected a number"),
        absent=("an empty cell",),
    ),
    Case(
        "value of 140 percent",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, value="140"),
        "value",
        ("found 140.0; expected a value between 0 and 100 (percent)",),
    ),
    Case(
        "negative percent",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, value="-3"),
        "value",
        ("found -3.0; expected a value between 0 and 100 (percent)",),
    ),
    Case(
        "BLEU of 140",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, **IPA_BLEU, unit="bleu", value="140"),
        "value",
        ("found 140.0; expected a value between 0 and 100 (bleu)",),
    ),
    Case(
        "percent value labelled fraction",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, unit="fraction"),
        "value",
        ("expected a value between 0 and 100 (percent)",),
    ),
    Case(
        "fraction unit where the metric declares bleu",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, **IPA_BLEU, unit="fraction", value="0.3"),
        "unit",
        (
            "found 'fraction'; expected 'bleu', the unit task_metrics.csv declares for "
            "international_phonetic_alphabet_transliterate / bleu",
        ),
    ),
    Case(
        "bleu unit where the metric declares percent",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, unit="bleu"),
        "unit",
        (
            "found 'bleu'; expected 'percent', the unit task_metrics.csv declares for mmlu / accuracy",
        ),
    ),
    Case(
        "unknown model_id",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, model_id="palm-999b"),
        "model_id",
        ("found 'palm-999b'; expected a model_id listed in models.csv",),
    ),
    Case(
        "unknown model_id differing only in case gets a suggestion",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, model_id="palm-62B"),
        "model_id",
        (
            "found 'palm-62B'; expected a model_id listed in models.csv",
            "did you mean 'palm-62b'?",
        ),
    ),
    Case(
        "misspelt metric gets a suggestion among its task's metrics",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, metric="acuracy"),
        "metric",
        ("found 'acuracy'; expected a metric declared for mmlu", "did you mean 'accuracy'?"),
    ),
    Case(
        "empty unit",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, unit=""),
        "unit",
        ("found an empty cell",),
        absent=("None",),
    ),
    Case(
        "empty model_id",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, model_id=""),
        "model_id",
        ("found an empty cell; expected a value (the cell is required)",),
        absent=("None",),
    ),
    Case(
        "a NUL byte in a note",
        RESULTS_PALM,
        raw_cell(RESULTS_PALM, PALM_62B_MMLU, "note", b"bad\x00note"),
        "note",
        ("found a NUL byte; expected text without NUL bytes",),
    ),
    Case(
        "a NUL byte in models.csv",
        MODELS,
        raw_cell(MODELS, {"model_id": "gopher-117m"}, "label", b"\x00"),
        "label",
        ("found a NUL byte; expected text without NUL bytes",),
    ),
    Case(
        "a byte that is not UTF-8 (a Latin-1 e-acute)",
        RESULTS_PALM,
        raw_cell(RESULTS_PALM, PALM_62B_MMLU, "note", b"caf\xe9"),
        None,
        ("found bytes that are not UTF-8 (b'\\xe9'); expected UTF-8 text",),
    ),
    Case(
        "a record with a field fewer than the header",
        RESULTS_PALM,
        lambda root: _drop_last_field(root, RESULTS_PALM, PALM_62B_MMLU),
        None,
        ("found 13 fields; expected 14 fields, as in the header",),
    ),
    Case(
        "unknown task_id",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, task_id="mmlu_pro"),
        "task_id",
        ("found 'mmlu_pro'; expected a task_id listed in task_metrics.csv",),
    ),
    Case(
        "metric not declared for a known task",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, metric="accuracy_law"),
        "metric",
        ("found 'accuracy_law'; expected a metric declared for mmlu in task_metrics.csv",),
    ),
    Case(
        "empty citation",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, citation=""),
        "citation",
        ("found an empty cell; expected a value (the cell is required)",),
    ),
    Case(
        "too-short citation",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, citation="Wei"),
        "citation",
        ("found 'Wei'; expected text of", "4"),
        absent=("None",),
    ),
    Case(
        "too-short location",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, location="T"),
        "location",
        ("found 'T'; expected text of", "2"),
        absent=("None",),
    ),
    Case(
        "empty setting",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, setting=""),
        "setting",
        ("found an empty cell; expected a value (the cell is required)",),
    ),
    Case(
        "duplicate result key",
        RESULTS_PALM,
        append_copy(RESULTS_PALM, PALM_62B_MMLU),
        "model_id, task_id, setting, prompting, metric, citation",
        (
            "found a duplicate of another row's key",
            "expected a unique key (another row has the same key)",
        ),
    ),
    Case(
        "unknown prompting method",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, prompting="few_shot"),
        "prompting",
        ("found 'few_shot'; expected one of ['standard', 'chain_of_thought']",),
    ),
    Case(
        "shots = -1",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, shots="-1"),
        "shots",
        ("found -1; expected a value between 0 and 1000",),
    ),
    Case(
        "shots = 'two'",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, shots="two"),
        "shots",
        ("found 'two'; expected a whole number",),
    ),
    Case(
        "shots = 'inf'",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, shots="inf"),
        "shots",
        ("found 'inf'; expected a whole number",),
    ),
    Case(
        "n_examples = 0",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, n_examples="0"),
        "n_examples",
        ("found 0; expected a value >= 1",),
    ),
    Case(
        "in_wei_figure = 'maybe'",
        RESULTS_PALM,
        change(RESULTS_PALM, PALM_62B_MMLU, in_wei_figure="maybe"),
        "in_wei_figure",
        ("found 'maybe'; expected true or false",),
    ),
    Case(
        "missing required column",
        RESULTS_PALM,
        drop_column(RESULTS_PALM, "location"),
        "location",
        ("found no such column; expected the documented column to be present",),
    ),
    Case(
        "undocumented extra column",
        RESULTS_PALM,
        add_column(RESULTS_PALM, "comment", "x"),
        "comment",
        ("found an undocumented column; expected only the documented columns",),
    ),
    Case(
        "a record with a field more than the header",
        RESULTS_PALM,
        extra_field(RESULTS_PALM, PALM_62B_MMLU),
        None,
        ("found ",),
    ),
    # models.csv
    Case(
        "params in billions (175)",
        MODELS,
        change(MODELS, {"model_id": "gpt3-175b"}, params="175"),
        "params",
        ("found 175.0; expected a value between 100000 and 1e+13",),
    ),
    Case(
        "negative params",
        MODELS,
        change(MODELS, {"model_id": "lamda-40m"}, params="-4e7"),
        "params",
        ("found -40000000.0; expected a value between 100000 and 1e+13",),
    ),
    Case(
        "negative params on a model with tokens and FLOPs",
        MODELS,
        change(MODELS, {"model_id": "gpt3-small"}, params="-1.25e8"),
        "params",
        ("found -125000000.0; expected a value between 100000 and 1e+13",),
    ),
    Case(
        "train_tokens below the plausible range",
        MODELS,
        change(MODELS, {"model_id": "chinchilla-70b"}, train_tokens="1.4e6"),
        "train_tokens",
        ("found 1400000.0; expected a value between 1e+08 and 1e+15",),
    ),
    Case(
        "train_flops above the plausible range",
        MODELS,
        change(MODELS, {"model_id": "palm-540b"}, train_flops="2.5e30"),
        "train_flops",
        ("found 2.5e+30; expected a value between 1e+14 and 1e+28",),
    ),
    Case(
        "flops_printed_by_wei below the plausible range",
        MODELS,
        change(MODELS, {"model_id": "palm-540b"}, flops_printed_by_wei="2.5"),
        "flops_printed_by_wei",
        ("found 2.5; expected a value between 1e+14 and 1e+28",),
    ),
    Case(
        "flops_basis 'missing' while train_flops is given",
        MODELS,
        change(MODELS, {"model_id": "palm-8b"}, flops_basis="missing"),
        "flops_basis",
        ("found 'missing'; expected a basis other than 'missing' when train_flops is given",),
    ),
    Case(
        "train_flops empty but a basis given",
        MODELS,
        change(MODELS, {"model_id": "palm-8b"}, train_flops=""),
        "flops_basis",
        ("found 'published'; expected 'missing' exactly when train_flops is empty",),
    ),
    Case(
        "unknown flops_basis",
        MODELS,
        change(MODELS, {"model_id": "palm-8b"}, flops_basis="guess"),
        "flops_basis",
        ("found 'guess'; expected one of ['published', 'printed_by_wei', 'estimated_6nd'",),
    ),
    Case(
        "estimated_6nd without tokens",
        MODELS,
        change(MODELS, {"model_id": "gopher-44m"}, train_tokens=""),
        "train_tokens",
        (
            "found an empty cell; expected params and train_tokens when train_flops is a 6·N·D estimate",
        ),
    ),
    Case(
        "estimated_6nd without params",
        MODELS,
        change(MODELS, {"model_id": "gopher-44m"}, params=""),
        "params",
        (
            "found an empty cell; expected params and train_tokens when train_flops is a 6·N·D estimate",
        ),
    ),
    Case(
        "duplicate model_id",
        MODELS,
        change(MODELS, {"model_id": "gopher-117m"}, model_id="gopher-44m"),
        "model_id",
        ("found a duplicate of another row's key gopher-44m; expected a unique key",),
    ),
    Case(
        "model_id with a space",
        MODELS,
        change(MODELS, {"model_id": "gopher-117m"}, model_id="gopher 117m"),
        "model_id",
        ("found 'gopher 117m'; expected text matching ^[A-Za-z0-9]",),
    ),
    Case(
        "too-short model source",
        MODELS,
        change(MODELS, {"model_id": "gopher-117m"}, source="x"),
        "source",
        ("found 'x'; expected text of", "4"),
        absent=("None",),
    ),
    # tasks.csv
    Case(
        "preferred_metric not declared in task_metrics",
        TASKS,
        change(TASKS, {"task_id": "wic"}, preferred_metric="f1"),
        "preferred_metric",
        ("found 'f1'; expected a metric declared for wic in task_metrics.csv",),
    ),
    Case(
        "figure_panel 'Fig9Z'",
        TASKS,
        change(TASKS, {"task_id": "wic"}, figure_panel="Fig9Z"),
        "figure_panel",
        ("found 'Fig9Z'; expected text matching ^Fig[23][A-H]$",),
    ),
    Case(
        "duplicate task_id",
        TASKS,
        change(TASKS, {"task_id": "strategyqa"}, task_id="gsm8k"),
        "task_id",
        ("found a duplicate of another row's key gsm8k; expected a unique key",),
    ),
    # task_metrics.csv
    Case(
        "random_level of 150 for a percent metric",
        TASK_METRICS,
        change(TASK_METRICS, {"task_id": "wic", "metric": "accuracy"}, random_level="150"),
        "random_level",
        ("found 150.0; expected a value between 0 and 100 (percent)",),
    ),
    Case(
        "random_level NaN",
        TASK_METRICS,
        change(TASK_METRICS, {"task_id": "wic", "metric": "accuracy"}, random_level="NaN"),
        "random_level",
        ("found 'NaN'", "expected a number"),
    ),
    Case(
        "unknown unit",
        TASK_METRICS,
        change(TASK_METRICS, {"task_id": "strategyqa", "metric": "accuracy"}, unit="percents"),
        "unit",
        (
            "found 'percents'; expected one of ['percent', 'bleu', 'nats', 'nats_per_token', 'perplexity', 'brier', 'tokens', 'characters']",
        ),
    ),
    Case(
        "higher_is_better 'maybe'",
        TASK_METRICS,
        change(TASK_METRICS, {"task_id": "wic", "metric": "accuracy"}, higher_is_better="maybe"),
        "higher_is_better",
        ("found 'maybe'; expected true or false",),
    ),
    Case(
        "task_metrics names an unknown task",
        TASK_METRICS,
        change(TASK_METRICS, {"task_id": "mmlu", "metric": "accuracy_other"}, task_id="mmlu_other"),
        "task_id",
        ("found 'mmlu_other'; expected a task_id listed in tasks.csv",),
    ),
    Case(
        "duplicate task and metric",
        TASK_METRICS,
        change(
            TASK_METRICS, {"task_id": "mmlu", "metric": "accuracy_other"}, metric="accuracy_stem"
        ),
        "task_id, metric",
        ("found a duplicate of another row's key", "expected a unique key"),
    ),
    # table1_emergent_scale.csv
    Case(
        "train_flops_as_printed neither a number nor 'Many'",
        TABLE1,
        change(TABLE1, {"task_id": "mmlu"}, train_flops_as_printed="lots"),
        "train_flops_as_printed",
        ("found 'lots'; expected a number like 2.3E+22 or 13B, or 'Many'",),
    ),
    Case(
        "params_as_printed '13 billion'",
        TABLE1,
        change(TABLE1, {"task_id": "mmlu"}, params_as_printed="13 billion"),
        "params_as_printed",
        ("found '13 billion'; expected a number like 2.3E+22 or 13B, or 'Many'",),
    ),
    Case(
        "params_as_printed '175' (billions without the B)",
        TABLE1,
        change(TABLE1, {"task_id": "mmlu"}, params_as_printed="175"),
        "params_as_printed",
        ("found 175", "expected a value between 100000 and 1e+13"),
    ),
    Case(
        "train_flops_as_printed 'NaN'",
        TABLE1,
        change(TABLE1, {"task_id": "mmlu"}, train_flops_as_printed="NaN"),
        "train_flops_as_printed",
        ("found 'NaN'",),
    ),
    Case(
        "table1 metric not declared for its task",
        TABLE1,
        change(TABLE1, {"task_id": "mmlu"}, metric="accuracy_law"),
        "metric",
        ("found 'mmlu' / 'accuracy_law'; expected a task and metric declared in task_metrics.csv",),
    ),
    Case(
        "table1 shots 'few'",
        TABLE1,
        change(TABLE1, {"task_id": "mmlu"}, shots="few"),
        "shots",
        ("found 'few'; expected a whole number",),
    ),
    Case(
        "table1 unknown prompting",
        TABLE1,
        change(TABLE1, {"task_id": "mmlu"}, prompting="cot"),
        "prompting",
        ("found 'cot'; expected one of ['standard', 'chain_of_thought']",),
    ),
    Case(
        "table1 duplicate row_order",
        TABLE1,
        change(TABLE1, {"row_order": "3"}, row_order="2"),
        "row_order",
        ("found a duplicate of another row's key 2; expected a unique key",),
    ),
]


@pytest.fixture
def literature_copy(tmp_path: Path) -> Path:
    root = tmp_path / "literature"
    shutil.copytree(LITERATURE_DIR, root)
    return root


def stage(root: Path):
    return stage_lake(read_literature(root))


def columns_of(path: Path) -> set[str]:
    header, _ = read_records(path)
    return set(header)


def test_the_table_is_big_enough():
    assert len(CASES) >= 18
    assert len({case.id for case in CASES}) == len(CASES)


def test_unchanged_copy_passes(literature_copy: Path):
    """Control: the copy, rewritten by the same CSV writer the cases use, stages cleanly."""
    for path in [*literature_copy.glob("*.csv"), *literature_copy.glob("results/*.csv")]:
        header, records = read_records(path)
        write_records(path, header, [r for _, r in records])
    lake = stage(literature_copy)
    assert lake.problems == ()
    assert all(count > 0 for count in lake.row_counts().values())


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_reported(case: Case, literature_copy: Path):
    line = case.mutate(literature_copy)

    with pytest.raises(ValidationError) as caught:
        stage(literature_copy)

    message = str(caught.value)
    where = f"/literature/{case.file}, row {line}"
    if case.column is not None:
        where += f", column '{case.column}'"
    where += ": "
    candidates = [text for text in message.splitlines() if where in text]
    assert candidates, f"no line of the message starts with {where!r}:\n{message}"
    said = [text.split(where, 1)[1] for text in candidates]  # "found ...; expected ..."
    matching = [
        text
        for text in said
        if all(fragment in text for fragment in case.expected)
        and not any(fragment in text for fragment in case.absent)
    ]
    assert matching, (
        f"no line for {where!r} says {case.expected}"
        + (f" without {case.absent}" if case.absent else "")
        + f":\n{message}"
    )

    # Every problem names a column of the file it points at (not a derived or internal column),
    # except the one that reports a documented column missing from the header.
    for problem in caught.value.problems:
        if problem.column is None or problem.found == "no such column":
            continue
        path = Path(problem.file)
        assert path.exists(), problem
        unknown = {c.strip() for c in problem.column.split(",")} - columns_of(path)
        assert not unknown, f"{problem} names {sorted(unknown)}, not columns of {path.name}"


def test_row_is_the_line_in_the_file_after_a_multiline_cell(literature_copy: Path):
    """A quoted note spanning two lines is valid CSV; later rows must still name their real line."""
    set_cells(
        literature_copy,
        RESULTS_PALM,
        {"model_id": "palm-8b", "task_id": "mmlu"},
        {"note": "first line\nsecond line"},
    )
    line = set_cells(literature_copy, RESULTS_PALM, PALM_62B_MMLU, {"value": "abc"})
    assert line == line_of(literature_copy, RESULTS_PALM, PALM_62B_MMLU)
    with pytest.raises(ValidationError) as caught:
        stage(literature_copy)
    assert f"/literature/{RESULTS_PALM}, row {line}, column 'value': found 'abc'" in str(
        caught.value
    )


# --- whole files: encodings, names, links, sizes, and every problem at once -------------------------

BOM = b"\xef\xbb\xbf"


def curated_files(root: Path) -> list[Path]:
    return sorted([*root.glob("*.csv"), *root.glob("results/*.csv")])


def test_a_utf8_bom_is_accepted_in_every_curated_file(literature_copy: Path):
    """Excel's "CSV UTF-8" starts with a byte-order mark; the tables read are the same."""
    plain = read_literature(literature_copy)
    for path in curated_files(literature_copy):
        path.write_bytes(BOM + path.read_bytes())
    with_bom = read_literature(literature_copy)
    for name in ("models", "tasks", "task_metrics", "results", "table1"):
        assert getattr(with_bom, name).equals(getattr(plain, name)), name
    assert stage_lake(with_bom).problems == ()


def test_upper_case_csv_is_read(literature_copy: Path):
    results = literature_copy / "results"
    before = read_literature(literature_copy).results.height
    (results / "hoffmann2022_chinchilla.csv").rename(results / "hoffmann2022_chinchilla.CSV")
    tables = read_literature(literature_copy)
    files = {Path(f).name for f in tables.results["source_file"].unique().to_list()}
    assert "hoffmann2022_chinchilla.CSV" in files
    assert tables.results.height == before


def test_other_files_in_results_are_named_as_ignored(literature_copy: Path):
    results = literature_copy / "results"
    (results / "notes.txt").write_text("not data\n")
    (results / "palm.csv.bak").write_bytes((results / "chowdhery2022_palm.csv").read_bytes())
    (results / "old").mkdir()
    (results / "~$chowdhery2022_palm.csv").write_bytes(b"\x0bowner\x00\x00")  # Excel's lock
    tables = read_literature(literature_copy)
    assert len(tables.ignored) == 4
    assert any("~$chowdhery2022_palm.csv: ignored (an Excel lock file" in x for x in tables.ignored)
    assert any("results/notes.txt: ignored (not a .csv file" in line for line in tables.ignored)
    assert any("results/palm.csv.bak: ignored" in line for line in tables.ignored)
    assert any("results/old: ignored (a folder" in line for line in tables.ignored)


def test_a_link_out_of_results_is_refused_and_not_read(literature_copy: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes((literature_copy / RESULTS_PALM).read_bytes().replace(b"palm-", b"x-"))
    link = literature_copy / "results" / "linked.csv"
    link.symlink_to(outside)

    tables = read_literature(literature_copy, strict=False)
    assert not any(f.endswith("linked.csv") for f in tables.results["source_file"].to_list())
    with pytest.raises(ValidationError) as caught:
        stage_lake(tables)
    message = str(caught.value)
    assert (
        f"/literature/results/linked.csv: found a symbolic link to {outside.resolve()}, outside "
        "results/; expected a file inside results/" in message
    ), message
    assert len(caught.value.problems) == 1  # nothing of the linked file was read


def test_a_link_inside_results_is_followed(literature_copy: Path):
    results = literature_copy / "results"
    (results / "hoffmann2022_chinchilla.csv").rename(results / "hoffmann.data")
    (results / "chinchilla.csv").symlink_to(results / "hoffmann.data")
    tables = read_literature(literature_copy)
    assert any(f.endswith("results/chinchilla.csv") for f in tables.results["source_file"])


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    literature_copy: Path, monkeypatch: pytest.MonkeyPatch
):
    """EMERGENCE_MAX_INPUT_MB bounds every input file; here 4 KB, so the big results files fail."""
    import sources.csv_text

    monkeypatch.setenv("EMERGENCE_MAX_INPUT_MB", str(4 / 1024))
    scanned = []
    real_scan = sources.csv_text.scan_records
    monkeypatch.setattr(
        sources.csv_text, "scan_records", lambda path: scanned.append(path.name) or real_scan(path)
    )
    with pytest.raises(ValidationError) as caught:
        stage(literature_copy)
    size = (literature_copy / RESULTS_PALM).stat().st_size
    assert size > 4096
    line = (
        f"/literature/{RESULTS_PALM}: found a file of {size / 2**20:,.2f} MB ({size:,} bytes); "
        "expected at most 0.00390625 MB (4,096 bytes), the limit EMERGENCE_MAX_INPUT_MB sets"
    )
    assert line in str(caught.value), str(caught.value)
    assert Path(RESULTS_PALM).name not in scanned  # refused on its size, not after reading it
    small = [p.name for p in curated_files(literature_copy) if p.stat().st_size <= 4096]
    assert small and set(small) <= set(scanned)  # files under the limit are still read


def test_every_problem_is_reported_in_one_pass(literature_copy: Path):
    """A broken header, a cell that does not parse, an unknown id and a value out of range, in
    four files: one run names them all (a user fixes everything in one round)."""
    drop_column(RESULTS_MMLU, "location")(literature_copy)
    params_line = set_cells(literature_copy, MODELS, {"model_id": "gpt3-175b"}, {"params": "lots"})
    model_line = set_cells(literature_copy, RESULTS_PALM, PALM_62B_MMLU, {"model_id": "palm-62"})
    value_line = set_cells(
        literature_copy,
        RESULTS_PALM,
        {"model_id": "palm-8b", "task_id": "mmlu"},
        {"value": "140"},
    )
    level_line = set_cells(
        literature_copy,
        TASK_METRICS,
        {"task_id": "wic", "metric": "accuracy"},
        {"random_level": "150"},
    )

    tables = read_literature(literature_copy, strict=False)
    assert len(tables.problems) == 2  # the header and the unparsed cell
    with pytest.raises(ValidationError) as caught:
        stage_lake(tables)
    message = str(caught.value)
    expected = [
        f"/literature/{RESULTS_MMLU}, row 1, column 'location': found no such column",
        f"/literature/{MODELS}, row {params_line}, column 'params': found 'lots'; expected a number",
        f"/literature/{RESULTS_PALM}, row {model_line}, column 'model_id': found 'palm-62'; "
        "expected a model_id listed in models.csv (or the model registry); did you mean 'palm-62b'?",
        f"/literature/{RESULTS_PALM}, row {value_line}, column 'value': found 140.0; "
        "expected a value between 0 and 100 (percent)",
        f"/literature/{TASK_METRICS}, row {level_line}, column 'random_level': found 150.0",
    ]
    for text in expected:
        assert text in message, f"{text!r} not in:\n{message}"
    assert len(caught.value.problems) == len(expected), message  # and nothing else, no repeats


def test_a_failed_check_describes_its_problems_line_by_line(literature_copy: Path):
    """`make run` prints a failed check's description: the problem lines, capped at 20."""
    from checks.asset_checks import references_known

    path = literature_copy / RESULTS_GPT3
    header, records = read_records(path)
    column = header.index("model_id")
    for _, record in records:
        record[column] = "nobody"
    write_records(path, header, [r for _, r in records])
    lake = stage_lake(read_literature(literature_copy), strict=False)

    result = references_known(lake)
    assert not result.passed
    lines = result.description.splitlines()
    assert len(records) > 20 and len(lines) == 21
    assert all(f"/literature/{RESULTS_GPT3}, row " in line for line in lines[:20])
    assert all("column 'model_id': found 'nobody'" in line for line in lines[:20])
    assert lines[-1] == f"… and {len(records) - 20} more"
    assert result.metadata["problems"].value == len(records)


def test_the_readme_did_you_mean_example_is_what_the_lake_prints(literature_copy: Path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = next(line for line in readme.splitlines() if "did you mean 'palm-62b'?" in line)
    line = set_cells(literature_copy, RESULTS_PALM, PALM_62B_MMLU, {"model_id": "palm-62B"})
    assert f"row {line}," in example
    with pytest.raises(ValidationError) as caught:
        stage(literature_copy)
    printed = str(caught.value).splitlines()[-1]
    assert printed.split("/literature/", 1)[1] == example.split("/literature/", 1)[1]


def test_a_table_whose_file_cannot_be_read_does_not_flood_the_rules_that_need_it(
    literature_copy: Path,
):
    """models.csv without its model_id column: that is said once, not once per result row."""
    drop_column(MODELS, "model_id")(literature_copy)
    value_line = set_cells(literature_copy, RESULTS_PALM, PALM_62B_MMLU, {"value": "140"})
    tables = read_literature(literature_copy, strict=False)
    assert tables.unreadable == {"models"}
    with pytest.raises(ValidationError) as caught:
        stage_lake(tables)
    assert [str(p).split("/literature/", 1)[1] for p in caught.value.problems] == [
        f"{MODELS}, row 1, column 'model_id': found no such column; "
        "expected the documented column to be present",
        f"{RESULTS_PALM}, row {value_line}, column 'value': found 140.0; "
        "expected a value between 0 and 100 (percent)",
    ]
