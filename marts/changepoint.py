"""A second opinion on the emergent scale: a flat-then-rising (hinge) fit with an interval.

Per series, on the excess over the reference against log10(scale), fit
    y = a + b · max(0, log10 x − c),  b > 0,
with the break c at one of the models 0..n−2 (the last model on the flat part; the next model is
the first on the rising part, the changepoint's emergent model). For a fixed c this is ordinary
least squares on [1, h] with h = max(0, log10 x − c), so every candidate is solved in closed
form and the best is the one that removes the most squared error; a series whose best slope is
not positive has no changepoint. All series with the same number of models are solved at once
(numpy, replicates × series × candidates).

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


def best_break(excess: np.ndarray, lx: np.ndarray) -> np.ndarray:
    """Position of the first rising model for (..., S, n) excess; -1 where no rise fits."""
    n = lx.shape[-1]
    hinge = np.maximum(0.0, lx[:, None, :] - lx[:, : n - 1, None])  # (S, J, n)
    hinge_c = hinge - hinge.mean(-1, keepdims=True)
    var_h = (hinge_c**2).sum(-1)  # (S, J), > 0 for every candidate but a degenerate scale
    centred = excess - excess.mean(-1, keepdims=True)
    cov = np.einsum("...sn,sjn->...sj", centred, hinge_c)
    gain = np.where((cov > 0) & (var_h > 0), cov**2 / np.where(var_h > 0, var_h, 1.0), 0.0)
    best = gain.argmax(-1)
    return np.where(gain.max(-1) > 0, best + 1, -1)


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
