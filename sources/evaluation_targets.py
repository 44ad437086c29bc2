"""What the lake should have evaluated now: one target per registry model, and one per checkpoint
branch its entry asks for, each pinned to the commit its revision points at right now.

Why a separate step: the registry names revisions (`main`, `step*`), the hub moves them. The
`new_models` sensor compares these commits with what it evaluated before, so a new push to `main`
or a new checkpoint branch is evaluated once, without anyone editing the registry. Dagster-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sources.hub import (
    HubError,
    HubUnavailable,
    checkpoint_step,
    list_refs,
    matching_branches,
    resolve_commit,
)
from sources.registry import is_local_weights

CHECKPOINT_SEPARATOR = "@"  # never in a model id (checks.schemas.ID_PATTERN)


@dataclass(frozen=True)
class Target:
    """One partition of `fresh_evaluation` at one commit."""

    partition: str  # '<model id>' or '<model id>@<checkpoint branch>'
    model_id: str
    revision: str  # the registry's revision, or the checkpoint branch
    commit: str  # the hub commit; for local weights, the registry's revision text
    checkpoint_step: int | None = None  # None: the released model (the entry's `revision`)


def partition_key(model_id: str, branch: str | None = None) -> str:
    return model_id if branch is None else f"{model_id}{CHECKPOINT_SEPARATOR}{branch}"


def split_partition(key: str) -> tuple[str, str | None]:
    """'pythia-70m@step1000' -> ('pythia-70m', 'step1000'); 'pythia-70m' -> ('pythia-70m', None)."""
    model_id, _, branch = key.partition(CHECKPOINT_SEPARATOR)
    return model_id, branch or None


def entry_targets(entry: dict) -> list[Target]:
    """The targets of one registry row (one hub call for a hub id); raise HubError."""
    model_id, revision = entry["id"], entry["revision"]
    if is_local_weights(entry["weights"]):
        return [Target(model_id, model_id, revision, revision)]
    refs = list_refs(entry["weights"])
    targets = [
        Target(model_id, model_id, revision, resolve_commit(entry["weights"], revision, refs))
    ]
    for branch, commit in matching_branches(refs, entry["revisions"] or []).items():
        if branch != revision:
            targets.append(
                Target(
                    partition_key(model_id, branch),
                    model_id,
                    branch,
                    commit,
                    checkpoint_step(branch),
                )
            )
    return targets


def registry_targets(registry: pl.DataFrame) -> tuple[list[Target], dict[str, str]]:
    """Every target of the registry, and per model id the line saying why it has none.

    Raise HubUnavailable when the hub cannot be reached at all (then nothing is known)."""
    targets: list[Target] = []
    problems: dict[str, str] = {}
    for entry in registry.iter_rows(named=True):
        try:
            targets += entry_targets(entry)
        except HubUnavailable:
            raise
        except HubError as error:
            problems[entry["id"]] = str(error)
    return targets, problems
