"""The model registry (sources/models.yaml): which models the lake evaluates itself, and how.

Each entry is typed strictly by one pydantic model (`RegistryEntry`): a quoted "false" is not a
boolean, an unquoted number is not an id, a local weights path must be a model directory, a
revision must be a git ref name or a commit sha. The YAML is read with YAML 1.2 booleans (only
true/false; `yes`, `on` stay text), and every problem names the file, the entry's line, the
field, what was found and what was expected, before anything is evaluated. Ids must be unique
across entries (pandera, like every other source of the lake).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pandera.polars as pa
import polars as pl
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from checks.schemas import FLOPS_RANGE, ID_PATTERN, PARAMS_RANGE, TOKENS_RANGE
from checks.validation import Problem, ValidationError, schema_problems
from sources.bigbench import list_task_ids
from sources.literature import display_path
from sources.paths import SOURCES_DIR

# Wei et al. Figure 2 A-D tasks, as BIG-bench defines them (2-shot, like ObsScaling).
DEFAULT_TASKS = (
    "modified_arithmetic",
    "arithmetic/3_digit_addition",
    "arithmetic/3_digit_subtraction",
    "arithmetic/2_digit_multiplication",
    "word_unscrambling",
    "international_phonetic_alphabet_transliterate",
    "parsinlu_qa",
)
DEFAULT_SHOTS = 2
DTYPES = ("float32", "bfloat16", "float16")
DEVICE_PATTERN = r"^(cpu|cuda(:[0-9]+)?)$"
COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?$")

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


def _custom(found: str, expected: str) -> PydanticCustomError:
    return PydanticCustomError("registry", "{expected}", {"found": found, "expected": expected})


def git_ref_problem(revision: str) -> str | None:
    """Why `revision` is neither a commit sha nor a valid git ref name (git check-ref-format)."""
    if COMMIT_SHA.match(revision):
        return None
    checks = [
        (revision == "@", "is '@'"),
        (revision.startswith("/") or revision.endswith("/"), "starts or ends with '/'"),
        ("//" in revision, "contains '//'"),
        (".." in revision, "contains '..'"),
        ("@{" in revision, "contains '@{'"),
        (revision.endswith("."), "ends with '.'"),
        (any(part.startswith(".") for part in revision.split("/")), "has a part starting with '.'"),
        (any(part.endswith(".lock") for part in revision.split("/")), "has a part ending '.lock'"),
        (
            any(c in " ~^:?*[\\" or ord(c) < 32 or ord(c) == 127 for c in revision),
            "contains a space, a control character or one of ~ ^ : ? * [ \\",
        ),
    ]
    return next((why for bad, why in checks if bad), None)


def is_local_weights(weights: str) -> bool:
    """Written like a path (/, ./, ../, ~, or more than one '/') rather than a hub id 'org/name'."""
    return weights.startswith(("/", ".", "~")) or weights.count("/") > 1


class EvaluationFields(BaseModel):
    """How to evaluate a model: set per registry entry, overridden by run config; None = default."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    tasks: list[str] | None = Field(None, min_length=1)
    limit: int | None = Field(None, ge=1)
    shots: int | None = Field(None, ge=0, le=32)
    dtype: Literal["float32", "bfloat16", "float16"] | None = None
    device: Annotated[str, StringConstraints(pattern=DEVICE_PATTERN)] | None = None

    @field_validator("tasks")
    @classmethod
    def _tasks_known(cls, tasks: list[str]) -> list[str]:
        known = list_task_ids()
        unknown = [t for t in tasks if t not in known]
        if unknown:
            raise _custom(
                repr(unknown), "BIG-bench task ids the lake knows (`emergence tasks` lists them)"
            )
        if len(set(tasks)) != len(tasks):
            raise _custom(repr(tasks), "each task at most once")
        return tasks


