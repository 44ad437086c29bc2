"""BIG-bench task definitions, read from their published JSON (the ``bigbench==1.0.0`` sdist).

Why this file exists: fresh evaluations are only comparable with published BIG-bench numbers when
they use the published examples, prefixes, separators, output regex and metrics. Every task.json is
pinned by sha256 (computed from the sdist, of which ``$EMERGENCE_MIRROR/pypi/bigbench-1.0.0`` is a
byte copy) and verified on every read.

Where the files come from, first hit wins (the same order as `sources.remote.fetch`):

1. the verified cache ``data/raw/pypi/bigbench-1.0.0/bigbench/benchmark_tasks/<task>/task.json``;
2. ``$EMERGENCE_MIRROR/pypi/bigbench-1.0.0/bigbench/benchmark_tasks/<task>/task.json`` (copied
   into the cache after verification);
3. the sdist from PyPI (~358 MB, pinned sha256): downloaded once through `sources.remote.fetch`,
   only the task.json files listed here are extracted into the cache, and the tarball is deleted.

Parsing follows BIG-bench's ``bigbench/api/json_task.py``: defaults ``example_input_prefix="\\nQ: "``,
``example_output_prefix="\\nA: "``, ``choice_prefix="\\n  choice: "``,
``few_shot_example_separator="\\n"``, ``append_choices_to_input=True``; when a task sets neither
``output_regex`` nor ``stop_string`` the default regex ``[^\\.\\?\\!\\;\\n]+`` applies; an example
without ``target`` takes the highest-scoring choices of ``target_scores`` as its targets.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sources.metric_registry import metrics_needing
from sources.paths import mirror_dir, raw_dir
from sources.remote import ChecksumMismatch, RemoteFile, RemoteUnavailable, fetch

BIGBENCH_SDIST = RemoteFile(
    # The canonical file URL from PyPI's JSON API (the /packages/source/b/bigbench/... redirect
    # form answers 404 through some proxies).
    url="https://files.pythonhosted.org/packages/95/f8/c019b3579df548a04cac12342cfcb878e50ddf6cfcd7fddba8cfc721c157/bigbench-1.0.0.tar.gz",
    sha256="1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2",
)
# Path of the task tree inside the mirror and the raw cache (the sdist's own layout, under pypi/).
TASKS_SUBDIR = "pypi/bigbench-1.0.0/bigbench/benchmark_tasks"
# The same tree inside the tarball.
_SDIST_TASKS_PREFIX = "bigbench-1.0.0/bigbench/benchmark_tasks/"

# sha256 of every task.json the lake reads (sha256sum of the files in the sdist).
TASK_FILE_SHA256: dict[str, str] = {
    "arithmetic": "a62321df4ab5d39dccf201b27bf58e393ad8ea50f5112562c334d53ea04b0f66",
    "arithmetic/1_digit_addition": "533525ec8298560cfa7be75399c77538e4d458eb3cfc343b56263e7d879203b1",
    "arithmetic/1_digit_division": "a6c8b7c2e427bc44642272ea09efd15551282fc98ecfb9098a9099eb0632b40f",
    "arithmetic/1_digit_multiplication": "5777b0ad40b392d6d442d40384d3ef010f54c4836af2d8047b5d2b12630511e7",
    "arithmetic/1_digit_subtraction": "c075571c6c5546b313c758d4c9ccc6cda7ae7a6bbf0d6229c60815202523033c",
    "arithmetic/2_digit_addition": "1dd3e6fd6bc325a0010b21cef74bd94321b991003715e7299eb0cbd29f1d5582",
    "arithmetic/2_digit_division": "43c222d6ee58dae5a1dc922de536f8ed320c88fc6a4969b096121aad2779de01",
    "arithmetic/2_digit_multiplication": "c83bb14b0ae1e118eee531003d552e299938452493fdb889164eae1d119eff89",
    "arithmetic/2_digit_subtraction": "7437e2ef68b0725da20a4321c32251c828a7dc062c627da9e63409c1fb2653db",
    "arithmetic/3_digit_addition": "46e022b7f99e61960937578f709312c7277e5bf280c17524f148a220ce8536f7",
    "arithmetic/3_digit_division": "9c0cd65d0f4f72c53e0b08274bea9f2986efa3880bb362974f2149eaacab5c7d",
    "arithmetic/3_digit_multiplication": "26aa472e77c128bd63424eea1e62f8f3b3b4c9ab89468955754515d125d3a3d7",
    "arithmetic/3_digit_subtraction": "988d598e6d2b974bf84babfd78e4f410aa65ff807bf36b59503cf7ae48a5c4e5",
    "arithmetic/4_digit_addition": "4167e3b74fa7fcf47072f0a281f2af5a97a467f37124c9e9fe53858f64c330bc",
    "arithmetic/4_digit_division": "441b1056b053d8292f734220f09af8eee976cd607ecacdd2c2847993f7c8ce55",
    "arithmetic/4_digit_multiplication": "133cae6d9d25a3ee01a8f5374d37fb6113dccf45ed8f27698e11f5b8138bab6d",
    "arithmetic/4_digit_subtraction": "e1cb5a7ff6ffcf8e687faf6657143e514433641df2d3fcf4a75d32e5afbc86cb",
    "arithmetic/5_digit_addition": "8269fe49cc23d26198a5b53687a50701b28f4ae1504046e6f43be0aa5d07cdf4",
    "arithmetic/5_digit_division": "a3aea144fb3541953fdd2222048f06fc42e28cbdcdc8fe7ecd8fff242d73d330",
    "arithmetic/5_digit_multiplication": "8ca798a6703f872807ca9a68c9a7f12eb0c714351bbc706056069b9a47499fbd",
    "arithmetic/5_digit_subtraction": "395ff73d3c874335d69c9e9ae5c79ea83c92663d03a348926f8a25ef3a97eed3",
    "international_phonetic_alphabet_transliterate": "01644e9031a555041d70bacb53c612e4a8893a59bf817a6e576da56cd0b22190",
    "modified_arithmetic": "4ee29f8febe982d53fb4d799c174b7ffe39ad92e6a46afceccc2d36460ba6f9f",
    "modified_arithmetic/three_digit_addition_control": "4c8dd16a505ff9c4ee46cc7724279e4915cbacc271b5e795c372902314cce29e",
    "modified_arithmetic/three_digit_addition_plus_one": "6a00efab3afba18edfc72d806cffcc905bbf74dac160492d852610d6c9c615b4",
    "modified_arithmetic/three_digit_subtraction_control": "5859cb40d72150fb8ddb03ff921b904a72d0e0d5f57a82bd54d35c7365bf2c38",
    "modified_arithmetic/three_digit_subtraction_plus_one": "3549a650ac79d23c29eb34d4b60a1fdd4762223f74709085a691e55d5d504fe3",
    "modified_arithmetic/two_digit_multiplication_control": "62450f9bf1df5ef579225f9cdf3b2b335a1be070fe68df58a4c39e68289405b1",
    "modified_arithmetic/two_digit_multiplication_plus_one": "f73c85acfa9c4c45e5eea39416e5c30f2ce2d28e37742ae8e5c60c8366dff030",
    "parsinlu_qa": "a32bb551354c4259c6f16f0752ba7ba826227c19936534c51dcdfe5611b4882d",
    "parsinlu_reading_comprehension": "5fbb564e45bb8cb6f249e3320231b25af1ccfe7f3bd8f4644b0e7359eee3a8b6",
    "word_unscrambling": "aa5f9046a49894280787017e8696889df8ed482b0da42cfd96793f0f2f51baa1",
}

# BIG-bench json_task.py defaults.
DEFAULT_INPUT_PREFIX = "\nQ: "
DEFAULT_OUTPUT_PREFIX = "\nA: "
DEFAULT_CHOICE_PREFIX = "\n  choice: "
DEFAULT_FEW_SHOT_SEPARATOR = "\n"
DEFAULT_OUTPUT_REGEX = r"[^\.\?\!\;\n]+"

# What a task's metrics need (a generated answer, or the options' log-probabilities): from the
# metric registry (sources/metrics.yaml), restricted to the metrics BIG-bench task files name.
BIGBENCH_METRICS = (
    "exact_str_match",
    "bleu",
    "rouge",
    "bleurt",
    "sequence_f1",
    "multiple_choice_grade",
    "calibration_multiple_choice_brier_score",
    "macro_f1",
)
GENERATIVE_METRICS = frozenset(BIGBENCH_METRICS) & metrics_needing("generation")
MULTIPLE_CHOICE_METRICS = frozenset(BIGBENCH_METRICS) & metrics_needing("options")


@dataclass(frozen=True)
class BigBenchExample:
    """One example as published: `targets` for generation, `target_scores` for multiple choice."""

    input: str
    targets: tuple[str, ...]
    # (choice, score) in the file's order; None for examples without target_scores.
    target_scores: tuple[tuple[str, float], ...] | None

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(choice for choice, _ in self.target_scores or ())


@dataclass(frozen=True)
class BigBenchTask:
    """A BIG-bench JSON task (or the parent of subtasks), with the prompt settings it publishes."""

    task_id: str
    name: str
    description: str
    examples: tuple[BigBenchExample, ...]
    subtask_ids: tuple[str, ...]
    metrics: tuple[str, ...]
    preferred_score: str | None
    task_prefix: str
    example_input_prefix: str
    example_output_prefix: str
    choice_prefix: str
    append_choices_to_input: bool
    few_shot_example_separator: str
    output_regex: str | None  # effective regex (BIG-bench's default when the task sets none)
    stop_string: str | None
    task_file: str  # path of the verified task.json that was read
    task_file_sha256: str

    @property
    def is_composite(self) -> bool:
        """A parent task (arithmetic, modified_arithmetic): no examples of its own, only subtasks."""
        return bool(self.subtask_ids) and not self.examples

    @property
    def generative_metrics(self) -> tuple[str, ...]:
        return tuple(m for m in self.metrics if m in GENERATIVE_METRICS)

    @property
    def multiple_choice_metrics(self) -> tuple[str, ...]:
        return tuple(m for m in self.metrics if m in MULTIPLE_CHOICE_METRICS)


class TaskFormatError(ValueError):
    """A task.json did not have the shape BIG-bench's JSON task format requires."""


