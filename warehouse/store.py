"""The DuckDB warehouse: transactional writes, published so that readers never block a refresh.

Why a publish step: one DuckDB file is either open read-write by ONE process or read-only by any
number of processes, never both (DuckDB locks the file per process). A notebook's read-only
connection therefore made every refresh fail with "Could not set lock on file", and a refresh
made every `duckdb -readonly` query fail the same way.

Design (copy-on-write, then an atomic rename): a write session, `connect(path)` read-write, copies
the published file into a staging folder beside it (`.emergence.duckdb.writing/`), does all its
work there, checkpoints, and swaps the finished file in with `os.replace` (one rename on the same
file system: atomic). On an error, or a kill -9, nothing is published and the staging folder is
removed by the next write. The published file is never modified in place, so

- a reader that is open keeps reading the state it opened (its file handle holds the old file,
  which nobody changes; the OS frees it when the last reader closes) and never blocks the writer;
- a reader opened during a write sees the last published state;
- a reader opened after the publish sees the new one.

(Within ONE process DuckDB shares a database instance per path while any connection to it is
open: a connection opened there while an older one is still open shares the older snapshot.
Close the old connection to see the new state.)

Alternatives considered: DuckDB's own locking allows no reader beside a writer; ATTACH + COPY FROM
DATABASE rebuilds the file row by row (slower than a file copy); DuckLake or a DuckDB server change
the storage or add a service. Copy + rename keeps one ordinary DuckDB file that any DuckDB client
opens. Its cost is one copy of the file per write session (`benchmarks/bench_publish.py` measures
it at 1M result rows; the README's "The warehouse" gives the figure).

A DuckLake location (`EMERGENCE_DUCKDB=ducklake:<catalog>`, the catalog a DuckDB file or
`postgres:<libpq string>`, data files as Parquet under EMERGENCE_DUCKLAKE_DATA) skips all of this:
DuckLake's catalog takes concurrent writers and readers itself, and every commit is a snapshot
(`warehouse/ducklake.py`). The single-file default below is unchanged.

Writers: one at a time. Dagster's `duckdb_writer` pool orders writing steps across runs; an
exclusive lock on `.emergence.duckdb.writer.lock` (released by the OS when its process dies, so a
crashed writer never blocks the next) stops a writer outside Dagster from losing another's update.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from warehouse.ducklake import DUCKLAKE_PREFIX, connect_ducklake, ducklake_ddl, is_ducklake

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
VIEWS_SQL = Path(__file__).with_name("views.sql")

log = logging.getLogger(__name__)


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse so that this write cannot go on (the message names it)."""


class DuplicateKey(ValueError):
    """Rows being written share a table's key with each other or with rows the write keeps."""


# Keys the warehouse checks on every write instead of declaring them in schema.sql (why: see
# `check_key`). The results key is the pandera schema's too (checks/schemas.py; a test keeps
# the two equal).
CHECKED_KEYS: dict[str, tuple[str, ...]] = {
    "results": ("model_id", "task_id", "setting", "prompting", "metric", "citation"),
}
SHOWN_CLASHES = 5


def staging_dir(path: Path) -> Path:
    """Where a write session builds the next state (same folder, so the rename is atomic)."""
    return path.parent / f".{path.name}.writing"


def writer_lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.writer.lock"


