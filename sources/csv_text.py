"""Reading a CSV file as text cells, each record with the line it starts on, in one polars pass.

Curated files are read as text so that a bad cell is reported, not silently nulled, and every row
keeps the line of the file it came from (header = line 1; a quoted cell may span lines). Polars
parses the cells; a vectorised scan of the bytes (numpy, in fixed-size blocks, so memory does not
grow with the file) finds where each record starts and how many fields it has, which polars does
not say (it pads a short record with nulls and turns a blank line into a row of nulls). When the
two disagree, or polars refuses the file, Python's csv module reads it instead: slower, and exact.

Hostile input stays harmless: a file larger than EMERGENCE_MAX_INPUT_MB is refused before it is
read, a UTF-8 byte-order mark (Excel's "CSV UTF-8") is accepted, bytes that are not UTF-8 and NUL
bytes are named with their line.
"""

from __future__ import annotations

import codecs
import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from checks.validation import Problem

MAX_INPUT_MB_VARIABLE = "EMERGENCE_MAX_INPUT_MB"
# Reading and validating a results file peaks at about 6 times its size in memory (polars'
# parse alone is ~2.7 times; benchmarks/bench_validation.py, 1M rows: a 166 MB file, ~960 MB
# peak). 256 MB (about 1.5M generated result rows, 850k at the curated files' ~300 bytes a row)
# keeps one file near 1.5 GB, inside the lake's 2 GB budget; a larger file is refused, by its
# size, before any of it is read.
DEFAULT_MAX_INPUT_MB = 256.0
BLOCK_BYTES = 4 << 20
BOM = b"\xef\xbb\xbf"
UNREADABLE_EXPECTED = "a UTF-8 comma-separated file with a header row"

_QUOTE, _COMMA, _NEWLINE, _CR = ord('"'), ord(","), ord("\n"), ord("\r")


def max_input_megabytes() -> float:
    """The largest input file the lake reads, in MB (EMERGENCE_MAX_INPUT_MB, default 256)."""
    text = os.environ.get(MAX_INPUT_MB_VARIABLE, "").strip()
    try:
        megabytes = float(text) if text else DEFAULT_MAX_INPUT_MB
    except ValueError:
        megabytes = DEFAULT_MAX_INPUT_MB
    return megabytes if megabytes > 0 else DEFAULT_MAX_INPUT_MB


def size_problem(path: Path, label: str) -> Problem | None:
    """A Problem when `path` is over the size limit: refused before a byte of it is parsed.

    Any reader of input files (CSV, JSON) calls this first, so one variable bounds them all.
    """
    size, megabytes = path.stat().st_size, max_input_megabytes()
    limit = int(megabytes * 2**20)
    if size <= limit:
        return None
    return Problem(
        label,
        None,
        None,
        f"a file of {size / 2**20:,.2f} MB ({size:,} bytes)",
        f"at most {megabytes:g} MB ({limit:,} bytes), the limit {MAX_INPUT_MB_VARIABLE} sets "
        "(raise it where the machine has about six times the file's size in free memory, "
        "or split the file)",
    )


@dataclass(frozen=True)
class RecordLayout:
    """Where each record (header included) starts and how many fields it has, from the bytes."""

    start_lines: np.ndarray  # line each record starts on (1-based)
    field_counts: np.ndarray  # commas outside quotes + 1
    blank: np.ndarray  # an empty line (the csv module skips these)
    newlines_inside: np.ndarray  # line breaks inside quoted cells
    ends_in_quote: bool  # an unterminated quoted cell at the end of the file
    has_quotes: bool  # any quoted cell at all (else polars and the scan cannot disagree on lines)
    has_nul: bool  # any NUL byte (else no cell needs looking at for one)


