"""The lake's Dagster instance: DAGSTER_HOME = $EMERGENCE_DATA/dagster, configured by dagster.yaml.

(Unless DAGSTER_HOME is set to a folder of its own: `sources.paths.dagster_home`.)

Dagster's yaml can read a whole field from one environment variable (`{env: VAR}`) but cannot
build a path from one, and EMERGENCE_DATA has a default when unset; so the runner points
DAGSTER_HOME at the data folder itself and links the project's dagster.yaml there. `make run`,
`make dev` and the tests that run the lake as a user does all go through `lake_instance()`.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from sources.paths import PROJECT_ROOT, dagster_home, dagster_yaml

CONFIG = PROJECT_ROOT / "dagster.yaml"  # the default; EMERGENCE_DAGSTER_YAML picks a variant


def prepare_dagster_home() -> Path:
    """Create the instance folder with dagster.yaml linked in, and set DAGSTER_HOME to it.

    A dagster.yaml of its own in a DAGSTER_HOME the user chose is left as it is.
    """
    home = dagster_home()
    config = dagster_yaml().resolve()
    home.mkdir(parents=True, exist_ok=True)
    link = home / "dagster.yaml"
    own_config = link.exists() and not link.is_symlink()
    if not own_config and not (link.is_symlink() and link.resolve() == config):
        fresh = home / f".dagster.yaml.{os.getpid()}"
        fresh.unlink(missing_ok=True)
        fresh.symlink_to(config)
        os.replace(fresh, link)  # atomic: a concurrent `make run` never sees a half-made link
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def lake_instance() -> dg.DagsterInstance:
    prepare_dagster_home()
    return dg.DagsterInstance.get()