class RegistryEntry(EvaluationFields):
    """One model of sources/models.yaml (README, "Model registry": every field)."""

    id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    family: NonEmpty
    weights: NonEmpty
    revision: NonEmpty = "main"
    params: float | None = Field(None, ge=PARAMS_RANGE[0], le=PARAMS_RANGE[1])
    train_tokens: float | None = Field(None, ge=TOKENS_RANGE[0], le=TOKENS_RANGE[1])
    train_flops: float | None = Field(None, ge=FLOPS_RANGE[0], le=FLOPS_RANGE[1])
    source: Annotated[str, StringConstraints(min_length=4)]
    trust_remote_code: bool = False
    allow_pickle: bool = False
    revisions: NonEmpty | list[NonEmpty] | None = None
    tokens_per_step: float | None = Field(None, ge=1.0, le=TOKENS_RANGE[1])

    @field_validator("revisions")
    @classmethod
    def _checkpoints_are_refs(
        cls, revisions: str | list[str] | None, info: ValidationInfo
    ) -> str | list[str] | None:
        """A glob over branch names ('step*') or a list of branch names, of a hub repo."""
        if revisions is None:
            return None
        if is_local_weights(info.data.get("weights") or ""):
            raise _custom(repr(revisions), "no checkpoint branches for local weights (a hub id)")
        names = revisions if isinstance(revisions, list) else [revisions.replace("*", "x")]
        names = [n.replace("?", "x").replace("[", "x").replace("]", "x") for n in names]
        bad = next(((n, git_ref_problem(n)) for n in names if git_ref_problem(n)), None)
        if bad:
            raise _custom(
                f"{revisions!r}, which {bad[1]}",
                "a branch pattern such as 'step*' or a list of branch names",
            )
        return revisions

    @field_validator("revision")
    @classmethod
    def _revision_is_a_ref(cls, revision: str) -> str:
        why = git_ref_problem(revision)
        if why:
            raise _custom(
                f"{revision!r}, which {why}",
                "a git branch or tag name, or a 40-character commit sha",
            )
        return revision

    @field_validator("weights")
    @classmethod
    def _weights_exist(cls, weights: str, info: ValidationInfo) -> str:
        """A local path is resolved (relative to the registry file) and must be a model folder."""
        if not is_local_weights(weights):
            if HUB_ID.match(weights) and "--" not in weights and ".." not in weights:
                return weights
            raise _custom(
                repr(weights),
                "a Hugging Face hub id such as 'EleutherAI/pythia-70m', or a local directory "
                "written as a path (/abs/dir, ./dir, ~/dir)",
            )
        base = (info.context or {}).get("base_dir", Path.cwd())
        path = Path(weights).expanduser()
        resolved = (path if path.is_absolute() else base / path).resolve()
        if not resolved.is_dir():
            state = "which does not exist" if not resolved.exists() else "which is not a directory"
            raise _custom(
                f"{weights!r} (resolved to {resolved}), {state}",
                "a local model directory (config.json + weights + tokenizer)",
            )
        if not (resolved / "config.json").is_file():
            raise _custom(
                f"{weights!r} (resolved to {resolved}), a directory without config.json",
                "a local model directory (config.json + weights + tokenizer)",
            )
        return str(resolved)


EVALUATION_FIELDS = list(EvaluationFields.model_fields)
REGISTRY_FIELDS = [f for f in RegistryEntry.model_fields if f not in EVALUATION_FIELDS]
REGISTRY_FIELDS += EVALUATION_FIELDS


class RegistrySchema(pa.DataFrameModel):
    """What holds across entries (one entry's own fields are typed by RegistryEntry)."""

    id: str = pa.Field(unique=True)


@dataclass(frozen=True)
class EvaluationSettings:
    """What one evaluation of a registry model runs: run config > registry entry > defaults."""

    tasks: tuple[str, ...]
    shots: int
    limit: int | None  # a seeded subset of this many examples per task; None = all
    dtype: str | None  # None: the engine's default for the device
    device: str | None  # None: EMERGENCE_DEVICE, else CUDA when present, else CPU