def list_task_ids() -> tuple[str, ...]:
    """Every task id this module can load: ``task`` or ``task/subtask``."""
    return tuple(sorted(TASK_FILE_SHA256))


def subtask_ids_of(task_id: str) -> tuple[str, ...]:
    prefix = task_id + "/"
    return tuple(t for t in list_task_ids() if t.startswith(prefix) and "/" not in t[len(prefix) :])


def _check_task_id(task_id: str) -> None:
    if task_id not in TASK_FILE_SHA256:
        raise KeyError(
            f"unknown BIG-bench task {task_id!r}; known tasks: {', '.join(list_task_ids())}"
        )


def _cache_path(task_id: str) -> Path:
    return raw_dir() / TASKS_SUBDIR / task_id / "task.json"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def task_file(task_id: str) -> Path:
    """A local copy of the task's task.json whose sha256 matches the pinned one."""
    _check_task_id(task_id)
    cached = _cache_path(task_id)
    if cached.exists():
        if _sha256_bytes(cached.read_bytes()) == TASK_FILE_SHA256[task_id]:
            return cached
        cached.unlink()  # a corrupt or stale cache entry is re-fetched, never used

    mirror = mirror_dir()
    if mirror is not None:
        mirrored = mirror / TASKS_SUBDIR / task_id / "task.json"
        if not mirrored.exists():
            raise RemoteUnavailable(
                f"BIG-bench task {task_id!r} is not in the mirror EMERGENCE_MIRROR={mirror} "
                f"(looked for {mirrored})"
            )
        data = mirrored.read_bytes()
        _verify(data, task_id, str(mirrored))
        _atomic_write(cached, data)
        return cached

    _extract_from_sdist()
    return cached