def describe_process(pid: int) -> str:
    """'PID 123 (python notebook.py)': the command line from /proc, where there is one."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return f"PID {pid}"
    return f"PID {pid} ({cmdline[:200]})" if cmdline else f"PID {pid}"


def _busy_from_lock_error(path: Path, error: duckdb.Error) -> WarehouseBusy:
    """DuckDB's lock error, restated: who holds the file and what to do (not DuckDB's hint)."""
    found = re.search(r"\(PID (\d+)\)", str(error))
    holder = describe_process(int(found.group(1))) if found else "another process"
    return WarehouseBusy(
        f"the warehouse {path} is open read-write in {holder}; a refresh publishes a new file "
        "and cannot copy one that another process is writing. Close that connection (readers: "
        "read_only=True never blocks a refresh) and run again."
    )


def _is_local(path: Path) -> bool:
    return not str(path).startswith(("md:", DUCKLAKE_PREFIX))  # they handle concurrency themselves


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only: the published state. Read-write: a write session that publishes on clean exit."""
    if is_ducklake(path):
        with connect_ducklake(str(path), read_only=read_only) as con:
            yield con
        return
    if not _is_local(path):
        con = duckdb.connect(str(path), read_only=read_only)
        try:
            yield con
        finally:
            con.close()
        return
    if read_only:
        con = _open_read_only(path)
        try:
            yield con
        finally:
            con.close()
        return
    with write_session(path) as con:
        yield con


def _open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    if not path.exists():
        raise FileNotFoundError(f"no warehouse at {path} yet: `make run` builds it")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as error:
        if "Could not set lock" not in str(error):
            raise
        raise _busy_from_lock_error(path, error) from None


