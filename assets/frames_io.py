"""Storing a dataclass of polars frames (the staged lake) as Arrow IPC files, not one pickle.

Dagster's default IO manager pickles an output once and unpickles it for every consumer: the
staged lake (a million result rows: ~270 MB) was unpickled six times per run, once per asset
check and once by the warehouse step, each a full copy in memory. Here every frame is its own
uncompressed Arrow IPC file, read back memory-mapped: loading costs milliseconds whatever the
size, a consumer pages in only the columns it touches (the checks read `problems` and `models`,
never the million results), and the loads share the page cache instead of copying. The other
fields (problems, origins) are small and go into one pickle beside the frames, with the class.
Arrow IPC rather than Parquet: no decoding on read, and polars and DuckDB read it zero-copy.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.ipc
from upath import UPath

FIELDS_FILE = "fields.pickle"
FRAMES_IO_MANAGER = "frames_io_manager"  # the resource key assets use (assets/definitions.py)


def write_frames(obj: Any, directory: Path) -> None:
    """Write a dataclass instance: each polars frame field as `<field>.arrow`, the rest pickled.

    Written to a sibling folder first and swapped in, so a crash never leaves half a lake.
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"expected a dataclass of polars frames, got {type(obj).__name__}")
    directory = Path(directory)
    staging = directory.with_name(f"{directory.name}.writing-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    others = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if isinstance(value, pl.DataFrame):
            value.write_ipc(staging / f"{field.name}.arrow", compression="uncompressed")
        else:
            others[field.name] = value
    with (staging / FIELDS_FILE).open("wb") as handle:
        pickle.dump((type(obj), others), handle, protocol=pickle.HIGHEST_PROTOCOL)
    if directory.exists():
        shutil.rmtree(directory) if directory.is_dir() else directory.unlink()
    staging.rename(directory)


def read_frames(directory: Path) -> Any:
    """The instance `write_frames` wrote, its frames memory-mapped."""
    directory = Path(directory)
    if not (directory / FIELDS_FILE).is_file():
        raise FileNotFoundError(
            f"{directory} holds no stored frames (a file there is a pickle from before frames were "
            "stored as Arrow): materialise that asset again"
        )
    with (directory / FIELDS_FILE).open("rb") as handle:
        cls, others = pickle.load(handle)
    frames = {path.stem: _memory_mapped(path) for path in directory.glob("*.arrow")}
    return cls(**others, **frames)


def _memory_mapped(path: Path) -> pl.DataFrame:
    """A frame over the file's pages (pyarrow maps it; polars takes the buffers without copying)."""
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    return pl.from_arrow(table, rechunk=False)


class FramesIOManager(dg.UPathIOManager):
    """One folder per asset (and partition) under the instance's storage directory."""

    extension = ""

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        write_frames(obj, Path(path))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        return read_frames(Path(path))


class FramesIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """Frames as Arrow IPC under `base_dir` (default: the Dagster instance's storage folder)."""

    base_dir: str | None = None

    def create_io_manager(self, context: dg.InitResourceContext) -> FramesIOManager:
        base = self.base_dir or context.instance.storage_directory()
        return FramesIOManager(base_path=UPath(base))