def _verify(data: bytes, task_id: str, where: str) -> None:
    actual = _sha256_bytes(data)
    expected = TASK_FILE_SHA256[task_id]
    if actual != expected:
        raise ChecksumMismatch(
            f"{where}: sha256 {actual} does not match the pinned {expected} for BIG-bench task "
            f"{task_id!r} (bigbench==1.0.0); refusing to use it"
        )


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, target)


def _extract_from_sdist() -> None:
    """Download the sdist once, extract every pinned task.json into the cache, delete the tarball."""
    try:
        tarball = fetch(BIGBENCH_SDIST, timeout_s=600.0)
    except RemoteUnavailable as error:
        raise RemoteUnavailable(
            f"BIG-bench task files are not cached under {raw_dir() / TASKS_SUBDIR} and the sdist "
            f"cannot be downloaded ({error}). Set EMERGENCE_MIRROR to a mirror holding "
            f"{TASKS_SUBDIR}/<task>/task.json (for example ../shared/mirror)."
        ) from error
    wanted = {_SDIST_TASKS_PREFIX + task_id + "/task.json": task_id for task_id in TASK_FILE_SHA256}
    found: set[str] = set()
    try:
        with tarfile.open(tarball, mode="r:gz") as archive:
            for member in archive:
                task_id = wanted.get(member.name)
                if task_id is None or not member.isfile():
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                data = handle.read()
                _verify(data, task_id, f"{tarball}!{member.name}")
                _atomic_write(_cache_path(task_id), data)
                found.add(task_id)
    finally:
        tarball.unlink(missing_ok=True)
    missing = sorted(set(TASK_FILE_SHA256) - found)
    if missing:
        raise TaskFormatError(f"{BIGBENCH_SDIST.url} lacks task files for: {', '.join(missing)}")


