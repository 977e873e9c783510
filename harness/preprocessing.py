"""Photon-map preprocessing of the paper (section 2.1), fitted on training clusters only.

Equation 1 (redshift normalisation)::

    n_ij = m_ij * N0 / 10**(gamma * z + eta)

with gamma, eta from the least-squares fit ``log10 sum_ij m_ij = gamma z + eta`` over the
*training* clusters of a fold (the paper's notebook fits all clusters, which leaks test data).
N0 = 4000 is the pivot total photon count.

Equation 2 (dynamic range)::

    x_ij = log10(n_ij + 1)

Both CNN families (TensorFlow and torch) use these functions so that every estimator
preprocesses identically. The fitted constants are a small dataclass saved with each model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

N0_DEFAULT = 4000.0


@dataclass(frozen=True)
class RedshiftNormalisation:
    """Fitted constants of equation 1: log10 sum m = gamma z + eta; pivot ``n0`` [counts]."""

    gamma: float
    eta: float
    n0: float = N0_DEFAULT

    def factor(self, redshift: np.ndarray) -> np.ndarray:
        """Per-cluster multiplicative factor N0 / 10**(gamma z + eta)."""
        z = np.asarray(redshift, dtype=float)
        return self.n0 / 10.0 ** (self.gamma * z + self.eta)

    def apply(self, counts: np.ndarray, redshift: np.ndarray) -> np.ndarray:
        """Equation 1 applied to raw counts with a leading cluster axis; returns float32."""
        counts = np.asarray(counts, dtype=np.float32)
        f = self.factor(redshift).astype(np.float32)
        return counts * f.reshape((-1,) + (1,) * (counts.ndim - 1))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RedshiftNormalisation":
        return cls(gamma=float(d["gamma"]), eta=float(d["eta"]), n0=float(d.get("n0", N0_DEFAULT)))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> "RedshiftNormalisation":
        return cls.from_dict(json.loads(Path(path).read_text()))


def total_counts(counts: Any) -> np.ndarray:
    """Sum of counts per cluster over all non-leading axes (streams a RowAccessor in batches)."""
    if hasattr(counts, "batches"):
        return (
            np.concatenate(
                [np.asarray(b, dtype=np.float64).reshape(len(b), -1).sum(axis=1) for b in counts.batches(256)]
            )
            if len(counts)
            else np.zeros(0)
        )
    arr = np.asarray(counts, dtype=np.float64)
    return arr.reshape(len(arr), -1).sum(axis=1)


def fit_redshift_normalisation(counts: Any, redshift: np.ndarray, n0: float = N0_DEFAULT) -> RedshiftNormalisation:
    """Fit equation 1 on training clusters: least squares of log10(sum of counts) on z.

    Clusters with zero counts are left out of the fit (log undefined). ``counts`` has a
    leading cluster axis (array or :class:`~massbench.catalogue.RowAccessor`).
    """
    tot = total_counts(counts)
    z = np.asarray(redshift, dtype=float)
    ok = tot > 0
    if ok.sum() < 2:
        raise ValueError("equation 1 needs at least two training clusters with photons")
    gamma, eta = np.polyfit(z[ok], np.log10(tot[ok]), 1)
    return RedshiftNormalisation(float(gamma), float(eta), float(n0))


def log_scale(counts: np.ndarray) -> np.ndarray:
    """Equation 2: x = log10(n + 1), float32."""
    return np.log10(np.asarray(counts, dtype=np.float32) + np.float32(1.0))


def preprocess_maps(counts: np.ndarray, redshift: np.ndarray, norm: RedshiftNormalisation) -> np.ndarray:
    """Equations 1 then 2 on raw photon maps (leading cluster axis); float32."""
    return log_scale(norm.apply(counts, redshift))