def evaluation_settings(entry: dict[str, Any], overrides: dict[str, Any]) -> EvaluationSettings:
    """Merge a registry row's evaluation fields with run-config overrides (None = not set),
    the overrides typed by the same rules as the registry; raise ValidationError naming them.

    A run-config `limit` of 0 means "every example", overriding a registry limit.
    """
    given = {k: v for k, v in overrides.items() if v is not None and (k, v) != ("limit", 0)}
    try:
        EvaluationFields.model_validate(given)
    except PydanticValidationError as error:
        raise ValidationError(_entry_problems("run config", None, {}, error)) from error

    def pick(name: str, default: Any) -> Any:
        for value in (overrides.get(name), entry.get(name)):
            if value is not None:
                return value
        return default

    limit = pick("limit", None)
    return EvaluationSettings(
        tasks=tuple(pick("tasks", DEFAULT_TASKS)),
        shots=pick("shots", DEFAULT_SHOTS),
        limit=limit or None,
        dtype=pick("dtype", None),
        device=pick("device", None),
    )


def registry_path() -> Path:
    """sources/models.yaml, or EMERGENCE_REGISTRY."""
    override = os.environ.get("EMERGENCE_REGISTRY")
    return Path(override).resolve() if override else SOURCES_DIR / "models.yaml"


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false (any case), never yes/no/on/off."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _yaml_problem(label: str, error: yaml.YAMLError) -> Problem:
    """A parser error as 'line N: found what the parser got; expected what it wanted'."""
    mark = getattr(error, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    wanted = re.match(r"expected (.*), but (?:found|got) (.*)", problem)
    if wanted:
        found, expected = wanted.group(2), wanted.group(1)
    else:
        found, expected = problem, "valid YAML"
    context_mark = getattr(error, "context_mark", None)
    if context and context_mark is not None:
        expected += f" ({context} that starts on line {context_mark.line + 1})"
    elif context:
        expected += f" ({context})"
    return RegistryProblem(label, line, None, found, expected)


class RegistryProblem(Problem):
    """A Problem that says 'line' and 'field', as a YAML reader expects."""

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", line {self.row}"
        if self.column:
            where += f", field '{self.column}'"
        return f"{where}: found {self.found}; expected {self.expected}"


_TYPE_WORDS = {
    "bool_type": "true or false, unquoted (a YAML boolean)",
    "string_type": "text (quote it)",
    "float_type": "a number (e.g. 3.0e+11, with a dot: YAML reads 3e11 as text)",
    "int_type": "a whole number",
    "list_type": "a list, e.g. [arithmetic/3_digit_addition, word_unscrambling]",
    "missing": "a value (the field is required)",
}
_PATTERN_WORDS = {
    "id": "an id of letters, digits and . _ / + - (starting with a letter or digit)",
    "device": "cpu, cuda or cuda:N",
}


def _describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "text"}
    kind = kinds.get(type(value), type(value).__name__)
    return f"{value!r} ({kind})"


def _entry_problems(
    label: str, line: int | None, field_lines: dict[str, int], error: PydanticValidationError
) -> list[Problem]:
    problems = []
    for failure in error.errors():
        field = str(failure["loc"][0]) if failure["loc"] else None
        where = field_lines.get(field or "", line)
        kind = failure["type"]
        if kind == "registry":
            found, expected = failure["ctx"]["found"], failure["ctx"]["expected"]
        elif kind == "missing":
            found, expected = "nothing", _TYPE_WORDS["missing"]
        elif kind == "extra_forbidden":
            found, expected = "an undocumented field", f"only {REGISTRY_FIELDS}"
        else:
            found = _describe(failure["input"])
            if len(failure["loc"]) > 1:
                found += f" at position {failure['loc'][1]}"
            expected = (
                _PATTERN_WORDS.get(field or "")
                if kind == "string_pattern_mismatch"
                else _TYPE_WORDS.get(kind)
            ) or failure["msg"].removeprefix("Input should be ")
        problems.append(RegistryProblem(label, where, field, found, expected))
    return problems


def _node_lines(node: yaml.Node) -> tuple[int, dict[str, int]]:
    """An entry's first line and the line of each of its fields."""
    fields = {}
    if isinstance(node, yaml.MappingNode):
        fields = {str(k.value): v.start_mark.line + 1 for k, v in node.value}
    return node.start_mark.line + 1, fields