def load_task(task_id: str) -> BigBenchTask:
    """Parse a verified task.json (sha256 checked on this very read) into a `BigBenchTask`.

    The bytes are read and verified on every call; the parse of verified bytes is memoised (by
    task id, path and sha256), since the same file is read once per evaluation.
    """
    path = task_file(task_id)
    data = path.read_bytes()
    _verify(data, task_id, str(path))
    key = (task_id, str(path), _sha256_bytes(data))
    if key not in _PARSED:
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise TaskFormatError(f"{path}: not valid UTF-8 JSON ({error})") from error
        _PARSED[key] = parse_task(raw, task_id=task_id, task_file=key[1], task_file_sha256=key[2])
    return _PARSED[key]


_PARSED: dict[tuple[str, str, str], BigBenchTask] = {}


def parse_task(raw: dict, *, task_id: str, task_file: str, task_file_sha256: str) -> BigBenchTask:
    """Turn a task.json object into a `BigBenchTask`, with BIG-bench's defaults and checks."""
    if not isinstance(raw, dict):
        raise TaskFormatError(f"{task_file}: expected a JSON object at the top level")
    output_regex = raw.get("output_regex")
    stop_string = raw.get("stop_string")
    if output_regex is None and stop_string is None:
        output_regex = DEFAULT_OUTPUT_REGEX
    if output_regex is not None:
        try:
            compiled = re.compile(output_regex)
        except re.error as error:
            raise TaskFormatError(f"{task_file}: output_regex {output_regex!r}: {error}") from error
        if compiled.groups > 1:
            raise TaskFormatError(
                f"{task_file}: output_regex {output_regex!r} has {compiled.groups} groups; "
                "BIG-bench requires at most one (use non-capturing groups)"
            )
    examples = tuple(
        _parse_example(example, index, task_file)
        for index, example in enumerate(raw.get("examples", []))
    )
    subtasks = subtask_ids_of(task_id)
    if not examples and not subtasks:
        raise TaskFormatError(f"{task_file}: no 'examples' and no subtasks")
    metrics = tuple(raw.get("metrics", ()))
    preferred = raw.get("preferred_score")
    if examples:
        if not metrics:
            raise TaskFormatError(f"{task_file}: field 'metrics' is missing or empty")
        if any(m in MULTIPLE_CHOICE_METRICS for m in metrics):
            lacking = [i for i, e in enumerate(examples) if e.target_scores is None]
            if lacking:
                raise TaskFormatError(
                    f"{task_file}: metrics {metrics} need 'target_scores' but examples "
                    f"{lacking[:5]} have none"
                )
    return BigBenchTask(
        task_id=task_id,
        name=str(raw.get("name", task_id)),
        description=str(raw.get("description", "")),
        examples=examples,
        subtask_ids=subtasks,
        metrics=metrics,
        preferred_score=preferred,
        task_prefix=str(raw.get("task_prefix", "")),
        example_input_prefix=raw.get("example_input_prefix", DEFAULT_INPUT_PREFIX),
        example_output_prefix=raw.get("example_output_prefix", DEFAULT_OUTPUT_PREFIX),
        choice_prefix=raw.get("choice_prefix", DEFAULT_CHOICE_PREFIX),
        append_choices_to_input=bool(raw.get("append_choices_to_input", True)),
        few_shot_example_separator=raw.get(
            "few_shot_example_separator", DEFAULT_FEW_SHOT_SEPARATOR
        ),
        output_regex=output_regex,
        stop_string=stop_string,
        task_file=task_file,
        task_file_sha256=task_file_sha256,
    )


def _parse_example(example: object, index: int, task_file: str) -> BigBenchExample:
    where = f"{task_file}: examples[{index}]"
    if not isinstance(example, dict) or not isinstance(example.get("input"), str):
        raise TaskFormatError(f"{where}: expected an object with a string 'input'")
    scores = example.get("target_scores")
    target_scores: tuple[tuple[str, float], ...] | None = None
    if scores is not None:
        if not isinstance(scores, dict) or not scores:
            raise TaskFormatError(f"{where}: 'target_scores' must be a non-empty object")
        try:
            target_scores = tuple((str(choice), float(score)) for choice, score in scores.items())
        except (TypeError, ValueError) as error:
            raise TaskFormatError(f"{where}: 'target_scores' values must be numbers") from error
    target = example.get("target")
    if target is None:
        if target_scores is None:
            raise TaskFormatError(f"{where}: needs 'target' (str or list) or 'target_scores'")
        best = max(score for _, score in target_scores)
        targets = tuple(choice for choice, score in target_scores if score == best)
    elif isinstance(target, str):
        targets = (target,)
    elif isinstance(target, list) and target and all(isinstance(t, str) for t in target):
        targets = tuple(target)
    else:
        raise TaskFormatError(f"{where}: 'target' must be a string or a non-empty list of strings")
    return BigBenchExample(input=example["input"], targets=targets, target_scores=target_scores)