@contextmanager
def write_session(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Work on a private copy; publish it atomically on a clean exit, drop it on any error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writer_lock(path):
        staged = _stage_copy(path)
        con = duckdb.connect(str(staged))
        try:
            yield con
            con.execute("CHECKPOINT")
        except BaseException:
            con.close()
            shutil.rmtree(staging_dir(path), ignore_errors=True)
            raise
        con.close()
        _publish(staged, path)


@contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    fd = os.open(writer_lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode().strip()
            who = describe_process(int(holder)) if holder.isdigit() else "another process"
            raise WarehouseBusy(
                f"another writer is refreshing the warehouse {path}: {who}. Writers take turns "
                "(Dagster's duckdb_writer pool orders them); run again when it has finished."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock (the OS does the same when a writer is killed)


def _stage_copy(path: Path) -> Path:
    """A fresh staging folder holding a copy of the published state (none on the first write)."""
    stage = staging_dir(path)
    if stage.exists():  # no writer runs beside us (we hold the lock): a crashed writer's leftovers
        log.warning("removing %s, left by a writer that did not finish", stage)
        shutil.rmtree(stage)
    stage.mkdir()
    staged = stage / path.name
    try:
        if path.exists():
            _fold_in_wal(path)
            with _open_read_only(path):  # a shared lock: no other process writes it while we copy
                shutil.copyfile(path, staged)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return staged


def _fold_in_wal(path: Path) -> None:
    """A WAL beside the published file (written before publishing existed): checkpoint it in."""
    if not path.with_name(path.name + ".wal").exists():
        return
    try:
        duckdb.connect(str(path)).close()  # opening replays the WAL; closing checkpoints it
    except duckdb.IOException as error:
        if "Could not set lock" not in str(error):
            raise
        raise _busy_from_lock_error(path, error) from None


def _publish(staged: Path, path: Path) -> None:
    with staged.open("rb") as file:
        os.fsync(file.fileno())
    os.replace(staged, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
    shutil.rmtree(staging_dir(path), ignore_errors=True)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    schema, views = SCHEMA_SQL.read_text(), VIEWS_SQL.read_text()
    if _in_ducklake(con):
        schema, views = ducklake_ddl(schema, views)  # DuckLake declares no keys
    else:
        _drop_declared_keys(con)
    con.execute(schema)
    con.execute(views)


def _in_ducklake(con: duckdb.DuckDBPyConnection) -> bool:
    (kind,) = con.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return kind == "ducklake"


def _drop_declared_keys(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse built while schema.sql declared a checked key as PRIMARY KEY: rebuilt once
    without it (DuckDB cannot drop a constraint), its rows kept, in one transaction."""
    for table in CHECKED_KEYS:
        declared = con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE schema_name = current_schema() "
            "AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [table],
        ).fetchone()[0]
        if not declared:
            continue
        old = f"{table}_with_declared_key"
        with transaction(con):
            con.execute(f"ALTER TABLE {table} RENAME TO {old}")  # fixed names, not input
            con.execute(SCHEMA_SQL.read_text())  # creates `table` anew, without the key
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {old}")
            con.execute(f"DROP TABLE {old}")
        log.info("%s: rebuilt without its declared PRIMARY KEY (checked on write)", table)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on any error so the previous contents stay."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    # string views as polars holds them: no copy of the text (the default export copies it all)
    con.register("_incoming", frame.to_arrow(compat_level=pl.CompatLevel.newest()))
    try:
        if table in CHECKED_KEYS:
            check_key(con, table, "_incoming", CHECKED_KEYS[table])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")  # table: a fixed name
    finally:
        con.unregister("_incoming")


def check_key(
    con: duckdb.DuckDBPyConnection, table: str, incoming: str, key: tuple[str, ...]
) -> None:
    """Raise DuplicateKey when `incoming` repeats a key, or meets a row `table` keeps.

    Why a check, not schema.sql's PRIMARY KEY: DuckDB maintains a key as an ART index over the
    six text columns; inserting 1M result rows took 14.4 CPU s with it, 5.9 s with no key and
    6.3 s with this check (benchmarks/bench_results_key.py, on a busy 2-core machine). The
    check is a group-by and a hash join on the rows being written: the same guarantee (pandera
    checks the staged rows' key too, but rows written by evaluations must not collide with
    published ones either, and no writer may bypass the schema) at a fraction of the cost.
    """
    columns = ", ".join(key)
    repeated = con.execute(
        f"SELECT {columns}, count(*), hash({columns}) FROM {incoming} GROUP BY ALL "
        f"HAVING count(*) > 1 ORDER BY ALL LIMIT {SHOWN_CLASHES}"
    ).fetchall()
    if repeated:  # the files behind each repeated key (aggregating them for every key costs 8x)
        repeated = con.execute(
            f"SELECT {columns}, count(*), string_agg(DISTINCT source_file, ', ' "
            f"ORDER BY source_file) FROM {incoming} WHERE hash({columns}) IN (SELECT unnest(?)) "
            "GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL",
            [[row[-1] for row in repeated]],
        ).fetchall()
    kept = con.execute(
        f"SELECT {', '.join(f'i.{c}' for c in key)}, i.source_file, t.origin, t.source_file "
        f"FROM {incoming} i JOIN {table} t USING ({columns}) LIMIT {SHOWN_CLASHES}"
    ).fetchall()
    if not repeated and not kept:
        return
    lines = [
        f"{_key_text(key, row)}: {row[-2]} rows being written, from {row[-1]}" for row in repeated
    ]
    lines += [
        f"{_key_text(key, row)}: written from {row[-3]}, already in the warehouse from "
        f"{row[-1]} (origin {row[-2]})"
        for row in kept
    ]
    raise DuplicateKey(
        f"{table}: the key ({columns}) must be unique; found it repeated (first "
        f"{SHOWN_CLASHES} of each kind shown; nothing was written, the warehouse keeps its "
        "previous contents):\n" + "\n".join(f"- {line}" for line in lines)
    )


def _key_text(key: tuple[str, ...], row: tuple) -> str:
    return ", ".join(f"{column}={value!r}" for column, value in zip(key, row, strict=False))


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    where: str = "TRUE",
    params: list | None = None,
) -> None:
    """Delete the rows `where` selects and insert `frame`: call inside `transaction`."""
    con.execute(f"DELETE FROM {table} WHERE {where}", params or [])
    _insert(con, table, frame)


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = ["models", "tasks", "task_metrics", "results", "table1", "eval_examples", "emergence"]
    return {n: con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def read_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> pl.DataFrame:
    return con.execute(sql, params or []).pl()
