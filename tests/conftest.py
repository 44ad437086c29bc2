"""Shared fixtures: an isolated data directory, the offline mirror, and one lake run per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sources.paths import PROJECT_ROOT


def mirror_path() -> Path | None:
    candidate = Path(
        os.environ.get("EMERGENCE_MIRROR") or PROJECT_ROOT.parent / "shared" / "mirror"
    ).resolve()
    return candidate if candidate.is_dir() else None


@pytest.fixture
def mirror() -> Path:
    path = mirror_path()
    if path is None:
        pytest.skip("needs the offline mirror (set EMERGENCE_MIRROR, e.g. ../shared/mirror)")
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh EMERGENCE_DATA (and so a fresh warehouse, cache and charts folder)."""
    data = tmp_path / "data"
    monkeypatch.setenv("EMERGENCE_DATA", str(data))
    monkeypatch.delenv("EMERGENCE_DUCKDB", raising=False)
    monkeypatch.delenv("EMERGENCE_LITERATURE", raising=False)
    return data


@pytest.fixture(scope="session")
def lake_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Materialise the whole lake once (with the mirror) and share the result."""
    import dagster as dg

    from assets.definitions import defs

    mirror = mirror_path()
    if mirror is None:
        pytest.skip("needs the offline mirror (set EMERGENCE_MIRROR, e.g. ../shared/mirror)")
    data = tmp_path_factory.mktemp("lake") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMERGENCE_DATA", str(data))
        patch.setenv("EMERGENCE_MIRROR", str(mirror))
        patch.delenv("EMERGENCE_DUCKDB", raising=False)
        patch.delenv("EMERGENCE_LITERATURE", raising=False)
        instance = dg.DagsterInstance.ephemeral()
        result = defs.resolve_job_def("lake").execute_in_process(
            instance=instance, raise_on_error=False
        )
        yield {
            "result": result,
            "data": data,
            "instance": instance,
            "mirror": mirror,
            "patch": patch,
        }
