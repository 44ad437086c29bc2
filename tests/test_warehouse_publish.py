"""Publishing the warehouse: readers never block a refresh, and a failed or killed writer publishes
nothing. Readers and rival writers are real processes, as a notebook or a second run would be."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from warehouse.store import WarehouseBusy, connect, staging_dir

READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    for line in sys.stdin:  # one read per line in; the connection stays open in between
        print(con.sql("SELECT max(x) FROM t").fetchone()[0], flush=True)
    """
)


def _write(db: Path, value: int) -> None:
    with connect(db) as con:
        con.execute("CREATE OR REPLACE TABLE t AS SELECT ?::INTEGER AS x", [value])


def _read_in_new_process(db: Path) -> int:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            # the connection is named: a relation does not keep its connection open on DuckDB 1.4
            "import sys, duckdb; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print(con.sql('SELECT max(x) FROM t').fetchone()[0])",
            str(db),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


class Reader:
    """A notebook: a read-only connection held open in another process."""

    def __init__(self, db: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> int:
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "emergence.duckdb"
    _write(path, 1)
    return path


def test_an_open_reader_keeps_its_snapshot_and_does_not_block_the_writer(db):
    reader = Reader(db)
    try:
        assert reader.read() == 1
        _write(db, 2)  # before publishing existed, this failed: "Could not set lock on file"
        assert reader.read() == 1  # the open reader still sees the state it opened
        assert _read_in_new_process(db) == 2  # a reader opened after the publish sees the new one
    finally:
        reader.close()


def test_a_reader_opened_during_a_write_sees_the_published_state(db):
    with connect(db) as con:
        con.execute("CREATE OR REPLACE TABLE t AS SELECT 2 AS x")
        assert _read_in_new_process(db) == 1  # opens and reads while the writer is at work
        cli = Path(sys.executable).with_name("duckdb")
        done = subprocess.run(
            [str(cli), "-readonly", "-csv", str(db), "-c", "SELECT max(x) AS x FROM t"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["x", "1"]
    assert _read_in_new_process(db) == 2


def test_an_error_publishes_nothing_and_leaves_no_staging_files(db):
    with pytest.raises(RuntimeError, match="boom"), connect(db) as con:
        con.execute("CREATE OR REPLACE TABLE t AS SELECT 2 AS x")
        raise RuntimeError("boom")
    assert _read_in_new_process(db) == 1
    assert not staging_dir(db).exists()
    assert sorted(p.name for p in db.parent.iterdir()) == [
        ".emergence.duckdb.writer.lock",
        "emergence.duckdb",
    ]


def test_a_writer_killed_mid_write_publishes_nothing_and_the_next_write_cleans_up(db):
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time
                from pathlib import Path
                from warehouse.store import connect
                with connect(Path(sys.argv[1])) as con:
                    con.execute("CREATE OR REPLACE TABLE t AS SELECT 2 AS x FROM range(100000)")
                    print("written", flush=True)
                    time.sleep(60)
                """
            ),
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == "written"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert staging_dir(db).exists()  # the killed writer's leftovers
    assert _read_in_new_process(db) == 1  # the published state is the old one, intact

    _write(db, 3)  # the writer lock died with its process: the next write is not blocked

    assert _read_in_new_process(db) == 3
    assert not staging_dir(db).exists()


def test_a_writer_blocked_by_a_read_write_holder_is_told_which_process(db):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseBusy) as raised, connect(db):
            pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    message = str(raised.value)
    assert f"PID {holder.pid} ({sys.executable} -c import sys, duckdb" in message
    assert "read-only mode" not in message and "duckdb.org" not in message
    assert not staging_dir(db).exists()


def test_a_second_writer_is_told_who_is_writing(db):
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from warehouse.store import connect\n"
            "with connect(Path(sys.argv[1])):\n    print('writing', flush=True); sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "writing"
        with pytest.raises(WarehouseBusy, match=f"another writer .*PID {writer.pid}"):
            _write(db, 2)
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
    assert _read_in_new_process(db) == 1


def test_a_wal_left_by_an_old_style_writer_is_kept(tmp_path):
    db = tmp_path / "emergence.duckdb"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys, duckdb; con = duckdb.connect(sys.argv[1]); "
            "con.execute('CREATE TABLE t AS SELECT 5 AS x'); os._exit(0)",  # no checkpoint
            str(db),
        ],
        check=True,
    )
    assert db.with_name("emergence.duckdb.wal").exists()
    with connect(db) as con:
        assert con.sql("SELECT max(x) FROM t").fetchone()[0] == 5
        con.execute("INSERT INTO t VALUES (6)")
    assert not db.with_name("emergence.duckdb.wal").exists()
    assert _read_in_new_process(db) == 6


def test_read_only_without_a_warehouse_says_how_to_build_it(tmp_path):
    with (
        pytest.raises(FileNotFoundError, match="make run"),
        connect(tmp_path / "none.duckdb", read_only=True),
    ):
        pass


def test_rows_survive_a_publish_byte_for_byte(db):
    with connect(db) as con:
        con.execute("CREATE TABLE r AS SELECT range AS i, random() AS v FROM range(50000)")
        expected = con.sql("SELECT sum(hash(i, v)) FROM r").fetchone()[0]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql("SELECT sum(hash(i, v)) FROM r").fetchone()[0] == expected
