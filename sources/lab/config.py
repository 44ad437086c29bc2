"""The ladder config (sources/ladders/*.yaml): one pydantic model, errors naming file, line, field.

A ladder is a model architecture, a list of sizes, a training-data recipe, a token budget rule,
a seed and the checkpoints to keep. Its `series_hash` covers everything that changes what a size
learns or how it is scored (not the list of sizes), so a changed recipe is a new series in the
warehouse; `size_hash` adds the size itself and keys the training cache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from checks.validation import Problem, raise_if_any
from sources.literature import display_path
from sources.registry import RegistryProblem, _Yaml12Loader, _yaml_problem

LADDERS_DIR = Path(__file__).resolve().parent.parent / "ladders"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SizeSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    layers: int = Field(ge=1, le=64)
    width: int = Field(ge=4, le=8192)
    heads: int = Field(ge=1, le=128)

    @model_validator(mode="after")
    def _heads_divide_width(self) -> SizeSpec:
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")
        return self


class DataRecipe(_Strict):
    """Generated BIG-bench-style arithmetic: `What is A plus B?` with the task's answer choices."""

    kind: Literal["bigbench_arithmetic"] = "bigbench_arithmetic"
    operations: tuple[Literal["plus", "minus"], ...] = ("plus",)
    digits: tuple[int, ...] = (2,)
    # a curriculum: the share of Q/A pairs drawn from each `digits` entry (e.g. [1, 2] with
    # [0.2, 0.8]: a fifth are one-digit sums, the table the two-digit answers are built from);
    # omitted: every problem of every entry equally likely
    digits_weights: tuple[float, ...] | None = None
    # share of Q/A pairs written with the answer choices, as the BIG-bench prompt writes them;
    # the rest are bare `Q: ... A: ...` pairs (denser in arithmetic per token)
    choices_fraction: float = Field(default=1.0, ge=0, le=1)
    examples_per_document: tuple[int, int] = (1, 4)  # a document holds this many Q/A pairs
    documents: int = Field(default=20000, ge=10)
    held_out_documents: int = Field(default=200, ge=1)
    exclude_tasks: tuple[str, ...] = ()  # task files whose evaluation examples never appear

    @model_validator(mode="after")
    def _weights_match_digits(self) -> DataRecipe:
        weights = self.digits_weights
        if weights is not None and (len(weights) != len(self.digits) or min(weights) < 0):
            raise ValueError(
                f"digits_weights {list(weights)} must be one non-negative share per digits "
                f"entry {list(self.digits)}"
            )
        return self


class TrainingRecipe(_Strict):
    token_budget: Literal["fixed", "per_parameter"] = "fixed"
    tokens: int | None = Field(default=None, ge=1)  # tokens per size when fixed
    tokens_per_parameter: float | None = Field(default=None, gt=0)  # when per_parameter
    batch_size: int = Field(ge=1)
    context_length: int = Field(ge=16)
    learning_rate: float = Field(gt=0)
    warmup_fraction: float = Field(default=0.05, ge=0, lt=1)
    # all: every token (plain LM); answers: only the answer digits and the newline that ends
    # them (what the evaluation scores; the questions and random choices are context only)
    loss_on: Literal["all", "answers"] = "all"
    checkpoints: tuple[float, ...] = (1.0,)  # fractions of the budget kept (1.0 = final)
    loss_every: int = Field(default=10, ge=1)  # record the training loss every N steps

    @model_validator(mode="after")
    def _budget(self) -> TrainingRecipe:
        if self.token_budget == "fixed" and self.tokens is None:
            raise ValueError("token_budget 'fixed' needs `tokens`")
        if self.token_budget == "per_parameter" and self.tokens_per_parameter is None:
            raise ValueError("token_budget 'per_parameter' needs `tokens_per_parameter`")
        if not self.checkpoints or 1.0 not in self.checkpoints:
            raise ValueError("checkpoints must include 1.0 (the final model)")
        if any(not 0 < f <= 1 for f in self.checkpoints):
            raise ValueError("checkpoints are fractions of the budget in (0, 1]")
        return self


class EvaluationRecipe(_Strict):
    tasks: tuple[str, ...]
    shots: tuple[int, ...] = (2, 0)
    limit: int | None = Field(default=None, ge=1)


class LadderConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    architecture: Literal["gpt2", "llama"]
    seed: int = Field(ge=0)
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    dtype: Literal["float32", "bfloat16"] = "float32"
    threads: int = Field(default=2, ge=1)
    vocab_size: int = Field(default=256, ge=64)
    data: DataRecipe
    training: TrainingRecipe
    evaluation: EvaluationRecipe
    sizes: tuple[SizeSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_sizes(self) -> LadderConfig:
        names = [s.name for s in self.sizes]
        if len(set(names)) != len(names):
            raise ValueError(f"size names repeat: {names}")
        return self

    def _hash(self, payload: dict) -> str:
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]

    @property
    def series_hash(self) -> str:
        """Everything but the sizes and the description: a changed recipe is a new series."""
        return self._hash(self.model_dump(mode="json", exclude={"sizes", "description"}))

    def size_hash(self, size: str) -> str:
        spec = next(s for s in self.sizes if s.name == size)
        return self._hash({"series": self.series_hash, "size": spec.model_dump(mode="json")})

    @property
    def family(self) -> str:
        """The warehouse family of this ladder: one series per recipe."""
        return f"lab-{self.name}-{self.series_hash}"

    def model_id(self, size: str) -> str:
        return f"{self.family}/{size}"

    def size(self, name: str) -> SizeSpec:
        for spec in self.sizes:
            if spec.name == name:
                return spec
        raise KeyError(f"ladder {self.name!r} has no size {name!r}; sizes: {self.size_names}")

    @property
    def size_names(self) -> list[str]:
        return [s.name for s in self.sizes]

    @property
    def checkpoint_keys(self) -> list[str]:
        """One key per kept checkpoint, in training order: its share of the budget in percent
        (`50pct`, `100pct` = the final model); the lab's per-checkpoint partitions use them."""
        return [checkpoint_key(f) for f in sorted(self.training.checkpoints)]


def checkpoint_key(fraction: float) -> str:
    """`0.5` -> `50pct`: a kept checkpoint named by its share of the token budget."""
    return f"{fraction * 100:g}pct"


def ladder_path(name_or_path: str | Path = "default") -> Path:
    """A ladder by name (sources/ladders/<name>.yaml) or by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return path.resolve()
    return LADDERS_DIR / f"{name_or_path}.yaml"


def _field_lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """'training.tokens' -> its line, for every field (list items as 'sizes.0.width')."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}{key.value}"
            lines[path] = value.start_mark.line + 1
            lines.update(_field_lines(value, path + "."))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}{i}"
            lines[path] = item.start_mark.line + 1
            lines.update(_field_lines(item, path + "."))
    return lines


def read_ladder(name_or_path: str | Path = "default") -> LadderConfig:
    """The validated ladder, or ValidationError with one line per problem (file, line, field)."""
    path = ladder_path(name_or_path)
    label = display_path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise_if_any([RegistryProblem(label, None, None, str(error), "a readable ladder file")])
    try:
        node = yaml.compose(text, Loader=_Yaml12Loader)
        raw = yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError as error:
        raise_if_any([_yaml_problem(label, error)])
    if not isinstance(raw, dict):
        raise_if_any([RegistryProblem(label, 1, None, repr(raw), "a mapping of ladder fields")])
    lines = _field_lines(node)
    try:
        return LadderConfig.model_validate(_listify(raw), strict=False)
    except PydanticValidationError as error:
        problems: list[Problem] = []
        for failure in error.errors():
            loc = [str(p) for p in failure["loc"]]
            field = ".".join(loc) or None
            line = next(
                (
                    lines[".".join(loc[:n])]
                    for n in range(len(loc), 0, -1)
                    if ".".join(loc[:n]) in lines
                ),
                1,
            )
            found = "nothing" if failure["type"] == "missing" else repr(failure.get("input"))
            expected = failure["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
            if failure["type"] == "extra_forbidden":
                found, expected = "an undocumented field", "only the fields documented in the file"
            problems.append(RegistryProblem(label, line, field, found, expected))
        raise_if_any(problems)
    raise AssertionError("unreachable")


def _listify(raw: dict) -> dict:
    """YAML lists to tuples, so the frozen models stay hashable."""
    if isinstance(raw, dict):
        return {k: _listify(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return tuple(_listify(v) for v in raw)
    return raw
