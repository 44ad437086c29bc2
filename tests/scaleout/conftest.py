"""Fixtures for the scale-out tests: real servers, a tiny model, the lake on a PostgreSQL instance.

The tests need the `scaleout` extra (dagster-postgres, dagster-celery, redis) and Debian's
`postgresql` and `redis-server` (`.ci/run` installs all of them); without them they skip, saying
which is missing.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import mirror_path
from tests.scaleout import servers

TASK = "arithmetic/3_digit_addition"  # a task the warehouse catalogues
MISSING_EXTRA = [
    m
    for m in ("dagster_postgres", "dagster_celery", "redis", "psycopg2", "duckdb_ext")
    if importlib.util.find_spec(m) is None
]


def need_extra() -> None:
    if MISSING_EXTRA:
        pytest.skip(
            f"needs the scaleout extra (pip install -e '.[scaleout]'): missing {MISSING_EXTRA}"
        )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the session (a database per test: `servers.create_database`)."""
    need_extra()
    if servers.postgres_bin() is None:
        pytest.skip("PostgreSQL binaries not found: apt-get install postgresql (.ci/run does)")
    with servers.postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    need_extra()
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not found: apt-get install redis-server (.ci/run does)")
    with servers.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def bigbench_mirror() -> Path:
    mirror = mirror_path()
    if mirror is None:
        pytest.skip("needs the offline mirror (set EMERGENCE_MIRROR, e.g. ../shared/mirror)")
    return mirror


def build_tiny_models(directory: Path, count: int, mirror: Path) -> list[Path]:
    """`count` untrained GPT-2s (2 layers, width 32, different seeds) with one shared tokenizer."""
    import os

    os.environ.setdefault("EMERGENCE_MIRROR", str(mirror))
    from sources.bigbench import load_task
    from sources.evaluation import toy_models

    task = load_task(TASK)
    texts = [e.input + " " + " ".join(e.targets) for e in task.examples[:200]]
    tokenizer = toy_models.build_tokenizer(texts, vocab_size=300)
    paths = []
    for seed in range(count):
        model = toy_models.build_model(
            "gpt2",
            len(tokenizer),
            layers=2,
            width=32,
            heads=2,
            max_positions=256,
            eos_token_id=tokenizer.eos_token_id,
            seed=seed,
        )
        paths.append(toy_models.save(model, tokenizer, directory / f"tiny-{seed}"))
    return paths


def registry_yaml(models: dict[str, Path], limit: int) -> str:
    """A registry file naming local tiny models (CPU, float32, one task, `limit` examples)."""
    lines = ["models:"]
    for model_id, weights in models.items():
        lines.append(
            f"  - {{id: {model_id}, family: Tiny, weights: '{weights}', train_tokens: 1.0e+9, "
            f"tasks: ['{TASK}'], limit: {limit}, shots: 0, dtype: float32, device: cpu, "
            "source: built in the test}"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def tiny_models(bigbench_mirror, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"), 4, bigbench_mirror)


@pytest.fixture(scope="package")
def lake_on_postgres(postgres_url, bigbench_mirror, tmp_path_factory: pytest.TempPathFactory):
    """The `lake` job run once on an instance picked by EMERGENCE_DAGSTER_YAML (PostgreSQL).

    Package scope: the environment it sets is undone when the scale-out tests end.
    """
    from assets.definitions import defs
    from assets.instance import lake_instance

    root = tmp_path_factory.mktemp("postgres-lake")
    db_url = servers.create_database(postgres_url, "lake_instance")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMERGENCE_DAGSTER_YAML", "deploy/postgres/dagster.yaml")
        patch.setenv("EMERGENCE_DAGSTER_PG_URL", sqlalchemy_url(db_url))
        patch.setenv("EMERGENCE_DATA", str(root / "data"))
        patch.setenv("EMERGENCE_MIRROR", str(bigbench_mirror))
        patch.setenv("DAGSTER_HOME", str(root / "data" / "dagster"))
        patch.setenv("EMERGENCE_DEVICE", "cpu")
        patch.delenv("EMERGENCE_DUCKDB", raising=False)
        instance = lake_instance()
        lake = defs.resolve_job_def("lake").execute_in_process(
            instance=instance, raise_on_error=False
        )
        yield SimpleNamespace(instance=instance, db_url=db_url, data=root / "data", lake=lake)
        instance.dispose()


def sqlalchemy_url(db_url: str) -> str:
    """SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the extra installs psycopg2."""
    return db_url.replace("postgresql://", "postgresql+psycopg2://", 1)
