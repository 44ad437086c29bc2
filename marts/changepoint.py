"""A second opinion on the emergent scale: a flat-then-rising (hinge) fit with an interval.

Per series, on the excess over the reference against log10(scale), fit
    y = a + b · max(0, log10 x − c),  b > 0,
with the break c at one of the models 0..n−2 (the last model on the flat part; the next model is
the first on the rising part, the changepoint's emergent model). For a fixed c this is ordinary
least squares on [1, h] with h = max(0, log10 x − c), so every candidate is solved in closed
form and the best is the one that removes the most squared error; a series whose best slope is
not positive has no changepoint. All series with the same number of models are solved at once:
one batched matrix product (series × candidates × models) @ (series × models × replicates).

The interval is the 5%-95% range of the changepoint's emergent model over the binomial replicates
of marts/uncertainty.py, the same draws that give the rule's band, so the two are comparable.

Why no library: scipy is not in the environment, and the changepoint libraries fit other
problems: `ruptures` segments long signals (a minimum segment size, no interval) and
`piecewise-regression` (Muggeo's iterative method, statsmodels) gives asymptotic intervals that
mean little on 3-10 points and costs an iterative fit per series; the exact search over the n−1
possible breaks is both cheaper and exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Breakpoints:
    first_rising: np.ndarray  # (S,) position of the first model on the rising part; -1: none
    low: np.ndarray  # (S,) log10 scale of that model, BAND low over replicates (NaN: none)
    high: np.ndarray


@dataclass(frozen=True)
class HingeBasis:
    """The candidate hinges of S series with n models, centred: fixed by the scales alone."""

    centred: np.ndarray  # (S, J, n): hinge of candidate j at each model, minus its mean
    variance: np.ndarray  # (S, J, 1): its sum of squares (0 for a degenerate scale)


def hinge_basis(lx: np.ndarray) -> HingeBasis:
    """The n−1 candidate breaks of every series, from log10 scales (S, n)."""
    n = lx.shape[-1]
    hinge = np.maximum(0.0, lx[:, None, :] - lx[:, : n - 1, None])  # (S, J, n)
    centred = hinge - hinge.mean(-1, keepdims=True)
    return HingeBasis(centred, (centred**2).sum(-1)[..., None])


def first_rising(excess: np.ndarray, basis: HingeBasis) -> np.ndarray:
    """Position of the first rising model for excess (S, n, R) → (S, R); -1 where no rise fits.

    The candidates' gains are compared one candidate at a time over (S, R) slices, keeping the
    first best (as argmax would) without a (S, J, R) gain array.
    """
    centred = excess - excess.mean(1, keepdims=True)
    cov = np.matmul(basis.centred, centred)  # (S, J, R)
    variance = basis.variance[:, :, 0]
    inverse = np.where(variance > 0, 1.0 / np.where(variance > 0, variance, 1.0), 0.0)
    best = np.zeros((cov.shape[0], cov.shape[2]))
    first = np.full(best.shape, -1, np.intp)
    for j in range(cov.shape[1]):
        c = cov[:, j]
        gain = np.where(c > 0, c * c * inverse[:, j, None], 0.0)
        better = gain > best
        np.copyto(best, gain, where=better)
        np.copyto(first, j + 1, where=better)
    return first


def best_break(excess: np.ndarray, lx: np.ndarray) -> np.ndarray:
    """Position of the first rising model for (..., S, n) excess; -1 where no rise fits."""
    moved = np.moveaxis(excess, -2, 0)  # (S, ..., n)
    flat = moved.reshape(moved.shape[0], -1, moved.shape[-1]).transpose(0, 2, 1)  # (S, n, R)
    first = first_rising(flat, hinge_basis(lx)).reshape(moved.shape[:-1])
    return np.moveaxis(first, 0, -1)


def hinge_breakpoints(
    excess: np.ndarray,
    replicates: np.ndarray,
    lx: np.ndarray,
    band: tuple[float, float] = (0.05, 0.95),
) -> Breakpoints:
    """The hinge fit on the point values (S, n) and its interval from replicates (R, S, n)."""
    return breakpoints(best_break(excess, lx), best_break(replicates, lx), lx, band)


def breakpoints(
    first: np.ndarray, first_r: np.ndarray, lx: np.ndarray, band: tuple[float, float] = (0.05, 0.95)
) -> Breakpoints:
    """Breakpoints from `best_break` on the point values (S,) and on the replicates (R, S)."""
    at = np.take_along_axis(
        np.broadcast_to(lx, first_r.shape + lx.shape[-1:]), np.maximum(first_r, 0)[..., None], -1
    )[..., 0]
    at = np.where(first_r >= 0, at, np.nan)
    low = np.full(lx.shape[0], np.nan)
    high = np.full(lx.shape[0], np.nan)
    some = ~np.isnan(at).all(axis=0)
    if some.any():
        low[some], high[some] = np.nanquantile(at[:, some], band, axis=0)
    return Breakpoints(first, low, high)
