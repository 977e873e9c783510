"""Summary statistics: log10 medians with 16-84 % intervals, and pooled per-bin quantiles.

All functions are vectorised numpy; none loops over pixels in Python.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

QUANTILES = (16.0, 50.0, 84.0)


def log10_interval(values: np.ndarray) -> dict[str, Any]:
    """Median and 16-84 % interval of ``log10(values)``, as the paper quotes them (10^{m +p -q}).

    Non-finite values (NaN: empty masks) are excluded and counted in ``n_excluded``; zeros
    (log10 undefined) are excluded and counted in ``n_zero``. Returns ``median_log10``,
    ``p16_log10``, ``p84_log10``, ``minus`` (= median - p16), ``plus`` (= p84 - median),
    ``n`` (values used), ``n_excluded``, ``n_zero``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(v)
    positive = finite & (v > 0)
    n_zero = int((finite & (v <= 0)).sum())
    out: dict[str, Any] = {"n": int(positive.sum()), "n_excluded": int((~finite).sum()), "n_zero": n_zero}
    if not positive.any():
        out.update(median_log10=None, p16_log10=None, p84_log10=None, minus=None, plus=None)
        return out
    p16, p50, p84 = np.percentile(np.log10(v[positive]), QUANTILES)
    out.update(
        median_log10=float(p50),
        p16_log10=float(p16),
        p84_log10=float(p84),
        minus=float(p50 - p16),
        plus=float(p84 - p50),
    )
    return out


class BinnedPool:
    """Collects values per bin over many chunks, then gives exact pooled quantiles per bin.

    ``add(bin_index, *value_arrays)`` takes an integer bin index per element (-1 = skip) and
    one or more value arrays of the same shape (e.g. CNN and N_phot saliency of the same
    pixels). Elements are grouped with one stable radix argsort per chunk.
    """

    def __init__(self, n_bins: int, n_series: int = 1):
        self.n_bins = n_bins
        self.n_series = n_series
        self._parts: list[list[list[np.ndarray]]] = [[[] for _ in range(n_bins)] for _ in range(n_series)]

    def add(self, bin_index: np.ndarray, *values: np.ndarray) -> None:
        if len(values) != self.n_series:
            raise ValueError(f"expected {self.n_series} value arrays, got {len(values)}")
        idx = np.asarray(bin_index).ravel()
        keep = idx >= 0
        idx = idx[keep]
        counts = np.bincount(idx, minlength=self.n_bins)[: self.n_bins]
        order = np.argsort(idx, kind="stable")
        splits = np.cumsum(counts)[:-1]
        for s, val in enumerate(values):
            v = np.asarray(val).ravel()[keep][order]
            for b, part in enumerate(np.split(v, splits)):
                if len(part):
                    self._parts[s][b].append(part)

    def counts(self) -> np.ndarray:
        return np.array([sum(len(p) for p in parts) for parts in self._parts[0]], dtype=np.int64)

    def quantiles(self, series: int = 0, q: Iterable[float] = QUANTILES) -> np.ndarray:
        """Array (n_bins, len(q)) of pooled percentiles; NaN for empty bins."""
        q = list(q)
        out = np.full((self.n_bins, len(q)), np.nan)
        for b, parts in enumerate(self._parts[series]):
            if parts:
                out[b] = np.percentile(np.concatenate(parts), q)
        return out

    def values(self, series: int, b: int) -> np.ndarray:
        parts = self._parts[series][b]
        return np.concatenate(parts) if parts else np.zeros(0)


def interp_profile(edges: np.ndarray, centres: np.ndarray, profile: np.ndarray, r: float) -> float | None:
    """A binned profile evaluated at ``r``: linear interpolation between the centres of non-empty
    bins; below the first (above the last) non-empty centre, that bin's value if ``r`` lies inside
    the bin; ``None`` when ``r`` is outside every non-empty bin."""
    profile = np.asarray(profile, dtype=float)
    ok = np.flatnonzero(np.isfinite(profile))
    if len(ok) == 0:
        return None
    first, last = ok[0], ok[-1]
    if r < centres[first]:
        return float(profile[first]) if r >= edges[first] else None
    if r > centres[last]:
        return float(profile[last]) if r < edges[last + 1] else None
    return float(np.interp(r, centres[ok], profile[ok]))


def jsonable(obj: Any) -> Any:
    """Plain-Python copy of ``obj`` with NaN and infinities turned into ``None`` (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj
