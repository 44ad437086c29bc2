"""Levenshtein distance of many (answer, target) pairs at once, over integer sequences.

Why not DuckDB's ``levenshtein``: it counts UTF-8 bytes (``levenshtein('héllo', 'hello') = 2``),
and token ids are not text. Here each side is one flat integer array plus a length per pair
(Unicode code points for characters, token ids for tokens); pairs of similar lengths share a
padded matrix and the dynamic programme runs over all of them together: the loops go over
positions (the longest answer x the longest target of a length bucket), never over examples.
"""

from __future__ import annotations

import numpy as np
import polars as pl


class Sequences:
    """Many integer sequences as one flat array and a length per sequence."""

    def __init__(self, values: np.ndarray, lengths: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if int(self.lengths.sum()) != self.values.size:
            raise ValueError(
                f"{self.values.size} values for lengths summing to {self.lengths.sum()}"
            )
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    @classmethod
    def of_texts(cls, texts: pl.Series) -> Sequences:
        """Unicode code points of each string (character edit distance)."""
        texts = texts.fill_null("")
        flat = np.frombuffer("".join(texts.to_list()).encode("utf-32-le"), dtype=np.uint32)
        return cls(flat, texts.str.len_chars().to_numpy())

    @classmethod
    def of_token_ids(cls, ids: list[list[int]]) -> Sequences:
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(
            (i for seq in ids for i in seq), dtype=np.int64, count=int(lengths.sum())
        )
        return cls(flat, lengths)

    def padded(self, rows: np.ndarray, width: int, pad: int) -> np.ndarray:
        """Sequences `rows` as an [n, width] matrix, padded with `pad`."""
        columns = np.arange(width)
        inside = columns[None, :] < self.lengths[rows, None]
        if self.values.size == 0:
            return np.full((len(rows), width), pad, dtype=np.int64)
        positions = np.minimum(self.offsets[rows, None] + columns[None, :], self.values.size - 1)
        return np.where(inside, self.values[positions], pad)


def _bucket(lengths: np.ndarray) -> np.ndarray:
    """The next power of two at or above each length (0 stays 0): similar lengths together."""
    return np.where(lengths == 0, 0, 1 << np.ceil(np.log2(np.maximum(lengths, 1))).astype(np.int64))


def levenshtein(a: Sequences, b: Sequences) -> np.ndarray:
    """Edit distance of a[i] and b[i] (insertion, deletion, substitution: cost 1 each)."""
    if len(a.lengths) != len(b.lengths):
        raise ValueError(f"levenshtein: {len(a.lengths)} answers for {len(b.lengths)} targets")
    out = np.zeros(len(a.lengths), dtype=np.int64)
    keys = _bucket(a.lengths) * (1 << 32) + _bucket(b.lengths)
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        la, lb = a.lengths[rows], b.lengths[rows]
        width_a, width_b = int(la.max()), int(lb.max())
        if width_a == 0 or width_b == 0:
            out[rows] = la + lb
            continue
        left = a.padded(rows, width_a, -1)
        right = b.padded(rows, width_b, -2)
        previous = np.broadcast_to(np.arange(width_b + 1), (len(rows), width_b + 1)).copy()
        result = np.where(la == 0, lb, 0)
        for i in range(1, width_a + 1):
            # Substitution and deletion read the previous row only: one vector step for all j.
            differs = left[:, i - 1, None] != right  # [n, width_b]
            from_above = np.minimum(previous[:, :-1] + differs, previous[:, 1:] + 1)
            current = np.empty_like(previous)
            current[:, 0] = i
            for j in range(1, width_b + 1):  # insertion: a running minimum along the row
                current[:, j] = np.minimum(from_above[:, j - 1], current[:, j - 1] + 1)
            done = la == i
            result[done] = current[done, lb[done]]
            previous = current
        out[rows] = result
    return out
