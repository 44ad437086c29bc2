"""sources/csv_text.py: polars + a vectorised scan read exactly what Python's csv module reads.

The csv module is the reference (it defines the lake's rows and line numbers); polars parses
the cells and a numpy scan finds each record's line and width, in blocks. Random files written
by the csv module, with every awkward cell (quotes, commas, line breaks inside cells, CRLF,
blank lines, a BOM, no final line break), read with tiny blocks so records straddle blocks,
must give the csv module's records and lines, through the fast path.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest

import sources.csv_text as csv_text
from sources.csv_text import read_csv_text

CELLS = [
    "a",
    "",
    "x y",
    "with,comma",
    'quo"te',
    "multi\nline",
    "two\n\nbreaks",
    "cr\r\nlf",
    "é",
    " ",
]


def reference(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header, previous, records = next(reader), 1, []
        previous = reader.line_num
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if record:
                records.append((start, record))
    return header, records


def random_csv(rng: random.Random) -> str:
    width = rng.randint(1, 4)
    rows = [[f"h{i}" for i in range(width)]]
    rows += [[rng.choice(CELLS) for _ in range(width)] for _ in range(rng.randint(0, 8))]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=rng.choice(["\n", "\r\n"])).writerows(rows)
    text = buffer.getvalue()
    if rng.random() < 0.3:
        text = text.replace("\n", "\n\n", 1 + rng.randint(0, 2))  # blank lines
    if rng.random() < 0.3:
        text = text.rstrip("\r\n")
    if rng.random() < 0.2:
        text = "\ufeff" + text
    return text


@pytest.fixture
def slow_path_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = csv_text._csv_module_cells
    monkeypatch.setattr(
        csv_text, "_csv_module_cells", lambda path, *a: calls.append(path.name) or real(path, *a)
    )
    return calls


@pytest.mark.parametrize("block", [1, 3, 64, 1 << 20])
def test_polars_and_the_scan_read_what_the_csv_module_reads(
    block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow_path_calls: list[str]
):
    monkeypatch.setattr(csv_text, "BLOCK_BYTES", block)
    rng = random.Random(block)
    for trial in range(60):
        path = tmp_path / f"t{trial}.csv"
        path.write_text(random_csv(rng), encoding="utf-8", newline="")
        header, frame, problems = read_csv_text(path, path.name)
        expected_header, expected = reference(path)
        assert problems == [] and header == expected_header
        got = [
            (row["source_row"], [row[c] if row[c] is not None else "" for c in header])
            for row in frame.to_dicts()
        ]
        assert got == expected, path.read_bytes()
    assert slow_path_calls == []  # all of it through polars


def test_a_stray_quote_falls_back_to_the_csv_module(tmp_path: Path, slow_path_calls: list[str]):
    path = tmp_path / "stray.csv"
    path.write_text('a,b\n1,2\nab"c,d\n3,4\n')
    header, frame, problems = read_csv_text(path, "stray.csv")
    assert problems == [] and slow_path_calls == ["stray.csv"]
    assert frame.rows() == [("1", "2", 2), ('ab"c', "d", 3), ("3", "4", 4)]


def test_wrong_widths_are_named_by_line(tmp_path: Path):
    path = tmp_path / "ragged.csv"
    path.write_text('a,b\n1,2\n"x\ny",2,3\n\n4\n5,6')
    _, frame, problems = read_csv_text(path, "ragged.csv")
    assert frame.height == 0
    assert [str(p) for p in problems] == [
        "ragged.csv, row 3: found 3 fields; expected 2 fields, as in the header (a stray or missing comma?)",
        "ragged.csv, row 6: found 1 fields; expected 2 fields, as in the header (a stray or missing comma?)",
    ]


@pytest.mark.parametrize(
    ("content", "line"),
    [(b"a,b\n1,2\n3,caf\xe9\n", 3), (b"a,b\n" + b"1,2\n" * 5000 + b"\xff,x\n", 5002)],
)
def test_bytes_that_are_not_utf8_are_named_by_line(
    content: bytes, line: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(csv_text, "BLOCK_BYTES", 1000)  # the bad byte is blocks away
    path = tmp_path / "latin1.csv"
    path.write_bytes(content)
    _, _, problems = read_csv_text(path, "latin1.csv")
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"latin1.csv, row {line}: found bytes that are not UTF-8")


def test_utf16_is_refused_as_not_utf8(tmp_path: Path):
    path = tmp_path / "utf16.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-16")
    _, _, problems = read_csv_text(path, "utf16.csv")
    assert [p.row for p in problems] == [1]
    assert "not UTF-8" in problems[0].found


def test_empty_and_header_only_files(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert [p.found for p in read_csv_text(empty, "empty.csv")[2]] == ["an empty file"]
    header_only = tmp_path / "header.csv"
    header_only.write_bytes(b"\xef\xbb\xbfa,b\r\n")
    header, frame, problems = read_csv_text(header_only, "header.csv")
    assert header == ["a", "b"] and frame.height == 0 and problems == []
