"""The metric registry: unit, direction, what a metric needs and how it aggregates, in one place.

Why one place: the engine (units of fresh rows), the BIG-bench reader (which task metrics need a
generation or options), the ObsScaling reader (units of its columns), the pandera schemas (the
allowed units) and the re-scorer/verdicts (what can be computed from stored examples, chance
levels) all used to carry their own copies. The facts live in sources/metrics.yaml; this module
reads it once and refuses a metric it does not know, naming the file to add it to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

REGISTRY_FILE = Path(__file__).with_name("metrics.yaml")

NEEDS = frozenset(
    {"generation", "options", "target_logprob", "target_token_logprobs", "end_logprob", "tokenizer"}
)
AGGREGATES = frozenset({"mean", "corpus", "token_weighted", "power_of_means"})
KINDS = frozenset({"discrete", "continuous"})
CHANCE_RULES = frozenset({"zero", "one_over_options", "options_brier"})
COMPUTED_BY = frozenset({"engine", "rescore", "published"})


class UnknownMetricError(ValueError):
    """A metric name the registry does not list."""


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    higher_is_better: bool
    needs: frozenset[str]
    aggregate: str
    kind: str
    computed_by: str
    chance: str | None = None
    description: str = ""


def _check(name: str, entry: dict, units: dict) -> MetricSpec:
    where = f"{REGISTRY_FILE}: metrics.{name}"
    allowed = {"unit", "higher_is_better", "needs", "aggregate", "kind", "computed_by", "chance"}
    unknown = set(entry) - allowed - {"description"}
    if unknown:
        raise ValueError(
            f"{where}: unknown field(s) {sorted(unknown)}; expected some of {sorted(allowed)}"
        )
    for field, choices in (
        ("unit", set(units)),
        ("aggregate", AGGREGATES),
        ("kind", KINDS),
        ("computed_by", COMPUTED_BY),
    ):
        if entry.get(field) not in choices:
            raise ValueError(
                f"{where}.{field} is {entry.get(field)!r}; expected one of {sorted(choices)}"
            )
    if not isinstance(entry.get("higher_is_better"), bool):
        raise ValueError(
            f"{where}.higher_is_better is {entry.get('higher_is_better')!r}; expected true or false"
        )
    needs = frozenset(entry.get("needs") or ())
    if not needs or not needs <= NEEDS:
        raise ValueError(
            f"{where}.needs is {sorted(needs)}; expected a non-empty subset of {sorted(NEEDS)}"
        )
    chance = entry.get("chance")
    if chance is not None and chance not in CHANCE_RULES:
        raise ValueError(
            f"{where}.chance is {chance!r}; expected one of {sorted(CHANCE_RULES)} or absent"
        )
    return MetricSpec(
        name=name,
        unit=entry["unit"],
        higher_is_better=entry["higher_is_better"],
        needs=needs,
        aggregate=entry["aggregate"],
        kind=entry["kind"],
        computed_by=entry["computed_by"],
        chance=chance,
        description=entry.get("description", ""),
    )


@cache
def _registry() -> tuple[dict[str, tuple[float | None, float | None]], dict[str, MetricSpec]]:
    raw = yaml.safe_load(REGISTRY_FILE.read_text(encoding="utf-8"))
    units = {name: (bounds[0], bounds[1]) for name, bounds in raw["units"].items()}
    metrics = {name: _check(name, entry, units) for name, entry in raw["metrics"].items()}
    return units, metrics


def metric(name: str) -> MetricSpec:
    """The registry's entry for `name`; an unknown name is refused with what to do about it."""
    metrics = _registry()[1]
    if name not in metrics:
        raise UnknownMetricError(
            f"metric {name!r} is not in the metric registry ({REGISTRY_FILE}); known metrics: "
            f"{', '.join(sorted(metrics))}. Add it there with its unit, direction, needs and aggregate."
        )
    return metrics[name]


def all_metrics() -> dict[str, MetricSpec]:
    return dict(_registry()[1])


def unit_of(name: str) -> str:
    return metric(name).unit


def units() -> list[str]:
    """Every unit a warehouse value may have, in the registry's order."""
    return list(_registry()[0])


def unit_ranges() -> dict[str, tuple[float | None, float | None]]:
    return dict(_registry()[0])


def metrics_needing(need: str) -> frozenset[str]:
    return frozenset(name for name, spec in _registry()[1].items() if need in spec.needs)


def computed_by(source: str) -> list[str]:
    return [name for name, spec in _registry()[1].items() if spec.computed_by == source]