def read_registry_entries(path: Path | None = None) -> list[tuple[RegistryEntry, str, int]]:
    """(entry, file label, line) for every registry model; raise ValidationError naming each
    problem's line and field, and what was found and expected."""
    path = path or registry_path()
    label = display_path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ValidationError(
            [RegistryProblem(label, None, None, f"an unreadable file ({error.strerror})", "YAML")]
        ) from error
    loader = _Yaml12Loader(text)
    try:
        root = loader.get_single_node()
        document = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        raise ValidationError([_yaml_problem(label, error)]) from error
    finally:
        loader.dispose()
    entries = document.get("models") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValidationError(
            [
                RegistryProblem(
                    label, None, "models", _describe(entries), "a top-level 'models:' list"
                )
            ]
        )
    models_node = next(v for k, v in root.value if k.value == "models")
    context = {"base_dir": path.parent}
    problems: list[Problem] = []
    valid = []
    for entry, node in zip(entries, models_node.value, strict=True):
        line, field_lines = _node_lines(node)
        if not isinstance(entry, dict):
            problems.append(
                RegistryProblem(label, line, None, _describe(entry), "a mapping of registry fields")
            )
            continue
        try:
            valid.append((RegistryEntry.model_validate(entry, context=context), label, line))
        except PydanticValidationError as error:
            problems += _entry_problems(label, line, field_lines, error)
    if problems:
        raise ValidationError(problems)
    return valid


def read_registry(path: Path | None = None) -> pl.DataFrame:
    """Validated registry entries, one row each (with file and line); raise ValidationError."""
    entries = read_registry_entries(path)
    frame = pl.DataFrame(
        [
            {
                **e.model_dump(),
                "revisions": [e.revisions] if isinstance(e.revisions, str) else e.revisions,
                "source_file": f,
                "source_row": line,
            }
            for e, f, line in entries
        ],
        schema={
            **{name: pl.String for name in REGISTRY_FIELDS},
            "params": pl.Float64,
            "train_tokens": pl.Float64,
            "train_flops": pl.Float64,
            "trust_remote_code": pl.Boolean,
            "allow_pickle": pl.Boolean,
            "revisions": pl.List(pl.String),  # branch names or globs ('step*')
            "tokens_per_step": pl.Float64,
            "tasks": pl.List(pl.String),
            "limit": pl.Int64,
            "shots": pl.Int64,
            "source_file": pl.String,
            "source_row": pl.Int64,
        },
    )
    duplicates = schema_problems(frame, RegistrySchema, table="models.yaml")
    if duplicates:
        raise ValidationError(
            [RegistryProblem(p.file, p.row, "id", p.found, p.expected) for p in duplicates]
        )
    return frame


def registry_model_rows(
    registry: pl.DataFrame, counted_params: dict[str, float] | None = None
) -> pl.DataFrame:
    """Registry entries as `models` rows: FLOPs as published, else 6·N·D flagged estimated."""
    counted_params = counted_params or {}
    frame = registry.with_columns(
        pl.col("params").fill_null(
            pl.col("id").replace_strict(counted_params, default=None, return_dtype=pl.Float64)
        ),
    )
    six_nd = pl.col("params") * pl.col("train_tokens") * 6.0
    return frame.select(
        pl.col("id").alias("model_id"),
        "family",
        pl.col("id").alias("label"),
        "params",
        "train_tokens",
        pl.coalesce("train_flops", six_nd).alias("train_flops"),
        pl.when(pl.col("train_flops").is_not_null())
        .then(pl.lit("published"))
        .when(six_nd.is_not_null())
        .then(pl.lit("estimated_6nd"))
        .otherwise(pl.lit("missing"))
        .alias("flops_basis"),
        pl.lit(None, dtype=pl.Float64).alias("flops_printed_by_wei"),
        "weights",
        "revision",
        pl.lit("registry").alias("origin"),
        "source",
        pl.lit(None, dtype=pl.String).alias("note"),
        "source_file",
        "source_row",
    )


def main() -> int:
    """`python -m sources.registry`: validate the registry; one line per problem, no traceback."""
    try:
        entries = read_registry_entries()
    except ValidationError as error:
        print(error)
        return 1
    print(f"{display_path(registry_path())}: {len(entries)} models, all valid")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