def scan_records(path: Path) -> RecordLayout:
    """One pass over the file in BLOCK_BYTES blocks: record starts, widths, blank lines.

    RFC 4180 quoting: a comma or line break is a separator when an even number of quotes precede
    it (an escaped quote "" counts twice). A stray quote inside an unquoted cell fools this count;
    `read_csv_text` then sees polars disagree and falls back to the csv module. Only the quotes,
    commas and line breaks of a block are looked at after one comparison pass over its bytes.
    """
    starts, counts, blanks, ends = [np.array([1])], [], [], []  # ends: index of record's "\n"
    in_quotes = False
    fields = 1  # of the record still open at the end of the previous block
    open_length = 0  # its bytes so far (a record of "" or "\r" is blank)
    open_last = -1  # its last byte
    newlines_before = 0
    has_quotes = has_nul = False
    with path.open("rb") as handle:
        first = True
        while block := handle.read(BLOCK_BYTES):
            if first and block.startswith(BOM):
                block = block[len(BOM) :]
            first = False
            has_nul = has_nul or b"\x00" in block
            data = np.frombuffer(block, dtype=np.uint8)
            special = np.flatnonzero((data == _QUOTE) | (data == _COMMA) | (data == _NEWLINE))
            kinds = data[special]
            quote = kinds == _QUOTE
            quotes_before = np.cumsum(quote) - quote + int(in_quotes)
            outside = (quotes_before & 1) == 0
            newline = kinds == _NEWLINE
            record_end = newline & outside
            outside_nl = special[record_end]
            # fields of each record that ends in this block, and of the one left open
            record_of = np.cumsum(record_end) - record_end
            per_record = np.bincount(
                record_of[(kinds == _COMMA) & outside], minlength=len(outside_nl) + 1
            )
            per_record[0] += fields - 1
            counts.append(per_record[:-1] + 1)
            fields = int(per_record[-1]) + 1
            # blank records: nothing, or only "\r", before their newline
            if len(outside_nl):
                lengths = np.diff(outside_nl, prepend=-1) - 1
                lengths[0] += open_length
                before_nl = data[np.maximum(outside_nl - 1, 0)].astype(np.int16)
                if outside_nl[0] == 0:
                    before_nl[0] = open_last
                blanks.append((lengths == 0) | ((lengths == 1) & (before_nl == _CR)))
                open_length = len(data) - int(outside_nl[-1]) - 1
            else:
                open_length += len(data)
            open_last = int(data[-1]) if open_length else -1
            # line of the next record = 1 + the newlines before it (all of them, quoted or not)
            index_of = np.flatnonzero(record_end[newline]) + newlines_before
            ends.append(index_of)
            starts.append(index_of + 2)
            newlines_before += int(newline.sum())
            in_quotes = (int(in_quotes) + int(quote.sum())) % 2 == 1
            has_quotes = has_quotes or bool(quote.any())
    start_lines = np.concatenate(starts).astype(np.int64)
    field_counts = np.concatenate([np.zeros(0, np.int64), *counts]).astype(np.int64)
    blank = np.concatenate([np.zeros(0, bool), *blanks])
    end_newline = np.concatenate([np.zeros(0, np.int64), *ends]).astype(np.int64)
    if open_length:  # a last record without a final line break
        field_counts = np.append(field_counts, fields)
        blank = np.append(blank, open_length == 1 and open_last == _CR)
        end_newline = np.append(end_newline, newlines_before)
    else:
        start_lines = start_lines[:-1]  # the line after the final line break starts no record
    return RecordLayout(
        start_lines=start_lines,
        field_counts=field_counts,
        blank=blank,
        newlines_inside=end_newline - (start_lines - 1),
        ends_in_quote=in_quotes,
        has_quotes=has_quotes,
        has_nul=has_nul,
    )


def read_header(path: Path) -> list[str]:
    """The first record, parsed by the csv module (a BOM is not part of the first name)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def read_csv_text(path: Path, label: str) -> tuple[list[str], pl.DataFrame, list[Problem]]:
    """Header, every cell as text with `source_row`, and what stops the read.

    An empty cell may come as None or "" (read_text_csv strips cells and makes both None).

    Problems here are about the file's shape (size, encoding, widths, names in the header, NUL
    bytes): the frame is empty whenever there are any, except NUL bytes, which name their cell.
    """
    try:
        if problem := size_problem(path, label):
            return [], pl.DataFrame(), [problem]
        layout = scan_records(path)
        if len(layout.start_lines) == 0:
            return [], pl.DataFrame(), [Problem(label, None, None, "an empty file", "a header row")]
        header = read_header(path)
        if not any(name.strip() for name in header):
            return (
                [],
                pl.DataFrame(),
                [Problem(label, 1, None, "an empty header row", "a header row naming the columns")],
            )
    except UnicodeDecodeError as error:
        return [], pl.DataFrame(), [_not_utf8(path, label, error)]
    except (OSError, csv.Error) as error:
        return [], pl.DataFrame(), [_unreadable(label, error)]
    problems = _header_problems(header, label)
    if problems:
        return header, pl.DataFrame(), problems
    # A record of the wrong width (by the scan) or an open quote at the end: the csv module
    # decides, since a stray quote inside an unquoted cell fools the scan but not the csv module.
    wrong_width = ((layout.field_counts != len(header)) & ~layout.blank)[1:].any()
    frame = None
    if not wrong_width and not layout.ends_in_quote:
        frame = _polars_cells(path, header, layout)
    if frame is None:
        try:
            frame, problems = _csv_module_cells(path, label, header)
        except UnicodeDecodeError as error:
            return header, pl.DataFrame(), [_not_utf8(path, label, error)]
        except (OSError, csv.Error) as error:
            return header, pl.DataFrame(), [_unreadable(label, error)]
        if problems:
            return header, pl.DataFrame(), problems
    return header, frame, _nul_problems(frame, label) if layout.has_nul else []


def _polars_cells(path: Path, header: list[str], layout: RecordLayout) -> pl.DataFrame | None:
    """Cells parsed by polars, aligned with the scan's records; None when they do not agree."""
    try:
        frame = pl.read_csv(
            path, infer_schema=False, has_header=True, new_columns=header, quote_char='"'
        )
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError):
        return None
    records = len(layout.start_lines) - 1
    if frame.width != len(header) or frame.height != records:
        return None
    if records and layout.has_quotes:  # without quotes no cell holds a line break
        newlines = frame.select(
            pl.sum_horizontal(
                pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in header
            )
        ).to_series()
        if not (newlines.to_numpy() == layout.newlines_inside[1:]).all():
            return None
    frame = frame.with_columns(pl.Series("source_row", layout.start_lines[1:], dtype=pl.Int64))
    if layout.blank[
        1:
    ].any():  # polars reads a blank line as a row of nulls; the csv module skips it
        frame = frame.filter(pl.Series(~layout.blank[1:]))
    return frame


def _csv_module_cells(
    path: Path, label: str, header: list[str]
) -> tuple[pl.DataFrame, list[Problem]]:
    """The same frame through Python's csv module: exact where polars and the scan disagree."""
    records, starts, problems = [], [], []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        previous_end = reader.line_num
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not record:
                continue
            if len(record) != len(header):
                problems.append(
                    Problem(
                        label,
                        start,
                        None,
                        f"{len(record)} fields",
                        f"{len(header)} fields, as in the header (a stray or missing comma?)",
                    )
                )
            records.append(record)
            starts.append(start)
    if problems:
        return pl.DataFrame(), problems
    cells = {column: [record[i] for record in records] for i, column in enumerate(header)}
    frame = pl.DataFrame(cells, schema=dict.fromkeys(header, pl.String))
    return frame.with_columns(pl.Series("source_row", starts, dtype=pl.Int64)), []


def _header_problems(header: list[str], label: str) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for name in header:
        if "\x00" in name:
            problems.append(
                Problem(label, 1, None, "a NUL byte in the header", "text without NUL bytes")
            )
        elif name in seen:
            problems.append(
                Problem(label, 1, name, "a column named twice", "each column once in the header")
            )
        seen.add(name)
    return problems


def _nul_problems(frame: pl.DataFrame, label: str) -> list[Problem]:
    """NUL bytes are not text: a binary file, or one saved as UTF-16, named by row and column."""
    text_columns = [c for c in frame.columns if c != "source_row"]
    if not text_columns or frame.height == 0:
        return []
    flags = frame.select(
        "source_row",
        *(pl.col(c).str.contains("\x00", literal=True).fill_null(False) for c in text_columns),
    )
    hits = flags.filter(pl.any_horizontal(text_columns))
    return [
        Problem(
            label,
            row["source_row"],
            column,
            "a NUL byte",
            "text without NUL bytes (a binary file, or one saved as UTF-16?)",
        )
        for row in hits.to_dicts()
        for column in text_columns
        if row[column]
    ]


def _not_utf8(path: Path, label: str, error: UnicodeDecodeError) -> Problem:
    """Name the line of the first byte that is not UTF-8 (decoding the file again, in blocks)."""
    line, byte = None, error.object[error.start : error.start + 1]
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    try:
        with path.open("rb") as handle:
            while block := handle.read(BLOCK_BYTES):
                pending = decoder.getstate()[0]  # an unfinished character: never a line break
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as found:
                    text = pending + block
                    line = lines + text[: found.start].count(b"\n")
                    byte = text[found.start : found.start + 1]
                    break
                lines += block.count(b"\n")
    except OSError:
        line = None
    return Problem(
        label,
        line,
        None,
        f"bytes that are not UTF-8 ({byte!r})",
        "UTF-8 text (in Excel: Save As 'CSV UTF-8')",
    )


def _unreadable(label: str, error: Exception) -> Problem:
    first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
    return Problem(label, None, None, f"an unreadable CSV ({first_line})", UNREADABLE_EXPECTED)
